"""Run inside Blender: import an exported animation as an artist would and dump what it plays.

    blender -b --factory-startup --python-exit-code 1 -P experiments/blender/import_and_play.py -- \
        FILE OUT.npz FPS FRAME [FRAME ...]

FILE is a .glb (File › Import › glTF 2.0) or a .usd/.usda/.usdc (File › Import › Universal Scene
Description). The scene's frame rate is set to FPS first, as an artist matching the audio would.
OUT.json receives, in Blender's world frame (z up, metres): `rest` (V·3 floats) the mesh as
imported, `frames` (K lists of V·3) the evaluated mesh (shape keys or the USD cache applied) at
each scene FRAME, `fps` (the scene's frame rate after the import), `frame_start`, `frame_end`
(the shape keys' action range, else the scene's). Only Blender's own Python runs here: no numpy
(Debian's Blender has none).

`experiments/evaluate/exports_in_blender.py` drives it and compares against the project's frames.
"""

from __future__ import annotations

import json
import sys
from array import array

import bpy

UNSUPPORTED = "unsupported"


def _mesh_object():
    meshes = [obj for obj in bpy.context.scene.objects if obj.type == "MESH"]
    if len(meshes) != 1:
        raise SystemExit(f"expected one mesh after the import, found {[obj.name for obj in meshes]}")
    return meshes[0]


def _positions(obj, evaluated: bool) -> list[float]:
    """World positions of the mesh's vertices, flattened (V·3)."""
    source = obj.evaluated_get(bpy.context.evaluated_depsgraph_get()) if evaluated else obj
    mesh = source.to_mesh()
    local = array("d", [0.0]) * (len(mesh.vertices) * 3)
    mesh.vertices.foreach_get("co", local)
    source.to_mesh_clear()
    matrix = obj.matrix_world
    flat = []
    for i in range(0, len(local), 3):
        world = matrix @ type(matrix.col[0].xyz)((local[i], local[i + 1], local[i + 2]))
        flat.extend((world.x, world.y, world.z))
    return flat


def _animation_range(obj) -> tuple[int, int] | None:
    keys = obj.data.shape_keys
    action = keys.animation_data.action if keys is not None and keys.animation_data else None
    if action is None:
        return None
    start, end = action.frame_range
    return int(round(start)), int(round(end))


def _numpy_bool_for_old_importers() -> None:
    """Blender 3.4's glTF importer uses `np.bool`, which numpy 1.24 (Debian 12's) removed; put the
    alias back so the importer runs with its default settings."""
    try:
        import numpy
    except ImportError:
        return
    if "bool" not in vars(numpy):
        numpy.bool = bool


def main(argv: list[str]) -> None:
    path, out, fps, frames = argv[0], argv[1], float(argv[2]), [int(f) for f in argv[3:]]
    bpy.ops.wm.read_factory_settings(use_empty=True)
    scene = bpy.context.scene
    scene.render.fps, scene.render.fps_base = int(round(fps)), int(round(fps)) / fps
    if path.lower().endswith(".glb"):
        _numpy_bool_for_old_importers()
        bpy.ops.import_scene.gltf(filepath=path)
    elif hasattr(bpy.ops.wm, "usd_import") and "usd_import" in dir(bpy.ops.wm):
        bpy.ops.wm.usd_import(filepath=path)
    else:
        raise SystemExit(f"{UNSUPPORTED}: this Blender was built without USD")
    obj = _mesh_object()
    scene.frame_set(scene.frame_start)
    rest = _positions(obj, evaluated=False)
    played = []
    for frame in frames:
        scene.frame_set(frame)
        played.append(_positions(obj, evaluated=True))
    shape_range = _animation_range(obj)
    start, end = shape_range if shape_range is not None else (scene.frame_start, scene.frame_end)
    with open(out, "w") as handle:
        json.dump({"rest": rest, "frames": played, "fps": scene.render.fps / scene.render.fps_base,
                   "frame_start": start, "frame_end": end}, handle)


if __name__ == "__main__":
    main(sys.argv[sys.argv.index("--") + 1:])
