"""Training heads: anatomical procedural heads, real faces, many meshings, and a landmark-placed rig.

`procedural_head(seed)` makes a head; `meshing_variants(head, rng)` remeshes it; `rig_basis(head)`
/ `rig_displacement(head, articulation)` turn articulation into per-vertex motion on any of them.
"""

from scantalk.data.heads.meshing import MESHING_KINDS, meshing_variants
from scantalk.data.heads.procedural import procedural_head
from scantalk.data.heads.rig import RIG_INPUTS, lip_opening, region_masks, rig_basis, rig_displacement
from scantalk.face.head import PARTS, FaceLandmarks, Head

__all__ = [
    "MESHING_KINDS", "PARTS", "RIG_INPUTS", "FaceLandmarks", "Head", "lip_opening", "meshing_variants",
    "procedural_head", "region_masks", "rig_basis", "rig_displacement",
]
