"""The visible mouth aperture: how far apart the lips look to a viewer in front of the face.

The distance between two lip points can grow while the mouth stays shut (the jaw stretches the
skin below sealed lips), so it cannot tell an open mouth from a stretched one. This measure looks
at the face as a camera does: rays cast straight at the mouth along a few vertical lines near the
midline. A ray sees into the mouth when it hits nothing (an open slit with no mouth inside) or a
part of the surface that a viewer could not see at rest and that lies deeper than the lips' curled
edges (the inside of the mouth, teeth, the back of the head seen through the slit). Skin that was
in view at rest never counts, however far the jaw carries it back. The aperture is the height of
the see-through run at the slit.

    aperture = visible_aperture(frames, faces, MouthProbe.of(head))   # (T,) metres
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scantalk.errors import ScanTalkError
from scantalk.face.frame import face_frame
from scantalk.rig.rig import head_slit

# Surface hidden at rest counts as the mouth's inside only this far (metres) behind the lips'
# front: the lips' own curled inner edges lie in front of it, teeth and the mouth's inside behind.
SEE_THROUGH_DEPTH = 0.003
# Surface seen at rest counts as skin only this far (metres) behind the lips' front.
REST_DEPTH = 0.006
# Ray spacing along the vertical line (metres) and the lines' offsets from the midline.
RAY_STEP = 0.0002
LINE_OFFSETS = (-0.002, 0.0, 0.002)
# Rays cover this far above and below the slit (metres); a run must touch the slit's
# neighbourhood (this far from its rest height) to count as the mouth's opening.
REACH = 0.02
SLIT_TOLERANCE = 0.004


@dataclass(frozen=True)
class MouthProbe:
    """Where to look: the face frame's rows `axes` (3, 3) (x to the head's left, y up, z
    forward), the slit's midline point `centre` (3,) at rest and the lips' front depth
    `lip_front` (local z, metres), all in the frames' coordinates (metres)."""

    axes: np.ndarray
    centre: np.ndarray
    lip_front: float

    @classmethod
    def of(cls, head) -> "MouthProbe":
        """The probe of a `Head` at rest, from its landmarks and the slit its surface shows."""
        frame = face_frame(head)
        slit = head_slit(head)
        line = frame.local(slit.line)
        middle = slit.line[np.argsort(np.abs(line[:, 0]))[:2]].mean(axis=0)
        marks = frame.local(head.landmarks.as_array())
        return cls(np.asarray(frame.axes), middle, float(max(marks[2, 2], marks[3, 2]) - frame.local(middle[None])[0, 2]))


def visible_aperture(frames: np.ndarray, faces: np.ndarray, probe: MouthProbe) -> np.ndarray:
    """The lips' visible gap (T,) in metres at each frame, seen from straight in front.

    Args:
        frames: (T, V, 3) or (V, 3) vertex positions in metres.
        faces: (F, 3) triangles (a point cloud has no surface to see through).
        probe: where the mouth is (`MouthProbe.of(head)` for the face at rest).

    Returns:
        (T,) metres: per frame, the median over `LINE_OFFSETS` of the height of the run of rays
        that see deeper than `SEE_THROUGH_DEPTH` behind the lips, at the slit (0 when sealed).
    """
    import open3d as o3d  # imported here: open3d takes a second to import

    frames = np.asarray(frames, dtype=np.float64)
    if frames.ndim == 2:
        frames = frames[None]
    if faces is None or len(faces) == 0:
        raise ScanTalkError("the visible aperture needs a surface (faces); a point cloud cannot be seen through")
    faces = np.asarray(faces)
    axes, centre = np.asarray(probe.axes), np.asarray(probe.centre)
    heights = np.arange(-REACH, REACH + 0.5 * RAY_STEP, RAY_STEP)
    start = probe.lip_front + 0.05
    local_origins = np.array([[x, y, start] for x in LINE_OFFSETS for y in heights])
    origins = centre + local_origins @ axes
    direction = np.broadcast_to(-axes[2], origins.shape)
    rays = o3d.core.Tensor(np.concatenate([origins, direction], axis=1).astype(np.float32))
    # Only the triangles near the mouth at rest can be in front of the slit.
    rest = frames[0]
    rest_local = (rest - centre) @ axes.T
    near = (np.abs(rest_local[:, 0]) < 0.05) & (np.abs(rest_local[:, 1]) < 0.06) & (rest_local[:, 2] > -0.05)
    local_faces = faces[near[faces].any(axis=1)]
    # Skin: what a viewer sees at rest in front (a mouth that is open at rest shows its inside
    # too, deeper than any lip or chin skin near the slit).
    skin = _visible_at_rest(rest, local_faces, axes, near) & (rest_local[:, 2] > probe.lip_front - REST_DEPTH)
    shown = skin[local_faces].sum(axis=1) >= 2
    slit = np.abs(heights) <= SLIT_TOLERANCE
    apertures = np.zeros(len(frames))
    for t, verts in enumerate(frames):
        scene = _scene(verts, local_faces)
        hits = scene.cast_rays(rays)
        depth = hits["t_hit"].numpy()
        triangle = hits["primitive_ids"].numpy().astype(np.int64)
        missed = ~np.isfinite(depth)
        inside = ~missed & ~shown[np.where(missed, 0, triangle)] & (depth > (start - probe.lip_front) + SEE_THROUGH_DEPTH)
        deep = (missed | inside).reshape(len(LINE_OFFSETS), len(heights))
        apertures[t] = np.median([_run_at_slit(line, slit) for line in deep]) * RAY_STEP
    return apertures


def _scene(verts: np.ndarray, faces: np.ndarray):
    import open3d as o3d

    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(np.ascontiguousarray(verts, dtype=np.float32)),
                        o3d.core.Tensor(np.ascontiguousarray(faces, dtype=np.uint32)))
    return scene


def _visible_at_rest(verts: np.ndarray, faces: np.ndarray, axes: np.ndarray, near: np.ndarray) -> np.ndarray:
    """(V,) True for the vertices near the mouth that a viewer straight in front sees at rest."""
    import open3d as o3d

    index = np.flatnonzero(near)
    origins = verts[index] + 0.1 * axes[2]
    rays = np.concatenate([origins, np.broadcast_to(-axes[2], origins.shape)], axis=1).astype(np.float32)
    depth = _scene(verts, faces).cast_rays(o3d.core.Tensor(rays))["t_hit"].numpy()
    visible = np.zeros(len(verts), dtype=bool)
    visible[index] = depth > 0.1 - 3e-4
    return visible


def _run_at_slit(deep: np.ndarray, slit: np.ndarray) -> int:
    """Length (rays) of the longest run of deep rays that touches the slit's neighbourhood."""
    best, run, touches = 0, 0, False
    for is_deep, at_slit in zip(deep, slit):
        if is_deep:
            run += 1
            touches = touches or at_slit
        else:
            if touches:
                best = max(best, run)
            run, touches = 0, False
    return max(best, run) if touches else best
