"""Speech from real speakers' voices with exact phone timing: Debian's festival and flite.

Both engines concatenate or model recordings of real people and report where each phone is in
the waveform they produce (festival `utt.save.segs`, flite `-psdur`), to within about 10-20 ms.
`synthesize` runs one of them and returns an `Utterance` at 16 kHz whose phones tile the audio.
"""

from __future__ import annotations

import math
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from scantalk.synthesis.speech.augment import pitch_shift
from scantalk.synthesis.speech.phones import SAMPLE_RATE, Utterance, segments_from_ends
from scantalk.errors import ScanTalkError, SpeechToolError  # SpeechToolError: still importable from here

#: Every voice, as "<engine>:<name>". Speakers: slt is a US woman (in festival's HTS voice and
#: flite's slt); kal, ked and rms are US men; awb is a Scottish man.
VOICES: tuple[str, ...] = (
    "festival:us_slt_hts",
    "festival:kal_diphone",
    "festival:ked_diphone",
    "flite:kal16",
    "flite:awb",
    "flite:rms",
    "flite:slt",
)

#: Voices never trained on: a woman's (flite's slt, a different engine and model from
#: festival's slt; Debian ships no second female speaker) and a man who is nowhere else (ked).
HELD_OUT_VOICES: tuple[str, ...] = ("flite:slt", "festival:ked_diphone")

TRAIN_VOICES: tuple[str, ...] = tuple(voice for voice in VOICES if voice not in HELD_OUT_VOICES)

#: Debian packages that provide each voice.
VOICE_PACKAGES: dict[str, str] = {
    "festival:us_slt_hts": "festival festvox-us-slt-hts",
    "festival:kal_diphone": "festival festvox-kallpc16k",
    "festival:ked_diphone": "festival festvox-kdlpc16k",
    "flite:kal16": "flite",
    "flite:awb": "flite",
    "flite:rms": "flite",
    "flite:slt": "flite",
}

_FESTIVAL_VOICE_PROCS = {
    "us_slt_hts": "voice_cmu_us_slt_arctic_hts",
    "kal_diphone": "voice_kal_diphone",
    "ked_diphone": "voice_ked_diphone",
}

# Where Debian installs each festival voice (relative to /usr/share/festival/voices).
_FESTIVAL_VOICE_DIRS = {
    "us_slt_hts": "us/cmu_us_slt_arctic_hts",
    "kal_diphone": "english/kal_diphone",
    "ked_diphone": "english/ked_diphone",
}
FESTIVAL_VOICE_ROOT = Path("/usr/share/festival/voices")

#: Seconds one engine call may take before it is treated as hung.
ENGINE_TIMEOUT_S = 120.0


def _missing(what: str, packages: str) -> SpeechToolError:
    return SpeechToolError(
        f"{what} is not installed on this machine; install it with "
        f"`sudo apt-get install {packages}` (Debian/Ubuntu), or run `make` which installs it."
    )


def parse_voice(voice: str) -> tuple[str, str]:
    """Split "engine:name" and check that it is one of `VOICES`."""
    if voice not in VOICES:
        raise ScanTalkError(f"unknown voice {voice!r}; choose one of {', '.join(VOICES)}.")
    engine, name = voice.split(":", 1)
    return engine, name


def check_voice(voice: str) -> None:
    """Raise `SpeechToolError` naming the apt-get line when `voice` cannot run here."""
    engine, name = parse_voice(voice)
    if shutil.which(engine) is None:
        raise _missing(f"`{engine}` (needed for voice {voice!r})", VOICE_PACKAGES[voice])
    if engine == "festival" and not (FESTIVAL_VOICE_ROOT / _FESTIVAL_VOICE_DIRS[name]).is_dir():
        raise _missing(f"festival's voice {name!r}", VOICE_PACKAGES[voice])


def available_voices(voices: tuple[str, ...] = VOICES) -> tuple[str, ...]:
    """The subset of `voices` installed on this machine."""
    found = []
    for voice in voices:
        try:
            check_voice(voice)
        except SpeechToolError:
            continue
        found.append(voice)
    return tuple(found)


def _check_text(text: str) -> str:
    cleaned = " ".join(str(text).split())
    if not any(character.isalpha() for character in cleaned):
        raise ScanTalkError(f"text {text!r} has no words to speak; pass a sentence with letters.")
    return cleaned


def _check_factor(value: float, what: str) -> float:
    value = float(value)
    if not (math.isfinite(value) and 0.25 <= value <= 4.0):
        raise ScanTalkError(f"{what}={value!r} is outside 0.25-4; pass a factor near 1 (1.2 = 20 % higher/faster).")
    return value


def _read_wav(path: Path) -> np.ndarray:
    samples, rate = sf.read(str(path), dtype="float32", always_2d=True)
    samples = samples.mean(axis=1)
    if rate != SAMPLE_RATE:
        divisor = math.gcd(int(rate), SAMPLE_RATE)
        samples = resample_poly(samples, SAMPLE_RATE // divisor, int(rate) // divisor).astype(np.float32)
    return samples


def _run(command: list[str], what: str) -> subprocess.CompletedProcess:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=ENGINE_TIMEOUT_S)
    except subprocess.TimeoutExpired as error:
        raise ScanTalkError(f"{what} did not finish within {ENGINE_TIMEOUT_S:.0f} s; try a shorter text.") from error
    if result.returncode != 0:
        raise ScanTalkError(f"{what} failed (exit {result.returncode}): {result.stderr.strip()[-400:]}")
    return result


def _scheme_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _festival_batch(texts: list[str], name: str, rate: float, pitch: float, folder: Path) -> list[tuple[np.ndarray, list]]:
    """Synthesize several texts with one festival process (loading a voice takes ~0.2-1 s)."""
    lines = [f"({_FESTIVAL_VOICE_PROCS[name]})"]
    if name == "us_slt_hts":
        # The HTS engine ignores Duration_Stretch and festival's build ignores its -fm (pitch)
        # option (measured: F0 unchanged); its -r (speed) applies and updates the labels.
        lines.append(f'(set! hts_engine_params (append hts_engine_params (list (list "-r" {rate:.6f}))))')
    else:
        lines.append(f"(Parameter.set 'Duration_Stretch {1.0 / rate:.6f})")
        # Diphone voices map a linear-regression F0 model onto this target mean and spread (Hz).
        lines.append(
            "(set! int_lr_params (list (list 'target_f0_mean (* "
            f"{pitch:.6f} (car (cdr (assoc 'target_f0_mean int_lr_params))))) (list 'target_f0_std (* {pitch:.6f} "
            "(car (cdr (assoc 'target_f0_std int_lr_params))))) (assoc 'model_f0_mean int_lr_params) "
            "(assoc 'model_f0_std int_lr_params)))"
        )
    for index, text in enumerate(texts):
        wav, segs = folder / f"{index}.wav", folder / f"{index}.segs"
        lines.append(f"(set! utt{index} (SynthText {_scheme_string(text)}))")
        lines.append(f"(utt.save.wave utt{index} {_scheme_string(str(wav))} 'riff)")
        lines.append(f"(utt.save.segs utt{index} {_scheme_string(str(segs))})")
    script = folder / "synth.scm"
    script.write_text("\n".join(lines) + "\n")
    _run(["festival", "-b", str(script)], f"festival ({name})")
    results = []
    for index in range(len(texts)):
        samples = _read_wav(folder / f"{index}.wav")
        labels = []
        for line in (folder / f"{index}.segs").read_text().splitlines():
            fields = line.split()
            if len(fields) == 3 and fields[0] != "#":
                labels.append((fields[2], float(fields[0])))
        results.append((samples, labels))
    return results


def _flite(text: str, name: str, rate: float, folder: Path) -> tuple[np.ndarray, list]:
    wav = folder / "flite.wav"
    command = ["flite", "-voice", name, "-t", text, "-psdur", "-o", str(wav), "--setf", f"duration_stretch={1.0 / rate:.6f}"]
    result = _run(command, f"flite ({name})")
    labels = []
    for token in result.stdout.split():
        phone, _, end = token.rpartition(":")
        if phone:
            labels.append((phone, float(end)))
    return _read_wav(wav), labels


def synthesize_many(texts: list[str], voice: str, rate: float = 1.0, pitch: float = 1.0) -> list[Utterance]:
    """`synthesize` for several texts in one voice (festival loads its voice once).

    Args:
        texts: sentences to speak.
        voice: one of `VOICES`.
        rate: speaking-rate factor (1.2 = 20 % faster), done by the engine.
        pitch: pitch factor (1.2 = 20 % higher): the intonation model's target F0 for
            festival's diphone voices, resampling plus a time stretch back (timing unchanged)
            for the others.

    Returns:
        One `Utterance` per text, (N,) float32 at 16 kHz, phones tiling the audio.
    """
    engine, name = parse_voice(voice)
    check_voice(voice)
    texts = [_check_text(text) for text in texts]
    rate, pitch = _check_factor(rate, "rate"), _check_factor(pitch, "pitch")
    with tempfile.TemporaryDirectory(prefix="scantalk-tts-") as tmp:
        folder = Path(tmp)
        if engine == "festival":
            raw = _festival_batch(texts, name, rate, pitch, folder)
        else:
            raw = [_flite(text, name, rate, folder) for text in texts]
    utterances = []
    for text, (samples, labels) in zip(texts, raw):
        if pitch != 1.0 and (engine == "flite" or name == "us_slt_hts"):
            samples = pitch_shift(samples, pitch, SAMPLE_RATE)
        duration = len(samples) / SAMPLE_RATE
        phones = segments_from_ends([phone for phone, _ in labels], [end for _, end in labels], duration)
        meta = {"rate": rate, "pitch": pitch, "engine": engine}
        utterances.append(Utterance(samples=samples, phones=phones, text=text, voice=voice, meta=meta))
    return utterances


def synthesize(text: str, voice: str, rate: float = 1.0, pitch: float = 1.0) -> Utterance:
    """Speak `text` in a real speaker's voice and return the audio with each phone's timing.

    Args:
        text: an English sentence.
        voice: one of `VOICES`, e.g. "festival:us_slt_hts" or "flite:awb".
        rate: speaking-rate factor (1.2 = 20 % faster; phone timings shrink accordingly).
        pitch: pitch factor (1.2 = 20 % higher; timings unchanged).

    Returns:
        `Utterance` with samples (N,) float32 at 16 kHz and phones tiling [0, N / 16000] s.

    Raises:
        SpeechToolError: festival/flite or the voice is not installed (the message names the
            `apt-get install` line).
        ScanTalkError: an unknown voice, text without words, or a factor outside 0.25-4.
    """
    return synthesize_many([text], voice, rate, pitch)[0]
