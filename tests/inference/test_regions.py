"""The face's regions that an "xyz+regions" end-to-end model hears, found on any mesh."""

import numpy as np
import pytest
import soundfile as sf
import torch

from scantalk import Animator
from scantalk.commands.demo import DEMO_SPEECH
from scantalk.inference.animator import shipped_face_finder
from scantalk.inference.regions import face_region_weights
from scantalk.model import ScanTalk
from scantalk.rig.rig import REGION_FEATURES, lip_vertices
from scantalk.synthesis.heads.procedural import procedural_head


@pytest.fixture(scope="module")
def head():
    return procedural_head(4321, resolution=0.007)  # held out of the shipped model's training


def test_found_regions_tell_the_lips_apart_in_the_files_order(head):
    weights = face_region_weights(head.verts, head.faces, shipped_face_finder())
    assert weights.shape == (head.num_vertices, len(REGION_FEATURES)) and weights.dtype == np.float32
    assert np.isfinite(weights).all() and weights.min() >= 0.0 and weights.max() <= 1.0
    upper, lower = lip_vertices(head)  # the midline vertices of the two lips, nearly at one place
    below, lips = REGION_FEATURES.index("below"), REGION_FEATURES.index("lips")
    assert weights[lower, below] > 0.9 > 0.1 > weights[upper, below]
    assert weights[upper, lips] > 0.5 and weights[lower, lips] > 0.5
    # Another vertex order: the weights follow the vertices (the face is found from samples of
    # the surface, so the sharp step at the slit may move by a fraction of a millimetre).
    order = np.random.default_rng(0).permutation(head.num_vertices)
    shuffled = face_region_weights(head.verts[order], np.argsort(order)[head.faces], shipped_face_finder())
    assert np.abs(shuffled - weights[order]).mean() < 0.02
    where = np.argsort(order)
    assert shuffled[where[lower], below] > 0.9 > 0.1 > shuffled[where[upper], below]


@pytest.mark.slow
def test_an_end_to_end_model_that_hears_regions_animates_any_face(head):
    torch.manual_seed(0)
    model = ScanTalk(k_eig=16, width=8, n_blocks=2, identity_input="xyz+regions").eval()
    torch.nn.init.normal_(model.decoder.output_linear.weight, std=0.1)
    samples, rate = sf.read(DEMO_SPEECH, dtype="float32")
    animation = Animator(model, device="cpu", cache_dir=False).animate(head.verts, samples[:rate], faces=head.faces,
                                                                      sample_rate=rate)
    assert animation.frames.shape[1:] == head.verts.shape and np.isfinite(animation.frames).all()
    assert np.abs(animation.displacements).max() > 0.0
