"""Geometry: mesh files in, cached surface operators out.

Three names cover most uses: `load_mesh`, `compute_operators`, `OperatorCache`.
"""

from scantalk.geometry.mesh import Mesh, load_mesh, save_mesh
from scantalk.geometry.operators import SurfaceOperators, compute_operators, hks

__all__ = ["Mesh", "SurfaceOperators", "compute_operators", "hks", "load_mesh", "save_mesh"]
