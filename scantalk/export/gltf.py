"""glTF 2.0 binary (.glb): the neutral face, morph targets and a weights animation at the frame times.

Opens in Blender (File › Import › glTF 2.0), three.js (GLTFLoader + AnimationMixer), Unity
(glTFast), Unreal (Interchange glTF) and any web viewer. The file holds one mesh (triangles,
or points for a point cloud) in the input's vertex order, its morph targets (POSITION
displacements, named `motion_00`… in `mesh.extras.targetNames`) and one animation whose
LINEAR sampler gives every target's weight at the frame times i / fps seconds. Every weight is
in [0, 1]: a target whose weight would go negative has a mirror twin (`motion_03_neg`) taking
that part, since Blender's importer clamps shape-key weights at 0. Positions are
metres (glTF's unit): the animation's units times `unit_scale`, turned by the alignment's
rotation so the face stands up +y and looks along +z, as glTF's axes are (`upright=False`: the
file's own axes).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pygltflib

from scantalk.atomic import atomic_path
from scantalk.audio.io import SAMPLE_RATE
from scantalk.export.common import (ExportReport, check_bound, check_frames, finish, placed, resolve_destination,
                                    unit_scale_of, upright_rotation)
from scantalk.export.lowrank import (CHUNK_VERTICES, DEFAULT_MAX_ERROR, DEFAULT_MAX_TARGETS, MorphBasis,
                                     exact_basis, factorise_motion, nonnegative)
from scantalk.geometry.normals import vertex_normals

GLB_NAME = "animation.glb"
# A neutral skin-like tone; artists replace the material anyway, but a white default hides shape.
_SKIN = [0.80, 0.66, 0.58, 1.0]


class _BinaryBuilder:
    """Accumulates typed arrays into one GLB binary chunk, one bufferView + accessor each."""

    def __init__(self, gltf: pygltflib.GLTF2) -> None:
        self.gltf = gltf
        self.parts: list[bytes] = []
        self.offset = 0

    def add(self, array: np.ndarray, accessor_type: str, component: int, target: int | None = None,
            bounds: bool = False) -> int:
        """Append `array` (little-endian, C order) and return the index of its accessor."""
        data = np.ascontiguousarray(array)
        raw = data.astype(data.dtype.newbyteorder("<"), copy=False).tobytes()
        self.gltf.bufferViews.append(pygltflib.BufferView(buffer=0, byteOffset=self.offset,
                                                          byteLength=len(raw), target=target))
        self.parts.append(raw)
        # glTF wants every bufferView 4-byte aligned.
        padding = (-len(raw)) % 4
        self.parts.append(b"\0" * padding)
        self.offset += len(raw) + padding
        width = {"SCALAR": 1, "VEC3": 3}[accessor_type]
        count = data.size // width
        accessor = pygltflib.Accessor(bufferView=len(self.gltf.bufferViews) - 1, componentType=component,
                                      count=count, type=accessor_type)
        if bounds:
            flat = data.reshape(count, width)
            # min/max must be exactly the stored float32 values (the validator checks).
            accessor.min = [float(v) for v in flat.min(axis=0)]
            accessor.max = [float(v) for v in flat.max(axis=0)]
        self.gltf.accessors.append(accessor)
        return len(self.gltf.accessors) - 1

    def blob(self) -> bytes:
        return b"".join(self.parts)


def build_gltf(neutral: np.ndarray, faces: np.ndarray | None, basis: MorphBasis, fps: float, *,
               normals: bool = True, name: str = "face") -> pygltflib.GLTF2:
    """A glTF document (binary blob attached) for a neutral mesh and its morph-target animation.

    Args:
        neutral: (V, 3) float32 rest positions, metres.
        faces: (F, 3) vertex indices, or None for points (primitive mode 0).
        basis: targets (K, V, 3) metres and weights (T, K).
        fps: frames per second; frame i plays at i / fps seconds.
        normals: store vertex normals of the neutral face (meshes only).
        name: the node / mesh name DCC tools show.

    Returns:
        A pygltflib.GLTF2 ready for `save_binary`.
    """
    gltf = pygltflib.GLTF2(asset=pygltflib.Asset(version="2.0", generator="scantalk"))
    gltf.buffers.append(pygltflib.Buffer())
    builder = _BinaryBuilder(gltf)
    attributes = pygltflib.Attributes(POSITION=builder.add(neutral.astype(np.float32), "VEC3", pygltflib.FLOAT,
                                                           pygltflib.ARRAY_BUFFER, bounds=True))
    if faces is not None and normals:
        attributes.NORMAL = builder.add(vertex_normals(neutral, faces).astype(np.float32), "VEC3", pygltflib.FLOAT, pygltflib.ARRAY_BUFFER)
    primitive = pygltflib.Primitive(attributes=attributes, mode=pygltflib.POINTS if faces is None else pygltflib.TRIANGLES)
    if faces is not None:
        primitive.indices = builder.add(faces.astype(np.uint32).reshape(-1), "SCALAR", pygltflib.UNSIGNED_INT,
                                        pygltflib.ELEMENT_ARRAY_BUFFER, bounds=True)
    gltf.materials.append(pygltflib.Material(
        name="skin", doubleSided=True,
        pbrMetallicRoughness=pygltflib.PbrMetallicRoughness(baseColorFactor=_SKIN, metallicFactor=0.0,
                                                            roughnessFactor=0.6)))
    primitive.material = 0
    target_names = list(basis.names) or [f"{'frame' if basis.exact else 'motion'}_{k:0{max(2, len(str(basis.num_targets)))}d}"
                                         for k in range(basis.num_targets)]
    primitive.targets = [pygltflib.Attributes(POSITION=builder.add(target, "VEC3", pygltflib.FLOAT,
                                                                   pygltflib.ARRAY_BUFFER, bounds=True))
                         for target in basis.targets.astype(np.float32)] or None
    mesh = pygltflib.Mesh(name=name, primitives=[primitive])
    if basis.num_targets:
        mesh.weights = [0.0] * basis.num_targets
        # Blender, three.js and Babylon.js name shape keys from this (a de-facto convention).
        mesh.extras = {"targetNames": target_names}
    gltf.meshes.append(mesh)
    gltf.nodes.append(pygltflib.Node(name=name, mesh=0))
    gltf.scenes.append(pygltflib.Scene(name="scene", nodes=[0]))
    gltf.scene = 0
    if basis.num_targets:
        times = (np.arange(basis.weights.shape[0], dtype=np.float64) / fps).astype(np.float32)
        time_accessor = builder.add(times, "SCALAR", pygltflib.FLOAT, bounds=True)
        # The weights output is T·K scalars: frame-major, K per keyframe (glTF's layout).
        weight_accessor = builder.add(basis.weights.astype(np.float32).reshape(-1), "SCALAR", pygltflib.FLOAT)
        gltf.animations.append(pygltflib.Animation(
            name="speech",
            samplers=[pygltflib.AnimationSampler(input=time_accessor, output=weight_accessor,
                                                 interpolation=pygltflib.ANIM_LINEAR)],
            channels=[pygltflib.AnimationChannel(sampler=0, target=pygltflib.AnimationChannelTarget(
                node=0, path="weights"))]))
    blob = builder.blob()
    gltf.buffers[0].byteLength = len(blob)
    gltf.set_binary_blob(blob)
    return gltf


def export_gltf(animation: Any, path: str | Path, *, max_error: float = DEFAULT_MAX_ERROR, exact: bool = False,
                max_targets: int = DEFAULT_MAX_TARGETS, normals: bool = True, unit_scale: float | None = None,
                upright: bool = True, overwrite: bool = False, chunk: int = CHUNK_VERTICES) -> ExportReport:
    """Write an animation as a glTF 2.0 binary with morph targets and a weights animation.

    Args:
        animation: a `scantalk.inference.animation.Animation` (frames (T, V, 3), neutral (V, 3), faces
            (F, 3) or None, fps, audio (N,) at sample_rate, meta).
        path: `something.glb`, or a folder that receives `animation.glb`, `audio.wav` and
            `export.json`.
        max_error: metres; the largest per-vertex error allowed at any frame. The rank is the
            smallest meeting it, up to `max_targets` (then `bound_met` is False and a note says so).
        exact: one morph target per frame instead (exact, T targets, larger file).
        max_targets: the rank cap of the factorisation.
        normals: store the neutral face's vertex normals (meshes only).
        unit_scale: metres per unit of the animation; None takes the alignment's unit guess from
            `animation.meta` (1 when there is none).
        upright: turn the face as its alignment says (`animation.meta["alignment"]`) so it stands
            up glTF's +y and looks along +z (a z-up scan would otherwise lie on its back); False
            keeps the file's axes. The rotation applied is in the report.
        overwrite: replace files this export would write.
        chunk: vertices per streamed chunk of the factorisation (bounds memory on big scans).

    Returns:
        ExportReport with the number of targets, the measured max / rms error (metres), size and time.

    Raises:
        ExportError: unusable frames, faces, fps or bound. OutputExistsError: files exist.
    """
    started = time.perf_counter()
    frames, neutral, faces, fps = check_frames(animation.frames, animation.neutral, animation.faces, animation.fps)
    bound, cap = check_bound(max_error, max_targets)
    meta = dict(getattr(animation, "meta", {}) or {})
    scale = unit_scale_of(meta, unit_scale)
    destination, folder = resolve_destination(path, (".glb",), GLB_NAME, overwrite)
    rotation = upright_rotation(meta, upright)
    frames, neutral = placed(frames, neutral, scale, rotation)
    if exact:
        basis = exact_basis(frames, neutral, chunk)
    else:
        # Every weight >= 0, so importers that clamp at 0 (Blender) play the motion exactly.
        basis = nonnegative(factorise_motion(frames, neutral, max_error=bound, max_targets=cap, chunk=chunk))
    gltf = build_gltf(neutral, faces, basis, fps, normals=normals)
    with atomic_path(destination) as tmp:
        gltf.save_binary(str(tmp))
    report = ExportReport(path=destination, format="glb", num_frames=frames.shape[0], num_vertices=frames.shape[1],
                          fps=fps, num_targets=basis.num_targets, exact=basis.exact, max_error=basis.max_error,
                          rms_error=basis.rms_error, bound=None if exact else bound, bound_met=basis.bound_met,
                          rotation=rotation.tolist())
    if not basis.bound_met:
        report.notes.append(f"{cap} morph targets reach a largest error of {basis.max_error * 1e3:.3g} mm, above the "
                            f"{bound * 1e3:.3g} mm asked for; raise max_targets or pass exact=True for per-frame targets")
    return finish(report, folder, getattr(animation, "audio", None), getattr(animation, "sample_rate", SAMPLE_RATE),
                  meta, started)


def read_gltf_frames(path: str | Path) -> tuple[np.ndarray, np.ndarray | None, float]:
    """Read back a .glb written by `export_gltf`: frames at the keyframe times, faces and fps.

    Args:
        path: the .glb file.

    Returns:
        frames (T, V, 3) float32 metres (neutral + weights · targets at every keyframe), faces
        (F, 3) int64 or None for points, and fps from the keyframe spacing (0 for a single frame).
    """
    gltf = pygltflib.GLTF2.load(str(path))
    blob = gltf.binary_blob()

    def read(index: int, width: int) -> np.ndarray:
        accessor = gltf.accessors[index]
        view = gltf.bufferViews[accessor.bufferView]
        dtype = {pygltflib.FLOAT: "<f4", pygltflib.UNSIGNED_INT: "<u4", pygltflib.UNSIGNED_SHORT: "<u2"}[
            accessor.componentType]
        start = (view.byteOffset or 0) + (accessor.byteOffset or 0)
        values = np.frombuffer(blob, dtype=dtype, count=accessor.count * width, offset=start)
        return values.reshape(accessor.count, width) if width > 1 else values

    primitive = gltf.meshes[0].primitives[0]
    neutral = read(primitive.attributes.POSITION, 3).astype(np.float32)
    faces = None if primitive.indices is None else read(primitive.indices, 1).astype(np.int64).reshape(-1, 3)
    # pygltflib loads morph targets as plain dicts ({"POSITION": accessor}).
    targets = (np.stack([read(target["POSITION"] if isinstance(target, dict) else target.POSITION, 3)
                         for target in primitive.targets]) if primitive.targets else None)
    if not gltf.animations or targets is None:
        return neutral[None].copy(), faces, 0.0
    sampler = gltf.animations[0].samplers[0]
    times = read(sampler.input, 1).astype(np.float64)
    weights = read(sampler.output, 1).reshape(len(times), len(targets))
    frames = neutral[None] + np.tensordot(weights, targets, axes=(1, 0))
    fps = float((len(times) - 1) / (times[-1] - times[0])) if len(times) > 1 else 0.0
    return frames.astype(np.float32), faces, fps
