"""Reading and writing articulation curves as CSV and JSON (atomic writes, strict reads).

CSV: a `#` comment line with the format name and fps, a header `time_s,<channel>,...`, one row
per frame; a spreadsheet that drops the comment still reads back (fps from the time column).
JSON: `{"format": "scantalk.articulation", "version": 1, "fps", "num_frames", "channels":
[{"name", "units", "values"}]}`. Values are written with 9 significant digits, which restores
every float32 exactly. This module works on plain arrays; `ArticulationTrack` wraps it.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import numpy as np

from scantalk.articulation.channels import CHANNEL_UNITS
from scantalk.atomic import atomic_write_text
from scantalk.errors import ArticulationError
from scantalk.frames import MAX_FPS, MIN_FPS

FORMAT_NAME = "scantalk.articulation"
FORMAT_VERSION = 1
_FPS_COMMENT = re.compile(r"fps\s*=\s*([0-9.eE+-]+)")


def _number(value: float) -> str:
    return f"{float(value):.9g}"


def write_csv(path: str | Path, values: np.ndarray, fps: float, channels: tuple[str, ...]) -> Path:
    """Write curves (T, A) at `fps` to `path` atomically; returns the path."""
    path = Path(path)
    lines = [f"# {FORMAT_NAME} v{FORMAT_VERSION}, fps={_number(fps)}, channels dimensionless (0 = rest, 1 = full "
             "extent; see scantalk.articulation.CHANNEL_UNITS)",
             ",".join(("time_s",) + tuple(channels))]
    for index, row in enumerate(np.asarray(values, dtype=np.float32)):
        lines.append(",".join([_number(index / fps)] + [_number(v) for v in row]))
    atomic_write_text(path, "\n".join(lines) + "\n")
    return path


def _check_file_fps(path: Path, fps: float) -> float:
    """The fps a track file gives, if it is one `--fps` would accept (MIN_FPS to MAX_FPS)."""
    if not (math.isfinite(fps) and MIN_FPS <= fps <= MAX_FPS):
        raise ArticulationError(f"{path} gives fps={fps:g}, outside {MIN_FPS:g}-{MAX_FPS:g} frames per second; "
                                "fix its fps (the '# fps=' comment or \"fps\" entry) or resample the track")
    return fps


def _read_text(path: Path, kind: str) -> str:
    if not path.is_file():
        raise ArticulationError(f"articulation {kind} {path} does not exist; pass the path of a file written by "
                                f"ArticulationTrack.save_{kind} (or `scantalk animate`)")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ArticulationError(f"cannot read articulation {kind} {path} ({error}); is it a text file?") from None


def read_csv(path: str | Path) -> tuple[np.ndarray, float, tuple[str, ...]]:
    """Read a CSV written by `write_csv` (or edited in a spreadsheet): (values (T, A) float32, fps, channels).

    Raises:
        ArticulationError: a missing file, no `time_s` header, ragged or non-numeric rows, or a time
            column that is not evenly spaced from 0 (no fps can be recovered).
    """
    path = Path(path)
    fps = None
    header: list[str] | None = None
    rows: list[list[float]] = []
    # A spreadsheet may prepend a byte-order mark.
    for number, line in enumerate(_read_text(path, "csv").lstrip("\ufeff").splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            match = _FPS_COMMENT.search(line)
            if match and fps is None:
                try:
                    fps = float(match.group(1))
                except ValueError:
                    raise ArticulationError(f"{path} line {number} gives fps={match.group(1)!r}, not a number; "
                                            "write e.g. '# fps=30' or delete the comment line") from None
            continue
        cells = [cell.strip() for cell in line.split(",")]
        if header is None:
            if cells[0] != "time_s":
                raise ArticulationError(f"{path} line {number} should be the header 'time_s,<channel>,...' but is "
                                        f"{line[:60]!r}; this is not an articulation CSV")
            header = cells[1:]
            continue
        if len(cells) != len(header) + 1:
            raise ArticulationError(f"{path} line {number} has {len(cells)} columns but the header has "
                                    f"{len(header) + 1}; every row needs time_s and one value per channel")
        try:
            rows.append([float(cell) for cell in cells])
        except ValueError:
            raise ArticulationError(f"{path} line {number} holds a value that is not a number: {line[:80]!r}") from None
    if header is None or not rows:
        raise ArticulationError(f"{path} has no 'time_s,<channel>,...' header or no rows; this is not an articulation CSV")
    table = np.array(rows, dtype=np.float64)
    times = table[:, 0]
    if not np.all(np.isfinite(times)):
        row = int(np.flatnonzero(~np.isfinite(times))[0])
        raise ArticulationError(f"{path}: time_s on row {row + 1} is {times[row]}; every row needs a finite time "
                                "in seconds (fill or delete the row)")
    if fps is None:
        if len(times) < 2:
            raise ArticulationError(f"{path} has one row and no '# fps=...' comment; the frame rate is unknown")
        fps = 1.0 / float(np.median(np.diff(times)))
        fps = round(fps) if abs(fps - round(fps)) < 1e-3 else fps
    _check_file_fps(path, fps)
    expected = np.arange(len(times)) / fps
    if np.any(np.abs(times - expected) > 0.25 / fps):
        worst = int(np.argmax(np.abs(times - expected)))
        raise ArticulationError(f"{path}: time_s on row {worst + 1} is {times[worst]} s but frame {worst} at "
                                f"{fps} fps is at {expected[worst]:.6f} s; rows must be every frame from 0 s "
                                "(resample the curves before saving)")
    return table[:, 1:].astype(np.float32), float(fps), tuple(header)


def write_json(path: str | Path, values: np.ndarray, fps: float, channels: tuple[str, ...]) -> Path:
    """Write curves (T, A) at `fps` with each channel's units to `path` atomically; returns the path."""
    path = Path(path)
    values = np.asarray(values, dtype=np.float32)
    document = {
        "format": FORMAT_NAME, "version": FORMAT_VERSION, "fps": float(fps), "num_frames": int(values.shape[0]),
        "channels": [{"name": name, "units": CHANNEL_UNITS.get(name, "dimensionless, 0 = rest, 1 = full extent"),
                      "values": [float(_number(v)) for v in values[:, index]]}
                     for index, name in enumerate(channels)],
    }
    atomic_write_text(path, json.dumps(document, indent=1) + "\n")
    return path


def read_json(path: str | Path) -> tuple[np.ndarray, float, tuple[str, ...]]:
    """Read a JSON written by `write_json`: (values (T, A) float32, fps, channels).

    Raises:
        ArticulationError: a missing or malformed file, another format, or channels of unequal length.
    """
    path = Path(path)
    try:
        document = json.loads(_read_text(path, "json"))
    except json.JSONDecodeError as error:
        raise ArticulationError(f"{path} is not valid JSON ({error}); pass a file written by "
                                "ArticulationTrack.save_json") from None
    if not isinstance(document, dict) or document.get("format") != FORMAT_NAME:
        raise ArticulationError(f"{path} is not an articulation track (no \"format\": \"{FORMAT_NAME}\"); "
                                "pass a file written by ArticulationTrack.save_json")
    if document.get("version") != FORMAT_VERSION:
        raise ArticulationError(f"{path} is articulation format version {document.get('version')!r}; this "
                                f"ScanTalk reads version {FORMAT_VERSION} (upgrade ScanTalk)")
    try:
        channels = tuple(str(entry["name"]) for entry in document["channels"])
        columns = [np.asarray(entry["values"], dtype=np.float64) for entry in document["channels"]]
        fps = float(document["fps"])
    except (KeyError, TypeError, ValueError):
        raise ArticulationError(f"{path} lacks fps or a channel's name/values; re-save it with "
                                "ArticulationTrack.save_json") from None
    _check_file_fps(path, fps)
    lengths = {len(column) for column in columns}
    if len(lengths) != 1 or any(column.ndim != 1 for column in columns):
        raise ArticulationError(f"{path}: the channels hold different numbers of frames {sorted(lengths)}; "
                                "every channel needs one value per frame")
    return np.stack(columns, axis=1).astype(np.float32), fps, channels
