"""A speech corpus on disk: synthetic utterances from real voices with their phone timing.

Layout of `out_dir`:
    wav/<id>.wav        16 kHz mono 16-bit PCM
    phones/<id>.json    {"id", "text", "voice", "phones": [[phone, start_s, end_s], ...], "meta"}
    manifest.json       the build settings and the list of ids, written last

Every file is written atomically and an utterance counts as done once its phones JSON exists
(it is written after its wav), so an interrupted build resumes where it stopped and produces the
same corpus as an uninterrupted one: each utterance's text, voice, rate, pitch and augmentation
come from its own seed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import soundfile as sf
from tqdm import tqdm

from scantalk.atomic import atomic_path, atomic_write_text
from scantalk.synthesis.speech.augment import augment
from scantalk.synthesis.speech.engines import TRAIN_VOICES, check_voice, synthesize_many
from scantalk.synthesis.speech.phones import SAMPLE_RATE, PhoneSegment, Utterance
from scantalk.synthesis.speech.text import sentences
from scantalk.errors import DatasetError

_FORMAT = "scantalk-speech-corpus/1"

# Engine-side variety: speaking rate and pitch factors are drawn log-uniformly in these ranges.
_RATE_RANGE = (0.8, 1.25)
_PITCH_RANGE = (0.85, 1.2)

# Utterances handed to one worker at a time: one festival process synthesizes them all.
_CHUNK = 8


def _plan(num_utterances: int, seed: int, voices: tuple[str, ...], augment_fraction: float) -> list[dict]:
    """Every utterance's recipe, fixed by (seed, index) alone so a resumed build matches."""
    texts = sentences(num_utterances, seed)
    plan = []
    for index, text in enumerate(texts):
        rng = np.random.default_rng([seed, index])
        plan.append({
            "id": f"{index:06d}",
            "text": text,
            "voice": voices[int(rng.integers(len(voices)))],
            "rate": float(np.exp(rng.uniform(*np.log(_RATE_RANGE)))),
            "pitch": float(np.exp(rng.uniform(*np.log(_PITCH_RANGE)))),
            "augment": bool(rng.random() < augment_fraction),
            "seed": [seed, index],
        })  # fmt: skip
    return plan


def _write(out_dir: Path, job: dict, utt: Utterance) -> None:
    with atomic_path(out_dir / "wav" / f"{job['id']}.wav") as tmp:
        sf.write(str(tmp), np.clip(utt.samples, -1.0, 1.0), SAMPLE_RATE, subtype="PCM_16", format="WAV")
    record = {
        "id": job["id"],
        "text": utt.text,
        "voice": utt.voice,
        "phones": [[p.phone, round(p.start, 5), round(p.end, 5)] for p in utt.phones],
        "num_samples": len(utt.samples),
        "meta": {**utt.meta, "recipe": job},
    }
    atomic_write_text(out_dir / "phones" / f"{job['id']}.json", json.dumps(record))


def _build_group(out_dir: str, jobs: list[dict]) -> int:
    """Synthesize, augment and write a list of jobs; returns how many (run in a worker process)."""
    root = Path(out_dir)
    for job in jobs:
        utt = synthesize_many([job["text"]], job["voice"], job["rate"], job["pitch"])[0]
        if job["augment"]:
            utt = augment(utt, np.random.default_rng([*job["seed"], 1]))
        _write(root, job, utt)
    return len(jobs)


def build_speech_corpus(
    out_dir: str | Path,
    num_utterances: int,
    seed: int = 0,
    voices: tuple[str, ...] = TRAIN_VOICES,
    workers: int = 2,
    augment_fraction: float = 0.5,
) -> Path:
    """Build (or finish building) a corpus of synthetic speech with exact phone timing.

    Args:
        out_dir: the corpus folder; created if needed, resumed if partly built.
        num_utterances: how many utterances (each 1-8 s).
        seed: fixes every text, voice, rate, pitch and augmentation.
        voices: `VOICES` entries to draw from (default: the training voices).
        workers: parallel synthesis processes.
        augment_fraction: share of utterances passed through `augment` (noise, room, EQ, ...);
            the rest are clean apart from the engine's rate and pitch.

    Returns:
        `out_dir` as a Path (holding wav/, phones/, manifest.json).

    Raises:
        SpeechToolError: a voice's engine is not installed (names the apt-get line).
        DatasetError: `out_dir` holds a corpus built with other settings.
    """
    root = Path(out_dir).expanduser()
    voices = tuple(voices)
    for voice in voices:
        check_voice(voice)
    settings = {"format": _FORMAT, "seed": int(seed), "voices": list(voices), "augment_fraction": float(augment_fraction)}
    manifest_path = root / "manifest.json"
    if manifest_path.is_file():
        old = json.loads(manifest_path.read_text())
        if {k: old.get(k) for k in settings} != settings:
            raise DatasetError(
                f"{root} already holds a speech corpus built with other settings ({ {k: old.get(k) for k in settings} }); "
                "pass the same seed/voices/augment_fraction to extend it, or choose another folder."
            )
    plan = _plan(int(num_utterances), int(seed), voices, float(augment_fraction))
    todo = [job for job in plan if not (root / "phones" / f"{job['id']}.json").is_file()]
    # A folder resumed with other settings would mix two corpora: compare one finished recipe.
    for job in plan:
        done = root / "phones" / f"{job['id']}.json"
        if done.is_file():
            recipe = json.loads(done.read_text()).get("meta", {}).get("recipe", {})
            if (recipe.get("text"), recipe.get("voice")) != (job["text"], job["voice"]):
                raise DatasetError(f"{root} holds utterances from a build with another seed or voices; choose another folder.")
            break
    chunks = [todo[i : i + _CHUNK] for i in range(0, len(todo), _CHUNK)]
    with tqdm(total=len(plan), initial=len(plan) - len(todo), desc="speech corpus", unit="utt") as progress:
        if workers <= 1 or len(chunks) <= 1:
            for chunk in chunks:
                progress.update(_build_group(str(root), chunk))
        else:
            with ProcessPoolExecutor(max_workers=int(workers)) as pool:
                for done in pool.map(_build_group, [str(root)] * len(chunks), chunks):
                    progress.update(done)
    manifest = {**settings, "num_utterances": len(plan), "sample_rate": SAMPLE_RATE, "ids": [job["id"] for job in plan]}
    atomic_write_text(manifest_path, json.dumps(manifest, indent=1))
    tqdm.write(f"speech corpus: {len(plan)} utterances in {root} (wav/, phones/, manifest.json)")
    return root


class SpeechCorpus(Sequence):
    """A built corpus as a lazy sequence of `Utterance`s (audio is read on access)."""

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser()
        manifest = self.root / "manifest.json"
        if not manifest.is_file():
            raise DatasetError(f"{self.root} has no manifest.json; build it with build_speech_corpus({str(self.root)!r}, n).")
        self.ids: list[str] = list(json.loads(manifest.read_text())["ids"])

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        ident = self.ids[index]
        try:
            record = json.loads((self.root / "phones" / f"{ident}.json").read_text())
            samples, rate = sf.read(str(self.root / "wav" / f"{ident}.wav"), dtype="float32")
        except (OSError, ValueError, RuntimeError) as error:
            raise DatasetError(f"utterance {ident} of {self.root} is missing or broken ({error}); run build_speech_corpus again to redo it.") from error
        phones = [PhoneSegment(name, float(start), float(end)) for name, start, end in record["phones"]]
        return Utterance(samples=samples, sample_rate=rate, phones=phones, text=record["text"], voice=record["voice"], meta=record["meta"])


def load_speech_corpus(out_dir: str | Path) -> SpeechCorpus:
    """Open a corpus written by `build_speech_corpus` as a lazy sequence of `Utterance`s."""
    return SpeechCorpus(out_dir)
