"""Speech from real rooms, and sound that is not speech: the mouth offline and live (issue 21).

    python experiments/evaluate/rooms.py                  # every condition, 12 clips, ~10 minutes
    python experiments/evaluate/rooms.py --clips 4 --conditions clean noise_0db music

The held-out real recordings (`real_speech_set`: pocketsphinx-testdata, force-aligned, never
trained on) are played through conditions a microphone meets, and animated on the held-out real
scan (`real_face("james")`) by the shipped default, offline (`Animator.animate`) and live
(`Animator.stream`, 100 ms chunks, `--lookahead`):

- noise at 10 and 0 dB SNR (pink: most room and fan noise), babble at 10 and 0 dB (six other
  voices talking at once), a room with 0.4 s and 0.8 s reverberation (direct-to-reverberant
  ratio 3 and 0 dB: a few metres from the microphone), a telephone line (300-3400 Hz, 8 kHz),
  a quiet microphone (-30 dB);
- the mouth figures of `experiments/evaluate/real.py` per condition: vowel lip opening (mm,
  visible aperture), pauses / vowel, p/b/m min opening / next vowel, envelope r; and the
  track's p/b/m recall (`evaluate/closures.py`);
- speech over a music bed (a recorded instrumental track, 10 dB under the speech);
- sound without speech (8 s each: pink noise, babble-free room tone at 40 dB below full scale,
  synthetic music with chords and a beat, mains hum with harmonics, and seven recorded
  instrumental tracks, `music:<name>`): the mouth should stay at rest, reported as the 95th
  percentile and the largest visible lip opening (mm).

The recorded music is game music from Debian (lincity-ng-data, frozen-bubble-data,
chromium-bsu-data; GPL-2+, GPL-2 and Expat licences: used here, not vendored): read from /usr/share/games
when the packages are installed, otherwise fetched once with `apt-get download` into
~/.cache/scantalk/music (no root needed). Without apt, those conditions are skipped with a note.

Prints a table per mode and writes JSON atomically (default experiments/results/rooms_eval.json).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy.signal import butter, fftconvolve, resample_poly, sosfilt

sys.path.insert(0, str(Path(__file__).resolve().parent))
from closures import clip_figures, summarise  # noqa: E402
from real import FPS, clip_record, make_probe, speech_figures  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parents[1] / "results" / "rooms_eval.json"
SR = 16000
SPEECH_CONDITIONS = ("clean", "noise_10db", "noise_0db", "babble_10db", "babble_0db", "room_0.4s", "room_0.8s",
                     "telephone", "quiet", "music_bed_10db")
#: Recorded instrumental music: (Debian package, path inside it, short name).
RECORDED_MUSIC = (
    ("lincity-ng-data", "usr/share/games/lincity-ng/music/default/01 - pronobozo - lincity.ogg", "lincity"),
    ("lincity-ng-data", "usr/share/games/lincity-ng/music/default/02 - Robert van Herk - City Blues.ogg", "city_blues"),
    ("lincity-ng-data", "usr/share/games/lincity-ng/music/default/03 - Robert van Herk - Architectural Contemplations.ogg",
     "contemplations"),
    ("frozen-bubble-data", "usr/share/games/frozen-bubble/snd/frozen-mainzik-1p.ogg", "frozen_bubble"),
    ("frozen-bubble-data", "usr/share/games/frozen-bubble/snd/introzik.ogg", "frozen_bubble_intro"),
    ("chromium-bsu-data", "usr/share/games/chromium-bsu/wav/music_game.wav", "chromium_game"),
    ("chromium-bsu-data", "usr/share/games/chromium-bsu/wav/music_menu.wav", "chromium_menu"),
)
NONSPEECH_CONDITIONS = ("pink_noise", "room_tone", "music", "hum", *(f"music:{name}" for *_, name in RECORDED_MUSIC))
MUSIC_CACHE = Path.home() / ".cache" / "scantalk" / "music"
BABBLE_TEXTS = ("The weather will turn cold by the end of the week.", "Put the red box on the kitchen table.",
                "Nobody expected the meeting to last that long.", "She walked to the station and caught a train.",
                "Our team scored twice in the second half.", "Remember to water the plants on Sunday.")


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) + 1e-12


def _pink(rng: np.random.Generator, length: int) -> np.ndarray:
    spectrum = np.fft.rfft(rng.standard_normal(length))
    frequencies = np.maximum(np.fft.rfftfreq(length), 1.0 / length)
    noise = np.fft.irfft(spectrum / np.sqrt(frequencies), n=length)
    return noise / _rms(noise)


_BABBLE: list[np.ndarray] = []


def _babble(length: int) -> np.ndarray:
    """Six synthetic voices (training voices, other sentences) talking at once, unit RMS."""
    if not _BABBLE:
        from scantalk.synthesis.speech.engines import TRAIN_VOICES, available_voices, synthesize

        voices = available_voices(TRAIN_VOICES)
        for i, text in enumerate(BABBLE_TEXTS):
            _BABBLE.append(synthesize(text, voices[i % len(voices)]).samples.astype(np.float64))
    total = np.zeros(length)
    for i, voice in enumerate(_BABBLE):
        tiled = np.tile(voice, int(np.ceil(length / len(voice))) + 1)
        start = (i * 3301) % len(voice)
        total += tiled[start:start + length] / _rms(voice)
    return total / _rms(total)


def recorded_music(name: str, seconds: float = 8.0) -> np.ndarray | None:
    """`seconds` of the recorded track `name` (from a third of the way in), 16 kHz float32, or
    None when it cannot be had (no Debian package and no apt-get)."""
    import shutil
    import subprocess
    import tempfile

    from scantalk.audio import load_audio

    package, inside = next((package, inside) for package, inside, short in RECORDED_MUSIC if short == name)
    path = Path("/") / inside
    if not path.is_file():
        path = MUSIC_CACHE / inside
    if not path.is_file() and shutil.which("apt-get") and shutil.which("dpkg-deb"):
        print(f"fetching {package} (Debian) into {MUSIC_CACHE}", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory() as scratch:
            done = subprocess.run(["apt-get", "download", package], cwd=scratch, capture_output=True, text=True)
            debs = list(Path(scratch).glob("*.deb"))
            if done.returncode == 0 and debs:
                MUSIC_CACHE.mkdir(parents=True, exist_ok=True)
                subprocess.run(["dpkg-deb", "-x", str(debs[0]), str(MUSIC_CACHE)], check=True)
    if not path.is_file():
        return None
    audio = load_audio(path)
    start = len(audio) // 3
    return audio[start:start + int(seconds * SR)]


def _room(rng: np.random.Generator, rt60: float, drr_db: float) -> np.ndarray:
    """Direct path + exponentially decaying diffuse tail (−60 dB at rt60) at the given
    direct-to-reverberant energy ratio."""
    length = int(rt60 * SR)
    times = np.arange(length) / SR
    tail = rng.standard_normal(length) * np.exp(-6.9 * times / rt60)
    tail[: int(0.003 * SR)] = 0.0
    tail *= 10 ** (-drr_db / 20) / np.sqrt(np.sum(tail**2))
    tail[0] = 1.0
    return tail


def speech_condition(name: str, samples: np.ndarray, speech_rms: float, seed: int) -> np.ndarray:
    """`samples` (N,) through condition `name`; SNRs against the speech's level during phones."""
    rng = np.random.default_rng(seed)
    x = samples.astype(np.float64)
    if name.startswith(("noise_", "babble_")):
        snr = float(name.split("_")[1][:-2])
        noise = _pink(rng, len(x)) if name.startswith("noise") else _babble(len(x))
        x = x + noise * speech_rms / 10 ** (snr / 20)
    elif name.startswith("room_"):
        rt60 = float(name.split("_")[1][:-1])
        x = fftconvolve(x, _room(rng, rt60, 3.0 if rt60 < 0.6 else 0.0))[: len(x)]
    elif name == "telephone":
        band = sosfilt(butter(4, [300, 3400], "bandpass", fs=SR, output="sos"), x)
        x = resample_poly(resample_poly(band, 1, 2), 2, 1)[: len(x)]
    elif name == "quiet":
        x = x * 10 ** (-30 / 20)
    elif name.startswith("music_bed_"):
        snr = float(name.split("_")[2][:-2])
        bed = recorded_music("lincity", seconds=len(x) / SR + 1.0)
        if bed is None:
            raise LookupError("no recorded music for the music bed (see recorded_music)")
        bed = np.resize(bed.astype(np.float64), len(x))
        x = x + bed / _rms(bed) * speech_rms / 10 ** (snr / 20)
    peak = np.abs(x).max()
    return (x / peak * 0.9 if peak > 1.0 else x).astype(np.float32)


def nonspeech(name: str, seconds: float = 8.0, seed: int = 0) -> np.ndarray:
    """Sound without speech, (N,) float32 at 16 kHz."""
    rng = np.random.default_rng(seed)
    n = int(seconds * SR)
    t = np.arange(n) / SR
    if name.startswith("music:"):
        x = recorded_music(name.split(":", 1)[1], seconds)
        if x is None:
            raise LookupError(f"no recorded music for {name} (see recorded_music)")
    elif name == "pink_noise":
        x = 0.1 * _pink(rng, n)
    elif name == "room_tone":
        x = 0.01 * _pink(rng, n)
    elif name == "music":
        x = np.zeros(n)
        chords = ((220.0, 277.2, 329.6), (196.0, 246.9, 293.7), (174.6, 220.0, 261.6), (196.0, 246.9, 311.1))
        for bar in range(int(seconds / 2) + 1):
            chord = chords[bar % len(chords)]
            start, stop = bar * 2 * SR, min(n, (bar + 1) * 2 * SR)
            span = t[start:stop]
            for f in chord:
                for harmonic in (1, 2, 3):
                    x[start:stop] += np.sin(2 * np.pi * f * harmonic * span) / harmonic
        beat = np.zeros(n)
        for k in range(int(seconds * 2)):  # a kick drum twice a second
            start = int(k * 0.5 * SR)
            length = min(int(0.12 * SR), n - start)
            decay = np.exp(-np.arange(length) / (0.03 * SR))
            beat[start:start + length] += np.sin(2 * np.pi * 60 * np.arange(length) / SR) * decay * 4
        melody = np.sin(2 * np.pi * 440 * 2 ** (np.floor(t * 4) % 5 / 12) * t) * 0.8
        x = x + beat + melody
        x = 0.25 * x / np.abs(x).max()
    elif name == "hum":
        x = sum(np.sin(2 * np.pi * 50 * k * t) / k for k in (1, 2, 3, 5)) * 0.05
    else:
        raise ValueError(f"unknown condition {name!r}")
    return np.asarray(x, np.float32)


def _streamed(animator, head, samples: np.ndarray, lookahead: float, count: int):
    stream = animator.stream((head.verts, head.faces), lookahead=lookahead)
    frames = []
    for start in range(0, len(samples), 1600):
        frames += stream.push(samples[start:start + 1600], SR)
    frames += stream.close()
    frames = frames[:count]
    verts = np.stack([f.vertices for f in frames])
    from scantalk.articulation import ArticulationTrack

    track = ArticulationTrack(np.stack([f.articulation for f in frames]), FPS, stream.channels)
    return verts, track


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clips", type=int, default=12, help="real clips (at most 12)")
    parser.add_argument("--conditions", nargs="+", default=[*SPEECH_CONDITIONS, *NONSPEECH_CONDITIONS])
    parser.add_argument("--lookahead", type=float, default=0.1, help="seconds, for the live mode")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--merge", action="store_true",
                        help="keep the other conditions already in --out (same lookahead and clips), replacing these")
    parser.add_argument("--without-voice-activity", action="store_true",
                        help="the recogniser alone, every moment taken as speech (as before scantalk.audio.vad)")
    args = parser.parse_args(argv)
    if args.without_voice_activity:
        import math

        import scantalk.audio.vad as vad

        vad.speech_spans = lambda *_, **__: [(-math.inf, math.inf)]
        vad.VoiceActivity.spans = lambda self, since=-math.inf, margin=0.0: [(-math.inf, math.inf)]

    from scantalk import Animator
    from scantalk.atomic import atomic_write_text
    from scantalk.audio import audio_frame_count
    from scantalk.synthesis.speech.augment import _speech_rms
    from scantalk.synthesis.speech.phones import Utterance
    from common import real_clips
    from scantalk.face.samples import real_face
    from scantalk.rig.aperture import visible_aperture

    clock = time.perf_counter()
    animator = Animator.from_checkpoint(device="cpu")
    head = real_face("james")
    probe = make_probe(head.verts, head.landmarks, head.faces)
    rest_gap = visible_aperture(head.verts, head.faces, probe.mouth)[0]
    utterances = real_clips(args.clips)
    results: dict = {}
    for condition in args.conditions:
        modes: dict = {}
        if condition in NONSPEECH_CONDITIONS:
            try:
                samples = nonspeech(condition)
            except LookupError as error:
                print(f"{condition}: skipped, {error}", file=sys.stderr, flush=True)
                continue
            count = audio_frame_count(len(samples), SR, FPS)
            offline = np.asarray(animator.animate((head.verts, head.faces), samples, sample_rate=SR).frames)
            live, _ = _streamed(animator, head, samples, args.lookahead, count)
            for mode, frames in (("offline", offline), ("live", live)):
                opening = visible_aperture(frames, head.faces, probe.mouth) - rest_gap
                modes[mode] = {"opening_p95_mm": 1000 * float(np.percentile(np.abs(opening), 95)),
                               "opening_max_mm": 1000 * float(np.abs(opening).max())}
            print(f"{condition:12s} offline p95 {modes['offline']['opening_p95_mm']:.2f} mm  "
                  f"live p95 {modes['live']['opening_p95_mm']:.2f} mm", file=sys.stderr, flush=True)
            results[condition] = modes
            continue
        records = {"offline": [], "live": []}
        closures = {"offline": [], "live": []}
        try:
            speech_condition(condition, utterances[0].samples[:SR], 1.0, seed=0)
        except LookupError as error:
            print(f"{condition}: skipped, {error}", file=sys.stderr, flush=True)
            continue
        for index, utterance in enumerate(utterances):
            level = _speech_rms(utterance.samples, utterance.phones, SR)
            samples = speech_condition(condition, utterance.samples, level, seed=index)
            heard = Utterance(samples, SR, utterance.phones, utterance.text, utterance.voice, dict(utterance.meta))
            count = audio_frame_count(len(samples), SR, FPS)
            animation = animator.animate((head.verts, head.faces), samples, sample_rate=SR)
            offline = np.asarray(animation.frames)
            live, live_track = _streamed(animator, head, samples, args.lookahead, count)
            for mode, frames, track in (("offline", offline, animation.articulation), ("live", live, live_track)):
                records[mode].append(clip_record(frames, probe, heard))
                closures[mode].append(clip_figures(track, utterance.phones))
        for mode in records:
            figures = speech_figures(records[mode])
            track = summarise(closures[mode])
            modes[mode] = {key: figures[key] for key in ("vowel_opening_mm", "pause_over_vowel", "closure_ratio",
                                                         "closure_fraction", "envelope_r")}
            modes[mode].update(bilabial_recall=track["bilabial_recall"],
                               closed_frames_on_bilabial=track["closed_frames_on_bilabial"])
        print(f"{condition:12s} " + "  ".join(f"{mode}: vowel {m['vowel_opening_mm']:.1f} mm pause "
                                               f"{m['pause_over_vowel']:.2f} p/b/m {m['closure_ratio']:.2f} "
                                               f"recall {m['bilabial_recall']:.2f}" for mode, m in modes.items()),
              file=sys.stderr, flush=True)
        results[condition] = modes

    def cell(value, digits=2):
        return "–" if value is None else f"{value:.{digits}f}"

    print("\n| condition | mode | vowel opening mm (≥ 3) | pause / vowel (≤ 0.3) | p/b/m / next vowel (≤ 0.5) "
          "| p/b/m recall (≥ 0.8) | envelope r |\n|---|---|---|---|---|---|---|")
    for condition, modes in results.items():
        for mode, m in modes.items():
            if "opening_p95_mm" in m:
                continue
            print(f"| {condition} | {mode} | {cell(m['vowel_opening_mm'], 1)} | {cell(m['pause_over_vowel'])} | "
                  f"{cell(m['closure_ratio'])} | {cell(m['bilabial_recall'])} | {cell(m['envelope_r'])} |")
    print("\n| sound without speech | mode | lip opening p95 mm (≤ 0.5) | largest mm |\n|---|---|---|---|")
    for condition, modes in results.items():
        for mode, m in modes.items():
            if "opening_p95_mm" in m:
                print(f"| {condition} | {mode} | {m['opening_p95_mm']:.2f} | {m['opening_max_mm']:.2f} |")
    command = " ".join(["python", "experiments/evaluate/rooms.py", *(argv if argv is not None else sys.argv[1:])])
    payload = {"clips": len(utterances), "lookahead_s": args.lookahead, "results": results,
               "seconds": time.perf_counter() - clock, "command": command}
    if args.merge and args.out.is_file():
        earlier = json.loads(args.out.read_text())
        if earlier.get("lookahead_s") != args.lookahead or earlier.get("clips") != len(utterances):
            print(f"error: {args.out} was measured with another lookahead or clip count; not merged", file=sys.stderr)
            return 1
        payload = {**earlier, "results": {**earlier["results"], **results},
                   "seconds": earlier.get("seconds", 0.0) + payload["seconds"],
                   "command": f"{earlier['command']}; then {command}"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(payload, indent=1))
    print(f"\nwrote {args.out} ({payload['seconds']:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
