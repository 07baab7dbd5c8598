"""Match the protocol's terms in a patient's sentences, with typo tolerance.

Term syntax (documented for clinicians at the top of the protocol file):
``word word`` in order with up to two words between; ``a|b`` alternatives; ``word*`` prefix;
``part + part`` all parts in the same sentence, in any order.

This module only says where a finding is mentioned; whether a mention is current (not negated,
hypothetical, historical or elsewhere on the body) is :mod:`aftercare.triage.context`'s job.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import DamerauLevenshtein

from aftercare.triage.text import Sentence

MAX_GAP = 2
FUZZY_MIN_LENGTH = 5
#: A token this frequent in the English word list is a real word, never a typo of a term word.
KNOWN_WORD_FREQUENCY = 100

class TermSyntaxError(ValueError):
    """A term that does not follow the term syntax."""


@dataclass(frozen=True)
class Word:
    """One position of a term: alternatives, each a word or a prefix."""

    alternatives: tuple[tuple[str, bool], ...]  # (text, is_prefix)


@dataclass(frozen=True)
class Term:
    """A compiled term: parts that must all match in one sentence; each part is ordered words."""

    source: str
    parts: tuple[tuple[Word, ...], ...]


def compile_term(source: str) -> Term:
    """Compile one term of the protocol's term syntax."""
    parts: list[tuple[Word, ...]] = []
    for raw_part in source.split("+"):
        words: list[Word] = []
        for raw_word in raw_part.split():
            alternatives = []
            for alt in raw_word.split("|"):
                alt = alt.strip().lower().replace("'", "")
                is_prefix = alt.endswith("*")
                alt = alt.rstrip("*")
                if not alt or not all(ch.isalnum() for ch in alt):
                    raise TermSyntaxError(f"bad word {raw_word!r}")
                alternatives.append((alt, is_prefix))
            words.append(Word(tuple(alternatives)))
        if not words:
            raise TermSyntaxError("empty part")
        parts.append(tuple(words))
    return Term(source, tuple(parts))


@lru_cache(maxsize=1)
def _known_words() -> dict[str, int]:
    from spellchecker import SpellChecker

    return dict(SpellChecker().word_frequency.dictionary)


def is_known_word(token: str, protected: frozenset[str] = frozenset()) -> bool:
    """Whether a token is a real word (so it is not treated as a typo of another word)."""
    return token in protected or _known_words().get(token, 0) >= KNOWN_WORD_FREQUENCY


@lru_cache(maxsize=65536)
def _word_matches(token: str, alt: str, is_prefix: bool, fuzzy: bool) -> bool:
    if is_prefix:
        if token.startswith(alt):
            return True
    elif token == alt:
        return True
    if not fuzzy or len(alt) < FUZZY_MIN_LENGTH or token[:1] != alt[:1] or not token.isalpha():
        return False
    if is_prefix:
        return any(
            DamerauLevenshtein.distance(alt, token[:k]) <= 1
            for k in (len(alt) - 1, len(alt), len(alt) + 1)
            if 0 < k <= len(token)
        )
    return DamerauLevenshtein.distance(alt, token) <= 1


def _matches(token: str, word: Word, fuzzy: bool) -> bool:
    return any(_word_matches(token, alt, pre, fuzzy) for alt, pre in word.alternatives)


def _part_spans(
    part: tuple[Word, ...], tokens: tuple[str, ...], fuzzy: list[bool], max_gap: int = MAX_GAP
) -> list[tuple[int, ...]]:
    """Every occurrence of an ordered part, as the token indices of its words."""
    spans: list[tuple[int, ...]] = []

    def extend(prefix: tuple[int, ...], k: int) -> None:
        if k == len(part):
            spans.append(prefix)
            return
        start = prefix[-1] + 1
        for i in range(start, min(len(tokens), start + max_gap + 1)):
            if _matches(tokens[i], part[k], fuzzy[i]):
                extend(prefix + (i,), k + 1)

    for i, token in enumerate(tokens):
        if _matches(token, part[0], fuzzy[i]):
            extend((i,), 1)
    return spans


@dataclass(frozen=True)
class TermMatch:
    """Where a term matched: the sentence index and the token indices of the match."""

    sentence: int
    positions: tuple[int, ...]
    words: tuple[str, ...]


class TermMatcher:
    """Finds the protocol's terms in sentences; one instance per protocol."""

    def __init__(self, terms: dict[str, list[str]], exclude: dict[str, list[str]] | None = None) -> None:
        self._terms = {key: [compile_term(t) for t in values] for key, values in terms.items()}
        self._exclude = {key: [compile_term(t) for t in values] for key, values in (exclude or {}).items()}
        self._protected = frozenset(
            alt for compiled in list(self._terms.values()) + list(self._exclude.values()) for term in compiled
            for part in term.parts for word in part for alt, _ in word.alternatives
        )

    def _fuzzy_flags(self, tokens: tuple[str, ...]) -> list[bool]:
        return [not is_known_word(t, self._protected) for t in tokens]

    def find(self, key: str, sentences: list[Sentence]) -> list[TermMatch]:
        """Every sentence's first occurrence of each term under ``key`` (excluded words never count)."""
        found: list[TermMatch] = []
        for s_index, sentence in enumerate(sentences):
            fuzzy = self._fuzzy_flags(sentence.words)
            excluded = {
                i for term in self._exclude.get(key, []) for part in term.parts
                for span in _part_spans(part, sentence.words, fuzzy, max_gap=0) for i in span
            }
            for term in self._terms[key]:
                spans = self._match_term(term, sentence, fuzzy, excluded)
                found.extend(TermMatch(s_index, span, tuple(sentence.words[i] for i in span)) for span in spans[:4])
        return found

    @staticmethod
    def _match_term(term: Term, sentence: Sentence, fuzzy: list[bool], excluded: set[int]) -> list[tuple[int, ...]]:
        """Occurrences of the term (not overlapping excluded words), as token positions."""
        per_part: list[list[tuple[int, ...]]] = []
        for part in term.parts:
            live = [span for span in _part_spans(part, sentence.words, fuzzy) if not excluded & set(span)]
            if not live:
                return []
            per_part.append(live)
        if len(per_part) == 1:
            return per_part[0]
        # Several parts: one occurrence per choice of each part's spans (few in practice; capped).
        combos = itertools.islice(itertools.product(*per_part), 16)
        return [tuple(sorted(i for span in combo for i in span)) for combo in combos]
