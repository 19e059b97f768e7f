"""Training heads: anatomical procedural heads, real faces, many meshings.

`procedural_head(seed)` makes a head; `meshing_variants(head, rng)` remeshes it; `rig_basis(head)`
/ `rig_displacement(head, articulation)` turn articulation into per-vertex motion on any of them.
What a head is (`Head`, `FaceLandmarks`, `PARTS`) lives in `scantalk.face` and the rig in
`scantalk.rig`; both are re-exported here for the training code that reads them with the heads.
"""

from scantalk.synthesis.heads.meshing import MESHING_KINDS, meshing_variants
from scantalk.synthesis.heads.procedural import procedural_head
from scantalk.face.head import PARTS, FaceLandmarks, Head
from scantalk.rig.rig import RIG_INPUTS, lip_opening, region_masks, rig_basis, rig_displacement

__all__ = [
    "MESHING_KINDS", "PARTS", "RIG_INPUTS", "FaceLandmarks", "Head", "lip_opening", "meshing_variants",
    "procedural_head", "region_masks", "rig_basis", "rig_displacement",
]
