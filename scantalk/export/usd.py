"""USD (.usda text / .usdc binary): the animation as a point cache on a UsdGeom mesh, with the speech.

Opens in Blender (File › Import › Universal Scene Description), Houdini, Maya, Omniverse,
Unreal and usdview. The stage keeps the animation's own units (`metersPerUnit`, so nothing is
rescaled and the cache is exact), its vertex order, y up (the face turned upright by its
alignment's rotation), and plays at the animation's fps
(`timeCodesPerSecond`): time code i is frame i. A mesh becomes `/Face/Mesh` (UsdGeom.Mesh),
a point cloud `/Face/Points` (UsdGeom.Points), with `points` time-sampled at every frame.
In folder mode the stage also holds a `UsdMedia.SpatialAudio` prim that plays `audio.wav`.

Needs the `usd-core` package (PyPI; `pip install usd-core`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from scantalk.atomic import atomic_path
from scantalk.audio.io import SAMPLE_RATE
from scantalk.export.common import (AUDIO_FILE, ExportError, ExportReport, check_frames, finish,
                                    placed, resolve_destination, unit_scale_of, upright_rotation)
from scantalk.frames import BLOCK_BYTES

USD_SUFFIXES = (".usda", ".usdc", ".usd")


def _pxr() -> Any:
    """The pxr modules, or ExportError saying how to get them."""
    try:
        from pxr import Gf, Sdf, Usd, UsdGeom, UsdMedia, Vt  # noqa: F401  (optional dependency)
    except ImportError as error:
        raise ExportError("USD export needs the usd-core package: pip install usd-core") from error
    import pxr
    return pxr


def export_usd(animation: Any, path: str | Path, *, binary: bool | None = None, unit_scale: float | None = None,
               upright: bool = True, overwrite: bool = False) -> ExportReport:
    """Write an animation as a USD point cache (every frame exact) with the speech alongside.

    Args:
        animation: a `scantalk.inference.animation.Animation` (frames (T, V, 3), neutral (V, 3), faces
            (F, 3) or None, fps, audio (N,) at sample_rate, meta).
        path: `face.usda` / `face.usdc` / `face.usd` (binary), or a folder that receives
            `animation.usdc` (or .usda with `binary=False`), `audio.wav` and `export.json`.
        binary: in folder mode, write .usdc (True, default) or .usda (False); a file path's
            suffix decides otherwise.
        unit_scale: metres per unit of the animation (stored as the stage's metersPerUnit);
            None takes the alignment's unit guess from `animation.meta` (1 when there is none).
        upright: turn the face as its alignment says (`animation.meta["alignment"]`) so it stands
            up the stage's y axis (a z-up scan would otherwise lie on its back); False keeps the
            file's axes. The rotation applied is in the report.
        overwrite: replace files this export would write.

    Returns:
        ExportReport (exact; max_error is the float32 storage error, metres).

    Raises:
        ExportError: unusable input or usd-core missing. OutputExistsError: files exist.
    """
    started = time.perf_counter()
    pxr = _pxr()
    Sdf, Usd = pxr.Sdf, pxr.Usd
    frames, neutral, faces, fps = check_frames(animation.frames, animation.neutral, animation.faces, animation.fps)
    meta = dict(getattr(animation, "meta", {}) or {})
    scale = unit_scale_of(meta, unit_scale)
    rotation = upright_rotation(meta, upright)
    frames, neutral = placed(frames, neutral, 1.0, rotation)
    name = "animation.usda" if binary is False else "animation.usdc"
    destination, folder = resolve_destination(path, USD_SUFFIXES, name, overwrite)
    audio = getattr(animation, "audio", None)
    audio = np.zeros(0, np.float32) if audio is None else np.asarray(audio, np.float32).reshape(-1)

    with atomic_path(destination) as tmp:
        # The temporary name keeps the real suffix, from which USD picks text or binary (".usd": binary).
        if destination.suffix.lower() == ".usda":
            stage = Usd.Stage.CreateInMemory()
        else:
            # A binary (crate) layer written to its file as it fills: each save appends the new
            # time samples and leaves them on disk, so memory stays flat however long the speech.
            stage = Usd.Stage.Open(Sdf.Layer.CreateNew(str(tmp)))
        _fill_stage(pxr, stage, frames, neutral, faces, fps, scale, speech=folder is not None and audio.size > 0)
        layer = stage.GetRootLayer()
        written = layer.Export(str(tmp)) if destination.suffix.lower() == ".usda" else layer.Save()
        del stage, layer
        if not written:
            raise ExportError(f"USD could not write {destination}; check the folder is writable")
    report = ExportReport(path=destination, format="usda" if destination.suffix.lower() == ".usda" else "usdc",
                          num_frames=frames.shape[0], num_vertices=frames.shape[1], fps=fps, exact=True,
                          rotation=rotation.tolist())
    return finish(report, folder, audio, getattr(animation, "sample_rate", SAMPLE_RATE), meta, started)


#: Frames between two saves of a binary stage (each save moves their samples from memory to disk).
SAVE_EVERY_BYTES = BLOCK_BYTES


def _fill_stage(pxr: Any, stage: Any, frames: np.ndarray, neutral: np.ndarray, faces: np.ndarray | None,
                fps: float, scale: float, speech: bool) -> None:
    """Write the face, its points at every frame and the speech reference into `stage`, saving
    a binary stage's layer every `SAVE_EVERY_BYTES` of frames."""
    Gf, Sdf, Usd, UsdGeom, UsdMedia, Vt = pxr.Gf, pxr.Sdf, pxr.Usd, pxr.UsdGeom, pxr.UsdMedia, pxr.Vt
    UsdGeom.SetStageUpAxis(stage, UsdGeom.Tokens.y)
    UsdGeom.SetStageMetersPerUnit(stage, scale)
    stage.SetTimeCodesPerSecond(fps)
    stage.SetFramesPerSecond(fps)
    stage.SetStartTimeCode(0)
    stage.SetEndTimeCode(len(frames) - 1)
    root = UsdGeom.Xform.Define(stage, "/Face")
    stage.SetDefaultPrim(root.GetPrim())
    if faces is not None:
        geometry = UsdGeom.Mesh.Define(stage, "/Face/Mesh")
        geometry.CreateFaceVertexCountsAttr(Vt.IntArray.FromNumpy(np.full(len(faces), 3, np.int32)))
        geometry.CreateFaceVertexIndicesAttr(Vt.IntArray.FromNumpy(faces.reshape(-1).astype(np.int32)))
        geometry.CreateSubdivisionSchemeAttr(UsdGeom.Tokens.none)
    else:
        geometry = UsdGeom.Points.Define(stage, "/Face/Points")
        # Display size of each point: about 1 mm in the animation's units.
        widths = np.full(len(neutral), 0.001 / scale, np.float32)
        geometry.CreateWidthsAttr(Vt.FloatArray.FromNumpy(widths))
    geometry.CreateDisplayColorAttr([Gf.Vec3f(0.80, 0.66, 0.58)])
    points = geometry.CreatePointsAttr(Vt.Vec3fArray.FromNumpy(neutral))
    extent = geometry.CreateExtentAttr()
    if speech:
        # The speech starts at time code 0, SpatialAudio's fallback startTime. (Writing it would
        # store a timecode value, which makes USD upgrade a crate file already saved, with a warning.)
        sound = UsdMedia.SpatialAudio.Define(stage, "/Face/Speech")
        sound.CreateFilePathAttr(Sdf.AssetPath(f"./{AUDIO_FILE}"))
        sound.CreateAuralModeAttr(UsdMedia.Tokens.nonSpatial)
    binary = stage.GetRootLayer().GetFileFormat().formatId != "usda"
    every = max(1, SAVE_EVERY_BYTES // max(1, 12 * len(neutral)))
    for index in range(len(frames)):
        frame = np.ascontiguousarray(frames[index], np.float32)
        points.Set(Vt.Vec3fArray.FromNumpy(frame), Usd.TimeCode(index))
        extent.Set(Vt.Vec3fArray([Gf.Vec3f(*map(float, frame.min(0))), Gf.Vec3f(*map(float, frame.max(0)))]),
                   Usd.TimeCode(index))
        if binary and (index + 1) % every == 0:
            stage.GetRootLayer().Save()


def read_usd_frames(path: str | Path) -> tuple[np.ndarray, np.ndarray | None, float, float]:
    """Read back a stage written by `export_usd`.

    Args:
        path: the .usda / .usdc / .usd file.

    Returns:
        frames (T, V, 3) float32 in the stage's units, faces (F, 3) int64 or None, fps, and
        metersPerUnit.
    """
    pxr = _pxr()
    Usd, UsdGeom = pxr.Usd, pxr.UsdGeom
    stage = Usd.Stage.Open(str(path))
    prim = stage.GetPrimAtPath("/Face/Mesh")
    faces = None
    if prim:
        mesh = UsdGeom.Mesh(prim)
        faces = np.asarray(mesh.GetFaceVertexIndicesAttr().Get(), np.int64).reshape(-1, 3)
        points = mesh.GetPointsAttr()
    else:
        points = UsdGeom.Points(stage.GetPrimAtPath("/Face/Points")).GetPointsAttr()
    times = points.GetTimeSamples()
    frames = np.stack([np.asarray(points.Get(Usd.TimeCode(t)), np.float32) for t in times])
    return frames, faces, float(stage.GetTimeCodesPerSecond()), float(UsdGeom.GetStageMetersPerUnit(stage))
