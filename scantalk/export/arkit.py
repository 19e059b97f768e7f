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

With a `LifeTrack` (`life=`), the eyes, brows and head move too:

| ARKit name / Live Link column | from the life channels |
| --- | --- |
| eyeBlink_L / _R | blink_left / blink_right |
| eyeLookOut_L, eyeLookIn_R | eye_yaw / 30° where the eyes look to the head's left |
| eyeLookIn_L, eyeLookOut_R | −eye_yaw / 30° where they look to its right |
| eyeLookUp_L/R, eyeLookDown_L/R | ±eye_pitch / 25° |
| browInnerUp, browOuterUp_L/R, browDown_L/R | brow_inner_up, brow_outer_up, brow_down |
| HeadYaw, HeadPitch, HeadRoll | head_yaw, head_pitch, head_roll in radians |
| LeftEyeYaw/Pitch, RightEyeYaw/Pitch | eye_yaw, eye_pitch in radians |

Every other name (cheeks, nose, tongue, jaw sideways) is 0, and without `life` so are the eyes,
brows and the rotation columns. A channel missing from the track counts as 0.
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
"""The rotation columns that follow the blend shapes in a Live Link Face CSV (radians; 0 without a life track)."""

EYE_LOOK_DEGREES = (30.0, 25.0)
"""Eye yaw and pitch (degrees) at which an eyeLook* weight reaches 1."""

# name → ((life channel, gain), ...), like ARKIT_DRIVERS (eye looks are built in `_life_weights`).
LIFE_DRIVERS: dict[str, tuple[tuple[str, float], ...]] = {
    "eyeBlink_L": (("blink_left", 1.0),), "eyeBlink_R": (("blink_right", 1.0),),
    "browInnerUp": (("brow_inner_up", 1.0),),
    "browOuterUp_L": (("brow_outer_up", 1.0),), "browOuterUp_R": (("brow_outer_up", 1.0),),
    "browDown_L": (("brow_down", 1.0),), "browDown_R": (("brow_down", 1.0),),
}

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


def arkit_weights(track: Any, life: Any = None) -> np.ndarray:
    """ARKit blend-shape weights (T, 52) float32 in 0..1, columns in `ARKIT_BLENDSHAPES` order.

    Args:
        track: a `scantalk.articulation.ArticulationTrack` (values (T, A) in 0..1).
        life: a `scantalk.life.LifeTrack` for the eyes and brows (resampled to the track), or None.

    Returns:
        (T, 52) weights; without `life` only `DRIVEN_NAMES` are non-zero (see the module
        docstring for the mapping).
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
    if life is not None:
        weights += _life_weights(life, len(values), float(track.fps))[0]
    return np.clip(weights, 0.0, 1.0).astype(np.float32)


def _life_weights(life: Any, num_frames: int, fps: float) -> tuple[np.ndarray, np.ndarray]:
    """(T, 52) ARKit weights the life track drives and (T, 9) Live Link rotation columns (radians)."""
    if not hasattr(life, "resample") or not hasattr(life, "channels"):
        raise ExportError(f"life= expects a scantalk.life.LifeTrack, got {type(life).__name__}")
    life = life.resample(fps, num_frames)
    weights = np.zeros((num_frames, len(ARKIT_BLENDSHAPES)))
    for name, drivers in LIFE_DRIVERS.items():
        for source, gain in drivers:
            weights[:, ARKIT_BLENDSHAPES.index(name)] += gain * life[source]
    yaw, pitch = life["eye_yaw"] / EYE_LOOK_DEGREES[0], life["eye_pitch"] / EYE_LOOK_DEGREES[1]
    looks = {"eyeLookOut_L": yaw, "eyeLookIn_R": yaw, "eyeLookIn_L": -yaw, "eyeLookOut_R": -yaw,
             "eyeLookUp_L": pitch, "eyeLookUp_R": pitch, "eyeLookDown_L": -pitch, "eyeLookDown_R": -pitch}
    for name, value in looks.items():
        weights[:, ARKIT_BLENDSHAPES.index(name)] = np.clip(value, 0.0, 1.0)
    eyes = np.radians(np.stack([life["eye_yaw"], life["eye_pitch"]], axis=1))
    rotations = np.zeros((num_frames, len(HEAD_EYE_COLUMNS)))
    rotations[:, :3] = np.radians(np.stack([life["head_yaw"], life["head_pitch"], life["head_roll"]], axis=1))
    rotations[:, [3, 4]] = eyes
    rotations[:, [6, 7]] = eyes
    return np.clip(weights, 0.0, 1.0), rotations


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


def export_arkit_csv(track: Any, path: str | Path, fps: float | None = None, overwrite: bool = False,
                     life: Any = None) -> Path:
    """Write the track's ARKit weights as a Live Link Face CSV (Timecode, BlendShapeCount, 52 names, 9 rotations).

    Args:
        track: a `scantalk.articulation.ArticulationTrack`.
        path: the .csv to write (atomically).
        fps: frame rate of the rows (the track is resampled); None keeps the track's fps.
            Live Link Face records at 60 fps.
        overwrite: replace an existing file.
        life: a `scantalk.life.LifeTrack`: blinks, eye looks, brows and the head and eye
            rotation columns (radians); None leaves them 0.

    Returns:
        `path` as a Path.
    """
    path = Path(path)
    _refuse_existing(path, overwrite)
    track = _track_at(track, fps)
    weights = arkit_weights(track, life)
    rotations = np.zeros((len(weights), len(HEAD_EYE_COLUMNS)))
    if life is not None:
        rotations = _life_weights(life, len(weights), float(track.fps))[1]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(LIVE_LINK_HEADER)
    for frame, row in enumerate(weights):
        writer.writerow([live_link_timecode(frame, track.fps), len(ARKIT_BLENDSHAPES) + len(HEAD_EYE_COLUMNS),
                         *(f"{value:.6f}" for value in row), *(f"{value:.6f}" for value in rotations[frame])])
    atomic_write_text(path, buffer.getvalue())
    return path


def export_arkit_json(track: Any, path: str | Path, fps: float | None = None, overwrite: bool = False,
                      life: Any = None) -> Path:
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
    weights = arkit_weights(track, life)
    mapping = {name: {channel: gain for channel, gain in drivers} for name, drivers in ARKIT_DRIVERS.items()}
    mapping["mouthClose"] = {"min(lip_close, jaw_open)": 1.0}
    document = {"kind": "scantalk.arkit", "fps": float(track.fps), "num_frames": int(len(weights)),
                "names": list(ARKIT_BLENDSHAPES), "driven": list(DRIVEN_NAMES), "mapping": mapping}
    if life is not None:
        mapping.update({name: {channel: gain for channel, gain in drivers} for name, drivers in LIFE_DRIVERS.items()})
        document["driven"] = [name for name in ARKIT_BLENDSHAPES
                              if name in DRIVEN_NAMES or name in LIFE_DRIVERS or name.startswith("eyeLook")]
        rotations = _life_weights(life, len(weights), float(track.fps))[1]
        document["rotations"] = {"names": list(HEAD_EYE_COLUMNS), "unit": "radians",
                                 "values": [[round(float(value), 6) for value in row] for row in rotations]}
    document["weights"] = [[round(float(value), 6) for value in row] for row in weights]
    atomic_write_text(path, json.dumps(document, indent=1))
    return path
