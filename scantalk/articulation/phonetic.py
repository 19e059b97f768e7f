"""The phonetic audio front end: speech → phones heard (no transcript) → articulation track.

Any English speech is decoded into timed phones by pocketsphinx's phone language model
(`scantalk.articulation.sphinx.decode_phones`), and the phones are turned into mouth curves by the same
coarticulation model that makes the training targets (`articulation_from_phones`). It needs no
trained network, so it does not depend on what voices a model was trained on; its weakness is
the recogniser's confusions (a wrong phone gives a wrong mouth shape).

`combine_tracks` blends two tracks channel by channel (e.g. this front end with the learned
`SpeechArticulator`), and `fit_combination_weights` picks the per-channel weights that best
reproduce reference tracks, on a validation corpus of synthetic voices (never on the real
recordings the front ends are compared on).

```python
from scantalk.articulation.phonetic import phonetic_track, combine_tracks

phonetic = phonetic_track(samples, fps=30)                     # (T, 5) ArticulationTrack
mixed = combine_tracks(learned, phonetic, {"lip_close": 0.3})  # 0.3·learned + 0.7·phonetic there
```
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Union

import numpy as np

from scantalk.articulation.channels import ARTICULATION_CHANNELS
from scantalk.articulation.coarticulation import ArticulationStyle, articulation_from_phones
from scantalk.articulation.segments import PhoneSegment
from scantalk.articulation.sphinx import decode_phones
from scantalk.articulation.track import ArticulationTrack
from scantalk.audio.io import SAMPLE_RATE, audio_frame_count, prepare_audio
from scantalk.errors import ArticulationError

Weights = Union[float, Sequence[float], Mapping[str, float], np.ndarray]
"""Per-channel weight of the first track: one number for all channels, one per channel (in the
first track's channel order), or {channel: weight} (channels not named keep weight 1)."""

#: Weights tried per channel by `fit_combination_weights`: 0, 0.1, ..., 1.
WEIGHT_GRID: tuple[float, ...] = tuple(round(0.1 * i, 1) for i in range(11))


def phonetic_phones_and_track(samples: np.ndarray, fps: float = 30.0, num_frames: int | None = None,
                              sample_rate: int = SAMPLE_RATE,
                              style: ArticulationStyle | None = None) -> tuple[list[PhoneSegment], ArticulationTrack]:
    """The phones pocketsphinx hears in `samples` and the articulation track made from them.

    Args:
        samples: (N,) mono speech (or (N, channels), mixed down) at `sample_rate` Hz, full scale 1.0.
        fps: frames per second of the track; frame i shows the mouth at i / fps seconds.
        num_frames: T; default the whole frames the audio covers (`audio_frame_count`), as the
            learned front end counts them.
        sample_rate: Hz of `samples`; resampled to 16 kHz for the recogniser.
        style: how the mouth moves per phone; default the neutral `ArticulationStyle()`.

    Returns:
        (phones tiling the audio, "SIL" in pauses; the `ArticulationTrack` (T, 5) in 0..1).

    Raises:
        AudioError: empty, silent, NaN or too short audio, or a bad sample rate.
        ArticulationError: fps ≤ 0 or num_frames < 1.
        SpeechToolError: pocketsphinx is not installed.
    """
    speech = prepare_audio(samples, sample_rate, SAMPLE_RATE, name="speech for the phonetic front end")
    if num_frames is None:
        if not (isinstance(fps, (int, float)) and math.isfinite(fps) and fps > 0):
            raise ArticulationError(f"frame rate fps={fps!r} must be a positive number of frames per second (e.g. 30)")
        num_frames = audio_frame_count(len(speech), SAMPLE_RATE, float(fps))
    phones = decode_phones(speech, SAMPLE_RATE)
    return phones, articulation_from_phones(phones, fps, num_frames, style)


def phonetic_track(samples: np.ndarray, fps: float = 30.0, num_frames: int | None = None,
                   sample_rate: int = SAMPLE_RATE) -> ArticulationTrack:
    """Speech → articulation track through phone recognition (no transcript, no trained network).

    Args:
        samples: (N,) mono speech at `sample_rate` Hz.
        fps: frames per second of the track.
        num_frames: T; default the whole frames the audio covers.
        sample_rate: Hz of `samples`.

    Returns:
        `ArticulationTrack` with values (T, 5) float32 in 0..1, channels `ARTICULATION_CHANNELS`.

    Raises:
        AudioError, ArticulationError, SpeechToolError: as `phonetic_phones_and_track`.
    """
    return phonetic_phones_and_track(samples, fps, num_frames, sample_rate)[1]


def channel_weights(weights: Weights, channels: tuple[str, ...]) -> np.ndarray:
    """(A,) float64 weights in 0..1 for `channels`, from any `Weights` form.

    Raises:
        ArticulationError: a weight outside 0..1 or not a number, a wrong count, an unknown channel.
    """
    if isinstance(weights, Mapping):
        unknown = [name for name in weights if name not in channels]
        if unknown:
            raise ArticulationError(f"combination weights name channel(s) {unknown} that the tracks lack; "
                                    f"their channels are {list(channels)}")
        values = [weights.get(name, 1.0) for name in channels]
    else:
        values = weights
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ArticulationError(f"combination weights {weights!r} are not numbers; give one weight in 0..1, "
                                f"{len(channels)} of them, or {{channel: weight}}") from None
    if array.ndim == 0:
        array = np.full(len(channels), float(array))
    if array.shape != (len(channels),):
        raise ArticulationError(f"{array.size} combination weights for {len(channels)} channels "
                                f"{list(channels)}; give one weight, one per channel, or {{channel: weight}}")
    if not np.all(np.isfinite(array)) or np.any(array < 0.0) or np.any(array > 1.0):
        raise ArticulationError(f"combination weights {array.tolist()} must lie in 0..1 (the share of the "
                                "first track in each channel)")
    return array


def combine_tracks(a: ArticulationTrack, b: ArticulationTrack, weights: Weights) -> ArticulationTrack:
    """Per-channel weighted mean of two tracks of the same speech: w·a + (1 − w)·b.

    Args:
        a, b: tracks at the same fps and with the same number of frames T; `b` must have every
            channel of `a` (its columns are matched by name, in any order).
        weights: the share of `a` per channel (see `Weights`): 1 keeps `a`, 0 takes `b`.

    Returns:
        `ArticulationTrack` (T, A) with `a`'s channels, in 0..1.

    Raises:
        ArticulationError: not tracks, different fps or frame counts (resample first), channels
            of `a` missing from `b`, or bad weights.
    """
    if not isinstance(a, ArticulationTrack) or not isinstance(b, ArticulationTrack):
        raise ArticulationError(f"combine_tracks needs two ArticulationTracks, got {type(a).__name__} and "
                                f"{type(b).__name__}")
    if not math.isclose(a.fps, b.fps, rel_tol=1e-9):
        raise ArticulationError(f"the tracks are at {a.fps} and {b.fps} fps; resample one "
                                f"(track.resample({a.fps})) before combining")
    if a.num_frames != b.num_frames:
        raise ArticulationError(f"the tracks have {a.num_frames} and {b.num_frames} frames; make both from the "
                                "same audio with the same num_frames before combining")
    share = channel_weights(weights, a.channels).astype(np.float32)
    other = b.array(a.channels)
    return ArticulationTrack(share * a.values + (1.0 - share) * other, a.fps, a.channels)


def fit_combination_weights(first: Sequence[ArticulationTrack], second: Sequence[ArticulationTrack],
                            references: Sequence[ArticulationTrack],
                            grid: Sequence[float] = WEIGHT_GRID) -> dict[str, float]:
    """Per-channel weights for `combine_tracks(first[i], second[i], w)` that best match `references[i]`.

    Each channel's weight is the grid value with the least squared error over all frames of all
    clips pooled (long clips count more, as they show more of the mouth); ties go to the smaller
    weight. Choose them on validation speech, never on the set the result is reported on.

    Args:
        first, second: tracks of the same clips from two front ends (each pair: same fps and T).
        references: the reference track of each clip (e.g. from its known phones), same T.
        grid: weights to try, each in 0..1.

    Returns:
        {channel: weight of `first`} for every channel of `ARTICULATION_CHANNELS`.

    Raises:
        ArticulationError: no clips, lists of different lengths, or tracks that do not line up.
    """
    if not (len(first) == len(second) == len(references)) or len(first) == 0:
        raise ArticulationError(f"fit_combination_weights needs the same number (≥ 1) of tracks in each list, got "
                                f"{len(first)}, {len(second)} and {len(references)}")
    candidates = np.sort(channel_weights(list(grid), tuple(str(i) for i in range(len(grid)))))
    errors = np.zeros((len(candidates), len(ARTICULATION_CHANNELS)))
    for one, two, reference in zip(first, second, references):
        if not (one.num_frames == two.num_frames == reference.num_frames):
            raise ArticulationError(f"tracks of one clip have {one.num_frames}, {two.num_frames} and "
                                    f"{reference.num_frames} frames; make them with the same num_frames")
        x, y, truth = (t.array(ARTICULATION_CHANNELS).astype(np.float64) for t in (one, two, reference))
        for row, w in enumerate(candidates):
            errors[row] += ((w * x + (1.0 - w) * y - truth) ** 2).sum(axis=0)
    best = np.argmin(errors, axis=0)  # first minimum: the smaller weight wins a tie
    return {name: float(candidates[best[i]]) for i, name in enumerate(ARTICULATION_CHANNELS)}
