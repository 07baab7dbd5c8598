"""Match the protocol's terms in a patient's sentences, with typo tolerance.

Term syntax (documented for clinicians at the top of the protocol file):
``word word`` in order with up to two words between; ``a|b`` alternatives; ``word*`` prefix;
``part + part`` all parts in the same sentence, in any order.

This module only says where a finding is mentioned; whether a mention is current (not negated,
hypothetical, historical or elsewhere on the body) is :mod:`aftercare.triage.context`'s job.
"""
from __future__ import annotations

import itertools
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


def _part_spans(part: tuple[Word, ...], alts: list[Alternatives], max_gap: int = MAX_GAP) -> list[tuple[int, ...]]:
    """Every occurrence of an ordered part, as the token indices of its words.

    ``alts[i]`` holds the term alternatives that token ``i`` matches (computed once per token).
    """
    spans: list[tuple[int, ...]] = []
    wanted = [word.alternative_set for word in part]

    def extend(prefix: tuple[int, ...], k: int) -> None:
        if k == len(part):
            spans.append(prefix)
            return
        start = prefix[-1] + 1
        for i in range(start, min(len(alts), start + max_gap + 1)):
            if wanted[k] & alts[i]:
                extend(prefix + (i,), k + 1)

    for i, token_alts in enumerate(alts):
        if wanted[0] & token_alts:
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
        # Which keys could match at all when an alternative is present (their terms' first words).
        self._keys_by_first: dict[tuple[str, bool], set[str]] = {}
        for key, compiled in self._terms.items():
            for term in compiled:
                for alt in term.parts[0][0].alternatives:
                    self._keys_by_first.setdefault(alt, set()).add(key)

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
        length of the message, not with the number of terms times its length."""
        keys = tuple(self._terms) if keys is None else keys
        found: dict[str, list[TermMatch]] = {key: [] for key in keys}
        for s_index, sentence in enumerate(sentences):
            alts = [self._token_alternatives(token) for token in sentence.words]
            present = frozenset().union(*alts) if alts else frozenset()
            if not present:
                continue
            candidates = set().union(*(self._keys_by_first.get(a, ()) for a in present))
            for key in keys:
                if key not in candidates:
                    continue
                terms = [t for t in self._terms[key] if _could_match(t, present)]
                if not terms:
                    continue
                excluded = {
                    i for term in self._exclude.get(key, []) if _could_match(term, present) for part in term.parts
                    for span in _part_spans(part, alts, max_gap=0) for i in span
                }
                for term in terms:
                    spans = self._match_term(term, alts, excluded)
                    found[key].extend(
                        TermMatch(s_index, span, tuple(sentence.words[i] for i in span)) for span in spans[:4]
                    )
        return found

    @staticmethod
    def _match_term(term: Term, alts: list[Alternatives], excluded: set[int]) -> list[tuple[int, ...]]:
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
    return all(word.alternative_set & present for part in term.parts for word in part)
