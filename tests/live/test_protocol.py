"""The live protocol's binary messages read back as written."""

from __future__ import annotations

import numpy as np

from scantalk.live.protocol import audio_message, frame_message, mesh_message, read_message


def test_binary_messages_read_back_as_written():
    rng = np.random.default_rng(0)
    rest, faces = rng.normal(size=(7, 3)).astype(np.float32), np.array([[0, 1, 2], [2, 3, 4]])
    mesh = read_message(mesh_message(rest, faces))
    np.testing.assert_array_equal(mesh["rest"], rest)
    np.testing.assert_array_equal(mesh["faces"], faces)
    assert read_message(mesh_message(rest, None))["faces"] is None
    samples = rng.normal(size=321).astype(np.float32)
    audio = read_message(audio_message(1.25, 44100, samples))
    assert (audio["time"], audio["sample_rate"]) == (1.25, 44100)
    np.testing.assert_array_equal(audio["samples"], samples)
    row = rng.random(5).astype(np.float32)
    frame = read_message(frame_message(12, 0.4, rest, row))
    assert (frame["index"], frame["time"]) == (12, 0.4)
    np.testing.assert_array_equal(frame["articulation"], row)
    np.testing.assert_array_equal(frame["vertices"], rest)


def test_every_array_starts_on_a_4_byte_boundary_for_the_browser():
    """A Float32Array view (no copy) needs its byte offset to be a multiple of 4."""
    message = frame_message(0, 0.0, np.zeros((3, 3)), np.zeros(5))
    assert len(message) % 4 == 0 and (len(message) - 3 * 3 * 4 - 5 * 4) % 4 == 0
