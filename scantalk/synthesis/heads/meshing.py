"""Every head in several meshings: decimated, subdivided, re-triangulated, sampled as a point
cloud, permuted, with scan noise, with holes, cropped to the face.

Each transform takes a `Head` and returns a new `Head` of the same identity: the landmarks stay
the same 3D points, part labels are carried over from the nearest original vertex, and the name
says what was done (`procedural/3/decimated-4000`). Transforms work on open surfaces, several
components and (where it makes sense) point clouds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.spatial import cKDTree

from scantalk.geometry.normals import vertex_normals
from scantalk.face.head import Head
from scantalk.errors import MeshingError


MESHING_KINDS: tuple[str, ...] = ("decimated", "subdivided", "clustered", "point_cloud", "permuted", "noisy",
                                  "holes", "face_crop")
"""Kinds `meshing_variants` accepts."""


def _open3d_mesh(verts: np.ndarray, faces: np.ndarray):
    import open3d as o3d

    return o3d.geometry.TriangleMesh(o3d.utility.Vector3dVector(np.asarray(verts, np.float64)),
                                     o3d.utility.Vector3iVector(np.asarray(faces, np.int32)))


def _need_faces(head: Head, what: str) -> np.ndarray:
    if head.faces is None or len(head.faces) == 0:
        raise MeshingError(f"head '{head.name}' is a point cloud; {what} needs triangles, so apply it before "
                           "point_cloud(...)")
    return np.asarray(head.faces, dtype=np.int64)


def _carry_parts(head: Head, verts: np.ndarray) -> np.ndarray | None:
    """Part labels (V',) of new vertices `verts` (V', 3): those of the closest original triangle
    (so skin next to an eyeball stays skin), or of the nearest vertex of a point cloud."""
    if head.parts is None:
        return None
    parts = np.asarray(head.parts)
    if head.faces is None or len(head.faces) == 0:
        return parts[cKDTree(head.verts).query(verts)[1]].astype(np.int8)
    import open3d as o3d

    faces = np.asarray(head.faces)
    scene = o3d.t.geometry.RaycastingScene()
    scene.add_triangles(o3d.core.Tensor(head.verts.astype(np.float32)), o3d.core.Tensor(faces.astype(np.uint32)))
    triangle = scene.compute_closest_points(o3d.core.Tensor(np.asarray(verts, np.float32)))["primitive_ids"].numpy()
    return parts[faces[triangle.astype(np.int64), 0]].astype(np.int8)


def _compact(verts: np.ndarray, faces: np.ndarray, parts: np.ndarray | None):
    """Drop vertices no face uses; re-index faces (F, 3)."""
    used = np.zeros(len(verts), dtype=bool)
    used[faces.ravel()] = True
    new_index = np.cumsum(used) - 1
    return verts[used], new_index[faces].astype(np.int64), None if parts is None else parts[used]


def _from_open3d(head: Head, mesh, suffix: str) -> Head:
    mesh.remove_degenerate_triangles()
    mesh.remove_unreferenced_vertices()
    verts = np.asarray(mesh.vertices, dtype=np.float64)
    faces = np.asarray(mesh.triangles, dtype=np.int64)
    return head.with_geometry(verts, faces, _carry_parts(head, verts), suffix)


def decimate(head: Head, num_vertices: int) -> Head:
    """Quadric-error decimation (open3d) to about `num_vertices` vertices."""
    faces = _need_faces(head, "decimation")
    if num_vertices >= head.num_vertices:
        raise MeshingError(f"cannot decimate head '{head.name}' ({head.num_vertices} vertices) to {num_vertices}; "
                           "ask for fewer vertices than it has")
    mesh = _open3d_mesh(head.verts, faces)
    # A closed triangle mesh has about twice as many triangles as vertices.
    target = int(round(len(faces) * num_vertices / head.num_vertices))
    return _from_open3d(head, mesh.simplify_quadric_decimation(target_number_of_triangles=max(target, 4)),
                        f"decimated-{num_vertices}")


def subdivide(head: Head, method: str = "midpoint", iterations: int = 1) -> Head:
    """Midpoint (4 triangles per triangle, same surface) or Loop (smoothing) subdivision."""
    faces = _need_faces(head, "subdivision")
    mesh = _open3d_mesh(head.verts, faces)
    if method == "midpoint":
        mesh = mesh.subdivide_midpoint(number_of_iterations=iterations)
    elif method == "loop":
        mesh = mesh.subdivide_loop(number_of_iterations=iterations)
    else:
        raise MeshingError(f"unknown subdivision method '{method}'; use 'midpoint' or 'loop'")
    return _from_open3d(head, mesh, f"subdivided-{method}{iterations}")


def cluster_vertices(head: Head, voxel_size: float = 0.004) -> Head:
    """A different triangulation of the same surface: vertices merged per voxel (`voxel_size`
    metres, open3d vertex clustering), so sizes and connectivity match the original nowhere."""
    import open3d as o3d

    faces = _need_faces(head, "vertex clustering")
    mesh = _open3d_mesh(head.verts, faces).simplify_vertex_clustering(
        voxel_size=voxel_size, contraction=o3d.geometry.SimplificationContraction.Average)
    return _from_open3d(head, mesh, f"clustered-{voxel_size * 1000:.1f}mm")


def sample_surface(head: Head, rng: np.random.Generator, count: int) -> np.ndarray:
    """Points (count, 3) metres uniformly distributed by area over the head's triangles."""
    from scantalk.geometry.sampling import sample_triangles

    return sample_triangles(head.verts, _need_faces(head, "surface sampling"), count, rng)


def point_cloud(head: Head, rng: np.random.Generator, count: int | None = None) -> Head:
    """The surface as `count` (default: the vertex count) area-uniform points, no faces."""
    count = head.num_vertices if count is None else int(count)
    points = sample_surface(head, rng, count)
    return head.with_geometry(points, None, _carry_parts(head, points), f"points-{count}")


def permute(head: Head, rng: np.random.Generator) -> Head:
    """The same mesh with its vertices in a random order (faces re-indexed, parts permuted)."""
    order = rng.permutation(head.num_vertices)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    faces = None if head.faces is None else inverse[np.asarray(head.faces)]
    parts = None if head.parts is None else np.asarray(head.parts)[order]
    return head.with_geometry(head.verts[order], faces, parts, "permuted")


def scan_noise(head: Head, rng: np.random.Generator, sigma: float = 0.0005) -> Head:
    """Gaussian noise of `sigma` metres (mm-scale) along each vertex normal, as a scanner makes."""
    normals = vertex_normals(head.verts, None if head.faces is None else np.asarray(head.faces))
    verts = head.verts + rng.normal(0.0, sigma, len(head.verts))[:, None] * normals
    return head.with_geometry(verts, head.faces, head.parts, f"noise-{sigma * 1000:.1f}mm")


def punch_holes(head: Head, rng: np.random.Generator, count: int = 3, radius: float = 0.008,
                keep_clear: float = 0.03) -> Head:
    """Drop the triangles within `radius` metres of `count` random surface points, none closer than
    `keep_clear` metres to the mouth (scanners lose patches, but the lips must stay)."""
    faces = _need_faces(head, "punching holes")
    mouth = head.landmarks.mouth_centre
    candidates = np.flatnonzero(np.linalg.norm(head.verts - mouth, axis=1) > keep_clear + radius)
    if candidates.size == 0:
        raise MeshingError(f"head '{head.name}' has no surface farther than {keep_clear + radius:.3f} m from the "
                           "mouth to punch holes in; use a smaller radius or keep_clear")
    centres = head.verts[rng.choice(candidates, size=count, replace=False)]
    distance, _ = cKDTree(centres).query(head.verts[faces].mean(axis=1))
    verts, kept, parts = _compact(head.verts, faces[distance > radius], head.parts)
    return head.with_geometry(verts, kept, parts, f"holes-{count}")


def crop_face(head: Head, margin: float = 0.01) -> Head:
    """Only the face, as a frontal scan sees it: in front of the jaw hinges, from `margin` below the
    chin to above the brows (works on meshes and point clouds)."""
    lm = head.landmarks
    eyes = 0.5 * (lm.eye_left + lm.eye_right)
    keep = ((head.verts[:, 2] > lm.jaw_hinge[2] + margin) & (head.verts[:, 1] > lm.chin[1] - margin)
            & (head.verts[:, 1] < eyes[1] + 0.04))
    if head.faces is None:
        parts = None if head.parts is None else np.asarray(head.parts)[keep]
        return head.with_geometry(head.verts[keep], None, parts, "face-crop")
    faces = np.asarray(head.faces)
    verts, kept, parts = _compact(head.verts, faces[keep[faces].all(axis=1)], head.parts)
    return head.with_geometry(verts, kept, parts, "face-crop")


def meshing_variants(head: Head, rng: np.random.Generator, kinds: Sequence[str] = MESHING_KINDS) -> list[Head]:
    """The same head in several meshings, one per entry of `kinds` (see `MESHING_KINDS`), with
    random sizes drawn from `rng` (decimation to 25-60 % of the vertices, clustering at 3-5 mm,
    noise 0.2-0.8 mm, 2-5 holes)."""
    unknown = [kind for kind in kinds if kind not in MESHING_KINDS]
    if unknown:
        raise MeshingError(f"unknown meshing kinds {unknown}; choose from {', '.join(MESHING_KINDS)}")
    variants = []
    for kind in kinds:
        if kind == "decimated":
            variants.append(decimate(head, int(head.num_vertices * rng.uniform(0.25, 0.6))))
        elif kind == "subdivided":
            variants.append(subdivide(head, "midpoint" if rng.random() < 0.5 else "loop"))
        elif kind == "clustered":
            variants.append(cluster_vertices(head, float(rng.uniform(0.003, 0.005))))
        elif kind == "point_cloud":
            variants.append(point_cloud(head, rng, int(head.num_vertices * rng.uniform(0.3, 1.0))))
        elif kind == "permuted":
            variants.append(permute(head, rng))
        elif kind == "noisy":
            variants.append(scan_noise(head, rng, float(rng.uniform(0.0002, 0.0008))))
        elif kind == "holes":
            variants.append(punch_holes(head, rng, int(rng.integers(2, 6))))
        else:
            variants.append(crop_face(head))
    return variants
