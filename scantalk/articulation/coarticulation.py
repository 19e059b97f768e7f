"""Phones → articulation track, with coarticulation by dominance functions (Cohen & Massaro, 1993).

Every phone (each half of a diphthong) pulls each channel towards its target with a dominance
that is flat over the phone and decays as exp(-(d / tau) ** c) at a distance d before it
(anticipation, tau = `anticipation`) and after it (carry-over, tau = `carry_over`); tau is scaled
and c chosen per channel (`targets.CHANNEL_TIME_SCALE`, `targets.CHANNEL_DECAY_POWER`). A frame's
value is the dominance-weighted mean of all targets. Pauses (and gaps between phones) pull towards
rest with a dominance that grows with the distance from the pause's edges, so a long pause reaches
rest while a short gap between words barely dips. Contact phones (p, b, m; f, v) carry a dominance
several times their neighbours' on their contact channel, so the lips close even in fast speech;
a phone shorter than one frame is held over one frame period so that some frame shows it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np

from scantalk.articulation.channels import ARTICULATION_CHANNELS, NUM_CHANNELS
from scantalk.articulation.phones import SILENCE, Phone, PhonesLike, check_fps, default_num_frames, normalise_phones
from scantalk.articulation.targets import DIPHTHONG_ONSET_FRACTION, channel_decay_power, channel_time_scale, target_arrays
from scantalk.articulation.track import ArticulationTrack
from scantalk.errors import ArticulationError

# Channels whose target is a contact (lips together, lip on teeth): reached, not scaled by effort.
_CONTACT = np.array([name in ("lip_close", "labiodental") for name in ARTICULATION_CHANNELS])
# A rest pull everywhere keeps the blend defined far from every phone.
_BASELINE_DOMINANCE = 1e-3
# exp(-12) ≈ 6e-6: beyond this many time constants a phone's pull is negligible.
_TAIL_CONSTANTS = 12.0


@dataclass(frozen=True)
class ArticulationStyle:
    """How one speaker (or one utterance) articulates; the default is a neutral, average speaker.

    Attributes:
        amplitude: per channel (`ARTICULATION_CHANNELS` order), gain of the excursion from rest.
        anticipation: seconds; how early a phone's shape starts to form (dominance time constant before it).
        carry_over: seconds; how long a phone's shape lingers after it.
        effort: speaking effort; > 1 hyper-articulates (larger jaw, rounding and spreading, less
            coarticulation), < 1 is casual. Contacts (closure, labiodental) are reached either way.
        rest_jaw: jaw opening at rest, 0..1 (0: in pauses the face is its own neutral, as the
            user gave it; the training styles vary it to model speakers who rest slightly open).
        pause_time: seconds into a pause at which its pull to rest equals a phone's full dominance.
        pause_power: how the pull grows with the distance d from the pause's edge, (d / pause_time) ** power:
            > 1 lets a short gap between words barely dip while a long pause reaches rest.
        lead: seconds the mouth moves ahead of the phone times (positive: earlier than the audio).
    """

    amplitude: tuple[float, ...] = (1.0,) * NUM_CHANNELS
    anticipation: float = 0.06
    carry_over: float = 0.045
    effort: float = 1.0
    rest_jaw: float = 0.0
    pause_time: float = 0.05
    pause_power: float = 2.0
    lead: float = 0.0

    def __post_init__(self) -> None:
        amplitude = tuple(float(a) for a in self.amplitude)
        if len(amplitude) != NUM_CHANNELS or not all(math.isfinite(a) and a >= 0 for a in amplitude):
            raise ArticulationError(f"ArticulationStyle.amplitude={self.amplitude!r} needs {NUM_CHANNELS} "
                                    f"non-negative gains, one per channel of {ARTICULATION_CHANNELS}")
        object.__setattr__(self, "amplitude", amplitude)
        for name in ("anticipation", "carry_over", "effort", "pause_time", "pause_power"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ArticulationError(f"ArticulationStyle.{name}={value!r} must be a positive number")
        if not (isinstance(self.rest_jaw, (int, float)) and 0.0 <= self.rest_jaw <= 0.3):
            raise ArticulationError(f"ArticulationStyle.rest_jaw={self.rest_jaw!r} must lie in 0..0.3 (a mouth at rest)")
        if not (isinstance(self.lead, (int, float)) and abs(self.lead) <= 0.2):
            raise ArticulationError(f"ArticulationStyle.lead={self.lead!r} must be a number of seconds within ±0.2")

    @classmethod
    def sample(cls, rng: np.random.Generator) -> "ArticulationStyle":
        """A random plausible speaker, for training diversity (same generator state → same style)."""
        amplitude = (rng.uniform(0.7, 1.3), rng.uniform(0.95, 1.0), rng.uniform(0.6, 1.3),
                     rng.uniform(0.6, 1.3), rng.uniform(0.85, 1.0))
        return cls(amplitude=amplitude, anticipation=rng.uniform(0.04, 0.09), carry_over=rng.uniform(0.03, 0.065),
                   effort=rng.uniform(0.8, 1.2), rest_jaw=rng.uniform(0.0, 0.05), pause_time=rng.uniform(0.04, 0.065),
                   lead=rng.uniform(-0.01, 0.03))

    def as_dict(self) -> dict[str, object]:
        """The fields as plain JSON-ready values."""
        return {f.name: (list(getattr(self, f.name)) if f.name == "amplitude" else getattr(self, f.name))
                for f in fields(self)}


def _covering_parts(segments: list[Phone], duration: float) -> list[tuple[str, float, float, int]]:
    """(phone, start, end, part index) covering [-1 s, duration + 1 s]: gaps become pauses,
    diphthongs split into onset and offset, neighbouring pauses merged."""
    parts: list[tuple[str, float, float, int]] = []
    cursor = -1.0  # a leading pause reaching before t = 0 so the first frames start at rest

    def add(phone: str, start: float, end: float, part: int = 0) -> None:
        if phone == SILENCE and parts and parts[-1][0] == SILENCE:
            parts[-1] = (SILENCE, parts[-1][1], end, 0)
        else:
            parts.append((phone, start, end, part))

    for seg in segments:
        if seg.start > cursor:
            add(SILENCE, cursor, seg.start)
        if len(target_arrays(seg.phone)[0]) == 2:
            split = seg.start + DIPHTHONG_ONSET_FRACTION * seg.duration
            add(seg.phone, seg.start, split, 0)
            add(seg.phone, split, seg.end, 1)
        else:
            add(seg.phone, seg.start, seg.end)
        cursor = max(cursor, seg.end)
    add(SILENCE, cursor, max(cursor, duration) + 1.0)
    return parts


def articulation_from_phones(phones: PhonesLike, fps: float, num_frames: int | None = None,
                             style: ArticulationStyle | None = None) -> ArticulationTrack:
    """The articulation a speaker makes while saying `phones`, sampled at frame times `i / fps`.

    Args:
        phones: timed ARPAbet phones (objects with `.phone .start .end` or `(phone, start, end)`
            tuples, seconds; `SIL` for pauses; gaps count as pauses).
        fps: frames per second of the track (e.g. 30).
        num_frames: T; default the whole frames the phones cover (as the audio frame count is
            computed from the audio length). Frames past the last phone are at rest.
        style: the speaker's style; default `ArticulationStyle()` (neutral).

    Returns:
        An `ArticulationTrack` with values (T, 5) float32 in 0..1, channels `ARTICULATION_CHANNELS`.

    Raises:
        ArticulationError: unknown phones, bad times, fps ≤ 0 or num_frames < 1.
    """
    fps = check_fps(fps)
    segments = normalise_phones(phones)
    count = default_num_frames(segments, fps) if num_frames is None else num_frames
    if not isinstance(count, (int, np.integer)) or count < 1:
        raise ArticulationError(f"num_frames={num_frames!r} must be a positive whole number of frames")
    return ArticulationTrack(articulation_frames(segments, fps, 0, int(count), style), fps)


def articulation_frames(phones: PhonesLike, fps: float, first: int, count: int,
                        style: ArticulationStyle | None = None) -> np.ndarray:
    """Frames `first` … `first + count − 1` of `articulation_from_phones(phones, fps)`: any window
    of the track, the same values as in the whole (a stream computes its frames this way).

    Only the phones within reach of the window matter (a few tenths of a second either side;
    `coarticulation_reach`), so a caller may pass just those.

    Returns:
        (count, 5) float32 in 0..1, channels `ARTICULATION_CHANNELS`.

    Raises:
        ArticulationError: unknown phones, bad times or fps.
    """
    fps = check_fps(fps)
    style = style or ArticulationStyle()
    segments = normalise_phones(phones)
    times = (first + np.arange(count)) / fps + style.lead
    scale = channel_time_scale()
    power = channel_decay_power()
    # Hyper-articulation coarticulates less: shorter reach of each phone into its neighbours.
    tau_before = style.anticipation * scale / style.effort
    tau_after = style.carry_over * scale / style.effort
    reach_before, reach_after = coarticulation_reach(style)
    amplitude = np.asarray(style.amplitude)
    gain = amplitude * np.where(_CONTACT, 1.0, style.effort)
    rest = np.zeros(NUM_CHANNELS)
    rest[ARTICULATION_CHANNELS.index("jaw_open")] = style.rest_jaw

    numerator = np.tile(_BASELINE_DOMINANCE * rest, (count, 1))
    denominator = np.full((count, NUM_CHANNELS), _BASELINE_DOMINANCE)
    min_half_width = 0.5 / fps  # a phone shorter than a frame still holds its shape at one frame
    for phone, start, end, part in _covering_parts(segments, (first + count) / fps):
        begin = max(0, math.ceil((start - reach_before) * fps) - first)
        stop = min(count, math.floor((end + reach_after) * fps) + 1 - first)
        if begin >= stop:
            continue
        t = times[begin:stop, None]
        if phone == SILENCE:
            inside = np.clip(np.minimum(t - start, end - t), 0.0, None)
            weight = (inside / style.pause_time) ** style.pause_power
            weight = np.broadcast_to(weight, (len(t), NUM_CHANNELS))
            goal = rest
        else:
            targets, dominance = target_arrays(phone)
            goal = np.clip(rest + (targets[part] - rest) * gain, 0.0, 1.0)
            centre, half = 0.5 * (start + end), max(0.5 * (end - start), min_half_width)
            before = np.clip(centre - half - t, 0.0, None) / tau_before
            after = np.clip(t - centre - half, 0.0, None) / tau_after
            weight = dominance[part] * np.exp(-(before**power + after**power))
        numerator[begin:stop] += weight * goal
        denominator[begin:stop] += weight
    return np.clip(numerator / denominator, 0.0, 1.0).astype(np.float32)


def coarticulation_reach(style: ArticulationStyle | None = None) -> tuple[float, float]:
    """(seconds before, seconds after) a phone beyond which its pull on a frame is negligible
    (below exp(−12) of its dominance): how far ahead a frame needs to know the phones."""
    style = style or ArticulationStyle()
    scale = channel_time_scale()
    return (_TAIL_CONSTANTS * float((style.anticipation * scale / style.effort).max()),
            _TAIL_CONSTANTS * float((style.carry_over * scale / style.effort).max()))
