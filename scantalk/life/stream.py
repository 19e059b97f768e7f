"""Life drawn live: blinks, gaze, brows and head motion for each frame as soon as it is final.

`life_from_speech` reads a whole recording: its pauses, its speaker's pitch range and the pitch
accents around each frame. `LifeStream` draws the same kinds of motion from what has been heard
so far, frame by frame, for `scantalk.inference.stream.AnimationStream`:

- speaking is read from the frame's articulation row (the mouth moves: someone speaks), so the
  face and its mouth agree on where the pauses are;
- blinks start when a pause begins or ends (half of those edges), and otherwise once a drawn
  interval (3-6 s) has passed, on the next calm frame (not loud and voiced), never two closer
  than `MIN_BLINK_GAP_S`: about 15-20 a minute on conversational speech;
- pitch accents are F0 peaks over the last 1.5 s of the speaker's pitch on a loud frame, found
  two frames after the peak; the brows rise and the head nods from then;
- gaze and the head's drift are the offline processes run forward a frame at a time.

Its state is a second of audio, ten seconds of per-frame loudness and pitch, and the few
motions under way: it never grows with the length of the talk. The same audio, rows and seed
give the same rows however the audio is cut into chunks.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence

import numpy as np

from scantalk.life.channels import LIFE_CHANNELS, LIFE_GROUPS, LIFE_LIMITS
from scantalk.life.motion import (ACCENT_SEMITONES, BLINK_CLOSE_S, BLINK_HOLD_S, BLINK_OPEN_S, BROW_RAISE_S, FROWN,
                                  FROWN_S, HEAD_DRIFT, HEAD_LIMITS, MIN_BLINK_GAP_S, NOD_S, PAUSE_S, _blink, _pitch,
                                  _pulse, accent_heights, checked_groups)

SAMPLE_RATE = 16000
WINDOW_S = 0.04
"""Audio read around each frame's time for its loudness and pitch (as `speech_features`)."""
HISTORY_S = 10.0
"""Seconds of per-frame loudness and pitch kept for the speaker's floor, range and median pitch."""
BLINK_INTERVAL_S = (3.0, 6.0)
"""Range of the drawn wait, after a blink, before one is placed in running speech."""
EDGE_BLINK_SHARE = 0.5
"""The share of pause starts and ends that get a blink (when the last one is far enough back)."""
SPEAKING_ROW = 0.02
"""An articulation row with any channel above this is speech."""
NOISE_FLOOR_DB = -50.0
"""Loudness (dB re full scale) taken as the floor until quieter frames have been heard."""


class LifeStream:
    """Rows of a `LifeTrack` (`LIFE_CHANNELS`, their units), drawn live.

    Args:
        fps: frames per second.
        life, groups, seed: as in `life_from_speech` (0..1, which `LIFE_GROUPS`, the random draw).

    Raises:
        LifeError: `life` outside 0..1, or an unknown group.
    """

    def __init__(self, fps: float = 30.0, life: float = 1.0, groups: Sequence[str] | None = None,
                 seed: int = 0) -> None:
        self.groups = checked_groups(life, groups)
        self.fps, self.life = float(fps), float(life)
        self._rngs = {group: np.random.default_rng([int(seed), index]) for index, group in enumerate(LIFE_GROUPS)}
        self._column = {name: i for i, name in enumerate(LIFE_CHANNELS)}
        self._audio = np.zeros(0, np.float64)
        self._audio_start = 0  # the sample number of self._audio[0]
        self._frame = 0  # the next frame to draw
        history = int(round(HISTORY_S * self.fps))
        self._energy: deque[float] = deque(maxlen=history)
        self._f0: deque[float] = deque(maxlen=history)
        self._speaking: deque[bool] = deque(maxlen=history)
        self._tones: deque[tuple[float, float]] = deque(maxlen=5)  # (f0, energy) of the last frames
        self._silent_frames = 0
        self._in_pause = False
        # Motions under way: (first frame, shape (L,), scale, channel group key).
        self._motions: list[tuple[int, np.ndarray, float, str]] = []
        self._blink_shape = _blink(int(np.ceil((BLINK_CLOSE_S + max(BLINK_HOLD_S, 1 / self.fps) + BLINK_OPEN_S)
                                               * self.fps)) + 2, self.fps, 0.0)
        self._last_blink = -np.inf
        self._blink_due = self._draw_interval()
        self._last_accent = self._last_frown = -np.inf
        self._gaze = {"current": (0.0, 0.0), "target": (0.0, 0.0), "stop": -1, "next": 0}
        self._drift = {name: 0.0 for name in HEAD_DRIFT}
        self._activity = 0.0
        self._loudness = 0.0

    def hear(self, samples: np.ndarray) -> None:
        """Append 16 kHz mono speech (float, full scale 1.0) heard after what came before."""
        self._audio = np.concatenate([self._audio, np.asarray(samples, np.float64).reshape(-1)])

    def rows(self, articulation: np.ndarray) -> np.ndarray:
        """The life rows (t, C) of the next t frames, whose articulation rows (t, A) are given
        (each frame's audio window must have been heard, as `ArticulationStream` ensures)."""
        articulation = np.asarray(articulation)
        out = np.zeros((len(articulation), len(LIFE_CHANNELS)))
        for row, values in zip(out, articulation):
            if self.life > 0 and self.groups:
                self._draw(row, bool(np.any(values > SPEAKING_ROW)))
            self._frame += 1
        self._forget()
        return out

    # One frame.

    def _draw(self, row: np.ndarray, speaking: bool) -> None:
        frame, fps = self._frame, self.fps
        energy, f0 = self._features(frame)
        self._energy.append(energy)
        self._speaking.append(speaking)
        floor = min(float(np.percentile(self._energy, 10)), NOISE_FLOOR_DB)
        f0 = f0 if speaking and energy > floor + 6.0 else 0.0
        self._f0.append(f0)
        self._tones.append((f0, energy))
        edge = self._pause_edge(speaking)
        self._accents(frame)
        if "blinks" in self.groups:
            self._blinks(frame, edge, speaking and f0 > 0 and energy > self._percentile_speaking(60))
        if "gaze" in self.groups:
            row[self._column["eye_yaw"]], row[self._column["eye_pitch"]] = self.life * np.asarray(self._gaze_at(frame, speaking))
        motions = {key: 0.0 for key in ("blink", "raise", "lower", "nod")}
        for start, shape, scale, key in self._motions:
            if start <= frame < start + len(shape):
                motions[key] = max(motions[key], scale * float(shape[frame - start]))
        if "blinks" in self.groups:
            row[self._column["blink_left"]] = row[self._column["blink_right"]] = motions["blink"]
        if "brows" in self.groups:
            row[self._column["brow_inner_up"]] = self.life * motions["raise"]
            row[self._column["brow_outer_up"]] = self.life * 0.7 * motions["raise"]
            row[self._column["brow_down"]] = self.life * motions["lower"] * (1.0 - motions["raise"])
        if "head" in self.groups:
            self._activity += (float(speaking) - self._activity) * (1.0 - np.exp(-1.0 / (0.25 * fps)))
            loud = np.clip((energy - float(np.percentile(self._energy, 20))) / 30.0, 0.0, 1.0)
            self._loudness += (loud - self._loudness) * (1.0 - np.exp(-1.0 / (0.2 * fps)))
            rng, activity = self._rngs["head"], 0.5 + 0.5 * self._activity
            for name, (sigma, tau) in HEAD_DRIFT.items():
                decay = np.exp(-1.0 / (fps * tau))
                self._drift[name] = decay * self._drift[name] + rng.normal(0.0, sigma * np.sqrt(1.0 - decay**2))
            head = {"head_yaw": self._drift["head_yaw"] * activity,
                    "head_pitch": self._drift["head_pitch"] * activity + motions["nod"],
                    "head_roll": self._drift["head_roll"] * activity, "head_x": self._drift["head_x"],
                    "head_y": self._drift["head_y"], "head_z": 2.0 * self._loudness + self._drift["head_z"]}
            for name, value in head.items():
                limit = HEAD_LIMITS.get(name, LIFE_LIMITS[name][1] / 10.0)
                row[self._column[name]] = self.life * float(np.clip(value, -limit, limit))

    def _features(self, frame: int) -> tuple[float, float]:
        """(loudness dB, F0 Hz or 0) of the audio around `frame`'s time, as `speech_features`."""
        window = int(round(WINDOW_S * SAMPLE_RATE))
        centre = int(round(frame / self.fps * SAMPLE_RATE))
        index = np.clip(centre + np.arange(window) - window // 2 - self._audio_start, 0, None)
        heard = np.zeros(window)
        inside = index < len(self._audio)
        heard[inside] = self._audio[index[inside]]
        heard -= heard.mean()
        energy = 10.0 * np.log10(np.mean(heard**2) + 1e-10)
        return float(energy), float(_pitch((heard * np.hanning(window))[None], SAMPLE_RATE)[0])

    def _percentile_speaking(self, q: float) -> float:
        loud = [e for e, s in zip(self._energy, self._speaking) if s]
        return float(np.percentile(loud, q)) if loud else np.inf

    def _pause_edge(self, speaking: bool) -> bool:
        """True on the frame a pause is confirmed (`PAUSE_S` of silence) and on the first frame
        of speech after one."""
        if speaking:
            self._silent_frames, was = 0, self._in_pause
            self._in_pause = False
            return was and self._frame > 0
        self._silent_frames += 1
        if not self._in_pause and self._silent_frames >= PAUSE_S * self.fps:
            self._in_pause = True
            return len(self._speaking) > self._silent_frames  # speech came before it
        return False

    def _blinks(self, frame: int, edge: bool, stressed: bool) -> None:
        rng, now = self._rngs["blinks"], frame / self.fps
        if now - self._last_blink < MIN_BLINK_GAP_S:
            return
        due = now - self._last_blink >= self._blink_due
        # A due blink waits for a calm frame, at most 0.3 s.
        if (edge and rng.uniform() < EDGE_BLINK_SHARE) or (due and (not stressed or now - self._last_blink
                                                                    >= self._blink_due + 0.3)):
            self._last_blink, self._blink_due = now, self._draw_interval()
            if rng.uniform() < self.life:
                self._motions.append((frame, self._blink_shape, 1.0, "blink"))

    def _draw_interval(self) -> float:
        return float(self._rngs["blinks"].uniform(*BLINK_INTERVAL_S))

    def _accents(self, frame: int) -> None:
        """Start the brow raise and nod of a pitch accent two frames after its F0 peak, and the
        frown of a loud falling syllable two frames after it."""
        if len(self._tones) < 5:
            return
        (f0, energy), later = self._tones[2], self._tones[4][0]
        voiced_energy = [e for e, f in zip(self._energy, self._f0) if f > 0]
        if f0 <= 0 or len(voiced_energy) < 5:
            return
        # Semitones over the median pitch of the last 1.5 s up to the peak (which is voiced itself).
        recent = [f for f in list(self._f0)[-int(1.5 * self.fps) - 3:-2] if f > 0]
        excess = 12.0 * np.log2(f0 / np.median(recent))
        peak = all(f <= f0 for f, _ in self._tones)
        if (peak and excess >= ACCENT_SEMITONES and energy > np.percentile(voiced_energy, 40)
                and frame - self._last_accent >= 0.4 * self.fps):
            self._last_accent = frame
            brow, nod = accent_heights(excess)
            self._motions.append((frame, self._pulse(*BROW_RAISE_S), brow, "raise"))
            self._motions.append((frame, self._pulse(*NOD_S), nod, "nod"))
        if (energy > self._percentile_speaking(90) and 0 < later < 0.94 * f0
                and frame - self._last_frown >= 0.5 * self.fps):
            self._last_frown = frame
            self._motions.append((frame, self._pulse(*FROWN_S), FROWN, "lower"))

    def _pulse(self, rise: float, fall: float) -> np.ndarray:
        """A pulse from 0 up to 1 over `rise` s and down over `fall` s, from its first frame."""
        return _pulse(int(np.ceil((rise + fall) * self.fps)) + 2, self.fps, rise, rise, fall)

    def _gaze_at(self, frame: int, speaking: bool) -> tuple[float, float]:
        """Fixations held 0.5-3 s joined by two-frame saccades, as `_gaze` draws them offline."""
        gaze, rng = self._gaze, self._rngs["gaze"]
        if frame >= gaze["next"]:
            gaze["current"] = gaze["target"]
            hold = int(max(0.4, rng.gamma(3.0, (0.5 if speaking else 0.8))) * self.fps)
            gaze["stop"], gaze["next"] = frame + hold, frame + hold + 2
            if rng.uniform() < 0.5:  # back to the listener
                gaze["target"] = (float(rng.normal(0.0, 1.5)), float(rng.normal(0.0, 1.0)))
            else:
                gaze["target"] = (float(np.clip(rng.normal(0.0, 7.0), -15, 15)),
                                  float(np.clip(rng.normal(-1.0, 3.5), -10, 8)))
        current, target = np.asarray(gaze["current"]), np.asarray(gaze["target"])
        share = 0.0 if frame < gaze["stop"] else (0.5 if frame == gaze["stop"] else 1.0)
        yaw, pitch = current + share * (target - current)
        return float(yaw), float(pitch)

    def _forget(self) -> None:
        """Drop audio no later frame reads, and motions that have ended."""
        window = int(round(WINDOW_S * SAMPLE_RATE))
        needed = int(round(self._frame / self.fps * SAMPLE_RATE)) - window
        if needed > self._audio_start:
            drop = min(needed - self._audio_start, len(self._audio))
            self._audio, self._audio_start = self._audio[drop:], self._audio_start + drop
        self._motions = [m for m in self._motions if m[0] + len(m[1]) > self._frame]
