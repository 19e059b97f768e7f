"""Exports that open where artists work: glTF 2.0 with morph targets, ARKit-named curves, USD.

- `export_gltf(animation, path)`: a .glb with the neutral mesh, a few error-bounded morph
  targets (or one per frame) and a weights animation at the frame times.
- `export_arkit_csv(track, path)` / `export_arkit_json(track, path)`: the articulation track as
  the 52 ARKit blend-shape weights (Live Link Face CSV layout, or JSON).
- `export_usd(animation, path)`: a .usda/.usdc point cache (needs the `usd-core` package).

Given a folder instead of a file, the mesh exports also write `audio.wav` and `export.json`.
"""

from scantalk.export.arkit import (ARKIT_BLENDSHAPES, DRIVEN_NAMES, LIVE_LINK_HEADER, arkit_weights,
                                   export_arkit_csv, export_arkit_json)
from scantalk.export.common import ExportError, ExportReport
from scantalk.export.gltf import export_gltf, read_gltf_frames
from scantalk.export.lowrank import MorphBasis, exact_basis, factorise_motion
from scantalk.export.usd import export_usd, read_usd_frames

__all__ = ["ARKIT_BLENDSHAPES", "DRIVEN_NAMES", "LIVE_LINK_HEADER", "ExportError", "ExportReport", "MorphBasis",
           "arkit_weights", "exact_basis", "export_arkit_csv", "export_arkit_json", "export_gltf",
           "export_usd", "factorise_motion", "read_gltf_frames", "read_usd_frames"]
