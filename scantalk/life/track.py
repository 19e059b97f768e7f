"""`LifeTrack`: blinks, gaze, brows and head motion over time, saved, edited and decoded like the
articulation track.

CSV: a `#` comment line with the format name and fps, a header `time_s,<channel>,...`, one row per
frame, values in each channel's unit (`LIFE_UNITS`). Missing channels read as 0 (rest).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scantalk.atomic import atomic_write_text
from scantalk.errors import LifeError
from scantalk.life.channels import LIFE_CHANNELS, LIFE_GROUPS, LIFE_LIMITS

FORMAT_NAME = "scantalk.life"
_FPS_COMMENT = re.compile(r"fps\s*=\s*([0-9.eE+-]+)")


@dataclass(frozen=True, eq=False)
class LifeTrack:
    """Life curves sampled at `fps`: frame i shows the face at time i / fps seconds.

    Attributes:
        values: (T, C) float32 in each channel's unit (see `LIFE_UNITS`); 0 everywhere = a still,
            open-eyed face looking ahead.
        fps: frames per second (> 0).
        channels: the C channel names, each one of `LIFE_CHANNELS`, no repeats.

    Raises:
        LifeError: unknown or repeated channels, a shape that does not match them, no frames,
            NaN or infinite values, values outside `LIFE_LIMITS`, fps ≤ 0.
    """

    values: np.ndarray
    fps: float
    channels: tuple[str, ...] = LIFE_CHANNELS

    def __post_init__(self) -> None:
        channels = tuple(self.channels)
        unknown = [name for name in channels if name not in LIFE_CHANNELS]
        if unknown or len(set(channels)) != len(channels):
            raise LifeError(f"life channels {list(channels)} repeat a name or are unknown ({unknown}); channels are "
                            f"{list(LIFE_CHANNELS)}")
        fps = float(self.fps) if isinstance(self.fps, (int, float)) else float("nan")
        if not (math.isfinite(fps) and fps > 0):
            raise LifeError(f"life track fps={self.fps!r} must be a positive number of frames per second")
        values = np.array(self.values, dtype=np.float32)
        if values.ndim != 2 or values.shape[1] != len(channels) or values.shape[0] < 1:
            raise LifeError(f"life values have shape {values.shape}; expected (T, {len(channels)}) with T ≥ 1, one "
                            f"column per channel of {list(channels)}")
        if not np.all(np.isfinite(values)):
            frame, column = np.argwhere(~np.isfinite(values))[0]
            raise LifeError(f"life channel {channels[column]!r} is {values[frame, column]} at frame {frame}; fill "
                            "the gap before using the track")
        for column, name in enumerate(channels):
            low, high = LIFE_LIMITS[name]
            if values[:, column].min() < low - 1e-4 or values[:, column].max() > high + 1e-4:
                raise LifeError(f"life channel {name!r} ranges {values[:, column].min():.3g}.."
                                f"{values[:, column].max():.3g}, outside {low:g}..{high:g} (see "
                                "scantalk.life.LIFE_UNITS for its unit)")
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "fps", fps)
        object.__setattr__(self, "channels", channels)

    @classmethod
    def still(cls, num_frames: int, fps: float) -> "LifeTrack":
        """A track of `num_frames` frames with every channel at rest."""
        return cls(np.zeros((max(1, int(num_frames)), len(LIFE_CHANNELS)), np.float32), fps)

    @property
    def num_frames(self) -> int:
        return int(self.values.shape[0])

    def __getitem__(self, name: str) -> np.ndarray:
        """(T,) values of one channel (0 for a channel the track does not hold)."""
        if name not in LIFE_CHANNELS:
            raise LifeError(f"unknown life channel {name!r}; channels are {list(LIFE_CHANNELS)}")
        if name not in self.channels:
            return np.zeros(self.num_frames, np.float32)
        return self.values[:, self.channels.index(name)].copy()

    def array(self, channels: tuple[str, ...] = LIFE_CHANNELS) -> np.ndarray:
        """(T, len(channels)) float32, absent channels as 0."""
        return np.stack([self[name] for name in channels], axis=1)

    def with_channel(self, name: str, values: Any) -> "LifeTrack":
        """A copy with channel `name` replaced by `values` (T,), e.g. an edited curve."""
        column = np.asarray(values, dtype=np.float32)
        if column.shape != (self.num_frames,):
            raise LifeError(f"new values for {name!r} have shape {column.shape}; expected ({self.num_frames},)")
        if name not in LIFE_CHANNELS:
            raise LifeError(f"unknown life channel {name!r}; channels are {list(LIFE_CHANNELS)}")
        full = self.array()
        full[:, LIFE_CHANNELS.index(name)] = column
        return LifeTrack(full, self.fps)

    def without(self, groups: tuple[str, ...]) -> "LifeTrack":
        """A copy with the channels of `groups` (names of `LIFE_GROUPS`) at rest."""
        unknown = [group for group in groups if group not in LIFE_GROUPS]
        if unknown:
            raise LifeError(f"unknown life group(s) {unknown}; groups are {list(LIFE_GROUPS)}")
        full = self.array()
        for group in groups:
            for name in LIFE_GROUPS[group]:
                full[:, LIFE_CHANNELS.index(name)] = 0.0
        return LifeTrack(full, self.fps)

    def resample(self, fps: float, num_frames: int | None = None) -> "LifeTrack":
        """The track at another frame rate (linear interpolation), `num_frames` long if given."""
        count = num_frames or max(1, int(round(self.num_frames * fps / self.fps)))
        source = np.arange(self.num_frames) / self.fps
        target = np.arange(count) / fps
        values = np.stack([np.interp(target, source, column) for column in self.values.T], axis=1)
        return LifeTrack(values, fps, self.channels)

    def save_csv(self, path: str | Path) -> Path:
        """Write the track as CSV (atomically); returns the path."""
        lines = [f"# {FORMAT_NAME} v1, fps={self.fps:.9g}, units: see scantalk.life.LIFE_UNITS",
                 ",".join(("time_s",) + self.channels)]
        for index, row in enumerate(self.values):
            lines.append(",".join([f"{index / self.fps:.9g}"] + [f"{float(v):.9g}" for v in row]))
        atomic_write_text(Path(path), "\n".join(lines) + "\n")
        return Path(path)

    @classmethod
    def load_csv(cls, path: str | Path) -> "LifeTrack":
        """Read a track written by `save_csv` (or edited in a spreadsheet: fps from the time column
        when the comment line is gone)."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise LifeError(f"cannot read life track {path} ({error}); pass a .csv written by LifeTrack.save_csv "
                            "or `scantalk animate --life`") from None
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        fps = None
        if lines and lines[0].startswith("#"):
            found = _FPS_COMMENT.search(lines[0])
            fps = float(found.group(1)) if found else None
            lines = lines[1:]
        if len(lines) < 2 or not lines[0].startswith("time_s"):
            raise LifeError(f"{path} is not a life track: expected a header 'time_s,<channel>,...' and one row per "
                            "frame")
        header = lines[0].split(",")
        try:
            rows = np.array([[float(value) for value in line.split(",")] for line in lines[1:]], dtype=np.float64)
        except ValueError:
            raise LifeError(f"{path} holds a value that is not a number; every cell after the header must be one")
        if rows.ndim != 2 or rows.shape[1] != len(header):
            raise LifeError(f"{path}: every row must have {len(header)} values, one per header column")
        if fps is None:
            step = np.diff(rows[:, 0])
            if not len(step) or step.min() <= 0:
                raise LifeError(f"{path} gives no fps and its time column does not increase; add '# fps=30'")
            fps = 1.0 / float(np.median(step))
        return cls(rows[:, 1:], fps, tuple(header[1:]))
