"""The held-out material every evaluation draws from, in one place.

Speech: the real recordings of `scantalk.synthesis.speech.real_speech_set` (pocketsphinx-testdata,
force-aligned at the phone level; no model here is trained on them). Heads: the real scan
`james` (kept out of the training identities) and anatomical procedural heads of seeds >= 900000
(training draws lower seeds). The scripts pick from these through the functions below, so a
clip order or a seed rule changes here for all of them.
"""

from __future__ import annotations

from pathlib import Path

from scantalk.errors import ScanTalkError

RESULTS = Path(__file__).resolve().parents[1] / "results"
#: Procedural heads of these seeds and above are never training identities.
HELD_OUT_SEEDS = 900000
#: Real clips in the order `ranked_clips` gives them: varied sources and lengths first (the set has 12).
CLIP_ORDER = ("0880.wav", "goforward.raw", "0930.wav", "cards/005.wav", "0890.wav", "0920.wav", "0870.wav")
MESHING_CLIP = "0880.wav"  # 3 s of continuous read speech with vowels, pauses and bilabials


def real_clips(count: int | None = None) -> list:
    """The real recordings as `Utterance`s, in the set's own order (the first `count`, or all)."""
    from scantalk.synthesis.speech.real import real_speech_set

    clips = real_speech_set()
    return clips if count is None else clips[:count]


def long_clips_first(count: int) -> list:
    """`count` real recordings, the long read passages (LibriVox) before the short prompts."""
    return sorted(real_clips(), key=lambda u: "librivox" not in u.voice)[:count]


def ranked_clips(count: int, seconds: float | None = None) -> tuple[list, object]:
    """(the first `count` real clips in `CLIP_ORDER`, the meshing clip), cut to `seconds` when given."""
    from scantalk.synthesis.speech.phones import PhoneSegment, Utterance

    by_path = {u.meta["path"]: u for u in real_clips()}
    ranked = sorted(by_path, key=lambda path: next((i for i, key in enumerate(CLIP_ORDER) if path.endswith(key)),
                                                   len(CLIP_ORDER)))

    def cut(u):
        if seconds is None:
            return u
        return Utterance(u.samples[: int(seconds * u.sample_rate)], u.sample_rate,
                         [PhoneSegment(p.phone, p.start, min(p.end, seconds)) for p in u.phones if p.start < seconds],
                         u.text, u.voice, dict(u.meta))

    meshing = next(path for path in ranked if path.endswith(MESHING_CLIP))
    return [cut(by_path[path]) for path in ranked[:count]], cut(by_path[meshing])


def held_out_heads(names: list[str], resolution: float = 0.005) -> list:
    """Heads by name: a real face ("james") or "procedural:SEED" (SEED >= `HELD_OUT_SEEDS`),
    made at `resolution` (the marching-cubes step, m)."""
    from scantalk.face.samples import real_face
    from scantalk.synthesis.heads.procedural import procedural_head

    heads = []
    for name in names:
        if name.startswith("procedural:"):
            seed = int(name.split(":", 1)[1])
            if seed < HELD_OUT_SEEDS:
                raise ScanTalkError(f"head {name!r}: procedural seeds below {HELD_OUT_SEEDS} may be training "
                                    f"identities; use a seed >= {HELD_OUT_SEEDS}")
            heads.append(procedural_head(seed, resolution=resolution))
        else:
            heads.append(real_face(name))
    return heads
