"""A canonical vertex order, so that operators do not depend on how a file numbers its vertices.

Eigensolvers, neighbour searches and sparse assembly all make choices that follow the vertex
order (which vertex represents a voxel, which of two equidistant neighbours comes first, in which
order round-off accumulates), and an approximate eigensolver turns those choices into visibly
different bases. `compute_operators` therefore sorts the vertices into an order defined by their
coordinates alone, relabels and sorts the faces to match, computes everything there and maps the
results back. The same surface with its vertices permuted then gets bit-identical operators,
permuted. The order is lexicographic in the exact coordinates (x, then y, then z): a Morton
curve was tried for memory locality and measured no faster, and the coarse-to-fine eigenvalues
came out less accurate on it (experiments/bench/results/operators.json, "ordering").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


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
        """The canonical order of positions verts (V, 3): by exact x, then y, then z.

        Only exactly coincident vertices keep their input order relative to each other;
        `load_mesh` merges those.
        """
        order = np.lexsort((verts[:, 2], verts[:, 1], verts[:, 0]))
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
