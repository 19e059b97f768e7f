import numpy as np
import pytest

from scantalk.articulation import (ARPABET_PHONES, ARTICULATION_CHANNELS, PHONE_INVENTORY, PHONE_TARGETS,
                                   ArticulationError, ArticulationStyle, articulation_from_phones)
from scantalk.articulation.phones import VOWELS


def _utterance(*phones_and_durations, start=0.3, tail=0.5):
    """[(phone, duration s)...] → timed phones with a leading and trailing pause."""
    phones, t = [("SIL", 0.0, start)], start
    for phone, duration in phones_and_durations:
        phones.append((phone, t, t + duration))
        t += duration
    phones.append(("SIL", t, t + tail))
    return phones


def _frames_in(phone, fps):
    _, start, end = phone
    return np.arange(int(np.ceil(start * fps)), int(np.ceil(end * fps)))


def test_every_arpabet_phone_has_targets_in_range():
    assert set(PHONE_TARGETS) == set(PHONE_INVENTORY) and len(ARPABET_PHONES) == 39
    for phone, goals in PHONE_TARGETS.items():
        for goal in goals:
            assert len(goal.target) == len(ARTICULATION_CHANNELS) == len(goal.dominance)
            assert all(0.0 <= v <= 1.0 for v in goal.target) and all(d > 0 for d in goal.dominance), phone
    # Every phone articulated on its own yields a valid track.
    for phone in ARPABET_PHONES:
        track = articulation_from_phones(_utterance((phone, 0.15)), fps=30)
        assert track.values.shape == (track.num_frames, 5) and np.all((track.values >= 0) & (track.values <= 1))


def test_vowel_height_orders_jaw_opening_and_rounding_spreading():
    peak = {v: articulation_from_phones(_utterance((v, 0.2)), 30)["jaw_open"].max() for v in ("AA", "AE", "AO", "IY", "UW")}
    assert min(peak["AA"], peak["AE"], peak["AO"]) > 2 * max(peak["IY"], peak["UW"])
    uw = articulation_from_phones(_utterance(("UW", 0.2)), 30)
    iy = articulation_from_phones(_utterance(("IY", 0.2)), 30)
    assert uw["lip_round"].max() > 0.6 > iy["lip_round"].max()
    assert iy["lip_spread"].max() > 0.6 > uw["lip_spread"].max()
    for phone in ("F", "V"):
        assert articulation_from_phones(_utterance(("AA", 0.15), (phone, 0.08), ("AA", 0.15)), 30)["labiodental"].max() > 0.9


@pytest.mark.parametrize("fps", [25, 30, 60])
@pytest.mark.parametrize("bilabial", ["P", "B", "M"])
def test_bilabials_close_the_lips_between_open_vowels(bilabial, fps):
    for offset in np.linspace(0.0, 1.0 / fps, 4, endpoint=False):  # every phase of the frame grid
        for duration in (0.05, 0.07, 0.1):
            phones = _utterance(("AA", 0.14), (bilabial, duration), ("AE", 0.14), start=0.3 + offset)
            track = articulation_from_phones(phones, fps)
            assert track["lip_close"][_frames_in(phones[2], fps)].max() >= 0.9
            for vowel in (phones[1], phones[3]):
                centre = int(round(0.5 * (vowel[1] + vowel[2]) * fps))
                assert track["lip_close"][centre] <= 0.1 and track["jaw_open"][centre] >= 0.5
            # The jaw is nearly closed for the bilabial compared to the open vowels around it.
            assert track["jaw_open"][_frames_in(phones[2], fps)].min() < 0.75 * track["jaw_open"].max()


def test_long_pauses_go_to_rest_and_short_gaps_do_not():
    for pause in (0.25, 0.4, 1.0):
        phones = _utterance(("AA", 0.2), ("SIL", pause), ("AA", 0.2))
        track = articulation_from_phones(phones, 30)
        middle = int(round((phones[2][1] + 0.5 * pause) * 30))
        rest = np.array([ArticulationStyle().rest_jaw, 0, 0, 0, 0])
        assert np.all(np.abs(track.values[middle] - rest) < 0.06), (pause, track.values[middle])
    # ~150 ms: the jaw falls to a fraction of the vowel's opening; 40 ms between words: barely dips.
    track = articulation_from_phones(_utterance(("AA", 0.2), ("SIL", 0.15), ("AA", 0.2)), 30)
    assert track["jaw_open"][int(round(0.575 * 30))] < 0.35 * track["jaw_open"].max()
    track = articulation_from_phones(_utterance(("AA", 0.2), ("SIL", 0.04), ("AA", 0.2)), 30)
    assert track["jaw_open"][int(round(0.52 * 30))] > 0.6 * track["jaw_open"].max()
    # Before the first phone and after the last one the mouth is at rest too.
    track = articulation_from_phones(_utterance(("AA", 0.2), start=0.6, tail=0.6), 30)
    assert track["jaw_open"][:5].max() < 0.05 and track["jaw_open"][-5:].max() < 0.05


def test_rounding_is_anticipated_across_consonants():
    fps = 100
    stoop = _utterance(("S", 0.1), ("T", 0.06), ("UW", 0.2), ("P", 0.08))
    steep = _utterance(("S", 0.1), ("T", 0.06), ("IY", 0.2), ("P", 0.08))
    rounded = articulation_from_phones(stoop, fps)["lip_round"]
    unrounded = articulation_from_phones(steep, fps)["lip_round"]
    uw_start = int(round(stoop[3][1] * fps))
    # Rounding is already half-formed 60 ms before the vowel starts (inside the /s/) ...
    assert rounded[uw_start - 6] > 0.5 * rounded.max()
    assert rounded[uw_start - 6] > unrounded[uw_start - 6] + 0.2
    # ... and it persists (carry-over) into the following /p/.
    assert rounded[int(round(stoop[4][1] * fps)) + 3] > 0.5 * rounded.max()


def _random_speech(seed, count=60):
    rng = np.random.default_rng(seed)
    consonants = [p for p in ARPABET_PHONES if p not in VOWELS]
    phones, t = [("SIL", 0.0, 0.3)], 0.3
    for i in range(count):
        if rng.random() < 0.1:
            pause = rng.uniform(0.05, 0.6)
            phones.append(("SIL", t, t + pause))
            t += pause
        phone = str(rng.choice(VOWELS)) if i % 2 else str(rng.choice(consonants))
        duration = rng.uniform(0.06, 0.16) if i % 2 else rng.uniform(0.04, 0.11)
        phones.append((phone, t, t + duration))
        t += duration
    return phones + [("SIL", t, t + 0.4)]


def test_output_is_smooth_at_30_fps():
    # A step function of per-phone targets jumps by up to ~0.85 per frame on the jaw; real jaws move
    # at most ~0.4 of their range per 33 ms frame. Contacts may snap shut within a frame.
    jaw, shape = [], []
    for seed in range(12):
        values = articulation_from_phones(_random_speech(seed), 30).values
        steps = np.abs(np.diff(values, axis=0))
        jaw.append(steps[:, 0].max())
        shape.append(steps[:, 2:4].max())
    assert max(jaw) <= 0.5 and max(shape) <= 0.5
    # The median frame-to-frame change is small: motion is continuous, not piecewise constant.
    assert np.median(np.abs(np.diff(articulation_from_phones(_random_speech(0), 30).values[:, 0]))) < 0.06


def test_styles_vary_and_the_default_is_deterministic():
    phones = _random_speech(3)
    a = articulation_from_phones(phones, 30)
    assert np.array_equal(a.values, articulation_from_phones(phones, 30, style=ArticulationStyle()).values)
    styles = [ArticulationStyle.sample(np.random.default_rng(seed)) for seed in range(4)]
    assert ArticulationStyle.sample(np.random.default_rng(0)) == styles[0]
    tracks = [articulation_from_phones(phones, 30, style=style).values for style in styles]
    assert all(np.abs(t - a.values).mean() > 0.005 for t in tracks)
    loud = articulation_from_phones(phones, 30, style=ArticulationStyle(effort=1.3))
    assert loud["jaw_open"].max() > a["jaw_open"].max()
    # Whatever the style, bilabials still close.
    for style in styles:
        closing = _utterance(("AA", 0.14), ("M", 0.08), ("AA", 0.14))
        assert articulation_from_phones(closing, 30, style=style)["lip_close"].max() >= 0.9


def test_frame_count_and_timing():
    phones = [("SIL", 0.0, 0.5), ("AA", 0.5, 0.8), ("SIL", 0.8, 1.0)]
    assert articulation_from_phones(phones, 30).num_frames == 30
    assert articulation_from_phones(phones, 25, num_frames=40).num_frames == 40
    assert articulation_from_phones([], 30, num_frames=10).values.max() <= 0.05
    # Phone objects, tuples, lower case and stress digits are the same input.
    class Seg:
        def __init__(self, phone, start, end):
            self.phone, self.start, self.end = phone, start, end
    same = articulation_from_phones([Seg("sil", 0.0, 0.5), Seg("aa1", 0.5, 0.8), Seg("SIL", 0.8, 1.0)], 30)
    assert np.array_equal(same.values, articulation_from_phones(phones, 30).values)


def test_bad_phones_raise_clear_errors():
    with pytest.raises(ArticulationError, match="'XX' is not an ARPAbet phone"):
        articulation_from_phones([("XX", 0.0, 0.1)], 30)
    with pytest.raises(ArticulationError, match="before it starts"):
        articulation_from_phones([("AA", 0.5, 0.1)], 30)
    with pytest.raises(ArticulationError, match="overlap"):
        articulation_from_phones([("AA", 0.0, 0.5), ("M", 0.1, 0.4)], 30)
    with pytest.raises(ArticulationError, match="fps"):
        articulation_from_phones([("AA", 0.0, 0.5)], 0)
    with pytest.raises(ArticulationError, match="num_frames"):
        articulation_from_phones([("AA", 0.0, 0.5)], 30, num_frames=0)
    with pytest.raises(ArticulationError, match="non-numeric"):
        articulation_from_phones([("AA", "a", 0.5)], 30)
    with pytest.raises(ArticulationError, match="amplitude"):
        ArticulationStyle(amplitude=(1.0, 1.0))
