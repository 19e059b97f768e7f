"""A canonical vertex order, so that operators do not depend on how a file numbers its vertices.

Eigensolvers, neighbour searches and sparse assembly all make choices that follow the vertex
order (which vertex represents a voxel, which of two equidistant neighbours comes first, in which
order round-off accumulates), and an approximate eigensolver turns those choices into visibly
different bases. `compute_operators` therefore sorts the vertices into an order defined by their
coordinates alone, relabels and sorts the faces to match, computes everything there and maps the
results back. The same surface with its vertices permuted then gets bit-identical operators,
permuted. The order is a Morton (Z-order) curve over the bounding box, which also keeps
neighbouring vertices close in memory, with ties broken by the exact coordinates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

# Bits per axis of the Morton code: 3 × 21 = 63 bits fit an unsigned 64-bit key.
MORTON_BITS = 21


def _spread_bits(values: np.ndarray) -> np.ndarray:
    """Insert two zero bits between each of the low 21 bits of uint64 `values` (n,)."""
    x = values & np.uint64(0x1FFFFF)
    for shift, mask in ((32, 0x1F00000000FFFF), (16, 0x1F0000FF0000FF), (8, 0x100F00F00F00F00F),
                        (4, 0x10C30C30C30C30C3), (2, 0x1249249249249249)):
        x = (x | (x << np.uint64(shift))) & np.uint64(mask)
    return x


def morton_keys(verts: np.ndarray) -> np.ndarray:
    """Z-order keys of positions quantised to a 2²¹ grid over their bounding box.

    Args:
        verts: (V, 3) float64 positions.

    Returns:
        (V,) uint64 keys; equal for vertices in the same grid cell.
    """
    low = verts.min(axis=0)
    extent = float((verts.max(axis=0) - low).max())
    scale = (2**MORTON_BITS - 1) / extent if extent > 0 else 0.0
    cells = np.clip(np.floor((verts - low) * scale), 0, 2**MORTON_BITS - 1).astype(np.uint64)
    return (_spread_bits(cells[:, 0]) << np.uint64(2)) | (_spread_bits(cells[:, 1]) << np.uint64(1)) | _spread_bits(cells[:, 2])


@dataclass(frozen=True)
class CanonicalOrder:
    """A relabelling of V vertices into their canonical order.

    order (V,): the input vertex at each canonical position · rank (V,): the canonical position
    of each input vertex (the inverse permutation) · is_identity: the input already is in
    canonical order (the mapping back is skipped).
    """

    order: np.ndarray
    rank: np.ndarray
    is_identity: bool

    @classmethod
    def of(cls, verts: np.ndarray) -> "CanonicalOrder":
        """The canonical order of positions verts (V, 3): Morton key, then exact x, y, z.

        Only exactly coincident vertices keep their input order relative to each other;
        `load_mesh` merges those.
        """
        order = np.lexsort((verts[:, 2], verts[:, 1], verts[:, 0], morton_keys(verts)))
        rank = np.empty_like(order)
        rank[order] = np.arange(len(order))
        return cls(order=order, rank=rank, is_identity=bool(np.all(order == np.arange(len(order)))))

    def faces_to_canonical(self, faces: np.ndarray) -> np.ndarray:
        """Relabel triangles (F, 3) into canonical indices, then put them in a canonical order.

        Each triangle is rotated (orientation kept) to start at its smallest index, and the rows
        are sorted, so the sparse assembly sums the same terms in the same order whatever the
        input's face order. Returns (F, 3) int64.
        """
        relabelled = self.rank[faces]
        first = np.argmin(relabelled, axis=1)
        rotated = relabelled[np.arange(len(faces))[:, None], (first[:, None] + np.arange(3)) % 3]
        return rotated[np.lexsort((rotated[:, 2], rotated[:, 1], rotated[:, 0]))]

    def rows_to_input(self, values: np.ndarray) -> np.ndarray:
        """Per-vertex values (V, ...) in canonical order → (V, ...) in the input's order."""
        return values if self.is_identity else np.take(values, self.rank, axis=0)

    def sparse_to_input(self, matrix: sp.spmatrix) -> sp.csr_matrix:
        """A (V, V) sparse matrix over canonical vertices → the same operator over input vertices."""
        if self.is_identity:
            return sp.csr_matrix(matrix)
        coo = sp.coo_matrix(matrix)
        return sp.csr_matrix((coo.data, (self.order[coo.row], self.order[coo.col])), shape=coo.shape)
