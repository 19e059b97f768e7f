"""Training on unregistered 4D scans (ScanTalk's IJCV extension): targets without correspondence.

A raw 4D capture gives, at every frame, a new scan: its own vertex count and order, no vertex
that follows a point of the skin. The model still predicts the template's vertices; the loss
compares them with each frame's points by nearest neighbours (Chamfer), both ways, so the
predicted surface covers the scan and no predicted vertex floats off it. Nearest neighbours alone
let vertices slide along the surface and crumple, so two regularisers hold the motion together:
its smoothness over the surface (the Dirichlet energy of the displacement, from the template's
Laplacian) and over time (the frames' acceleration).

    points, normals = surface_points(frames, faces, 4096, generator, normals=True)  # registered → raw scans
    terms = unregistered_loss(pred, points, template, ops, lip_vertices, normals=normals, faces=ops.faces)
    terms["loss"].backward()
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from scantalk.geometry.operators import SurfaceOperators

NEIGHBOUR_CHUNK = 1 << 24
"""Pairwise distances computed at once when looking for nearest neighbours (64 MB of float32)."""


def surface_points(frames: torch.Tensor, faces: torch.Tensor | None, count: int,
                   generator: torch.Generator | None = None, normals: bool = False
                   ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
    """Each frame of a registered sequence as a raw scan would give it: `count` points drawn
    afresh on that frame's surface (area-weighted triangles, uniform inside each), in no relation
    to the vertices or to the other frames' points.

    Args:
        frames: (T, V, 3) vertex positions.
        faces: (F, 3) int64 triangles, or None for a point cloud (points are then vertices drawn
            with replacement).
        count: points per frame (≥ 1).
        generator: torch random generator (None: the global one, seeded per DataLoader worker).
        normals: also return each point's unit normal (its triangle's), as a scanner gives them.

    Returns:
        (T, count, 3) points, the dtype of `frames`; with `normals`, (points, normals (T, count, 3)),
        the normals zero for a point cloud.
    """
    frames = torch.as_tensor(frames)
    steps = frames.shape[0]
    if faces is None:
        index = torch.randint(0, frames.shape[1], (steps, count), generator=generator)
        points = torch.gather(frames, 1, index[..., None].expand(-1, -1, 3))
        return (points, torch.zeros_like(points)) if normals else points
    faces = torch.as_tensor(faces, dtype=torch.long)
    corners = frames[:, faces]  # (T, F, 3 corners, 3)
    cross = torch.linalg.cross(corners[:, :, 1] - corners[:, :, 0], corners[:, :, 2] - corners[:, :, 0])
    area = cross.norm(dim=-1)
    triangle = torch.multinomial(area.clamp_min(0).double() + 1e-30, count, replacement=True, generator=generator)
    u, v = torch.rand((2, steps, count, 1), generator=generator, dtype=frames.dtype)
    flip = (u + v) > 1  # fold the square onto the triangle: uniform over its area
    u, v = torch.where(flip, 1 - u, u), torch.where(flip, 1 - v, v)
    picked = torch.gather(corners, 1, triangle[..., None, None].expand(-1, -1, 3, 3))  # (T, count, 3, 3)
    points = picked[:, :, 0] + u * (picked[:, :, 1] - picked[:, :, 0]) + v * (picked[:, :, 2] - picked[:, :, 0])
    if not normals:
        return points
    unit = cross / area.clamp_min(1e-20)[..., None]
    return points, torch.gather(unit, 1, triangle[..., None].expand(-1, -1, 3))


def _nearest(queries: torch.Tensor, points: torch.Tensor) -> torch.Tensor:
    """Index (Q,) of the nearest of `points` (P, 3) to each of `queries` (Q, 3), in chunks."""
    step = max(1, NEIGHBOUR_CHUNK // max(1, points.shape[0]))
    return torch.cat([torch.cdist(queries[i:i + step], points).argmin(dim=1) for i in range(0, len(queries), step)])


def vertex_normals(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Unit area-weighted vertex normals (V, 3) of a triangle mesh (V, 3), (F, 3)."""
    corners = verts[faces]
    cross = torch.linalg.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    normals = torch.zeros_like(verts).index_add_(0, faces.reshape(-1), cross.repeat_interleave(3, dim=0))
    return normals / normals.norm(dim=-1, keepdim=True).clamp_min(1e-20)


def _frames_of(points: torch.Tensor | Sequence[torch.Tensor]) -> list[torch.Tensor]:
    return list(points) if not isinstance(points, torch.Tensor) or points.dim() == 3 else [points]


def chamfer_terms(pred: torch.Tensor, points: torch.Tensor | Sequence[torch.Tensor],
                  lip_vertices: torch.Tensor | None = None,
                  normals: torch.Tensor | Sequence[torch.Tensor] | None = None,
                  faces: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Squared nearest-neighbour distances between predicted frames and scan points, per frame.

    With the scan's normals, a predicted vertex is measured to the tangent plane at its nearest
    point (point-to-plane) rather than to the point: a vertex lying on the scan's surface between
    its samples costs nothing, so the sampling's spacing no longer swamps millimetre motion.
    With the template's `faces`, a scan point is likewise measured to the tangent plane at its
    nearest predicted vertex (the predicted surface's normal there, held fixed for the step):
    point to point, the spacing of the model's own vertices outweighs the motion and the
    cheapest answer is a smaller motion.

    The neighbours are looked up without gradient (the nearest point is piecewise constant), then
    the distances to them are differentiated: Chamfer's gradient, without keeping a (V, N) matrix
    per frame for the backward pass.

    Args:
        pred: (T, V, 3) predicted vertices.
        points: (T, N, 3) scan points, or T tensors (N_t, 3) of their own sizes.
        lip_vertices: (L,) indices into V, or None.
        normals: unit normals shaped as `points`, or None (point-to-point to the scan).
        faces: (F, 3) the template's triangles, or None (point-to-point back to the model).

    Returns:
        "to_scan" (each predicted vertex to its nearest point, mean squared), "to_model" (each
        point to its nearest predicted vertex), "chamfer" (their sum) and "lip" (the lip vertices
        to their nearest points; zero without lips), square metres.
    """
    scans = _frames_of(points)
    if len(scans) != pred.shape[0]:
        raise ValueError(f"{pred.shape[0]} predicted frames but {len(scans)} scans")
    normal_of = _frames_of(normals) if normals is not None else [None] * len(scans)
    to_scan, to_model, lip = [], [], []
    for frame, scan, normal in zip(pred, scans, normal_of):
        scan = scan.to(frame)
        with torch.no_grad():
            near_scan = _nearest(frame.detach(), scan)
            near_model = _nearest(scan, frame.detach())
            model_normal = None if faces is None else vertex_normals(frame.detach(), faces)[near_model]
        offset = frame - scan[near_scan]
        if normal is None:
            gap = offset.square().sum(dim=-1)
        else:
            gap = (offset * normal.to(frame)[near_scan]).sum(dim=-1).square()
        to_scan.append(gap.mean())
        back = scan - frame[near_model]
        to_model.append((back.square().sum(dim=-1) if model_normal is None
                         else (back * model_normal).sum(dim=-1).square()).mean())
        if lip_vertices is not None:
            lip.append(gap[lip_vertices].mean())
    terms = {"to_scan": torch.stack(to_scan).mean(), "to_model": torch.stack(to_model).mean()}
    terms["chamfer"] = terms["to_scan"] + terms["to_model"]
    terms["lip"] = torch.stack(lip).mean() if lip else pred.new_zeros(())
    return terms


def smoothness(displacement: torch.Tensor, ops: SurfaceOperators) -> torch.Tensor:
    """Mean squared surface gradient of a displacement field (T, V, 3): its Dirichlet energy
    (dᵀ L d, from the template's Laplacian) over the surface's area, per frame; dimensionless."""
    steps, count, _ = displacement.shape
    flat = displacement.permute(1, 0, 2).reshape(count, steps * 3)
    energy = (flat * torch.sparse.mm(ops.L, flat)).sum()
    return energy / (ops.mass.sum() * steps)


def unregistered_loss(
    pred: torch.Tensor,
    points: torch.Tensor | Sequence[torch.Tensor],
    template: torch.Tensor,
    ops: SurfaceOperators,
    lip_vertices: torch.Tensor | None,
    chamfer_weight: float = 1.0,
    lip_weight: float = 1.0,
    smooth_weight: float = 1e-4,
    acceleration_weight: float = 1.0,
    normals: torch.Tensor | Sequence[torch.Tensor] | None = None,
    faces: torch.Tensor | None = None,
) -> dict[str, torch.Tensor]:
    """The loss of predicted frames (T, V, 3) against unregistered scans.

    Terms (all returned, with "loss" their weighted sum): "chamfer" (`chamfer_terms`, both ways),
    "lip" (lip vertices to the scan), "smooth" (`smoothness` of pred - template) and
    "acceleration" (mean squared second difference of the frames over time, zero under three
    frames). `normals`: the scans' unit normals, and `faces`: the template's triangles, for
    point-to-plane distances each way (`chamfer_terms`). Weights as named; `smooth_weight` is per unit of squared gradient, so 1e-4 weighs a
    typical mouth motion's bending about as much as a tenth of a millimetre of Chamfer error.
    """
    terms = chamfer_terms(pred, points, lip_vertices, normals, faces)
    terms["smooth"] = smoothness(pred - template.unsqueeze(0), ops)
    terms["acceleration"] = ((pred[2:] - 2 * pred[1:-1] + pred[:-2]).square().mean()
                             if pred.shape[0] > 2 else pred.new_zeros(()))
    terms["loss"] = (chamfer_weight * terms["chamfer"] + lip_weight * terms["lip"]
                     + smooth_weight * terms["smooth"] + acceleration_weight * terms["acceleration"])
    return terms
