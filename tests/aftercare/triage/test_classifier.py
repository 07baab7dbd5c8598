"""The learned red-flag detector, trained here on the project's real training data, and how the engine
combines it with the rules (it raises, it never lowers, one narrow cue holds it back)."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from aftercare.triage.classifier import LEVELS, RedFlagClassifier, TrainingDataError, load_examples, save, train
from aftercare.triage.engine import TriageEngine
from aftercare.triage.protocol import load_protocol

ROOT = Path(__file__).resolve().parents[3]
PROTOCOL = load_protocol(ROOT / "protocols" / "ductogram.yml")
TODAY = date(2026, 11, 19)


@pytest.fixture(scope="module")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> RedFlagClassifier:
    path = tmp_path_factory.mktemp("model") / "redflag.joblib"
    save(train(load_examples(ROOT / "training" / "triage")), path)
    return RedFlagClassifier.load(path)


def test_training_files_are_read_with_their_levels() -> None:
    examples = load_examples(ROOT / "training" / "triage")
    assert {e.level for e in examples} == set(LEVELS)
    assert len(examples) > 3000


@pytest.mark.parametrize("content, problem", [
    ("level: urgent\nexamples: [a]\n", "needs 'level'"),
    ("level: none\nexamples: [\"\"]\n", "non-empty string"),
    ("level: none\nexamples: [a\n", "while"),
])
def test_bad_training_files_are_named(tmp_path: Path, content: str, problem: str) -> None:
    (tmp_path / "bad.yml").write_text(content, encoding="utf-8")
    with pytest.raises(TrainingDataError, match=problem):
        load_examples(tmp_path)
    with pytest.raises(TrainingDataError, match="no training files"):
        load_examples(tmp_path / "empty")


def test_probabilities_cover_every_level(classifier: RedFlagClassifier) -> None:
    p = classifier.probabilities("my lips are swelling and I can't swallow")
    assert set(p) == set(LEVELS) and abs(sum(p.values()) - 1) < 1e-6
    assert max(p, key=p.get) == "emergency"
    assert max(classifier.probabilities("what should I wear to the appointment?").items(), key=lambda kv: kv[1])[0] == "none"


def disposition(engine: TriageEngine, *turns: str) -> str | None:
    state = None
    for text in turns:
        a = engine.assess(text, state, today=TODAY)
        state = a.state
    return a.conversation_disposition


@pytest.mark.parametrize(("text", "expected"), [
    # the rules find nothing, a negation or a lower finding; the learned detector raises it
    ("no chills no cough and so winded i cant talk", "emergency"),
    ("my mouth feels fat and my voice sounds weird since the dye", "emergency"),
    # the narrow cue: a rule that decides by a protocol number has it ("temp 38" is 100.4 °F)
    ("temp 38", "information"),
    ("thermometer says 38.05 c", "information"),
])
def test_the_engine_combines_the_detector_with_the_rules(classifier: RedFlagClassifier, text: str, expected: str) -> None:
    assert disposition(TriageEngine(PROTOCOL, classifier), text) == expected


def test_the_detector_never_lowers_a_rule(classifier: RedFlagClassifier) -> None:
    engine = TriageEngine(PROTOCOL, classifier)
    assert disposition(engine, "my temperature is 101.6") == "call_physician"
    assert disposition(engine, "I can't breathe lol jk what should I wear") == "emergency"


def test_an_unsure_intent_guess_alone_does_not_escalate_what_reads_as_no_red_flag(classifier: RedFlagClassifier) -> None:
    from aftercare.triage.dialogue import Dialogue

    dialogue = Dialogue(PROTOCOL, classifier)
    reply = dialogue.respond("hi, i had my ductogram yesterday", None, today=TODAY,
                             intent="report_redness_swelling", confidence=0.34)
    assert reply.payload["disposition"] == "information" and reply.escalation is None
    # a message the detector reads as a possible red flag still escalates on an unsure symptom intent
    reply = dialogue.respond("something feels really off with my breast", None, today=TODAY,
                             intent="report_not_better", confidence=0.4)
    assert reply.payload["disposition"] in ("call_physician", "emergency")
