"""Live speech → articulation rows as soon as they are final, with a lookahead the user sets.

`PhoneStream` hears phones in 16 kHz speech as it arrives: pocketsphinx's phone loop decodes
incrementally, its best hypothesis read every `HOP_S` seconds. Audio is processed in those fixed
hops whatever the chunk sizes pushed, so the same speech gives the same phones however it is cut
up. The recogniser's search restarts at pauses (and at the latest every `MAX_UTTERANCE_S`), so
its state never grows with the length of the talk.

`ArticulationStream` turns those phones into articulation rows (the coarticulation model of the offline
track, `articulation_frames`): row i, showing time i / fps, is given out once `lookahead` seconds
of audio past it have been heard. A longer lookahead lets the recogniser settle and the mouth
anticipate the next phone (more accurate); a shorter one answers sooner. With a lookahead of
`LIVE_WORDS_LOOKAHEAD_S` or more, `WordStream` also hears words as they come, and the frames
show their phones (within reach of the syllables the phone loop hears, as offline). From
`WORDS_LOOKAHEAD_S`, each phrase is also heard as words aligned into phones once its closing
pause is settled (`decode_phones(method="words")`, the offline default), and the frames not yet
given out take those phones: the longer the lookahead, the more of each phrase is shown so.
Wherever voice activity detection (`scantalk.audio.vad`) hears no one speak, the rows rest, as
offline: the phone loop alone hears long vowels in music.

```python
stream = ArticulationStream(fps=30, lookahead=0.1)
for chunk in speech_chunks:                 # 16 kHz float, any length
    first, rows = stream.push(chunk)        # (n, 5): rows first … first + n − 1, now final
first, rows = stream.close()                # the rest
```
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

from scantalk.articulation.coarticulation import ArticulationStyle, articulation_frames, coarticulation_reach
from scantalk.articulation.phones import SILENCE, VOWELS, check_fps
from scantalk.articulation.segments import SAMPLE_RATE, PhoneSegment, merge_silences, silence_vowelless_runs, to_arpabet
from scantalk.articulation.sphinx import (FRAME_S, LIVE_CEPSTRAL_MEAN, _decoder, _pcm16, _tile, decode_phones,
                                          within_spans, within_speech)
from scantalk.audio.vad import VoiceActivity
from scantalk.errors import ArticulationError

#: Seconds of audio between two reads of the recogniser's hypothesis (two of its 10 ms frames).
HOP_S = 0.02
#: The search restarts at a pause once the utterance is this long (seconds), and anywhere at
#: `MAX_UTTERANCE_S`; each restart also lets the recogniser update its cepstral mean.
MIN_UTTERANCE_S = 2.0
MAX_UTTERANCE_S = 16.0
#: A pause this long (seconds) and settled lets the search restart in its middle.
RESTART_PAUSE_S = 0.2
#: Seconds of lookahead from which the stream also hears words as they come (pocketsphinx's
#: language model, decoded incrementally beside the phone loop: its last word is formed only
#: a few tenths of a second after it was said).
LIVE_WORDS_LOOKAHEAD_S = 0.3
#: Seconds of lookahead from which phrases are also heard as words aligned into phones (the
#: offline default's decoder; a phrase is decoded, at about 0.4 s per second of it, once its
#: closing pause is heard).
WORDS_LOOKAHEAD_S = 1.0
#: Vowels are taken to last this many times as long as consonants where a word's phones are
#: spread over the frames the live word decoder gives the word.
VOWEL_WEIGHT = 2.0
#: Seconds of audio past a restart that the live word decoder hears again at once; with more,
#: it waits for a later pause (or until its search is half `MAX_UTTERANCE_S` long).
RESTART_TAIL_S = 0.6
#: Phones that ended this long ago (seconds) no longer change (measured: > 99.9 % of those
#: ending 0.3 s before the newest audio are in the final hypothesis).
SETTLED_S = 0.3


class PhoneStream:
    """Phones heard so far in speech pushed chunk by chunk (16 kHz mono float, full scale 1).

    Args:
        on_phrase: called with (start in seconds, the audio) of each search that ends: the speech
            up to a pause where the search restarts, and what is left at `close`.
        on_audio: called with each block of audio (16 kHz float) before the phone loop decodes it.

    Attributes:
        heard: seconds of audio decoded so far (a multiple of `HOP_S` until `close`).
    """

    def __init__(self, on_phrase: Callable[[float, np.ndarray], None] | None = None,
                 on_audio: Callable[[np.ndarray], None] | None = None) -> None:
        self._on_phrase = on_phrase  # told (start in seconds, audio) of each search that ends
        self._on_audio = on_audio  # given each block of audio before it is decoded
        self._hop = int(round(HOP_S * SAMPLE_RATE))
        self._decoder = _decoder("phones", cmninit=LIVE_CEPSTRAL_MEAN)
        self._decoder.start_utt()
        self._pending = np.zeros(0, np.float32)  # pushed, not yet a whole hop
        self._utterance: list[np.ndarray] = []  # audio blocks of the current search, for a restart
        self._utterance_start = 0.0  # seconds
        self._done: list[PhoneSegment] = []  # phones of searches that ended
        self._current: list[PhoneSegment] = []  # the current search's best hypothesis
        self.heard = 0.0
        self._closed = False

    def push(self, samples: np.ndarray) -> None:
        """Decode (N,) 16 kHz float samples (any N; the remainder of a hop waits for more)."""
        for _ in self.hops(samples):
            pass

    def hops(self, samples: np.ndarray) -> Iterator[float]:
        """Decode (N,) 16 kHz float samples hop by hop, yielding the seconds heard after each."""
        if self._closed:
            raise ArticulationError("this phone stream was closed; start a new one for more speech")
        self._pending = np.concatenate([self._pending, np.asarray(samples, np.float32)])
        whole = len(self._pending) // self._hop * self._hop
        pending, self._pending = self._pending, self._pending[whole:]
        for start in range(0, whole, self._hop):
            self._decode(pending[start:start + self._hop])
            yield self.heard

    def close(self) -> None:
        """Decode what is left and end the search: the phones are then final."""
        if self._closed:
            return
        if len(self._pending):
            self._decode(self._pending)
            self._pending = np.zeros(0, np.float32)
        self._decoder.end_utt()
        self._current = self._hypothesis()
        self._closed = True
        if self._on_phrase is not None and self._utterance:
            self._on_phrase(self._utterance_start, np.concatenate(self._utterance))

    def phones(self, since: float = -math.inf) -> list[PhoneSegment]:
        """The phones heard (absolute seconds; "SIL" in pauses) that end after `since`; the last
        few tenths of a second may still change as more speech arrives."""
        kept = [p for p in self._done if p.end > since] + [p for p in self._current if p.end > since]
        return merge_silences(kept)

    def forget(self, before: float) -> None:
        """Drop finished phones that end before `before` seconds (keeps memory flat)."""
        self._done = [p for p in self._done if p.end > before]

    def _decode(self, block: np.ndarray) -> None:
        if self._on_audio is not None:
            self._on_audio(block)
        self._decoder.process_raw(_pcm16(block, SAMPLE_RATE), full_utt=False)
        self._utterance.append(block)
        self.heard += len(block) / SAMPLE_RATE
        self._current = self._hypothesis()
        self._maybe_restart()

    def _hypothesis(self) -> list[PhoneSegment]:
        """The current search's best phones, in absolute seconds, tiling up to what was heard."""
        offset = self._utterance_start
        phones = []
        for segment in self._decoder.seg() or ():  # None before the first frame is decoded
            start = offset + segment.start_frame * FRAME_S
            end = min(offset + (segment.end_frame + 1) * FRAME_S, self.heard)
            if end > start:
                phones.append(PhoneSegment(to_arpabet(segment.word), start, end))
        return phones

    def _maybe_restart(self) -> None:
        """Restart the search in the middle of a settled pause once the utterance is long."""
        length = self.heard - self._utterance_start
        if length < MIN_UTTERANCE_S:
            return
        settled = [p for p in self._current if p.end <= self.heard - SETTLED_S]
        pauses = [p for p in settled if p.phone == SILENCE and p.end - p.start >= RESTART_PAUSE_S]
        if pauses:
            cut = 0.5 * (pauses[-1].start + pauses[-1].end)
        elif length >= MAX_UTTERANCE_S and settled:
            cut = settled[-1].end  # no pause in 16 s of speech: cut between two settled phones
        else:
            return
        cut = self._utterance_start + round((cut - self._utterance_start) / FRAME_S) * FRAME_S
        for phone in self._current:
            if phone.start < cut - 1e-9:
                self._done.append(PhoneSegment(phone.phone, phone.start, min(phone.end, cut)))
        self._decoder.end_utt()
        self._decoder.start_utt()
        heard = np.concatenate(self._utterance)
        split = int(round((cut - self._utterance_start) * SAMPLE_RATE))
        if self._on_phrase is not None:
            self._on_phrase(self._utterance_start, heard[:split])
        tail = heard[split:]
        self._utterance_start, self._utterance = cut, [tail]
        if len(tail):
            self._decoder.process_raw(_pcm16(tail, SAMPLE_RATE), full_utt=False)
        self._current = self._hypothesis()


class WordStream:
    """Words heard so far in speech given block by block, as phones: pocketsphinx's English
    language model decoded incrementally, each word's dictionary phones spread over the frames
    the decoder gives it (a vowel `VOWEL_WEIGHT` times as long as a consonant). Its searches
    restart where the phone loop's do (`restart`), so its state never grows either.

    Attributes:
        heard: seconds of audio decoded so far.
    """

    def __init__(self) -> None:
        # No second passes at the end of a search (they took 0.5 s at each restart, stalling frames).
        self._decoder = _decoder("words", cmninit=LIVE_CEPSTRAL_MEAN, fwdflat=False, bestpath=False)
        self._decoder.start_utt()
        self._utterance: list[np.ndarray] = []
        self._utterance_start = 0.0
        self._done: list[PhoneSegment] = []
        self.heard = 0.0

    def hear(self, block: np.ndarray) -> None:
        """Decode one block of 16 kHz float audio."""
        self._decoder.process_raw(_pcm16(block, SAMPLE_RATE), full_utt=False)
        self._utterance.append(block)
        self.heard += len(block) / SAMPLE_RATE

    def restart(self, cut: float) -> None:
        """End the search at `cut` seconds (its words up to there are final) and go on from there,
        when the audio heard past `cut` is short (it is decoded again at once: 0.26 s of compute
        for 1.9 s of it) or the search is half `MAX_UTTERANCE_S` long."""
        length = self.heard - self._utterance_start
        if self.heard - cut > RESTART_TAIL_S and length < 0.5 * MAX_UTTERANCE_S:
            return
        self._decoder.end_utt()
        self._done += [PhoneSegment(p.phone, p.start, min(p.end, cut)) for p in self._hypothesis() if p.start < cut]
        self._decoder.start_utt()
        heard = np.concatenate(self._utterance) if self._utterance else np.zeros(0, np.float32)
        tail = heard[int(round((cut - self._utterance_start) * SAMPLE_RATE)):]
        self._utterance_start, self._utterance = cut, [tail]
        if len(tail):
            self._decoder.process_raw(_pcm16(tail, SAMPLE_RATE), full_utt=False)

    def phones(self, since: float = -math.inf) -> list[PhoneSegment]:
        """The phones of the words heard that end after `since` (absolute seconds; "SIL" between
        words); the last few tenths of a second may still change."""
        current = self._hypothesis() if self._utterance else []
        return merge_silences([p for p in self._done + current if p.end > since])

    def forget(self, before: float) -> None:
        """Drop final phones that end before `before` seconds."""
        self._done = [p for p in self._done if p.end > before]

    def _hypothesis(self) -> list[PhoneSegment]:
        phones: list[PhoneSegment] = []
        for segment in self._decoder.seg() or ():
            start = self._utterance_start + segment.start_frame * FRAME_S
            end = min(self._utterance_start + (segment.end_frame + 1) * FRAME_S, self.heard)
            if end > start:
                phones += self._spread(segment.word, start, end)
        return phones

    def _spread(self, word: str, start: float, end: float) -> list[PhoneSegment]:
        """A word's dictionary phones over [start, end] (fillers and unknown words: "SIL")."""
        spelled = None if word.startswith(("<", "[")) else self._decoder.lookup_word(word)
        if not spelled:
            return [PhoneSegment(SILENCE, start, end)]
        phones = [to_arpabet(name) for name in spelled.split()]
        weights = np.array([VOWEL_WEIGHT if phone in VOWELS else 1.0 for phone in phones])
        ends = start + (end - start) * np.cumsum(weights) / weights.sum()
        starts = np.concatenate([[start], ends[:-1]])
        return [PhoneSegment(phone, float(a), float(b)) for phone, a, b in zip(phones, starts, ends)]


class ArticulationStream:
    """Articulation rows from live speech, each given out once `lookahead` seconds of audio past
    it have been heard (or at the end). Rows are settled hop by hop, so the same speech gives the
    same rows whatever the chunk sizes.

    Args:
        fps: rows per second.
        lookahead: seconds of audio heard past a row's time before it is given out (0 to 10);
            from `LIVE_WORDS_LOOKAHEAD_S` words are heard as they come, from `WORDS_LOOKAHEAD_S`
            phrases as aligned words too.
        style: how the mouth moves per phone (default neutral, as the offline front end).

    Attributes:
        phones: the `PhoneStream` hearing the speech.
        words: the `WordStream` hearing its words (None below `LIVE_WORDS_LOOKAHEAD_S`).
        voice: the `VoiceActivity` saying where someone speaks: rows elsewhere rest, whatever the
            recogniser hears in music or noise (as offline).
        next_row: the index of the next row to be given out.
    """

    def __init__(self, fps: float = 30.0, lookahead: float = 0.1, style: ArticulationStyle | None = None) -> None:
        self.fps = check_fps(fps)
        if not (isinstance(lookahead, (int, float)) and math.isfinite(lookahead) and 0.0 <= lookahead <= 10.0):
            raise ArticulationError(f"lookahead={lookahead!r} must be 0 to 10 seconds of audio heard past each frame "
                                    "before it is shown (e.g. 0.1: less waits less, more is more accurate)")
        self.lookahead = float(lookahead)
        self.style = style or ArticulationStyle()
        self._reach_after = coarticulation_reach(self.style)[1]
        self._phrases: list[tuple[float, float, list[PhoneSegment]]] = []  # (start, end, phones from words)
        self.words = WordStream() if self.lookahead >= LIVE_WORDS_LOOKAHEAD_S else None
        self.voice = VoiceActivity()
        self.phones = PhoneStream(self._phrase_ended, self._hear)
        self.next_row = 0

    def push(self, samples: np.ndarray) -> tuple[int, np.ndarray]:
        """Hear (N,) 16 kHz float samples → (index of the first row, the rows (n, 5) now final)."""
        first = self.next_row
        rows = [self._rows(self._settled(heard)) for heard in self.phones.hops(samples)]
        return first, _stacked(rows)

    def close(self) -> tuple[int, np.ndarray]:
        """The end of the speech → (first, the remaining rows (n, 5) the audio covers)."""
        first = self.next_row
        self.phones.close()
        self.voice.close()
        return first, self._rows(int(math.floor(self.phones.heard * self.fps + 1e-6)))

    def _settled(self, heard: float) -> int:
        """Rows before this index have `lookahead` seconds heard past them."""
        stop = int(math.floor((heard - self.lookahead) * self.fps + 1e-6)) + 1
        return min(stop, int(math.floor(heard * self.fps + 1e-6)))

    def _rows(self, stop: int) -> np.ndarray:
        first = self.next_row
        if stop <= first:
            return np.zeros((0, 5), np.float32)
        since = first / self.fps - self._reach_after
        heard = silence_vowelless_runs(self.phones.phones(since), open_end=self.phones.heard)
        if self.words is not None:  # words, where the phone loop hears syllables
            heard = within_speech(_tile(self.words.phones(since), self.phones.heard), heard)
            self.words.forget(since - 1.0)
        for start, end, words in self._phrases:
            heard = overlay(heard, start, end, words)
        # Where no one speaks (as far as has been heard), the mouth rests.
        heard = within_spans(heard, self.voice.spans(since))
        rows = articulation_frames(heard, self.fps, first, stop - first, self.style)
        self.next_row = stop
        self.phones.forget(since - 1.0)
        self.voice.forget(since - 1.0)
        self._phrases = [phrase for phrase in self._phrases if phrase[1] > since - 1.0]
        return rows

    def _phrase_ended(self, start: float, audio: np.ndarray) -> None:
        """The phone loop finished a phrase: the live words restart there too, and from
        `WORDS_LOOKAHEAD_S` the phrase is heard as aligned words for the rows not yet given out."""
        end = start + len(audio) / SAMPLE_RATE
        if self.words is not None:
            self.words.restart(end)
        if self.lookahead < WORDS_LOOKAHEAD_S:
            return
        if end <= self.next_row / self.fps - self._reach_after or end - start < HOP_S:
            return  # every row it could change is out, or there is nothing to hear
        # Voice activity is applied to all rows at once (`_rows`), from the audio heard from the start.
        words = [PhoneSegment(p.phone, p.start + start, p.end + start)
                 for p in decode_phones(audio, SAMPLE_RATE, voice=[(-math.inf, math.inf)])]
        self._phrases.append((start, end, words))

    def _hear(self, block: np.ndarray) -> None:
        """Each block of audio, before the phone loop decodes it."""
        self.voice.push(block)
        if self.words is not None:
            self.words.hear(block)


def _stacked(rows: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(rows) if rows else np.zeros((0, 5), np.float32)


def overlay(phones: list[PhoneSegment], start: float, end: float, replacement: list[PhoneSegment]) -> list[PhoneSegment]:
    """`phones` with [start, end] seconds taken from `replacement` (phones tiling that span)."""
    before = [PhoneSegment(p.phone, p.start, min(p.end, start)) for p in phones if p.start < start]
    after = [PhoneSegment(p.phone, max(p.start, end), p.end) for p in phones if p.end > end]
    inside = [PhoneSegment(p.phone, max(p.start, start), min(p.end, end)) for p in replacement
              if min(p.end, end) > max(p.start, start)]
    return merge_silences([p for p in before + inside + after if p.end > p.start])
