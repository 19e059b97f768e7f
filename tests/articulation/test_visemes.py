import pytest

from scantalk.articulation import PHONE_INVENTORY, VISEMES, ArticulationError, phone_agreement, viseme_agreement


def test_every_phone_has_a_mouth_shape():
    assert set(VISEMES) == set(PHONE_INVENTORY)
    assert VISEMES["P"] == VISEMES["B"] == VISEMES["M"] == "closed"
    assert VISEMES["F"] == VISEMES["V"] and VISEMES["UW"] == VISEMES["W"] == "rounded"
    assert VISEMES["IY"] == "spread" and VISEMES["AA"] == "open" and VISEMES["SIL"] == "rest"


def test_agreement_counts_frames():
    reference = [("SIL", 0.0, 0.2), ("B", 0.2, 0.3), ("AA", 0.3, 0.6), ("SIL", 0.6, 1.0)]
    assert phone_agreement(reference, reference) == 1.0
    # M for B: a different phone but the same mouth shape (0.1 s of 1 s).
    recognised = [("SIL", 0.0, 0.2), ("M", 0.2, 0.3), ("AA", 0.3, 0.6), ("SIL", 0.6, 1.0)]
    assert phone_agreement(reference, recognised) == pytest.approx(0.9)
    assert viseme_agreement(reference, recognised) == 1.0
    # Leaving out the shared silence: 0.1 s of the 0.4 s of speech disagree.
    assert phone_agreement(reference, recognised, include_silence=False) == pytest.approx(0.75)
    # Shifted by 50 ms and a wrong vowel; gaps count as silence, tuples and stress digits are fine.
    shifted = [("B", 0.25, 0.35), ("iy1", 0.35, 0.6)]
    assert viseme_agreement(reference, shifted) == pytest.approx(0.2 + 0.05 + 0.4, abs=0.011)


def test_agreement_rejects_unknown_phones():
    with pytest.raises(ArticulationError, match="not an ARPAbet phone"):
        viseme_agreement([("QQ", 0, 1)], [("AA", 0, 1)])
