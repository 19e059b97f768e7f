"""The "phonetic" audio encoder: ScanTalk hears the articulation track the phonetic front end makes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from scantalk.articulation import ARTICULATION_CHANNELS
from scantalk.articulation.phonetic import phonetic_track
from scantalk.audio import build_audio_encoder
from scantalk.model import ScanTalk, ScanTalkConfig
from scantalk.model.phonetic_encoder import PhoneticEncoder

FPS = 30.0


@pytest.fixture(scope="module")
def spoken(papa_spoken):
    return papa_spoken


@pytest.mark.slow
def test_features_are_the_front_ends_track_whatever_the_level(spoken):
    encoder = build_audio_encoder("phonetic")
    assert isinstance(encoder, PhoneticEncoder) and encoder.config()["name"] == "phonetic"
    count = int(round(len(spoken.samples) / 16000 * FPS))
    features = encoder(torch.as_tensor(0.05 * spoken.samples, dtype=torch.float32), count)
    assert features.shape == (count, len(ARTICULATION_CHANNELS) + 1)
    # Each clip is brought to one level for the recogniser: a quiet and a loud take read the same.
    loud = PhoneticEncoder()(torch.as_tensor(0.9 * spoken.samples, dtype=torch.float32), count)
    assert torch.equal(features, loud)
    # The front end's own track of the clip, up to a phone boundary moved by a frame.
    track = phonetic_track(spoken.samples, fps=FPS, num_frames=count)
    assert np.abs(features[:, :-1].numpy() - track.values).mean() < 0.05
    first_p = next(p for p in spoken.phones if p.phone == "P")
    close = ARTICULATION_CHANNELS.index("lip_close")
    assert features[int(first_p.start * FPS):int(np.ceil(first_p.end * FPS)) + 1, close].max() > 0.5
    speaking = features[:, -1].numpy()
    assert set(np.unique(speaking)) == {0.0, 1.0} and speaking[0] == 0.0  # the first frames are silence


@pytest.mark.slow
def test_a_clip_heard_before_is_answered_from_the_cache_and_silence_rests(spoken):
    encoder = PhoneticEncoder(cache_size=1)
    clip = torch.as_tensor(spoken.samples, dtype=torch.float32)
    first = encoder(clip, 40)
    assert len(encoder._cache) == 1 and torch.equal(encoder(clip, 40), first)
    encoder(clip, 41)  # another frame count is another entry; the oldest goes
    assert list(encoder._cache)[0][1] == 41 and len(encoder._cache) == 1
    assert torch.count_nonzero(encoder(torch.zeros(16000), 30)) == 0


@pytest.mark.slow
def test_scantalk_learns_from_it_and_a_saved_model_rebuilds_it(spoken, tmp_path):
    from scantalk.checkpoint import load_model, save_model
    from scantalk.geometry import compute_operators
    from scantalk.geometry.shapes import icosphere

    verts, faces = icosphere(3)
    template = torch.as_tensor(0.1 * verts, dtype=torch.float32)
    ops = compute_operators(0.1 * verts, faces, k_eig=32)
    model = ScanTalk(ScanTalkConfig(audio_encoder="phonetic", k_eig=32, width=16, n_blocks=2))
    torch.nn.init.normal_(model.decoder.output_linear.weight, std=0.1)
    audio = torch.as_tensor(spoken.samples, dtype=torch.float32)
    frames = model(audio, template, ops, num_frames=40)
    frames.square().mean().backward()
    assert model.audio_projection.weight.grad.abs().sum() > 0  # the features reach the network
    save_model(tmp_path / "phonetic.ckpt", model)
    loaded = load_model(tmp_path / "phonetic.ckpt")
    assert isinstance(loaded.audio_encoder, PhoneticEncoder)
    with torch.no_grad():
        torch.testing.assert_close(loaded(audio, template, ops, num_frames=40), model.eval()(audio, template, ops, num_frames=40))
