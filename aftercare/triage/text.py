"""Turn a patient's message into sentences of lower-case word tokens.

Accents, case and apostrophes are folded ("Can't" -> "cant"), common SMS shorthand is expanded,
and decimal numbers stay whole ("101.2", "101,2"). Commas are kept as markers because they bound
the scope of a negation.
"""
from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

# SMS shorthand and contractions written without apostrophes. Language, not clinic settings.
SHORTHAND: dict[str, str] = {
    "u": "you",
    "ur": "your",
    "im": "i am",
    "ive": "i have",
    "cnt": "cant",
    "cudnt": "couldnt",
    "dnt": "dont",
    "dont": "dont",
    "doesnt": "doesnt",
    "wont": "wont",
    "isnt": "isnt",
    "rn": "right now",
    "pls": "please",
    "plz": "please",
    "thx": "thanks",
    "w": "with",
    "w/": "with",
    "b4": "before",
    "2day": "today",
    "2nite": "tonight",
    "tmrw": "tomorrow",
    "ystrdy": "yesterday",
    "yday": "yesterday",
    "brth": "breath",
    "temp": "temp",
    "hrs": "hours",
    "hr": "hour",
    "wk": "week",
    "wks": "weeks",
    "abt": "about",
    "bc": "because",
    "cuz": "because",
    "coz": "because",
    "alot": "a lot",
}

_APOSTROPHES = "'\u2018\u2019\u02bc`\u00b4"
# A full stop ends a sentence unless it sits between two digits ("101.2").
_SENTENCE_END = re.compile(r"\.(?!\d)|(?<!\d)\.|[!?;\n\r]+")
_TOKEN = re.compile(r"\d+(?:[.,]\d+)?|[a-z]+|°|,")


@dataclass(frozen=True)
class Sentence:
    """A sentence's word tokens; ``commas`` holds the indices of words that follow a comma."""

    words: tuple[str, ...]
    commas: frozenset[int]


def fold(text: str) -> str:
    """Lower-case, NFKC-normalise, strip accents and apostrophes."""
    if text.isascii():
        # ASCII is its own NFKC and NFKD form and has no combining marks (the common case: a message
        # the normaliser already turned into ASCII).
        return text.lower().replace("'", "").replace("`", "")
    text = text.replace("º", "°").replace("˚", "°")  # before NFKC, which turns "º" into "o"
    text = unicodedata.normalize("NFKC", text)
    text = unicodedata.normalize("NFKD", text)
    marks = {ord(ch): None for ch in set(text) if unicodedata.combining(ch)}
    if marks:
        text = text.translate(marks)
    text = text.lower()
    for ch in _APOSTROPHES:
        text = text.replace(ch, "")
    return text


#: Tokens that are expanded (or a comma): a chunk without any of them is its own list of words.
_EXPANDED = frozenset(SHORTHAND) | {","}


def sentences(text: str) -> list[Sentence]:
    """Split a message into sentences of folded, shorthand-expanded word tokens."""
    result: list[Sentence] = []
    read: dict[str, list[Sentence]] = {}  # a chunk that comes back is tokenised once
    for chunk in _SENTENCE_END.split(fold(text)):
        pieces = read.get(chunk)
        if pieces is None:
            pieces = read[chunk] = _chunk_sentences(chunk)
        result.extend(pieces)
    return result


def _chunk_sentences(chunk: str) -> list[Sentence]:
    tokens = _TOKEN.findall(chunk)
    if _EXPANDED.isdisjoint(tokens):
        return _pieces(tokens, set())
    words: list[str] = []
    commas: set[int] = set()
    for token in tokens:
        if token == ",":
            commas.add(len(words))
            continue
        expansion = SHORTHAND.get(token)
        words.extend(expansion.split() if expansion else [token])
    return _pieces(words, commas)


#: A run-on "sentence" longer than this is read in overlapping pieces, so the work per piece (term
#: combinations, clinical context) is bounded and a whole message costs time linear in its length.
MAX_SENTENCE_WORDS = 48
PIECE_OVERLAP = 8


def _pieces(words: list[str], commas: set[int]) -> list[Sentence]:
    if not words:
        return []
    if len(words) <= MAX_SENTENCE_WORDS:
        return [Sentence(tuple(words), frozenset(commas))]
    pieces: list[Sentence] = []
    step = MAX_SENTENCE_WORDS - PIECE_OVERLAP
    ordered = sorted(commas)  # each piece takes its own commas (not a pass over all of them per piece)
    for start in range(0, len(words) - PIECE_OVERLAP, step):
        end = min(start + MAX_SENTENCE_WORDS, len(words))
        inside = ordered[bisect_right(ordered, start):bisect_left(ordered, end)]
        pieces.append(Sentence(tuple(words[start:end]), frozenset(c - start for c in inside)))
    return pieces


def has_letters(text: str) -> bool:
    """Whether the text holds any letter or digit (emoji-only and punctuation-only do not)."""
    return any(ch.isalnum() for ch in text)
