"""Phone timing of real speech with pocketsphinx (offline, BSD): forced alignment and decoding.

`align_phones` places a known transcript's phones in the audio (the reference for real
recordings); `decode_phones` finds phones without a transcript (words heard with pocketsphinx's
English language model, then aligned; or its phone loop): a phonetic front end for any English
speech. Both use the US English acoustic
model and CMU dictionary bundled with the pocketsphinx 5.1.1 wheel; pocketsphinx reports time in
10 ms frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from scantalk.articulation.segments import SAMPLE_RATE, SILENCE, PhoneSegment, merge_silences, silence_vowelless_runs, to_arpabet
from scantalk.audio.noise import NOISY_DB, spectral_subtraction, speech_to_noise_db
from scantalk.errors import AudioError, SpeechToolError

#: Seconds per pocketsphinx frame (its default frame rate is 100 Hz).
FRAME_S = 0.01


def _pocketsphinx():
    try:
        import pocketsphinx
    except ImportError as error:
        raise SpeechToolError(
            "pocketsphinx is not installed; install it with `pip install pocketsphinx==5.1.1` "
            "(it bundles the English model and dictionary)."
        ) from error
    return pocketsphinx


def _model_dir() -> Path:
    return Path(_pocketsphinx().get_model_path()) / "en-us"


#: A prior cepstral mean for speech heard live (pocketsphinx's own, 40,3,-1,0…, is far from real
#: speech, so a stream decoded with it hears a third fewer p/b/m): the mean of the batch means of
#: the training voices and the demo recording (never the evaluation recordings).
LIVE_CEPSTRAL_MEAN = "50.76,7.04,4.02,17.71,-3.95,0.07,2.62,-5.43,-2.00,-4.85,4.89,0.12,1.84"


def _decoder(kind: str, **options):
    """A fresh decoder of `kind` ("align", "phones" or "words") for one utterance.

    Not reused: a decoder carries state from one utterance to the next (its cepstral mean and
    more; resetting the mean alone is not enough), so reusing one made the same audio decode
    differently depending on what came before. Building one takes ~0.1 s.
    """
    pocketsphinx = _pocketsphinx()
    model = _model_dir()
    if kind == "phones":
        settings = dict(hmm=str(model / "en-us"), allphone=str(model / "en-us-phone.lm.bin"), lm=None,
                        samprate=SAMPLE_RATE, loglevel="FATAL", beam=1e-20, pbeam=1e-20, lw=2.0)
        return pocketsphinx.Decoder(**{**settings, **options})
    if kind == "words":
        return pocketsphinx.Decoder(hmm=str(model / "en-us"), lm=str(model / "en-us.lm.bin"),
                                    dict=str(model / "cmudict-en-us.dict"), samprate=SAMPLE_RATE, loglevel="FATAL",
                                    **options)
    return pocketsphinx.Decoder(hmm=str(model / "en-us"), dict=str(model / "cmudict-en-us.dict"), samprate=SAMPLE_RATE, loglevel="FATAL")


def _pcm16(samples: np.ndarray, sample_rate: int) -> bytes:
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 1 or len(samples) == 0:
        raise AudioError(f"speech for pocketsphinx must be a non-empty (N,) array, got shape {samples.shape}.")
    if sample_rate != SAMPLE_RATE:
        raise AudioError(f"pocketsphinx's model is for 16 kHz audio, got {sample_rate} Hz; resample first (scantalk.audio.prepare_audio).")
    return (np.clip(samples, -1.0, 1.0) * 32767.0).astype("<i2").tobytes()


def _tile(segments: list[PhoneSegment], duration: float) -> list[PhoneSegment]:
    """Make segments cover [0, duration] without gaps: gaps and the tail become "SIL"."""
    tiled: list[PhoneSegment] = []
    cursor = 0.0
    for segment in segments:
        start, end = max(segment.start, cursor), min(segment.end, duration)
        if end <= start + 1e-9:
            continue
        if start > cursor + 1e-9:
            tiled.append(PhoneSegment("SIL", cursor, start))
        tiled.append(PhoneSegment(segment.phone, start, end))
        cursor = end
    if duration > cursor + 1e-9:
        tiled.append(PhoneSegment("SIL", cursor, duration))
    return merge_silences(tiled)


def align_phones(samples: np.ndarray, transcript: str, sample_rate: int = SAMPLE_RATE) -> list[PhoneSegment]:
    """Force-align `transcript` to the audio at the phone level.

    Args:
        samples: (N,) float mono speech at 16 kHz.
        transcript: the words said, lowercase English; words missing from the CMU dictionary fail.
        sample_rate: Hz (16000).

    Returns:
        Phones tiling [0, N / 16000] s (pauses and optional silences as "SIL").

    Raises:
        SpeechToolError: pocketsphinx is not installed, or no alignment was found.
    """
    decoder = _decoder("align")
    data = _pcm16(samples, sample_rate)
    words = " ".join(transcript.lower().replace("<s>", " ").replace("</s>", " ").split())
    try:
        decoder.set_align_text(words)
    except RuntimeError as error:
        raise SpeechToolError(f"pocketsphinx cannot align {words!r}: a word is missing from its dictionary.") from error
    # First pass finds the word sequence with optional silences; the second aligns its phones.
    try:
        decoder.start_utt()
        decoder.process_raw(data, full_utt=True)
        decoder.end_utt()
        decoder.set_alignment()
        decoder.start_utt()
        decoder.process_raw(data, full_utt=True)
        decoder.end_utt()
        alignment = decoder.get_alignment()
    except RuntimeError:
        alignment = None
    if alignment is None:
        raise SpeechToolError(f"pocketsphinx found no alignment of {words!r} in this audio (does the transcript match it?).")
    segments = []
    for word in alignment:
        for phone in word:
            start = phone.start * FRAME_S
            segments.append(PhoneSegment(to_arpabet(phone.name), start, start + phone.duration * FRAME_S))
    return _tile(segments, len(samples) / sample_rate)


#: How `decode_phones` hears phones: "words" recognises words with pocketsphinx's English language
#: model and force-aligns them (phones from real words: p/b/m found on 91 % of the real test
#: recordings' bilabials, 93 % of the closures it makes on one, at about 0.4 s of compute per
#: second of audio); "phones" decodes a phone loop (74 % and 70 %, 0.05 s per second).
DECODE_METHODS: tuple[str, ...] = ("words", "phones")


def decode_phones(samples: np.ndarray, sample_rate: int = SAMPLE_RATE, method: str = "words",
                  voice: list[tuple[float, float]] | None = None) -> list[PhoneSegment]:
    """Phones heard in any English speech, without a transcript.

    Args:
        samples: (N,) float mono speech at 16 kHz.
        sample_rate: Hz (16000).
        method: one of `DECODE_METHODS`; "words" falls back to "phones" when it hears no word or
            cannot align what it heard. Very noisy speech (`scantalk.audio.noise.NOISY_DB`) is
            heard through `spectral_subtraction`.
        voice: the stretches (seconds) where someone speaks; phones outside them are "SIL".
            Default: found by voice activity detection (`scantalk.audio.vad.speech_spans`), so
            music and noise leave the mouth at rest.

    Returns:
        Phones tiling [0, N / 16000] s; fillers and noise as "SIL".

    Raises:
        SpeechToolError: pocketsphinx or silero-vad is not installed, or `method` is unknown.
    """
    if method not in DECODE_METHODS:
        raise SpeechToolError(f"unknown phone decoding method {method!r}; use one of {', '.join(DECODE_METHODS)}")
    if voice is None:
        from scantalk.audio.vad import speech_spans

        voice = speech_spans(samples, sample_rate)
    return within_spans(_decoded(samples, sample_rate, method), voice)


def _decoded(samples: np.ndarray, sample_rate: int, method: str) -> list[PhoneSegment]:
    """`decode_phones` before voice activity: long audio in pieces, each decoded alone."""
    pieces = speech_pieces(samples, sample_rate)
    if len(pieces) > 1:
        phones: list[PhoneSegment] = []
        for start, stop in pieces:
            offset = start / sample_rate
            phones += [PhoneSegment(p.phone, p.start + offset, p.end + offset)
                       for p in _decoded(samples[start:stop], sample_rate, method)]
        return merge_silences(phones)
    if speech_to_noise_db(samples, sample_rate) < NOISY_DB:
        samples = spectral_subtraction(samples, sample_rate)  # the recogniser loses most words in such noise
    data = _pcm16(samples, sample_rate)
    duration = len(samples) / sample_rate
    decoder = _decoder("phones")
    decoder.start_utt()
    decoder.process_raw(data, full_utt=True)
    decoder.end_utt()
    segments = []
    for segment in decoder.seg():
        segments.append(PhoneSegment(to_arpabet(segment.word), segment.start_frame * FRAME_S, (segment.end_frame + 1) * FRAME_S))
    # Noise and music make the phone loop hear consonants only: where it hears no syllable, no one speaks.
    heard = silence_vowelless_runs(_tile(segments, duration))
    if method == "words":
        words = _decode_words(data)
        if words:
            try:
                return within_speech(align_phones(samples, words, sample_rate), heard)
            except SpeechToolError:
                pass  # what it heard does not align: the phone loop still hears something
    return heard


#: Longest stretch of audio decoded as one utterance, in seconds. Pocketsphinx's forced alignment
#: needs memory that grows faster than the audio (0.8 GB for 120 s, 7.6 GB for 600 s), so longer
#: speech is decoded in pieces cut at its quietest moments.
PIECE_S = 30.0


def speech_pieces(samples: np.ndarray, sample_rate: int = SAMPLE_RATE, longest: float | None = None) -> list[tuple[int, int]]:
    """(start, stop) sample ranges tiling `samples`, none longer than `longest` seconds (default
    `PIECE_S`), each cut at the quietest 0.2 s past its first quarter (a pause, in speech)."""
    limit = int((PIECE_S if longest is None else longest) * sample_rate)
    count = len(samples)
    if count <= limit:
        return [(0, count)]
    hop = max(1, sample_rate // 100)
    power = np.square(np.asarray(samples, np.float64)[: count // hop * hop]).reshape(-1, hop).mean(axis=1)
    width = 20  # hops: 0.2 s
    smoothed = np.convolve(power, np.ones(width) / width, mode="same")
    pieces, start = [], 0
    while count - start > limit:
        low, high = (start + limit // 4) // hop, min(len(smoothed), (start + limit) // hop)
        cut = (low + int(np.argmin(smoothed[low:high]))) * hop
        pieces.append((start, cut))
        start = cut
    return pieces + [(start, count)]


#: Seconds around what the phone loop hears as syllables where recognised words may still be
#: speech (its boundaries are less sure than the aligner's).
SPEECH_MARGIN_S = 0.3


def within_speech(phones: list[PhoneSegment], heard: list[PhoneSegment], margin: float = SPEECH_MARGIN_S) -> list[PhoneSegment]:
    """`phones` with everything farther than `margin` seconds from a phone of `heard` made "SIL"
    (recognised words over music or noise, where the phone loop hears no syllable)."""
    spans: list[tuple[float, float]] = []
    for p in heard:
        if p.phone == SILENCE:
            continue
        if spans and p.start - margin <= spans[-1][1]:
            spans[-1] = (spans[-1][0], p.end + margin)
        else:
            spans.append((p.start - margin, p.end + margin))
    return within_spans(phones, spans)


def within_spans(phones: list[PhoneSegment], spans: list[tuple[float, float]]) -> list[PhoneSegment]:
    """`phones` with everything outside the sorted, disjoint `spans` (seconds) made "SIL"."""
    kept: list[PhoneSegment] = []
    for phone in phones:
        if phone.phone == SILENCE:
            kept.append(phone)
            continue
        cursor = phone.start
        for start, end in spans:
            start, end = max(start, phone.start), min(end, phone.end)
            if end <= start:
                continue
            if start > cursor:
                kept.append(PhoneSegment(SILENCE, cursor, start))
            kept.append(PhoneSegment(phone.phone, start, end))
            cursor = end
        if phone.end > cursor:
            kept.append(PhoneSegment(SILENCE, cursor, phone.end))
    return merge_silences(kept)


def _decode_words(data: bytes) -> str:
    """The words pocketsphinx's English language model hears in 16-bit 16 kHz audio ("" for none),
    fillers dropped and alternative pronunciations ("word(2)") named by their word."""
    decoder = _decoder("words")
    decoder.start_utt()
    decoder.process_raw(data, full_utt=True)
    decoder.end_utt()
    hypothesis = decoder.hyp()
    if hypothesis is None:
        return ""
    words = [word.split("(")[0] for word in hypothesis.hypstr.split()]
    return " ".join(word for word in words if word and not word.startswith(("<", "[")))
