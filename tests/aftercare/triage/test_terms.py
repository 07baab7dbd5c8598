"""Term matching with the protocol's findings: syntax, gaps, sentences, the matched words."""
from __future__ import annotations

from pathlib import Path

import pytest

from aftercare.triage.protocol import load_protocol
from aftercare.triage.terms import TermMatcher, TermSyntaxError, compile_term
from aftercare.triage.text import sentences

PROTOCOL = load_protocol(Path(__file__).resolve().parents[3] / "protocols" / "ductogram.yml")
MATCHER = TermMatcher(
    {spec.id: list(spec.terms) for spec in PROTOCOL.findings},
    {spec.id: list(spec.exclude) for spec in PROTOCOL.findings if getattr(spec, "exclude", ())},
)


def test_every_protocol_term_compiles() -> None:
    for spec in PROTOCOL.findings:
        for term in spec.terms:
            compile_term(term)


@pytest.mark.parametrize("bad", ["", "red|", "+ red", "red +", "red-ness", "a||b", "*"])
def test_bad_term_syntax(bad: str) -> None:
    with pytest.raises(TermSyntaxError):
        compile_term(bad)


def test_matches_report_the_matched_words() -> None:
    (match,) = MATCHER.find("breathing_trouble", sentences("Hello. I can't breathe."))
    assert match.sentence == 1
    assert "breathe" in match.words


def test_gap_of_three_words_is_too_far() -> None:
    # Words of a part may have at most two other words between them.
    m = TermMatcher({"x": ["trouble breathing"]})
    assert m.find("x", sentences("trouble with my breathing"))
    assert not m.find("x", sentences("trouble with all my breathing"))


def test_plus_parts_must_share_a_sentence() -> None:
    m = TermMatcher({"x": ["throat + swell*"]})
    assert m.find("x", sentences("swelling in my throat"))
    assert not m.find("x", sentences("my throat. swelling elsewhere"))
