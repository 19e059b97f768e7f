"""`ArticulationTrack`: named mouth curves over time, the user-facing (and editable) articulation.

A track is what the mouth does in every frame: values (T, A) in 0..1, one column per channel of
`ARTICULATION_CHANNELS` (see `CHANNEL_UNITS` for what 1 means). Tracks are produced from phones
(`articulation_from_phones`) or from audio, saved next to every animation, plotted, edited
(`with_channel`) and decoded onto any head.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scantalk.articulation import trackfile
from scantalk.articulation.channels import ARTICULATION_CHANNELS
from scantalk.articulation.phones import SILENCE, normalise_phones
from scantalk.errors import ArticulationError

RANGE_TOLERANCE = 0.05
"""Values this far outside 0..1 are kept as given (an editor's overshoot)."""
RANGE_LIMIT = 0.5
"""Values beyond RANGE_TOLERANCE but within this are clipped to 0..1 with a warning; further out is an error."""


@dataclass(frozen=True, eq=False)
class ArticulationTrack:
    """Articulation curves sampled at `fps`: frame i shows the mouth at time i / fps seconds.

    Attributes:
        values: (T, A) float32, dimensionless, 0 = rest and 1 = full extent per channel.
        fps: frames per second (> 0).
        channels: the A channel names, each one of `ARTICULATION_CHANNELS`, no repeats.

    Raises:
        ArticulationError: unknown or repeated channels, a shape that does not match them, no
            frames, NaN or infinite values, values more than `RANGE_LIMIT` outside 0..1, fps ≤ 0.
    """

    values: np.ndarray
    fps: float
    channels: tuple[str, ...] = ARTICULATION_CHANNELS

    def __post_init__(self) -> None:
        channels = tuple(self.channels)
        unknown = [name for name in channels if name not in ARTICULATION_CHANNELS]
        if unknown:
            raise ArticulationError(f"unknown articulation channel(s) {unknown}; channels are {list(ARTICULATION_CHANNELS)}")
        if len(set(channels)) != len(channels):
            raise ArticulationError(f"articulation channels {list(channels)} repeat a name; give each channel once")
        try:
            fps = float(self.fps)
        except (TypeError, ValueError):
            fps = float("nan")
        if not (math.isfinite(fps) and fps > 0):
            raise ArticulationError(f"articulation track fps={self.fps!r} must be a positive number of frames per second")
        values = np.array(self.values, dtype=np.float32)  # a copy: the caller's array is never aliased
        if values.ndim != 2 or values.shape[1] != len(channels) or values.shape[0] < 1:
            raise ArticulationError(f"articulation values have shape {values.shape}; expected (T, {len(channels)}) with "
                                    f"T ≥ 1 frames, one column per channel of {list(channels)}")
        if not np.all(np.isfinite(values)):
            frame, column = np.argwhere(~np.isfinite(values))[0]
            raise ArticulationError(f"articulation channel {channels[column]!r} is {values[frame, column]} at frame "
                                    f"{frame}; fill the gap (e.g. interpolate) before using the track")
        low, high = values.min(axis=0), values.max(axis=0)
        excess = np.maximum(-low, high - 1.0)
        if np.any(excess > RANGE_LIMIT):
            column = int(np.argmax(excess))
            raise ArticulationError(
                f"articulation channel {channels[column]!r} ranges {low[column]:.3g}..{high[column]:.3g}; channels are "
                "dimensionless in 0..1 (0 = rest, 1 = full extent), not millimetres or percent: rescale the curve")
        if np.any(excess > RANGE_TOLERANCE):
            names = [channels[i] for i in np.flatnonzero(excess > RANGE_TOLERANCE)]
            warnings.warn(f"articulation channel(s) {names} leave 0..1 by more than {RANGE_TOLERANCE}; clipped to 0..1",
                          UserWarning, stacklevel=3)
            values = np.clip(values, 0.0, 1.0)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "fps", fps)
        object.__setattr__(self, "channels", channels)

    # --- shape and access ---------------------------------------------------------------------
    @property
    def num_frames(self) -> int:
        """T."""
        return int(self.values.shape[0])

    @property
    def duration(self) -> float:
        """Seconds the track covers: T / fps."""
        return self.num_frames / self.fps

    @property
    def times(self) -> np.ndarray:
        """(T,) float64 frame times in seconds, i / fps."""
        return np.arange(self.num_frames) / self.fps

    def _column(self, name: str) -> int:
        if name not in self.channels:
            raise ArticulationError(f"articulation track has no channel {name!r}; it has {list(self.channels)}")
        return self.channels.index(name)

    def __getitem__(self, name: str) -> np.ndarray:
        """(T,) float32 copy of channel `name` (edit through `with_channel`)."""
        return self.values[:, self._column(name)].copy()

    def array(self, channels: tuple[str, ...] = ARTICULATION_CHANNELS) -> np.ndarray:
        """(T, len(channels)) float32 in the given channel order (what the rig and decoder consume).

        Raises:
            ArticulationError: a requested channel is missing from this track.
        """
        missing = [name for name in channels if name not in self.channels]
        if missing:
            raise ArticulationError(f"articulation track has no channel(s) {missing}; it has {list(self.channels)} "
                                    "(add them with with_channel)")
        return self.values[:, [self.channels.index(name) for name in channels]].copy()

    # --- editing --------------------------------------------------------------------------------
    def with_channel(self, name: str, values: Any) -> "ArticulationTrack":
        """A new track with channel `name` replaced (or added) by `values` (T,), validated like any track.

        Raises:
            ArticulationError: an unknown channel, a length other than T, NaN or values far outside 0..1.
        """
        column = np.asarray(values, dtype=np.float32)
        if column.shape != (self.num_frames,):
            raise ArticulationError(f"new values for {name!r} have shape {column.shape}; the track has "
                                    f"{self.num_frames} frames, so pass ({self.num_frames},)")
        if name in self.channels:
            updated = self.values.copy()
            updated[:, self.channels.index(name)] = column
            return ArticulationTrack(updated, self.fps, self.channels)
        return ArticulationTrack(np.column_stack([self.values, column]), self.fps, self.channels + (name,))

    def clip(self) -> "ArticulationTrack":
        """A copy with every value clipped to 0..1."""
        return ArticulationTrack(np.clip(self.values, 0.0, 1.0), self.fps, self.channels)

    def resample(self, fps: float) -> "ArticulationTrack":
        """The same motion at another frame rate (linear interpolation in time; same duration, T' = ⌊T·fps'/fps⌋).

        Frame j of the result is the curve at time j / fps seconds, so events keep their times.
        """
        target = ArticulationTrack(np.zeros((1, len(self.channels))), fps, self.channels).fps  # validates fps
        count = max(1, math.floor(self.duration * target + 1e-6))
        new_times = np.arange(count) / target
        columns = [np.interp(new_times, self.times, self.values[:, i]) for i in range(len(self.channels))]
        return ArticulationTrack(np.stack(columns, axis=1), target, self.channels)

    # --- files ----------------------------------------------------------------------------------
    def save_csv(self, path: str | Path) -> Path:
        """Write `time_s,<channels>` rows (a `# fps=` comment first) to `path` atomically; returns the path."""
        return trackfile.write_csv(path, self.values, self.fps, self.channels)

    @classmethod
    def load_csv(cls, path: str | Path) -> "ArticulationTrack":
        """Read a CSV written by `save_csv` (edits in a spreadsheet are fine). Raises ArticulationError."""
        return cls(*trackfile.read_csv(path))

    def save_json(self, path: str | Path) -> Path:
        """Write fps, channel names, units and values to `path` atomically; returns the path."""
        return trackfile.write_json(path, self.values, self.fps, self.channels)

    @classmethod
    def load_json(cls, path: str | Path) -> "ArticulationTrack":
        """Read a JSON written by `save_json`. Raises ArticulationError."""
        return cls(*trackfile.read_json(path))

    def save(self, path: str | Path) -> Path:
        """`save_csv` or `save_json` by the suffix of `path` (.csv / .json)."""
        suffix = Path(path).suffix.lower()
        if suffix not in (".csv", ".json"):
            raise ArticulationError(f"cannot tell the format of {path}; name it .csv or .json")
        return self.save_csv(path) if suffix == ".csv" else self.save_json(path)

    @classmethod
    def load(cls, path: str | Path) -> "ArticulationTrack":
        """`load_csv` or `load_json` by the suffix of `path` (.csv / .json)."""
        suffix = Path(path).suffix.lower()
        if suffix not in (".csv", ".json"):
            raise ArticulationError(f"cannot tell the format of {path}; articulation tracks are .csv or .json files")
        return cls.load_csv(path) if suffix == ".csv" else cls.load_json(path)

    # --- display --------------------------------------------------------------------------------
    def plot(self, ax: Any = None, phones: Any = None) -> Any:
        """Draw each channel against time (s) on a matplotlib Axes (a new figure when `ax` is None).

        Args:
            ax: matplotlib Axes to draw on.
            phones: optional timed phones (see `scantalk.articulation.phones`) written along the top.

        Returns:
            The Axes.
        """
        import matplotlib.pyplot as plt  # optional dependency: only plotting needs it

        if ax is None:
            _, ax = plt.subplots(figsize=(max(6.0, min(20.0, 2.0 * self.duration)), 3.0))
        for index, name in enumerate(self.channels):
            ax.plot(self.times, self.values[:, index], label=name, linewidth=1.2)
        if phones is not None:
            for phone in normalise_phones(phones):
                if phone.phone != SILENCE:
                    ax.axvspan(phone.start, phone.end, color="0.5", alpha=0.06, linewidth=0)
                    ax.text(0.5 * (phone.start + phone.end), 1.06, phone.phone.lower(), ha="center", va="bottom",
                            fontsize=7, clip_on=True)
        ax.set_xlim(0.0, max(self.duration, 1.0 / self.fps))
        ax.set_ylim(-0.05, 1.15 if phones is not None else 1.05)
        ax.set_xlabel("time (s)")
        ax.set_ylabel("articulation (0 = rest, 1 = full)")
        ax.legend(loc="upper right", fontsize=7, ncol=len(self.channels))
        return ax
