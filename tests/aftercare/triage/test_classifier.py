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
    # the narrow cue: a denial right before its finding is not read as the finding ...
    ("no swelling in my throat or lips", None),
    ("i haven't fainted", None),
    ("i don't have any chills", None),
    ("no trouble breathing, no chest pain", None),
    # ... but anything else in the message still is, and so is a denial with other words between
    ("no fever but i cant catch my breath", "emergency"),
    ("no i cant breathe", "emergency"),
    ("nope, throat closing", "emergency"),
    ("no chills, lips swelling up", "emergency"),
    ("never had a seizure before and i just had one", "emergency"),
    ("no fever 911", "emergency"),  # a number left after the denial is read too
])
def test_the_engine_combines_the_detector_with_the_rules(classifier: RedFlagClassifier, text: str, expected: str | None) -> None:
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


def test_what_only_the_detector_reads_as_expected_gets_the_self_care_advice(classifier: RedFlagClassifier) -> None:
    from aftercare.triage.dialogue import Dialogue

    dialogue = Dialogue(PROTOCOL, classifier)
    reply = dialogue.respond("a bit more wet on the pad than usual, day 1", None, today=TODAY)
    assert reply.payload["disposition"] == "self_care" and reply.escalation is None
    assert reply.payload["reason"] == PROTOCOL.classifier.reasons["self_care"]
    assert PROTOCOL.advice[PROTOCOL.classifier.self_care_advice] in reply.texts


def test_the_expected_reading_never_answers_what_the_rules_found_or_ask(classifier: RedFlagClassifier) -> None:
    engine = TriageEngine(PROTOCOL, classifier)
    # a question about a number the protocol decides by is still asked, not answered as expected
    a = engine.assess("i feel a bit feverish since the test yesterday, no chills", None, today=TODAY)
    assert a.question == "temperature" and "classifier_self_care" not in {f.id for f in a.findings}
    # questions and unrelated complaints read as nothing stay information
    assert disposition(engine, "what should I wear to the appointment?") is None
    assert disposition(engine, "my knee hurts after tennis") is None
    # a symptom only asked about or denied is not answered as expected, whatever the detector reads
    assert disposition(engine, "what if I'm sore after, is tylenol ok") is None
    assert disposition(engine, "no soreness and no extra discharge today, day 1") is None


class FixedReading:
    """A detector that reads every message the same way (to test the decisions taken on a reading)."""

    def __init__(self, **probabilities: float) -> None:
        self.reading = {level: probabilities.get(level, 0.0) for level in LEVELS}

    def probabilities(self, text: str, *, normalised: bool = False) -> dict[str, float]:
        return dict(self.reading)


@pytest.mark.parametrize(("reading", "disposition"), [
    ({"none": 0.7, "emergency": 0.25, "call_physician": 0.05}, "information"),  # reads as nothing
    ({"none": 0.45, "emergency": 0.35, "call_physician": 0.2}, "call_physician"),  # may be a red flag
    ({"none": 0.85, "emergency": 0.1, "call_physician": 0.05}, "information"),  # clearly no red flag
])
def test_a_symptom_intent_the_rules_cannot_read_escalates_unless_the_detector_reads_nothing(
    reading: dict[str, float], disposition: str
) -> None:
    from aftercare.triage.dialogue import Dialogue

    dialogue = Dialogue(PROTOCOL, FixedReading(**reading))  # type: ignore[arg-type]
    reply = dialogue.respond("my elbow has been clicking for a month", None, today=TODAY,
                             intent="report_persistent_pain", confidence=0.9)
    assert reply.payload["disposition"] == disposition


def test_a_model_trained_by_the_command_loads_in_another_process(tmp_path: Path) -> None:
    import subprocess
    import sys

    data = tmp_path / "data"
    data.mkdir()
    for level in LEVELS:
        words = {"emergency": "cant breathe", "call_physician": "fever 102", "expected": "a bit sore", "none": "what time"}[level]
        examples = "".join(f"- {words} {i}\n" for i in range(4))
        (data / f"{level}.yml").write_text(f"level: {level}\nexamples:\n{examples}", encoding="utf-8")
    model = tmp_path / "model.joblib"
    subprocess.run([sys.executable, "-m", "aftercare.triage.classifier", str(data), str(model)], check=True, cwd=ROOT)
    assert set(RedFlagClassifier.load(model).probabilities("no fever, cant breathe")) == set(LEVELS)


@pytest.mark.parametrize(("text", "marked"), [
    ("no fever, not red or swollen", "no neg_fever not neg_red neg_or neg_swollen"),
    ("no chills no cough and so winded", "no neg_chills no neg_cough and so winded"),
    ("sin fiebre pero me duele", "sin neg_fiebre pero me duele"),
    ("my lips are swelling", "my lips are swelling"),
])
def test_the_word_features_mark_what_a_denial_reaches(text: str, marked: str) -> None:
    from aftercare.triage.classifier import mark_negation

    assert mark_negation(text) == marked
