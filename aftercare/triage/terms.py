"""Match the protocol's terms in a patient's sentences, with typo tolerance.

Term syntax (documented for clinicians at the top of the protocol file):
``word word`` in order with up to two words between; ``a|b`` alternatives; ``word*`` prefix;
``part + part`` all parts in the same sentence, in any order.

This module only says where a finding is mentioned; whether a mention is current (not negated,
hypothetical, historical or elsewhere on the body) is :mod:`aftercare.triage.context`'s job.
"""
from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
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
    alternative_set: frozenset[tuple[str, bool]] = field(default=frozenset(), compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "alternative_set", frozenset(self.alternatives))


@dataclass(frozen=True)
class Term:
    """A compiled term: parts that must all match in one sentence; each part is ordered words."""

    source: str
    parts: tuple[tuple[Word, ...], ...]
    # The alternatives of each of its words, in one tuple (computed once, for _could_match).
    word_sets: tuple[frozenset[tuple[str, bool]], ...] = field(default=(), compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "word_sets", tuple(word.alternative_set for part in self.parts for word in part))


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


Alternatives = frozenset[tuple[str, bool]]


def _part_spans(part: tuple[Word, ...], alts: Sequence[Alternatives], max_gap: int = MAX_GAP) -> list[tuple[int, ...]]:
    """Every occurrence of an ordered part, as the token indices of its words.

    ``alts[i]`` holds the term alternatives that token ``i`` matches (computed once per token).
    """
    spans: list[tuple[int, ...]] = []
    wanted = [word.alternative_set for word in part]
    first = wanted[0]
    for i, token_alts in enumerate(alts):
        if token_alts and not first.isdisjoint(token_alts):
            _extend((i,), 1, wanted, alts, max_gap, spans)
    return spans


def _extend(
    prefix: tuple[int, ...], k: int, wanted: list[Alternatives], alts: Sequence[Alternatives], max_gap: int,
    spans: list[tuple[int, ...]],
) -> None:
    """Add to ``spans`` every way of matching ``wanted[k:]`` after ``prefix`` (each word within
    ``max_gap`` words of the one before). A function of its own, not a closure: a closure that calls
    itself is a reference cycle, garbage that only the cyclic collector frees."""
    if k == len(wanted):
        spans.append(prefix)
        return
    start = prefix[-1] + 1
    for i in range(start, min(len(alts), start + max_gap + 1)):
        if not wanted[k].isdisjoint(alts[i]):
            _extend(prefix + (i,), k + 1, wanted, alts, max_gap, spans)


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
        every = {
            a for compiled in list(self._terms.values()) + list(self._exclude.values()) for term in compiled
            for part in term.parts for word in part for a in word.alternatives
        }
        self._exact = {alt for alt, prefix in every if not prefix}
        self._prefixes = {alt for alt, prefix in every if prefix}
        self._fuzzy_candidates: dict[str, list[tuple[str, bool]]] = {}
        for alt, prefix in every:
            if len(alt) >= FUZZY_MIN_LENGTH:
                self._fuzzy_candidates.setdefault(alt[0], []).append((alt, prefix))
        self._token_alternatives = lru_cache(maxsize=65536)(self._alternatives_of)
        # Which terms (key, index among the key's terms) could match at all when an alternative is
        # present (their first words).
        self._terms_by_first: dict[tuple[str, bool], list[tuple[str, int]]] = {}
        for key, compiled in self._terms.items():
            for index, term in enumerate(compiled):
                for alt in term.parts[0][0].alternative_set:
                    self._terms_by_first.setdefault(alt, []).append((key, index))

    def _alternatives_of(self, token: str) -> Alternatives:
        """The term alternatives a token matches: exactly, as a prefix, or (a token that is not a real
        word, such as "breathng") with one typo."""
        found = {(token, False)} if token in self._exact else set()
        found |= {(token[:k], True) for k in range(1, len(token) + 1) if token[:k] in self._prefixes}
        if token.isalpha() and not is_known_word(token, self._protected):
            found |= {
                (alt, prefix) for alt, prefix in self._fuzzy_candidates.get(token[:1], ())
                if _word_matches(token, alt, prefix, True)
            }
        return frozenset(found)

    def find(self, key: str, sentences: list[Sentence]) -> list[TermMatch]:
        """Every sentence's first occurrences of each term under ``key`` (excluded words never count)."""
        return self.find_all(sentences, keys=(key,))[key]

    def find_all(self, sentences: list[Sentence], keys: tuple[str, ...] | None = None) -> dict[str, list[TermMatch]]:
        """The occurrences of every key's terms. Each token is compared with the terms once, and a term
        is tried only where every one of its words occurs in the sentence: the cost grows with the
        length of the message, not with the number of terms times its length. Where a match is depends
        only on which term words each token matches: sentences that match alike (a message that
        repeats itself; "at 2:10 temp 101.2", "at 3:40 temp 100.9") are searched once."""
        keys = tuple(self._terms) if keys is None else keys
        found: dict[str, list[TermMatch]] = {key: [] for key in keys}
        searched: dict[tuple[str, ...], list[tuple[str, tuple[int, ...]]]] = {}
        by_alternatives: dict[tuple[Alternatives, ...], list[tuple[str, tuple[int, ...]]]] = {}
        for s_index, sentence in enumerate(sentences):
            words = sentence.words
            spans = searched.get(words)
            if spans is None:
                alts = tuple(map(self._token_alternatives, words))
                spans = by_alternatives.get(alts)
                if spans is None:
                    spans = by_alternatives[alts] = self._spans(alts, keys)
                searched[words] = spans
            for key, span in spans:
                found[key].append(TermMatch(s_index, span, tuple(words[i] for i in span)))
        return found

    def _spans(self, alts: tuple[Alternatives, ...], keys: tuple[str, ...]) -> list[tuple[str, tuple[int, ...]]]:
        """The occurrences in one sentence, given the term alternatives each of its tokens matches, as
        (key, token positions), by key then term."""
        present = frozenset().union(*alts) if alts else frozenset()
        if not present:
            return []
        candidates: dict[str, set[int]] = {}
        for alt in present:
            for key, index in self._terms_by_first.get(alt, ()):
                candidates.setdefault(key, set()).add(index)
        result: list[tuple[str, tuple[int, ...]]] = []
        for key in keys:
            indices = candidates.get(key)
            if not indices:
                continue
            compiled = self._terms[key]
            terms = [compiled[i] for i in sorted(indices) if _could_match(compiled[i], present)]
            if not terms:
                continue
            excluded = {
                i for term in self._exclude.get(key, []) if _could_match(term, present) for part in term.parts
                for span in _part_spans(part, alts, max_gap=0) for i in span
            }
            for term in terms:
                result.extend((key, span) for span in self._match_term(term, alts, excluded)[:4])
        return result

    @staticmethod
    def _match_term(term: Term, alts: Sequence[Alternatives], excluded: set[int]) -> list[tuple[int, ...]]:
        """Occurrences of the term (not overlapping excluded words), as token positions."""
        per_part: list[list[tuple[int, ...]]] = []
        for part in term.parts:
            live = [span for span in _part_spans(part, alts) if not excluded & set(span)]
            if not live:
                return []
            per_part.append(live)
        if len(per_part) == 1:
            return per_part[0]
        # Several parts: one occurrence per choice of each part's spans (few in practice; capped).
        combos = itertools.islice(itertools.product(*per_part), 16)
        return [tuple(sorted(i for span in combo for i in span)) for combo in combos]


def _could_match(term: Term, present: Alternatives) -> bool:
    """Whether every word of the term has an alternative somewhere in the sentence."""
    return not any(map(present.isdisjoint, term.word_sets))
