"""Varied, phonetically rich English sentences for the synthetic voices to speak.

Three kinds are mixed: grammatical sentences built from small hand-written word classes (real
word sequences, with commas, questions and exclamations where people pause and change pitch),
the same frames carrying rare dictionary words, and short lists of dictionary words drawn so that
rare phones (ZH, OY, UH, TH, ...) are heard often. The dictionary is the CMU pronouncing
dictionary bundled with the pocketsphinx wheel; without it the hand-written words serve alone.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

_DETERMINERS = ("the", "a", "this", "that", "every", "some", "my", "your", "her", "his", "our", "their", "one")
_ADJECTIVES = (
    "quiet", "bright", "heavy", "young", "old", "cheap", "smooth", "rough", "yellow", "purple", "thin", "thick",
    "huge", "tiny", "lazy", "busy", "warm", "cool", "fresh", "usual", "strange", "loyal", "joyful", "foolish",
    "good", "wooden", "golden", "valuable", "visual", "shy", "brave", "careful", "noisy", "pleasant", "awful",
)  # fmt: skip
_NOUNS = (
    "boy", "girl", "teacher", "doctor", "farmer", "pilot", "judge", "child", "woman", "man", "neighbour", "cook",
    "dog", "horse", "mouse", "goose", "ship", "truck", "bridge", "garage", "treasure", "voyage", "boat", "shoe",
    "book", "letter", "window", "mountain", "river", "village", "kitchen", "engine", "measure", "vision", "choice",
    "voice", "thought", "path", "cloth", "fog", "bottle", "button", "pudding", "cushion", "hook", "wolf", "zoo",
)  # fmt: skip
_VERBS = (
    "found", "carried", "pushed", "pulled", "watched", "fixed", "painted", "bought", "sold", "borrowed", "chose",
    "threw", "caught", "moved", "joined", "enjoyed", "avoided", "measured", "washed", "visited", "followed",
    "touched", "shook", "took", "cooked", "judged", "thanked", "wanted", "lifted", "dragged", "hugged", "saw",
)  # fmt: skip
_INTRANSITIVE = ("smiled", "laughed", "waited", "slept", "arrived", "shouted", "paused", "vanished", "agreed", "stayed")
_ADVERBS = ("slowly", "quickly", "again", "always", "never", "gently", "truly", "early", "yesterday", "today", "later")
_PREPOSITIONS = ("near", "behind", "under", "over", "beside", "through", "across", "toward", "without", "with", "into")
_PLACES = ("the garden", "the station", "the old bridge", "the beach", "the hospital", "the museum", "the shop", "town")
_OPENERS = ("well", "so", "oh", "yes", "no", "now", "look", "honestly", "of course", "by the way", "in fact")
_QUESTIONS = ("why did", "where did", "when did", "how did", "did", "could", "would", "should")
_SUBJECTS = ("I", "you", "we", "they", "she", "he", "nobody", "everyone")
_CONJUNCTIONS = ("and", "but", "because", "although", "while", "so", "until", "before", "after")

# Dictionary words worth drawing: plain lowercase words a text-to-speech lexicon knows, short
# enough to be real words rather than compounds or names run together.
_MIN_LETTERS, _MAX_LETTERS = 3, 10


@functools.lru_cache(maxsize=1)
def _dictionary() -> tuple[tuple[str, ...], np.ndarray]:
    """(words, weights) from the CMU dictionary, weights favouring words with rare phones."""
    try:
        import pocketsphinx

        path = Path(pocketsphinx.get_model_path()) / "en-us" / "cmudict-en-us.dict"
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except (ImportError, OSError):
        return (), np.zeros(0)
    words, prons = [], []
    for line in lines:
        fields = line.split()
        if len(fields) < 2 or "(" in fields[0]:
            continue
        word = fields[0]
        if word.isalpha() and word.islower() and word.isascii() and _MIN_LETTERS <= len(word) <= _MAX_LETTERS:
            words.append(word)
            prons.append(fields[1:])
    counts: dict[str, int] = {}
    for pron in prons:
        for phone in pron:
            counts[phone] = counts.get(phone, 0) + 1
    total = sum(counts.values())
    # Mean rarity of a word's phones: a word full of ZH/OY/UH is drawn far more often than one of T/N/AH.
    weights = np.array([np.mean([np.sqrt(total / counts[p]) for p in pron]) for pron in prons])
    return tuple(words), weights / weights.sum()


def _pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    return options[int(rng.integers(len(options)))]


def _dictionary_words(rng: np.random.Generator, count: int) -> list[str]:
    words, weights = _dictionary()
    if not words:
        return [_pick(rng, _NOUNS) for _ in range(count)]
    return [words[i] for i in rng.choice(len(words), size=count, p=weights)]


def _noun_phrase(rng: np.random.Generator, rare: bool) -> str:
    noun = _dictionary_words(rng, 1)[0] if rare else _pick(rng, _NOUNS)
    parts = [_pick(rng, _DETERMINERS)]
    if rng.random() < 0.5:
        parts.append(_pick(rng, _ADJECTIVES))
    parts.append(noun)
    return " ".join(parts)


def _clause(rng: np.random.Generator, rare: bool) -> str:
    subject = _noun_phrase(rng, rare) if rng.random() < 0.6 else _pick(rng, _SUBJECTS)
    if rng.random() < 0.3:
        words = [subject, _pick(rng, _INTRANSITIVE)]
    else:
        words = [subject, _pick(rng, _VERBS), _noun_phrase(rng, rare)]
    if rng.random() < 0.4:
        words.append(f"{_pick(rng, _PREPOSITIONS)} {_pick(rng, _PLACES)}")
    if rng.random() < 0.3:
        words.append(_pick(rng, _ADVERBS))
    return " ".join(words)


def _sentence(rng: np.random.Generator) -> str:
    kind = rng.random()
    if kind < 0.15:  # a short word list: rare phones, list intonation
        words = _dictionary_words(rng, int(rng.integers(2, 6)))
        text = ", ".join(words) if rng.random() < 0.5 else " ".join(words)
        return text[0].upper() + text[1:] + "."
    if kind < 0.27:  # a question
        text = f"{_pick(rng, _QUESTIONS)} {_pick(rng, _SUBJECTS)} {_pick(rng, ('see', 'take', 'find', 'move', 'choose'))} {_noun_phrase(rng, rng.random() < 0.3)}"
        return text[0].upper() + text[1:] + "?"
    rare = rng.random() < 0.35
    clauses = [_clause(rng, rare)]
    for _ in range(int(rng.choice([0, 0, 1, 1, 2, 3]))):  # long sentences pause at commas
        clauses.append(f"{_pick(rng, _CONJUNCTIONS)} {_clause(rng, rare)}")
    text = ", ".join(clauses)
    if rng.random() < 0.2:
        text = f"{_pick(rng, _OPENERS)}, {text}"
    text = text[0].upper() + text[1:]
    return text + ("!" if rng.random() < 0.1 else ".")


def sentences(n: int, seed: int = 0) -> list[str]:
    """`n` English sentences, from two words to about thirty, the same for the same seed.

    Args:
        n: how many.
        seed: random seed.

    Returns:
        Sentences with punctuation (commas, full stops, question and exclamation marks).
    """
    rng = np.random.default_rng(seed)
    return [_sentence(rng) for _ in range(int(n))]
