"""Match the protocol's terms in a patient's sentences, with typo tolerance and negation.

Term syntax (documented for clinicians at the top of the protocol file):
``word word`` in order with up to two words between; ``a|b`` alternatives; ``word*`` prefix;
``part + part`` all parts in the same sentence, in any order.

A match counts unless it is negated in its sentence: a negation cue ("no", "not", "without",
"dont", ...) before it in the same clause, or a resolution after it ("is gone", "went away",
"stopped"). Negation never crosses "but", "and", a sentence end, or a comma that does not start a
list ending in "or". Doubt words ("not sure", "dont know if") are not negations: when in doubt,
the finding counts.
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

NEGATION_CUES = frozenset(
    {
        "no", "not", "dont", "doesnt", "didnt", "isnt", "arent", "wasnt", "werent", "havent",
        "hasnt", "hadnt", "never", "without", "denies", "deny", "nor", "neither", "none",
        "nothing", "zero", "free",
    }
)
DOUBT_WORDS = frozenset(
    {"know", "sure", "think", "remember", "if", "whether", "certain", "tell", "idea", "wonder", "wondering"}
)
SCOPE_BREAKS = frozenset(
    {"but", "though", "although", "however", "except", "and", "yet", "still", "so", "because",
     "now", "plus", "also", "while", "whereas", "then", "just", "only"}
)
MAX_SCOPE = 8
#: An emergency is negated only by a cue this close before it ("no trouble breathing"), so a
#: negation earlier in the sentence ("without my inhaler I can't breathe") never hides it.
EMERGENCY_NEGATION_DISTANCE = 3
RESOLVED_CUES = frozenset(
    {"gone", "resolved", "cleared", "disappeared", "stopped", "broke", "subsided", "vanished"}
)
AWAY_VERBS = frozenset({"went", "gone", "go", "going", "goes", "faded"})
CUE_BLOCKERS = frozenset(
    {"not", "dont", "doesnt", "didnt", "wont", "isnt", "hasnt", "havent", "never", "cant",
     "cannot", "wouldnt", "aint", "no"}
)


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


def _negation_scopes(sentence: Sentence) -> dict[int, set[int]]:
    """For each token index in the scope of a negation, the indices of the cues that negate it."""
    tokens = sentence.words
    scopes: dict[int, set[int]] = {}
    for c, token in enumerate(tokens):
        if token not in NEGATION_CUES:
            continue
        if any(t in DOUBT_WORDS for t in tokens[c + 1 : c + 3]):
            continue
        for i in range(c + 1, min(len(tokens), c + 1 + MAX_SCOPE)):
            if tokens[i] in SCOPE_BREAKS:
                break
            if i in sentence.commas and not any(t in ("or", "nor") for t in tokens[i:]):
                break
            scopes.setdefault(i, set()).add(c)
    return scopes


def _is_negated(span: tuple[int, ...], scopes: dict[int, set[int]], near: int | None = None) -> bool:
    """A span is negated by a cue outside it ("not" in "not breathing" is part of the finding);
    with ``near``, only by a cue at most that many words before the span."""
    cues = {c for i in span for c in scopes.get(i, set())} - set(span)
    if near is not None:
        cues = {c for c in cues if 0 < span[0] - c <= near}
    return bool(cues)


def _resolved_after(sentence: Sentence, end: int) -> bool:
    """Whether words after ``end`` say the finding is over ("is gone", "went away", "stopped")."""
    tokens = sentence.words
    for i in range(end + 1, min(len(tokens), end + 6)):
        if tokens[i] in SCOPE_BREAKS or i in sentence.commas:
            return False
        cue = tokens[i] in RESOLVED_CUES or (
            tokens[i] == "away" and i > 0 and tokens[i - 1] in AWAY_VERBS
        )
        if cue and not any(t in CUE_BLOCKERS for t in tokens[max(end + 1, i - 3) : i]):
            return True
    return False


#: Words before a finding that make the sentence a question about it, not a report of it
#: ("what should I do if my breast gets red?", "signs of infection to watch for").
IF_CUES = frozenset({"if", "whether", "incase", "case"})
WATCH_CUES = frozenset({"signs", "watch", "lookout", "risk", "risks", "chance"})
REPORT_MARKERS = frozenset({"my", "have", "having", "see", "noticed", "got", "im", "am", "ive", "think"})
#: A sentence opening with one of these and without "my"/"i" asks in general ("will the dye make me itchy?").
GENERAL_QUESTION_OPENERS = frozenset({"will", "would", "could", "can", "might", "does", "do", "is", "are", "what", "how", "when"})
#: Words that make a question about something the patient has ("could this be an abscess?").
PRESENT_REFERENCE = frozenset({"my", "i", "im", "ive", "mine", "this", "these", "that"})


def _clause(sentence: Sentence, index: int) -> tuple[int, int]:
    """The clause around ``index``: bounded by commas and words such as "but" and "and"."""
    tokens = sentence.words
    start = index
    while start > 0 and start not in sentence.commas and tokens[start - 1] not in SCOPE_BREAKS:
        start -= 1
    end = index + 1
    while end < len(tokens) and end not in sentence.commas and tokens[end] not in SCOPE_BREAKS:
        end += 1
    return start, end


def is_hypothetical(sentence: Sentence, start: int) -> bool:
    """Whether this is a question about a finding rather than a report of it.

    "what should I do if my breast gets red?" and "signs of infection to watch for" are questions;
    "not sure if I have chills" (doubt) and "I see signs of infection" (a report) are not, and a cue
    in another clause ("even if I rest, the pain gets worse") does not count.
    """
    tokens = sentence.words
    c0, c1 = _clause(sentence, start)
    for j in range(c0, start):
        if tokens[j] in IF_CUES and not any(w in DOUBT_WORDS for w in tokens[max(0, j - 3) : j]):
            return True
    if any(t in WATCH_CUES for t in tokens[c0:start]) and not REPORT_MARKERS & set(tokens[c0:c1]):
        return True
    return bool(tokens) and tokens[0] in GENERAL_QUESTION_OPENERS and not PRESENT_REFERENCE & set(tokens)


@dataclass(frozen=True)
class TermMatch:
    """Where a term matched: the sentence index and the token indices of the match."""

    sentence: int
    positions: tuple[int, ...]
    words: tuple[str, ...]
    hypothetical: bool = False


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

    def find(self, key: str, sentences: list[Sentence], *, emergency: bool = False) -> list[TermMatch]:
        """Non-negated matches of any term under ``key`` (``emergency``: negated only by a near cue)."""
        found: list[TermMatch] = []
        for s_index, sentence in enumerate(sentences):
            fuzzy = self._fuzzy_flags(sentence.words)
            scopes = _negation_scopes(sentence)
            excluded = {
                i for term in self._exclude.get(key, []) for part in term.parts
                for span in _part_spans(part, sentence.words, fuzzy, max_gap=0) for i in span
            }
            for term in self._terms[key]:
                candidates = self._match_term(
                    term, sentence, fuzzy, scopes, excluded, EMERGENCY_NEGATION_DISTANCE if emergency else None
                )
                # Prefer an occurrence the patient reports over one they only ask about.
                ranked = sorted(candidates, key=lambda pos: is_hypothetical(sentence, pos[0]))
                if ranked:
                    match = ranked[0]
                    found.append(
                        TermMatch(
                            s_index, match, tuple(sentence.words[i] for i in match),
                            is_hypothetical(sentence, match[0]),
                        )
                    )
        return found

    @staticmethod
    def _match_term(
        term: Term,
        sentence: Sentence,
        fuzzy: list[bool],
        scopes: dict[int, set[int]],
        excluded: set[int],
        near: int | None = None,
    ) -> list[tuple[int, ...]]:
        """Every live (not negated, not excluded) occurrence of the term, as token positions."""
        per_part: list[list[tuple[int, ...]]] = []
        for part in term.parts:
            live = [
                span for span in _part_spans(part, sentence.words, fuzzy)
                if not _is_negated(span, scopes, near)
                and not _resolved_after(sentence, span[-1])
                and not excluded & set(span)
            ]
            if not live:
                return []
            per_part.append(live)
        if len(per_part) == 1:
            return per_part[0]
        # Several parts: one occurrence per choice of each part's spans (few in practice; capped).
        combos = itertools.islice(itertools.product(*per_part), 64)
        return [tuple(sorted(i for span in combo for i in span)) for combo in combos]
