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
from typing import Iterable, Mapping

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


def load_rules(path: Path) -> tuple[list[ConTextRule], dict[str, list[str]]]:
    """Read and validate the rules file: its rules, and which categories end which (terminating_types)."""
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
    return rules, terminating


class ClinicalContext:
    """ConText over the folded sentences of a message; build once per process."""

    def __init__(self, rules: Iterable[ConTextRule], terminating_types: Mapping[str, list[str]] | None = None) -> None:
        self.nlp = spacy.blank("en")
        self.context = ConText(
            self.nlp,
            rules=None,
            input_span_type="group",
            span_group_name=_GROUP,
            terminating_types=dict(terminating_types or {}),
            prune_on_target_overlap=True,  # "not" in the term "not breathing" negates nothing
        )
        self.context.add(list(rules))

    @classmethod
    def from_file(cls, path: Path) -> "ClinicalContext":
        """The context of a rules file (built once per process and file: it holds no per-message state)."""
        return _from_file(Path(path).resolve(), Path(path).stat().st_mtime_ns if Path(path).exists() else 0)

    def classify(
        self, sentences: list[Sentence], matches: Mapping[str, list[TermMatch]]
    ) -> dict[str, list[Mention]]:
        """The mentions of every finding, each with the context categories that modify it."""
        by_sentence: dict[int, list[tuple[str, TermMatch]]] = {}
        for fid, found in matches.items():
            for m in found:
                by_sentence.setdefault(m.sentence, []).append((fid, m))
        result: dict[str, list[Mention]] = {fid: [] for fid in matches}
        for index, targets in by_sentence.items():
            doc, positions = _doc(self.nlp, sentences[index])
            spans = [Span(doc, positions[min(m.positions)], positions[max(m.positions)] + 1) for _, m in targets]
            doc.spans[_GROUP] = spans
            self.context(doc)
            for (fid, m), span in zip(targets, doc.spans[_GROUP]):
                categories = frozenset(mod.category for mod in span._.modifiers)
                result[fid].append(Mention(m, categories))
        return result


@lru_cache(maxsize=8)
def _from_file(path: Path, _mtime: int) -> ClinicalContext:
    rules, terminating = load_rules(path)
    return ClinicalContext(rules, terminating)


def _doc(nlp: spacy.language.Language, sentence: Sentence) -> tuple[Doc, list[int]]:
    """A Doc of the sentence's words with its commas put back; positions maps word index -> token index.

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
    starts = [True] + [False] * (len(words) - 1)  # one sentence per Doc
    return Doc(nlp.vocab, words=words, sent_starts=starts), positions
