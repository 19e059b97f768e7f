"""Phone tilings of speech: engine labels become a clean tiling, read per frame."""

from __future__ import annotations

import numpy as np
import pytest

from scantalk.synthesis.speech.phones import PHONES, PhoneSegment, phone_frames, segments_from_ends


def test_engine_labels_become_a_tiling_of_the_whole_audio():
    # flite-style labels: end times, a tail a few ms short of the waveform, a double pause.
    segments = segments_from_ends(["pau", "hh", "ax", "pau", "brk", "l"], [0.1, 0.2, 0.3, 0.4, 0.45, 0.596], 0.6)
    assert [s.phone for s in segments] == ["SIL", "HH", "AH", "SIL", "L"]
    assert segments[0].start == 0.0 and segments[-1].end == pytest.approx(0.6)
    assert all(a.end == b.start for a, b in zip(segments, segments[1:]))


def test_phone_frames_reads_the_phone_at_each_frame_centre():
    segments = [PhoneSegment("SIL", 0.0, 0.1), PhoneSegment("AA", 0.1, 0.3), PhoneSegment("M", 0.3, 0.4)]
    frames = phone_frames(segments, fps=10)
    assert [PHONES[i] for i in frames] == ["SIL", "AA", "AA", "M"]
    assert np.all(phone_frames(segments, fps=10, num_frames=6)[4:] == PHONES.index("SIL"))
