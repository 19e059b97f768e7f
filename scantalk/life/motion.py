"""Life from speech: blinks, gaze, brows and head motion that follow what the voice does.

Read from the audio alone (and the phones, when known): the speech's energy, its pitch (F0,
autocorrelation), its pauses and phrase boundaries, and its pitch accents (F0 peaks over the
phrase's baseline on loud syllables). Then:

- blinks at about 17 per minute, most at the start or end of a pause, the rest in long stretches
  of speech, moved off loud voiced frames (a blink does not land mid-syllable on a stressed
  vowel); a blink closes in 100 ms, holds, and opens in about 180 ms;
- gaze holds a target and jumps in short saccades, often back to the listener;
- brows rise on pitch accents and draw down on loud syllables with falling pitch;
- the head nods on accents and drifts slowly (about ±5° yaw, ±3° pitch, ±2° roll), more while
  speaking than in pauses.

Everything is drawn from `numpy.random.default_rng(seed)`: the same speech and seed give the
same track.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from scantalk.life.channels import LIFE_CHANNELS, LIFE_GROUPS, LIFE_LIMITS
from scantalk.life.track import LifeError, LifeTrack

BLINKS_PER_MINUTE = 17.0
"""The mean blink rate drawn (people blink 10-25 times a minute while talking)."""
BLINK_CLOSE_S, BLINK_HOLD_S, BLINK_OPEN_S = 0.1, 0.04, 0.18
"""How long a blink takes to close, stays closed and takes to open."""
PAUSE_S = 0.15
"""The shortest silence counted as a pause."""
PAUSE_BLINK_SHARE = 0.7
"""The share of blinks placed at the start or end of a pause (when the speech has that many)."""
MIN_BLINK_GAP_S = 1.2
"""Seconds: no two blinks start closer than this."""
ACCENT_SEMITONES = 1.5
"""How far F0 must rise over its running baseline, on a loud syllable, to count as a pitch accent."""
HEAD_LIMITS = {"head_yaw": 10.0, "head_pitch": 6.0, "head_roll": 4.0}
"""Degrees the drawn head motion stays within (natural conversational range)."""
HEAD_DRIFT = {"head_yaw": (3.5, 2.5), "head_pitch": (1.5, 2.0), "head_roll": (1.2, 3.0),
              "head_x": (1.0, 2.5), "head_y": (0.6, 2.0), "head_z": (0.8, 2.5)}
"""The head's slow wander per channel: (standard deviation in degrees or mm, time constant in s)."""
BROW_RAISE_S, NOD_S, FROWN_S = (0.12, 0.45), (0.15, 0.35), (0.1, 0.4)
"""(rise, fall) seconds of a brow raise and a nod on a pitch accent, and of a frown."""
FROWN = 0.3
"""How far the brows draw down on a loud syllable whose pitch falls (0..1)."""


def accent_heights(excess: float) -> tuple[float, float]:
    """(brow raise 0..1, nod degrees) of a pitch accent `excess` semitones over the baseline."""
    return float(np.clip(0.25 + 0.12 * excess, 0.3, 0.8)), min(3.0, 1.5 + 0.4 * excess)


def speech_features(samples: np.ndarray, sample_rate: int, fps: float, num_frames: int,
                    phones: Sequence[Any] | None = None) -> dict[str, np.ndarray]:
    """Per-frame features of speech: "energy_db" (T,), "f0_hz" (T,, 0 unvoiced), "speaking" (T,) bool.

    Args:
        samples: (N,) mono audio, full scale 1.0.
        sample_rate: Hz.
        fps, num_frames: the frames to describe (frame i at i / fps s).
        phones: timed phones (`.phone`, `.start`, `.end`; "SIL" in pauses) to read speaking from;
            without them, speaking is where the energy stands clear of the recording's floor.
    """
    samples = np.asarray(samples, dtype=np.float64)
    window = int(round(0.04 * sample_rate))
    centres = np.round(np.arange(num_frames) / fps * sample_rate).astype(np.int64)
    offsets = np.arange(window) - window // 2
    index = np.clip(centres[:, None] + offsets[None], 0, max(0, len(samples) - 1))
    frames = samples[index] if len(samples) else np.zeros((num_frames, window))
    frames = frames - frames.mean(axis=1, keepdims=True)
    energy = 10.0 * np.log10(np.mean(frames**2, axis=1) + 1e-10)
    f0 = _pitch(frames * np.hanning(window)[None], sample_rate)
    if phones is not None:
        speaking = np.zeros(num_frames, bool)
        times = np.arange(num_frames) / fps
        for phone in phones:
            if str(phone.phone).upper() not in ("SIL", "SP", ""):
                speaking |= (times >= phone.start) & (times < phone.end)
    else:
        floor = np.percentile(energy, 10)
        loud = np.percentile(energy, 95)
        speaking = energy > max(floor + 10.0, loud - 30.0)
        speaking = _close_gaps(speaking, int(round(0.1 * fps)))
    f0 = np.where(speaking & (energy > np.percentile(energy, 10) + 6.0), f0, 0.0)
    return {"energy_db": energy, "f0_hz": f0, "speaking": speaking}


def _pitch(frames: np.ndarray, sample_rate: int, low: float = 70.0, high: float = 400.0) -> np.ndarray:
    """F0 (T,) Hz of windowed frames by normalised autocorrelation; 0 where no clear period."""
    size = 2 * frames.shape[1]
    spectrum = np.fft.rfft(frames, n=size, axis=1)
    acf = np.fft.irfft(np.abs(spectrum) ** 2, n=size, axis=1)[:, : frames.shape[1]]
    acf = acf / np.maximum(acf[:, :1], 1e-12)
    first, last = int(sample_rate / high), min(int(sample_rate / low), frames.shape[1] - 1)
    lags = acf[:, first:last]
    best = np.argmax(lags, axis=1)
    strength = lags[np.arange(len(lags)), best]
    return np.where(strength > 0.45, sample_rate / (best + first), 0.0)


def _close_gaps(mask: np.ndarray, frames: int) -> np.ndarray:
    """`mask` with False runs shorter than `frames` between True runs filled in."""
    mask = mask.copy()
    runs = _runs(~mask)
    for start, stop in runs:
        if stop - start < frames and start > 0 and stop < len(mask):
            mask[start:stop] = True
    return mask


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True in `mask`."""
    padded = np.concatenate([[False], mask, [False]]).astype(np.int8)
    edges = np.flatnonzero(np.diff(padded))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def pauses(speaking: np.ndarray, fps: float) -> list[tuple[int, int]]:
    """[start, stop) frames of each silence of at least `PAUSE_S` between or around speech."""
    return [(a, b) for a, b in _runs(~speaking) if (b - a) / fps >= PAUSE_S]


def pitch_accents(features: Mapping[str, np.ndarray], fps: float) -> list[tuple[int, float]]:
    """(frame, semitones above the baseline) of each pitch accent: a local F0 peak at least
    `ACCENT_SEMITONES` over the running median of the speaker's pitch (±0.75 s), on a loud
    frame, at least 0.4 s from the previous one."""
    f0, energy = features["f0_hz"], features["energy_db"]
    voiced = f0 > 0
    if voiced.sum() < 5:
        return []
    tones = np.zeros_like(f0)
    tones[voiced] = 12.0 * np.log2(f0[voiced] / np.median(f0[voiced]))
    half = max(1, int(round(0.75 * fps)))
    baseline = np.array([np.median(tones[max(0, i - half):i + half + 1][voiced[max(0, i - half):i + half + 1]])
                         if voiced[max(0, i - half):i + half + 1].any() else 0.0 for i in range(len(f0))])
    excess = np.where(voiced, tones - baseline, -np.inf)
    loud = energy > np.percentile(energy[voiced], 40)
    accents: list[tuple[int, float]] = []
    for i in np.argsort(-excess):
        if not np.isfinite(excess[i]) or excess[i] < ACCENT_SEMITONES:
            break
        if loud[i] and all(abs(i - j) >= 0.4 * fps for j, _ in accents):
            accents.append((int(i), float(excess[i])))
    return sorted(accents)


def _pulse(count: int, fps: float, at: float, rise: float, fall: float) -> np.ndarray:
    """(count,) 0..1: a smooth bump peaking at time `at` s, rising over `rise` s, falling over `fall` s."""
    t = np.arange(count) / fps - at
    up = np.clip(1.0 + t / rise, 0.0, 1.0)
    down = np.clip(1.0 - t / fall, 0.0, 1.0)
    shape = np.where(t < 0, up, down)
    return shape * shape * (3.0 - 2.0 * shape)


def _blink(count: int, fps: float, start: float) -> np.ndarray:
    """(count,) a blink that starts closing at `start` s: 1 while closed (at least one frame)."""
    t = np.arange(count) / fps - start
    hold = max(BLINK_HOLD_S, 1.0 / fps)
    closing = np.clip(t / BLINK_CLOSE_S, 0.0, 1.0)
    opening = np.clip(1.0 - (t - BLINK_CLOSE_S - hold) / BLINK_OPEN_S, 0.0, 1.0)
    value = np.minimum(closing, opening)
    value = value * value * (3.0 - 2.0 * value)
    # The frame nearest the middle of the hold shows the lid fully down.
    middle = int(round((start + BLINK_CLOSE_S + 0.5 * hold) * fps))
    if 0 <= middle < count:
        value[middle] = 1.0
    return value


def blink_times(features: Mapping[str, np.ndarray], fps: float, rng: np.random.Generator,
                rate: float = BLINKS_PER_MINUTE) -> list[float]:
    """Seconds at which blinks start: about `rate` per minute. Most (`PAUSE_BLINK_SHARE`) fall at
    the start or end of a pause, drawn among them at random; the rest fill long stretches of
    speech, moved off loud voiced frames; no two closer than `MIN_BLINK_GAP_S`."""
    speaking, energy, f0 = features["speaking"], features["energy_db"], features["f0_hz"]
    count = len(speaking)
    duration = count / fps
    wanted = max(1, int(round(rate * duration / 60.0)))
    edges = sorted({edge / fps for start, stop in pauses(speaking, fps) for edge in (start, stop)
                    if 0 < edge < count - int(0.3 * fps)})
    times: list[float] = []

    def free(t: float) -> bool:
        return all(abs(t - other) >= MIN_BLINK_GAP_S for other in times)

    for edge in rng.permutation(np.asarray(edges, dtype=np.float64)):
        if len(times) >= int(round(PAUSE_BLINK_SHARE * wanted)):
            break
        start = float(edge) + float(rng.uniform(0.0, 0.08))
        if free(start):
            times.append(start)
    stressed = (f0 > 0) & (energy > np.percentile(energy[speaking], 60) if speaking.any() else np.zeros(count, bool))
    # The rest where the gaps are longest, each at a calm frame near the middle of its gap.
    while len(times) < wanted:
        marks = sorted(times + [-MIN_BLINK_GAP_S / 2, duration])
        gaps = np.diff(marks)
        widest = int(np.argmax(gaps))
        if gaps[widest] < 2.0 * MIN_BLINK_GAP_S:
            break
        t = marks[widest] + gaps[widest] * float(rng.uniform(0.35, 0.65))
        frame = min(count - 1, max(0, int(round(t * fps))))
        calm = [f for f in range(max(0, frame - int(0.3 * fps)), min(count, frame + int(0.3 * fps) + 1))
                if not stressed[f]]
        if calm:
            t = min(calm, key=lambda f: abs(f - frame)) / fps
        if not free(t) or t > duration - 0.3:
            break
        times.append(t)
    return sorted(times)


def _gaze(count: int, fps: float, speaking: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(yaw, pitch) degrees: fixations held 0.5-3 s, joined by saccades of two frames."""
    yaw, pitch = np.zeros(count), np.zeros(count)
    frame, current = 0, (0.0, 0.0)
    while frame < count:
        hold = int(max(0.4, rng.gamma(3.0, (0.5 if speaking[frame] else 0.8))) * fps)
        stop = min(count, frame + hold)
        yaw[frame:stop], pitch[frame:stop] = current
        if rng.uniform() < 0.5:  # back to the listener
            target = (float(rng.normal(0.0, 1.5)), float(rng.normal(0.0, 1.0)))
        else:
            target = (float(np.clip(rng.normal(0.0, 7.0), -15, 15)), float(np.clip(rng.normal(-1.0, 3.5), -10, 8)))
        # A saccade: two frames from the old target to the new.
        for step, share in ((stop, 0.5), (stop + 1, 1.0)):
            if step < count:
                yaw[step] = current[0] + share * (target[0] - current[0])
                pitch[step] = current[1] + share * (target[1] - current[1])
        current = target
        frame = stop + 2
    return yaw, pitch


def _drift(count: int, fps: float, sigma: float, tau: float, rng: np.random.Generator) -> np.ndarray:
    """(count,) an Ornstein-Uhlenbeck wander: standard deviation `sigma`, time constant `tau` s."""
    decay = np.exp(-1.0 / (fps * tau))
    noise = rng.normal(0.0, sigma * np.sqrt(1.0 - decay**2), count)
    values = np.zeros(count)
    for i in range(1, count):
        values[i] = decay * values[i - 1] + noise[i]
    return values


def _smooth(values: np.ndarray, fps: float, seconds: float) -> np.ndarray:
    width = max(1, int(round(seconds * fps)))
    kernel = np.hanning(2 * width + 1)
    return np.convolve(values, kernel / kernel.sum(), mode="same")


def checked_groups(life: float, groups: Sequence[str] | None) -> tuple[str, ...]:
    """The `LIFE_GROUPS` chosen (all for None), after checking `life` is in 0..1.

    Raises:
        LifeError: `life` outside 0..1, or an unknown group.
    """
    if not (isinstance(life, (int, float)) and 0.0 <= float(life) <= 1.0):
        raise LifeError(f"life={life!r} must be a number in 0..1 (0 = only the mouth moves, 1 = fully alive)")
    chosen = tuple(LIFE_GROUPS) if groups is None else tuple(groups)
    unknown = [group for group in chosen if group not in LIFE_GROUPS]
    if unknown:
        raise LifeError(f"unknown life group(s) {unknown}; groups are {list(LIFE_GROUPS)}")
    return chosen


def life_from_speech(samples: np.ndarray, sample_rate: int, fps: float, num_frames: int,
                     phones: Sequence[Any] | None = None, life: float = 1.0,
                     groups: Sequence[str] | None = None, seed: int = 0) -> LifeTrack:
    """The `LifeTrack` of a face saying `samples`.

    Args:
        samples: (N,) mono speech, full scale 1.0, at `sample_rate` Hz.
        fps, num_frames: the animation's frames.
        phones: the speech's timed phones, when known (pauses are read from them).
        life: 0..1, how much: the share of blinks kept and the size of gaze, brow and head
            motion (0 = a still track).
        groups: the `LIFE_GROUPS` to draw (default all); the others stay at rest.
        seed: the random draw; the same speech and seed give the same track.

    Raises:
        LifeError: `life` outside 0..1, or an unknown group.
    """
    chosen = checked_groups(life, groups)
    count = max(1, int(num_frames))
    values = np.zeros((count, len(LIFE_CHANNELS)))
    if life == 0 or not chosen:
        return LifeTrack(values, fps)
    column = {name: i for i, name in enumerate(LIFE_CHANNELS)}
    features = speech_features(samples, sample_rate, fps, count, phones)
    speaking = features["speaking"]
    accents = pitch_accents(features, fps)
    rngs = {group: np.random.default_rng([int(seed), index]) for index, group in enumerate(LIFE_GROUPS)}

    if "blinks" in chosen:
        rng = rngs["blinks"]
        lids = np.zeros(count)
        for start in blink_times(features, fps, rng):
            if rng.uniform() < life:
                lids = np.maximum(lids, _blink(count, fps, start))
        values[:, column["blink_left"]] = values[:, column["blink_right"]] = lids
    if "gaze" in chosen:
        yaw, pitch = _gaze(count, fps, speaking, rngs["gaze"])
        values[:, column["eye_yaw"]], values[:, column["eye_pitch"]] = life * yaw, life * pitch
    if "brows" in chosen:
        raise_, lower = np.zeros(count), np.zeros(count)
        for frame, excess in accents:
            raise_ = np.maximum(raise_, accent_heights(excess)[0] * _pulse(count, fps, frame / fps, *BROW_RAISE_S))
        f0, energy = features["f0_hz"], features["energy_db"]
        if speaking.any():
            loud = np.flatnonzero(speaking & (energy > np.percentile(energy[speaking], 90)))
            falling = [f for f in loud if 0 < f < count - 2 and 0 < f0[f + 2] < f0[f] * 0.94]
            for frame in falling[:: max(1, int(0.5 * fps))]:
                lower = np.maximum(lower, FROWN * _pulse(count, fps, frame / fps, *FROWN_S))
        values[:, column["brow_inner_up"]] = life * raise_
        values[:, column["brow_outer_up"]] = life * 0.7 * raise_
        values[:, column["brow_down"]] = life * lower * (1.0 - raise_)
    if "head" in chosen:
        rng = rngs["head"]
        activity = 0.5 + 0.5 * _smooth(speaking.astype(float), fps, 0.5)
        nod = np.zeros(count)
        for frame, excess in accents:
            nod = np.maximum(nod, accent_heights(excess)[1] * _pulse(count, fps, frame / fps, *NOD_S))
        loudness = _smooth(np.clip((features["energy_db"] - np.percentile(features["energy_db"], 20)) / 30.0, 0, 1),
                           fps, 0.4)
        drift = {name: _drift(count, fps, sigma, tau, rng) for name, (sigma, tau) in HEAD_DRIFT.items()}
        head = {
            "head_yaw": drift["head_yaw"] * activity,
            "head_pitch": drift["head_pitch"] * activity + nod,
            "head_roll": drift["head_roll"] * activity,
            "head_x": drift["head_x"],
            "head_y": drift["head_y"],
            "head_z": 2.0 * loudness + drift["head_z"],
        }
        for name, curve in head.items():
            limit = HEAD_LIMITS.get(name, LIFE_LIMITS[name][1] / 10.0)
            values[:, column[name]] = life * np.clip(curve, -limit, limit)
    return LifeTrack(values, fps)
