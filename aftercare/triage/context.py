"""Clinical context of each finding the terms matched, with medspaCy's ConText.

The term matcher says where a finding is mentioned; this module says whether the mention is a current
one. Each sentence of the message becomes a spaCy ``Doc`` of the same folded words the terms were
matched on (so positions line up), the matches become target spans, and ConText applies the rules of
``protocols/context-rules.yml``: negated, hypothetical, historical, another part of the body. No
statistical model is loaded: a blank English vocabulary is all ConText needs.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterable, Mapping

import spacy
import yaml
from medspacy.context import ConText, ConTextRule
from spacy.tokens import Doc, Span

from aftercare.triage.terms import TermMatch
from aftercare.triage.text import Sentence

CATEGORIES = frozenset(
    {"NEGATED_EXISTENCE", "HYPOTHETICAL", "HISTORICAL", "OTHER_SITE", "BREAST_SITE", "TERMINATE", "PSEUDO", "LIST_BREAK"}
)
DIRECTIONS = frozenset({"FORWARD", "BACKWARD", "BIDIRECTIONAL", "TERMINATE", "PSEUDO"})
_GROUP = "findings"


class ContextRulesError(ValueError):
    """A context rules file that cannot be used (names the file, the rule and the problem)."""


#: The categories Mention.is_current reads: of any mention, and of a mention at the breast too.
NOT_CURRENT = frozenset({"NEGATED_EXISTENCE", "HYPOTHETICAL", "HISTORICAL"})
SITES = frozenset({"OTHER_SITE", "BREAST_SITE"})


@dataclass(frozen=True)
class Mention:
    """One mention of a finding and what ConText said of it."""

    match: TermMatch
    categories: frozenset[str]

    @property
    def negated(self) -> bool:
        return "NEGATED_EXISTENCE" in self.categories

    @property
    def hypothetical(self) -> bool:
        return "HYPOTHETICAL" in self.categories

    @property
    def historical(self) -> bool:
        return "HISTORICAL" in self.categories

    def elsewhere_on_the_body(self) -> bool:
        """Another body part is named with it, and the breast is not."""
        return "OTHER_SITE" in self.categories and "BREAST_SITE" not in self.categories

    def is_current(self, *, breast_site: bool) -> bool:
        """Whether this mention reports the finding now (for a breast finding, at the breast)."""
        if self.negated or self.hypothetical or self.historical:
            return False
        return not (breast_site and self.elsewhere_on_the_body())


@dataclass(frozen=True)
class DenialWords:
    """The rules file's words for telling a denial said right before its finding (see
    :meth:`ClinicalContext.said_right_after_a_denial`)."""

    fillers: frozenset[str] = frozenset()  # may stand between ("I don't have any chills")
    lists: frozenset[str] = frozenset()  # carry the denial to the next word ("... or lips")
    history: frozenset[str] = frozenset()  # after the finding, make it history ("... before")


def load_rules(path: Path) -> tuple[list[ConTextRule], dict[str, list[str]], DenialWords]:
    """Read and validate the rules file: its rules, which categories end which (terminating_types),
    and its denial words (denial_fillers, denial_lists, denial_history)."""
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ContextRulesError(f"{path}: file not found") from None
    except yaml.YAMLError as exc:
        raise ContextRulesError(f"{path}: not valid YAML: {exc}") from None
    items = raw.get("rules") if isinstance(raw, dict) else None
    if not isinstance(items, list) or not items:
        raise ContextRulesError(f"{path}: rules: expected a non-empty list")
    rules: list[ConTextRule] = []
    for i, item in enumerate(items):
        where = f"{path}: rules[{i}]"
        if not isinstance(item, dict):
            raise ContextRulesError(f"{where}: expected a mapping")
        literal, category = item.get("literal"), item.get("category")
        direction, scope = item.get("direction", "BIDIRECTIONAL"), item.get("max_scope")
        if not isinstance(literal, str) or not literal.strip() or literal != literal.lower():
            raise ContextRulesError(f"{where}: literal: expected lower-case text, got {literal!r}")
        pattern = item.get("pattern")
        if pattern is not None and (not isinstance(pattern, list) or not all(isinstance(t, dict) for t in pattern)):
            raise ContextRulesError(f"{where} ({literal}): pattern: expected a list of spaCy token patterns")
        if category not in CATEGORIES:
            raise ContextRulesError(f"{where} ({literal}): category: expected one of {', '.join(sorted(CATEGORIES))}")
        if direction not in DIRECTIONS:
            raise ContextRulesError(f"{where} ({literal}): direction: expected one of {', '.join(sorted(DIRECTIONS))}")
        if scope is not None and (not isinstance(scope, int) or isinstance(scope, bool) or scope < 1):
            raise ContextRulesError(f"{where} ({literal}): max_scope: expected a whole number of words")
        if direction in ("TERMINATE", "PSEUDO") and scope is None:
            # medspaCy limits a modifier's scope by a terminator only when their scopes "overlap", and
            # its overlap test misses a terminator whose scope contains the modifier's (a whole
            # sentence); a terminator reaching one word each way is always seen.
            scope = 1
        # Match the folded words as they are ("dont", "cant"): spaCy's own tokenizer would split them.
        pattern = pattern or [{"LOWER": word} for word in literal.split()]
        rules.append(ConTextRule(literal, category, pattern=pattern, direction=direction, max_scope=scope))
    terminating = raw.get("terminating_types") or {}
    if not isinstance(terminating, dict) or not all(
        k in CATEGORIES and isinstance(v, list) and set(v) <= CATEGORIES for k, v in terminating.items()
    ):
        raise ContextRulesError(f"{path}: terminating_types: expected category: [categories]")
    denial: dict[str, frozenset[str]] = {}
    for field_name in ("fillers", "lists", "history"):
        key = f"denial_{field_name}"
        value = raw.get(key) or []
        if not isinstance(value, list) or not all(isinstance(w, str) and w and w == w.lower() for w in value):
            raise ContextRulesError(f"{path}: {key}: expected a list of lower-case words")
        denial[field_name] = frozenset(value)
    return rules, terminating, DenialWords(**denial)


class ClinicalContext:
    """ConText over the folded sentences of a message; build once per process."""

    def __init__(
        self,
        rules: Iterable[ConTextRule],
        terminating_types: Mapping[str, list[str]] | None = None,
        denial_words: DenialWords = DenialWords(),
    ) -> None:
        self.nlp = spacy.blank("en")
        self.context = ConText(
            self.nlp,
            rules=None,
            input_span_type="group",
            span_group_name=_GROUP,
            terminating_types=dict(terminating_types or {}),
            prune_on_target_overlap=True,  # "not" in the term "not breathing" negates nothing
        )
        rules = list(rules)
        self.context.add(rules)
        self._reaches = _reaches(rules)
        self._denials = sorted(
            {tuple(r.literal.split()) for r in rules if r.category == "NEGATED_EXISTENCE" and r.direction == "FORWARD"},
            key=len, reverse=True,
        )
        self._denial_words = denial_words

    @classmethod
    def from_file(cls, path: Path) -> "ClinicalContext":
        """The context of a rules file (built once per process and file: it holds no per-message state)."""
        return _from_file(Path(path).resolve(), Path(path).stat().st_mtime_ns if Path(path).exists() else 0)

    def classify(
        self,
        sentences: list[Sentence],
        matches: Mapping[str, list[TermMatch]],
        *,
        settled: Callable[[str, Mention], bool] | None = None,
        categories: Mapping[str, frozenset[str]] | None = None,
    ) -> dict[str, list[Mention]]:
        """The mentions of every finding, each with the context categories that modify it.

        ConText runs only on sentences with a match, once per distinct sentence and set of matches (a
        message that repeats itself costs one run per distinct sentence). With ``settled``, the caller
        says when a key's mention already tells it all it needs ("a current fever": later mentions of
        fever cannot change that): a sentence whose every match is of a settled key is not read, so
        the mentions returned are then only those that decide, and of a key's mentions with the same
        categories only the first (the others tell the caller nothing new). With ``categories``, the caller says
        which categories it reads for each key: its mentions hold only those, and a sentence where no
        rule of the categories its matches want can match is not read either. A sentence that is read
        is always read with all its matches, so every mention returned is the one a full reading gives.
        """
        by_sentence: dict[int, list[tuple[str, TermMatch]]] = {}
        for fid, found in matches.items():
            for m in found:
                by_sentence.setdefault(m.sentence, []).append((fid, m))
        result: dict[str, list[Mention]] = {fid: [] for fid in matches}
        done: set[str] = set()
        said_of: dict[str, set[frozenset[str]]] = {fid: set() for fid in matches}
        seen: dict[tuple[Sentence, tuple[tuple[int, int], ...]], list[frozenset[str]]] = {}
        for index in sorted(by_sentence):
            targets = by_sentence[index]
            if settled is not None and all(fid in done for fid, _ in targets):
                continue
            sentence = sentences[index]
            bounds = tuple((min(m.positions), max(m.positions)) for _, m in targets)
            gapped = tuple(max(m.positions) - min(m.positions) + 1 != len(m.positions) for _, m in targets)
            key = (sentence, bounds, gapped)
            found_categories = seen.get(key)
            if found_categories is None:
                wanted = None if categories is None else frozenset().union(*(categories[fid] for fid, _ in targets))
                found_categories = seen[key] = self._categories_apart(sentence, bounds, gapped, wanted)
            for (fid, m), said in zip(targets, found_categories):
                said = said if categories is None else said & categories[fid]
                if settled is not None and (fid in done or said in said_of[fid]):
                    continue
                said_of[fid].add(said)
                mention = Mention(m, said)
                result[fid].append(mention)
                if settled is not None and fid not in done and settled(fid, mention):
                    done.add(fid)
        return result

    def said_right_after_a_denial(self, sentences: list[Sentence], mentions: Iterable[Mention]) -> dict[int, set[int]]:
        """The words of each denied mention that follows its denial at once ("no swelling in my throat",
        "I haven't fainted", "not short of breath"; only the rules file's ``denial_fillers`` may stand
        between), with the denial itself and the list it heads ("... or lips"): sentence index -> word
        positions. A mention with other words between ("no, I can't breathe"), or followed by a word of
        ``denial_history`` ("never had a seizure before"), is not among them. Cheap: no ConText run."""
        found: dict[int, set[int]] = {}
        for mention in mentions:
            if not mention.negated:
                continue
            words = sentences[mention.match.sentence].words
            start = min(mention.match.positions)
            denial = self._denial_ending_at(words, start)
            while denial is None and start > 0 and words[start - 1] in self._denial_words.fillers:
                start -= 1
                denial = self._denial_ending_at(words, start)
            end = max(mention.match.positions) + 1
            if denial is None or not self._denial_words.history.isdisjoint(words[end:end + 3]):
                continue  # "never had a seizure before": history, and what follows may be now
            while end + 1 < len(words) and words[end] in self._denial_words.lists:
                end += 2  # "no swelling in my throat or lips": the list goes with it
            found.setdefault(mention.match.sentence, set()).update(range(denial, end))
        return found

    def _denial_ending_at(self, words: tuple[str, ...], end: int) -> int | None:
        """Where a forward denial of the rules file that ends just before ``end`` starts, if one does."""
        for literal in self._denials:
            if end >= len(literal) and words[end - len(literal):end] == literal:
                return end - len(literal)
        return None

    def _categories_apart(
        self,
        sentence: Sentence,
        bounds: tuple[tuple[int, int], ...],
        gapped: tuple[bool, ...],
        wanted: frozenset[str] | None,
    ) -> list[frozenset[str]]:
        """:meth:`_categories`, with every target whose words are apart ("red ... discharge") read on
        its own. Its span covers the words between, and ConText drops a modifier that overlaps any
        target: read together, "not red, no pus, and the discharge" would lose the "no" of "no pus"."""
        if not any(gapped):
            return self._categories(sentence, bounds, wanted)
        result: list[frozenset[str]] = [frozenset()] * len(bounds)
        groups = [[i for i, g in enumerate(gapped) if not g]] + [[i] for i, g in enumerate(gapped) if g]
        for group in groups:
            if group:
                for i, said in zip(group, self._categories(sentence, tuple(bounds[i] for i in group), wanted)):
                    result[i] = said
        return result

    def _categories(
        self, sentence: Sentence, bounds: tuple[tuple[int, int], ...], wanted: frozenset[str] | None = None
    ) -> list[frozenset[str]]:
        """ConText's categories of each target (first and last word index) in one sentence; with
        ``wanted``, only those categories are sure to be there (the sentence may not be read at all)."""
        words, positions = _doc_words(sentence)
        targets = [(positions[first], positions[last] + 1) for first, last in bounds]
        if self._reaches is not None and not _may_modify(self._reaches, words, targets, wanted):
            return [frozenset()] * len(bounds)
        doc = Doc(self.nlp.vocab, words=words, sent_starts=[True] + [False] * (len(words) - 1))  # one sentence
        doc.spans[_GROUP] = [Span(doc, start, end) for start, end in targets]
        self.context(doc)
        return [frozenset(mod.category for mod in span._.modifiers) for span in doc.spans[_GROUP]]


@dataclass(frozen=True)
class _Reach:
    """Where one rule that can modify a target may match, and how far its scope may reach from there."""

    category: str
    length: int  # tokens (a pattern without "OP": one token per entry)
    words: tuple[tuple[int, str], ...]  # (offset, word) of its entries that are one plain lower-case word
    direction: str
    max_scope: int | None


def _reaches(rules: list[ConTextRule]) -> dict[str, list[tuple[int, _Reach]]] | None:
    """The rules that can modify a target (not TERMINATE, not PSEUDO: medspaCy never links these to a
    target, they only end other rules' reach), by one of their words: word -> (its offset, the rule).
    None when a rule's pattern is not a plain list of tokens with a word among them (every sentence is
    then read by ConText)."""
    reaches: dict[str, list[tuple[int, _Reach]]] = {}
    for rule in rules:
        if rule.direction in ("TERMINATE", "PSEUDO"):
            continue
        pattern = rule.pattern
        if not isinstance(pattern, list) or not all(isinstance(t, dict) and "OP" not in t for t in pattern):
            return None
        words = tuple(
            (k, t["LOWER"]) for k, t in enumerate(pattern) if set(t) == {"LOWER"} and isinstance(t["LOWER"], str)
        )
        if not words:
            return None
        reach = _Reach(rule.category, len(pattern), words, rule.direction, rule.max_scope)
        reaches.setdefault(words[0][1], []).append((words[0][0], reach))
    return reaches


def _may_modify(
    reaches: dict[str, list[tuple[int, _Reach]]], words: list[str], targets: list[tuple[int, int]],
    wanted: frozenset[str] | None,
) -> bool:
    """Whether a rule (of a wanted category) could modify one of the targets (token spans) in this
    sentence: whether it may match somewhere (its plain words in place; any other entry taken to match
    any token) with the scope medspaCy would give it before other rules shorten it reaching a target.
    False means that ConText gives no target a category (of those wanted), without running it."""
    n = len(words)
    for p, word in enumerate(words):
        for offset, reach in reaches.get(word, ()):
            if wanted is not None and reach.category not in wanted:
                continue
            start = p - offset
            end = start + reach.length
            if start < 0 or end > n or any(words[start + k] != w for k, w in reach.words):
                continue
            scope = reach.max_scope
            if reach.direction == "FORWARD":
                first, last = end, n if scope is None else min(n, end + scope)
            elif reach.direction == "BACKWARD":
                first, last = 0 if scope is None else max(0, start - scope), start
            else:  # BIDIRECTIONAL
                first, last = (0, n) if scope is None else (max(0, start - scope), min(n, end + scope))
            if any(first < t_end and t_start < last for t_start, t_end in targets):
                return True
    return False


@lru_cache(maxsize=8)
def _from_file(path: Path, _mtime: int) -> ClinicalContext:
    return ClinicalContext(*load_rules(path))


def _doc_words(sentence: Sentence) -> tuple[list[str], list[int]]:
    """The words of a sentence's Doc, its commas put back; and the token index of each of its words.

    A comma that starts a list ending in "or"/"nor" ("no fever, chills or redness") is left out, so a
    negation before the list reaches all of it; any other comma ends a negation's reach.
    """
    words: list[str] = []
    positions: list[int] = []
    for i, word in enumerate(sentence.words):
        if i in sentence.commas and not any(w in ("or", "nor", "o") for w in sentence.words[i:]):
            words.append(",")
        positions.append(len(words))
        words.append(word)
    return words, positions
