"""Geometry: mesh files in, cached surface operators out.

Three names cover most uses: `load_mesh`, `compute_operators`, `OperatorCache`.

Modules, one concept each: `mesh` (files ↔ `Mesh`), `validation` and `cleaning` (raw arrays),
`neighbours` (kNN, 1-ring edges), `normals` (vertex normals, tangent frames), `laplacian`
(Laplacian and mass), `gradients` (tangent gradients), `eigen` and `multilevel` (eigensolvers),
`ordering` (the canonical vertex order), `operators` (`compute_operators`, `SurfaceOperators`),
`cache` (`OperatorCache`), `shapes` (procedural test surfaces).
"""

from scantalk.geometry.cache import OperatorCache, default_cache_dir
from scantalk.geometry.mesh import Mesh, load_mesh, save_arrays, save_mesh
from scantalk.geometry.operators import SurfaceOperators, compute_operators, hks

__all__ = [
    "Mesh", "OperatorCache", "SurfaceOperators", "compute_operators", "default_cache_dir", "hks",
    "load_mesh", "save_arrays", "save_mesh",
]
