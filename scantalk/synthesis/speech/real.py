"""Real recorded speech to measure on, never to train on: Debian's pocketsphinx-testdata.

The package holds recordings of real people with their transcripts: five LibriVox clips (an
audiobook reader of "Sense and Sensibility"), five spoken card names, a robot command and a
TIDIGITS digit string. Each is force-aligned at the phone level with pocketsphinx's bundled
model; the alignment is cached as JSON so it is computed once.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from scantalk.articulation.sphinx import align_phones
from scantalk.atomic import atomic_write_text
from scantalk.synthesis.speech.phones import SAMPLE_RATE, PhoneSegment, Utterance
from scantalk.errors import SpeechToolError

#: Where Debian's pocketsphinx-testdata puts its recordings.
TESTDATA_DIR = Path("/usr/share/pocketsphinx/test/data")

# Bump when the alignment changes (decoder settings, phone mapping) so old caches are redone.
_ALIGNMENT_VERSION = 1


@dataclass(frozen=True)
class RealClip:
    """One recording of the set: file (relative to `TESTDATA_DIR`), transcript, source name."""

    path: str
    transcript: str
    source: str


def _transcripts(listing: Path) -> dict[str, str]:
    """Parse a sphinx transcription file: "<s> words </s> (utterance_id)" per line."""
    found = {}
    for line in listing.read_text().splitlines():
        match = re.match(r"^(.*)\(([^()]+)\)\s*$", line.strip())
        if match:
            words = match.group(1).replace("<s>", " ").replace("</s>", " ")
            found[match.group(2).strip()] = " ".join(words.split())
    return found


def real_clips(root: Path = TESTDATA_DIR) -> list[RealClip]:
    """The recordings with a documented transcript, in a fixed order.

    Raises:
        SpeechToolError: pocketsphinx-testdata is not installed (names the apt-get line).
    """
    if not (root / "librivox" / "transcription").is_file():
        raise SpeechToolError(
            f"the real speech recordings are not in {root}; install them with "
            "`sudo apt-get install pocketsphinx-testdata` (Debian/Ubuntu), or run `make`."
        )
    clips = []
    for folder in ("librivox", "cards"):
        listing = root / folder / ("transcription" if folder == "librivox" else "cards.transcription")
        for name, words in sorted(_transcripts(listing).items()):
            if (root / folder / f"{name}.wav").is_file():
                clips.append(RealClip(f"{folder}/{name}.wav", words, folder))
    # Transcripts documented by the package itself: the JSGF grammar of goforward.raw, and the
    # TIDIGITS file-name convention of dhd.2934z.raw ("z" = zero).
    for path, words, source in (
        ("goforward.raw", "go forward ten meters", "goforward"),
        ("tidigits/dhd.2934z.raw", "two nine three four zero", "tidigits"),
    ):
        if (root / path).is_file():
            clips.append(RealClip(path, words, source))
    return clips


def read_clip(clip: RealClip, root: Path = TESTDATA_DIR) -> np.ndarray:
    """(N,) float32 samples at 16 kHz (the .raw files are headerless 16-bit little-endian, 16 kHz)."""
    path = root / clip.path
    if path.suffix == ".raw":
        return (np.fromfile(path, dtype="<i2").astype(np.float32) / 32768.0).astype(np.float32)
    samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    if rate != SAMPLE_RATE:
        raise SpeechToolError(f"{path} is at {rate} Hz, not 16 kHz; pocketsphinx-testdata has changed.")
    return samples.mean(axis=1).astype(np.float32)


def default_real_speech_dir() -> Path:
    """$SCANTALK_CACHE_DIR/real_speech if set, else the user cache dir (e.g. ~/.cache/scantalk/real_speech)."""
    override = os.environ.get("SCANTALK_CACHE_DIR")
    if override:
        return Path(override).expanduser() / "real_speech"
    import platformdirs

    return Path(platformdirs.user_cache_dir("scantalk")) / "real_speech"


def real_speech_set(out_dir: str | Path | None = None) -> list[Utterance]:
    """The real recordings with phone timing from a forced alignment; for evaluation only.

    Args:
        out_dir: where the alignment JSON is cached (`alignment.json`); default
            `default_real_speech_dir()`. Computed once (about 5 s), then read back.

    Returns:
        One `Utterance` per recording: samples (N,) float32 at 16 kHz, phones tiling the clip,
        text = the transcript, voice = the source ("librivox", "cards", "goforward", "tidigits"),
        meta["path"] = the recording's file.

    Raises:
        SpeechToolError: pocketsphinx-testdata or pocketsphinx is not installed.
    """
    clips = real_clips()
    cache = Path(out_dir).expanduser() if out_dir is not None else default_real_speech_dir()
    cache_file = cache / "alignment.json"
    cached: dict = {}
    if cache_file.is_file():
        try:
            stored = json.loads(cache_file.read_text())
            if stored.get("version") == _ALIGNMENT_VERSION:
                cached = stored.get("clips", {})
        except (OSError, ValueError):
            cached = {}  # a damaged cache is recomputed, never trusted
    utterances, changed = [], False
    for clip in clips:
        samples = read_clip(clip)
        entry = cached.get(clip.path)
        if entry is None or entry.get("transcript") != clip.transcript or entry.get("num_samples") != len(samples):
            phones = align_phones(samples, clip.transcript)
            entry = {
                "transcript": clip.transcript,
                "num_samples": len(samples),
                "phones": [[p.phone, round(p.start, 4), round(p.end, 4)] for p in phones],
            }
            cached[clip.path] = entry
            changed = True
        phones = [PhoneSegment(name, float(start), float(end)) for name, start, end in entry["phones"]]
        meta = {"path": str(TESTDATA_DIR / clip.path), "real": True}
        utterances.append(Utterance(samples=samples, phones=phones, text=clip.transcript, voice=clip.source, meta=meta))
    if changed:
        payload = {"version": _ALIGNMENT_VERSION, "source": str(TESTDATA_DIR), "aligner": "pocketsphinx 5.1.1 en-us", "clips": cached}
        atomic_write_text(cache_file, json.dumps(payload, indent=1))
    return utterances
