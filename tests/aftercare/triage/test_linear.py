"""The engine's work grows linearly with the length of a message (counted, not timed).

Clinical context (medspaCy ConText, the costly step) is asked only about sentences with a match, once
per distinct sentence, not at all for a finding already found as current, and runs only where a rule
could reach a match; the term search reads each distinct sentence at most once; a run-on message is
read in pieces of bounded length; the learned detector reads the message once, and at most its first
MAX_CHARS characters.
"""
from __future__ import annotations

import itertools
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from aftercare.triage.classifier import LEVELS, MAX_CHARS, RedFlagClassifier
from aftercare.triage import context as context_module
from aftercare.triage.context import ClinicalContext
from aftercare.triage.engine import TriageEngine
from aftercare.triage.protocol import load_protocol
from aftercare.triage.terms import TermMatcher
from aftercare.triage.text import MAX_SENTENCE_WORDS, sentences

ROOT = Path(__file__).resolve().parents[3]
PROTOCOL = load_protocol(ROOT / "protocols" / "ductogram.yml")
TODAY = date(2026, 11, 19)
# Plain words that are no finding, no context cue, no day and no number.
_FIRST = "apple table window garden pencil kitchen bottle mirror carpet ladder".split()
_SECOND = "river castle forest rocket violin basket candle saddle tunnel wallet".split()
_THIRD = "blue green purple orange silver golden quiet gentle simple modern".split()


def _distinct(template: str, n: int) -> str:
    """n distinct sentences from the template (its {} filled with different plain words)."""
    words = itertools.islice(itertools.product(_FIRST, _SECOND, _THIRD), n)
    return " ".join(template.format(" ".join(w)) + "." for w in words)


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Counts the sentences given to clinical context ("context"), the ConText runs among them (a
    sentence where no rule can match is not run), and the term searches ("terms": at most one per
    distinct sentence)."""
    counts: Counter[str] = Counter()
    categories, spans, doc = ClinicalContext._categories, TermMatcher._spans, context_module.Doc

    def counted_categories(self, *args):  # type: ignore[no-untyped-def]
        counts["context"] += 1
        return categories(self, *args)

    def counted_doc(*args, **kwargs):  # type: ignore[no-untyped-def]
        counts["context runs"] += 1
        return doc(*args, **kwargs)

    def counted_spans(self, *args):  # type: ignore[no-untyped-def]
        counts["terms"] += 1
        return spans(self, *args)

    monkeypatch.setattr(ClinicalContext, "_categories", counted_categories)
    monkeypatch.setattr(context_module, "Doc", counted_doc)
    monkeypatch.setattr(TermMatcher, "_spans", counted_spans)
    return counts


def _assess(text: str, work: Counter[str]) -> Counter[str]:
    work.clear()
    TriageEngine(PROTOCOL).assess(text, None, today=TODAY)
    return Counter(work)


def test_context_reads_only_sentences_with_a_match(work: Counter[str]) -> None:
    counted = _assess(_distinct("the {} went home", 200), work)
    assert counted["context"] == counted["context runs"] == 0
    assert 1 <= counted["terms"] <= 200  # each distinct sentence searched at most once


def test_context_is_not_run_where_no_rule_can_match(work: Counter[str]) -> None:
    # Each sentence has a finding and none has a word of a context rule (no "no", "if", "my", ...).
    counted = _assess(_distinct("fever and chills {}", 100), work)
    assert counted["context runs"] == 0
    # A temperature is only ever not current when negated, asked about or past: a body part named
    # with it does not make ConText read it.
    counted = _assess(" ".join(f"fever {101 + i / 10:.1f}, knee." for i in range(30)), work)
    assert counted["context"] >= 30 and counted["context runs"] == 0


def test_a_repeated_sentence_is_read_once(work: Counter[str]) -> None:
    for n in (10, 400):
        counted = _assess("no fever. the weather is nice. " * n, work)
        assert counted == Counter({"context": 1, "context runs": 1, "terms": 2}), n


def test_doubling_a_message_doubles_the_work(work: Counter[str]) -> None:
    # Every sentence distinct and with a denied finding (which never settles): the worst case.
    single = _assess(_distinct("no fever {}", 150), work)
    double = _assess(_distinct("no fever {}", 300), work)
    assert single["context"] == single["context runs"] == 150
    assert double["context"] == double["context runs"] == 300
    assert double["terms"] <= 2 * single["terms"]


def test_sentences_that_differ_only_in_numbers_are_searched_once(work: Counter[str]) -> None:
    # numbers that no term names (the overdose terms name a few counts of pills: 10, 12, 15, 20 ...)
    times_and_temperatures = zip(range(1, 10), (11, 13, 17, 19, 21, 23, 27, 29, 31), range(1000, 1009))
    log = "\n".join(f"{h}:{m:02d} temp {t / 10:.1f}" for h, m, t in times_and_temperatures)
    assert _assess(log, work)["terms"] == 1


def test_each_piece_of_a_run_on_message_keeps_its_own_commas() -> None:
    pieces = sentences(", ".join(["red swollen"] * 300))  # a comma before every other word
    assert len(pieces) > 10
    for piece in pieces:  # each piece starts on a pair (the step is even): a comma before its every other word
        assert piece.words[0] == "red"
        assert piece.commas == frozenset(range(2, len(piece.words), 2))


def test_a_finding_found_is_not_read_again(work: Counter[str]) -> None:
    # "i have a fever" is current in the first sentence: the 299 others cannot change that.
    counted = _assess(_distinct("i have a fever {}", 300), work)
    assert counted["context"] == 1


def test_a_run_on_message_is_read_in_bounded_pieces(work: Counter[str]) -> None:
    unit = "no fever no chills no redness and the "
    short, long = sentences(unit * 500), sentences(unit * 1000)
    assert all(len(piece.words) <= MAX_SENTENCE_WORDS for piece in long)
    assert len(long) <= 2 * len(short) + 1
    # The pieces of a message that repeats itself repeat too: the context work does not grow at all.
    assert _assess(unit * 500, work)["context"] == _assess(unit * 1000, work)["context"] <= 8


class _Pipeline:
    """Stands in for the trained model: records what it is asked to read."""

    classes_ = list(LEVELS)

    def __init__(self) -> None:
        self.read: list[int] = []

    def predict_proba(self, texts: list[str]) -> list[list[float]]:
        self.read.extend(len(t) for t in texts)
        return [[0.0, 0.0, 0.0, 1.0] for _ in texts]


def test_the_learned_detector_reads_a_long_message_once_and_only_its_start() -> None:
    pipeline = _Pipeline()
    engine = TriageEngine(PROTOCOL, RedFlagClassifier(pipeline))  # type: ignore[arg-type]
    engine.assess(_distinct("no fever {}", 300), None, today=TODAY)
    assert pipeline.read == [MAX_CHARS]
