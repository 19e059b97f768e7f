"""ARKit-named blend-shape curves from an articulation track: Live Link Face CSV and JSON.

Apple's ARKit face tracking describes a face with 52 blend-shape coefficients in 0..1
(`ARFaceAnchor.BlendShapeLocation`); Unreal (Live Link Face, MetaHuman), Unity (ARKit Face
Capture), Blender add-ons and most avatar rigs accept them. The articulation track covers the
mouth; the names it drives and how (each a weighted sum of channels, clipped to 0..1):

| ARKit name | from the articulation channels | why |
| --- | --- | --- |
| jawOpen | jaw_open | the jaw hinge itself |
| mouthClose | min(lip_close, jaw_open) | ARKit's mouthClose closes the lips *against* an open jaw, so it never exceeds jawOpen |
| mouthPress_L/R | 0.5 · lip_close | p, b, m press the closed lips together |
| mouthPucker | lip_round | uw, w: lips pushed forward and narrowed |
| mouthFunnel | 0.6 · lip_round | rounded vowels open the lips into a funnel too |
| mouthStretch_L/R | 0.6 · lip_spread | iy, s: corners pulled outwards |
| mouthSmile_L/R | 0.3 · lip_spread | spreading lifts the corners slightly |
| mouthLowerDown_L/R | 0.3 · jaw_open | the lower lip follows an opening jaw |
| mouthRollLower | 0.8 · labiodental | f, v: lower lip rolled in under the upper teeth |
| mouthUpperUp_L/R | 0.25 · labiodental | the upper lip lifts off the teeth for f, v |

Every other name (eyes, brows, cheeks, nose, tongue, jaw sideways) is 0, and so are the head and
eye rotation columns. A channel missing from the track counts as 0.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from scantalk.atomic import atomic_write_text
from scantalk.errors import OutputExistsError
from scantalk.export.common import ExportError

ARKIT_BLENDSHAPES: tuple[str, ...] = (
    "eyeBlink_L", "eyeLookDown_L", "eyeLookIn_L", "eyeLookOut_L", "eyeLookUp_L", "eyeSquint_L", "eyeWide_L",
    "eyeBlink_R", "eyeLookDown_R", "eyeLookIn_R", "eyeLookOut_R", "eyeLookUp_R", "eyeSquint_R", "eyeWide_R",
    "jawForward", "jawRight", "jawLeft", "jawOpen",
    "mouthClose", "mouthFunnel", "mouthPucker", "mouthRight", "mouthLeft",
    "mouthSmile_L", "mouthSmile_R", "mouthFrown_L", "mouthFrown_R", "mouthDimple_L", "mouthDimple_R",
    "mouthStretch_L", "mouthStretch_R", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPress_L", "mouthPress_R", "mouthLowerDown_L", "mouthLowerDown_R", "mouthUpperUp_L", "mouthUpperUp_R",
    "browDown_L", "browDown_R", "browInnerUp", "browOuterUp_L", "browOuterUp_R",
    "cheekPuff", "cheekSquint_L", "cheekSquint_R", "noseSneer_L", "noseSneer_R", "tongueOut",
)
"""The 52 ARKit blend-shape names (Apple's identifiers) in the order Live Link Face records them."""

HEAD_EYE_COLUMNS: tuple[str, ...] = ("HeadYaw", "HeadPitch", "HeadRoll", "LeftEyeYaw", "LeftEyePitch",
                                     "LeftEyeRoll", "RightEyeYaw", "RightEyePitch", "RightEyeRoll")
"""The rotation columns that follow the blend shapes in a Live Link Face CSV (written as 0)."""

# name → ((channel, gain), ...): the weight is the clipped sum of gain · channel.
ARKIT_DRIVERS: dict[str, tuple[tuple[str, float], ...]] = {
    "jawOpen": (("jaw_open", 1.0),),
    "mouthPress_L": (("lip_close", 0.5),), "mouthPress_R": (("lip_close", 0.5),),
    "mouthPucker": (("lip_round", 1.0),),
    "mouthFunnel": (("lip_round", 0.6),),
    "mouthStretch_L": (("lip_spread", 0.6),), "mouthStretch_R": (("lip_spread", 0.6),),
    "mouthSmile_L": (("lip_spread", 0.3),), "mouthSmile_R": (("lip_spread", 0.3),),
    "mouthLowerDown_L": (("jaw_open", 0.3),), "mouthLowerDown_R": (("jaw_open", 0.3),),
    "mouthRollLower": (("labiodental", 0.8),),
    "mouthUpperUp_L": (("labiodental", 0.25),), "mouthUpperUp_R": (("labiodental", 0.25),),
}
DRIVEN_NAMES: tuple[str, ...] = tuple(name for name in ARKIT_BLENDSHAPES
                                      if name in ARKIT_DRIVERS or name == "mouthClose")
"""The ARKit names the articulation track moves; all others stay 0."""


def live_link_name(arkit_name: str) -> str:
    """Live Link Face's CSV column for an ARKit name: `mouthSmile_L` → `MouthSmileLeft`."""
    name = arkit_name[0].upper() + arkit_name[1:]
    for suffix, side in (("_L", "Left"), ("_R", "Right")):
        if name.endswith(suffix):
            name = name[: -len(suffix)] + side
    return name


LIVE_LINK_HEADER: tuple[str, ...] = ("Timecode", "BlendShapeCount",
                                     *(live_link_name(name) for name in ARKIT_BLENDSHAPES), *HEAD_EYE_COLUMNS)
"""The CSV header of a Live Link Face recording: 2 + 52 + 9 columns."""


def _track_at(track: Any, fps: float | None) -> Any:
    """The track resampled to `fps` (validated), or as it is when fps is None or equal."""
    if not hasattr(track, "values") or not hasattr(track, "channels"):
        raise ExportError(f"expected a scantalk.articulation.ArticulationTrack, got {type(track).__name__}; "
                          "build one with ArticulationTrack(values, fps) or ArticulationTrack.load(path)")
    if fps is None or float(fps) == float(track.fps):
        return track
    return track.resample(fps)


def arkit_weights(track: Any) -> np.ndarray:
    """ARKit blend-shape weights (T, 52) float32 in 0..1, columns in `ARKIT_BLENDSHAPES` order.

    Args:
        track: a `scantalk.articulation.ArticulationTrack` (values (T, A) in 0..1).

    Returns:
        (T, 52) weights; only `DRIVEN_NAMES` are non-zero (see the module docstring for the mapping).
    """
    values = np.asarray(track.values, np.float64)

    def channel(name: str) -> np.ndarray:
        return values[:, list(track.channels).index(name)] if name in track.channels else np.zeros(len(values))

    weights = np.zeros((len(values), len(ARKIT_BLENDSHAPES)))
    for column, name in enumerate(ARKIT_BLENDSHAPES):
        for source, gain in ARKIT_DRIVERS.get(name, ()):
            weights[:, column] += gain * channel(source)
    jaw = np.clip(channel("jaw_open"), 0.0, 1.0)
    weights[:, ARKIT_BLENDSHAPES.index("mouthClose")] = np.minimum(channel("lip_close"), jaw)
    return np.clip(weights, 0.0, 1.0).astype(np.float32)


def live_link_timecode(frame: int, fps: float) -> str:
    """`HH:MM:SS:FF.mmm` for frame `frame` at `fps`: FF counts frames within the second, .mmm the sub-frame (‰)."""
    seconds = frame / fps
    whole = math.floor(seconds + 1e-9)
    in_second = (seconds - whole) * fps
    frame_number = math.floor(in_second + 1e-6)
    # Round the sub-frame to thousandths without ever printing .1000.
    sub = min(999, max(0, round((in_second - frame_number) * 1000)))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}:{frame_number:02d}.{sub:03d}"


def _refuse_existing(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; pass overwrite=True to replace it, or choose another path")


def export_arkit_csv(track: Any, path: str | Path, fps: float | None = None, overwrite: bool = False) -> Path:
    """Write the track's ARKit weights as a Live Link Face CSV (Timecode, BlendShapeCount, 52 names, 9 rotations).

    Args:
        track: a `scantalk.articulation.ArticulationTrack`.
        path: the .csv to write (atomically).
        fps: frame rate of the rows (the track is resampled); None keeps the track's fps.
            Live Link Face records at 60 fps.
        overwrite: replace an existing file.

    Returns:
        `path` as a Path.
    """
    path = Path(path)
    _refuse_existing(path, overwrite)
    track = _track_at(track, fps)
    weights = arkit_weights(track)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(LIVE_LINK_HEADER)
    rotations = ["0.000000"] * len(HEAD_EYE_COLUMNS)
    for frame, row in enumerate(weights):
        writer.writerow([live_link_timecode(frame, track.fps), len(ARKIT_BLENDSHAPES) + len(HEAD_EYE_COLUMNS),
                         *(f"{value:.6f}" for value in row), *rotations])
    atomic_write_text(path, buffer.getvalue())
    return path


def export_arkit_json(track: Any, path: str | Path, fps: float | None = None, overwrite: bool = False) -> Path:
    """Write the track's ARKit weights as JSON: fps, the 52 names, which are driven, and (T, 52) weights.

    Args:
        track: a `scantalk.articulation.ArticulationTrack`.
        path: the .json to write (atomically).
        fps: frame rate of the rows (the track is resampled); None keeps the track's fps.
        overwrite: replace an existing file.

    Returns:
        `path` as a Path. The JSON holds `fps`, `num_frames`, `names` (ARKit identifiers),
        `driven`, `mapping` (name → channel gains) and `weights` (T rows of 52 numbers).
    """
    path = Path(path)
    _refuse_existing(path, overwrite)
    track = _track_at(track, fps)
    weights = arkit_weights(track)
    mapping = {name: {channel: gain for channel, gain in drivers} for name, drivers in ARKIT_DRIVERS.items()}
    mapping["mouthClose"] = {"min(lip_close, jaw_open)": 1.0}
    document = {"kind": "scantalk.arkit", "fps": float(track.fps), "num_frames": int(len(weights)),
                "names": list(ARKIT_BLENDSHAPES), "driven": list(DRIVEN_NAMES), "mapping": mapping,
                "weights": [[round(float(value), 6) for value in row] for row in weights]}
    atomic_write_text(path, json.dumps(document, indent=1))
    return path
