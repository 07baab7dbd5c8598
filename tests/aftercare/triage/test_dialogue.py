"""Dialogue.respond and Dialogue.fallback: which text the patient gets, the payload and the escalation draft."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from aftercare.triage.dialogue import Dialogue, Reply
from aftercare.triage.protocol import DISPOSITIONS, ESCALATING, load_protocol
from aftercare.triage.engine import ConversationState

PROTOCOL = load_protocol(Path(__file__).resolve().parents[3] / "protocols" / "ductogram.yml")
TODAY = date(2026, 11, 22)
CONV = PROTOCOL.conversation
Q = PROTOCOL.questions


@pytest.fixture()
def dialogue() -> Dialogue:
    return Dialogue(PROTOCOL)


def talk(dialogue: Dialogue, turns: list[tuple[str, str | None, float | None]]) -> list[Reply]:
    state: ConversationState | None = None
    replies = []
    for text, intent, confidence in turns:
        reply = dialogue.respond(text, state, today=TODAY, intent=intent, confidence=confidence)
        state = reply.state
        replies.append(reply)
    return replies


def assert_payload(reply: Reply) -> None:
    assert reply.payload["disposition"] in DISPOSITIONS
    assert isinstance(reply.payload["reason"], str) and reply.payload["reason"]
    assert reply.payload["protocol_version"] == PROTOCOL.version


# ----------------------------------------------------------------------------- empty messages
@pytest.mark.parametrize("text", ["", " ", "   \n\t ", "🙂", "🙂🙂👍", "...", "?!", "❤️ 🙏"])
def test_empty_messages_get_the_empty_text(dialogue: Dialogue, text: str) -> None:
    reply = dialogue.respond(text, None, today=TODAY)
    assert reply.texts == [CONV["empty"]]
    assert reply.escalation is None
    assert reply.payload["disposition"] == "information"
    assert_payload(reply)


def test_empty_message_after_an_escalation_keeps_the_disposition(dialogue: Dialogue) -> None:
    first, second = talk(dialogue, [("I can't breathe", None, None), ("  ", None, None)])
    assert second.texts[0] == CONV["empty"]
    assert second.payload["disposition"] == "emergency"
    assert second.escalation is None


# ----------------------------------------------------------------------------- information intents
@pytest.mark.parametrize("topic", sorted(PROTOCOL.information))
def test_information_intent_answers_from_the_protocol(dialogue: Dialogue, topic: str) -> None:
    reply = dialogue.respond("quick question about the test", None, today=TODAY, intent=f"ask_{topic}", confidence=0.9)
    assert reply.texts == [PROTOCOL.information[topic]["answer"]]
    assert reply.payload["disposition"] == "information"
    assert reply.escalation is None
    assert_payload(reply)


def test_deodorant_question(dialogue: Dialogue) -> None:
    reply = dialogue.respond("can I wear deodorant?", None, today=TODAY, intent="ask_deodorant", confidence=0.9)
    assert reply.texts == [PROTOCOL.information["deodorant"]["answer"]]


def test_low_confidence_information_intent_is_not_answered(dialogue: Dialogue) -> None:
    reply = dialogue.respond("what is a ductogram", None, today=TODAY, intent="ask_what_is_ductogram", confidence=0.3)
    assert reply.texts == [CONV["unknown"]]


def test_unknown_information_topic_says_contact_care_team(dialogue: Dialogue) -> None:
    reply = dialogue.respond("can I fly tomorrow", None, today=TODAY, intent="ask_flying", confidence=0.9)
    assert reply.texts == [CONV["unknown"]]


@pytest.mark.parametrize(
    ("text", "intent", "disposition", "reason"),
    [
        ("can I wear deodorant? also I cant breathe", "ask_deodorant", "emergency", "trouble breathing"),
        ("how long does it take? my throat is swelling", "ask_duration", "emergency", "throat"),
        ("can I take tylenol? my breast is red", "ask_pain_medication", "call_physician", "redness"),
        ("what are the results? I have a fever of 101.5", "ask_results", "call_physician", "101.5"),
    ],
)
def test_information_intent_with_a_red_flag_still_escalates(
    dialogue: Dialogue, text: str, intent: str, disposition: str, reason: str
) -> None:
    reply = dialogue.respond(text, None, today=TODAY, intent=intent, confidence=0.9)
    assert reply.payload["disposition"] == disposition
    assert reason in reply.payload["reason"]
    assert reply.escalation is not None and reply.escalation.disposition == disposition
    assert PROTOCOL.dispositions[disposition]["message"].split("{")[0] in reply.texts[0]


def test_information_question_during_a_pending_question_keeps_it(dialogue: Dialogue) -> None:
    replies = talk(dialogue, [("bloody discharge", None, None), ("can I wear deodorant?", "ask_deodorant", 0.9),
                              ("5 days ago", "inform_procedure_day", 0.9)])
    assert replies[1].texts == [PROTOCOL.information["deodorant"]["answer"]]
    assert replies[2].payload["disposition"] == "call_physician"


# ----------------------------------------------------------------------------- symptom intents and questions
def test_a_symptom_intent_that_no_detector_can_read_escalates_as_unclear(dialogue: Dialogue) -> None:
    # The intent does not make a finding (engine.py); a symptom nothing could assess is not reassured.
    reply = dialogue.respond("I think I might be sick", None, today=TODAY, intent="report_fever", confidence=0.9)
    assert reply.payload["disposition"] == "call_physician"
    assert reply.payload["reason"] == PROTOCOL.reasons["unclear_symptom"]
    assert reply.escalation is not None


def test_fever_then_number_escalates(dialogue: Dialogue) -> None:
    first, second = talk(dialogue, [("I have a fever", "report_fever", 0.9), ("101.2", "inform_temperature", 0.9)])
    assert Q["temperature"] in first.texts
    assert second.payload["disposition"] == "call_physician"
    assert "101.2" in second.payload["reason"]
    assert second.escalation is not None and second.escalation.finding_ids == ("fever",)


def test_implausible_temperature_is_asked_again(dialogue: Dialogue) -> None:
    reply = dialogue.respond("my temp is 25 C", None, today=TODAY)
    assert any("does not look like a body temperature" in t and "25" in t for t in reply.texts)
    assert reply.escalation is None
    assert reply.payload["disposition"] not in ESCALATING


def test_temperature_not_over_gives_advice(dialogue: Dialogue) -> None:
    reply = dialogue.respond("my temperature is 100.5 F", None, today=TODAY)
    assert reply.payload["disposition"] == "information"
    assert reply.escalation is None
    assert any("is not over 100.5 °F" in t for t in reply.texts)


def test_self_care_gives_the_protocol_advice(dialogue: Dialogue) -> None:
    reply = dialogue.respond("there's more discharge than usual", None, today=TODAY)
    assert reply.payload["disposition"] == "self_care"
    assert reply.texts == [PROTOCOL.advice["increased_discharge"]]
    assert reply.escalation is None


def test_procedure_day_question_for_bloody_discharge(dialogue: Dialogue) -> None:
    reply = dialogue.respond("there is blood in the discharge", None, today=TODAY)
    assert reply.payload["question"] == "procedure_day"
    assert Q["procedure_day"] in reply.texts


def test_nlu_fallback_in_a_symptom_conversation_escalates(dialogue: Dialogue) -> None:
    replies = talk(dialogue, [("there's more discharge than usual", "report_discharge", 0.9),
                              ("gah weird thing idk", "nlu_fallback", 0.3)])
    reply = replies[-1]
    assert reply.texts[0] == CONV["unclear_symptom"]
    assert reply.payload["disposition"] == "call_physician"
    assert reply.escalation is not None
    assert reply.escalation.finding_ids == ("unclear_symptom",)


def test_unclear_symptom_is_recorded_once(dialogue: Dialogue) -> None:
    replies = talk(dialogue, [("there's more discharge than usual", "report_discharge", 0.9),
                              ("gah weird thing idk", "nlu_fallback", 0.3), ("hmm strange", "nlu_fallback", 0.3)])
    assert replies[1].escalation is not None
    assert replies[2].escalation is None
    assert replies[2].payload["disposition"] == "call_physician"


def test_nlu_fallback_without_symptoms_does_not_escalate(dialogue: Dialogue) -> None:
    reply = dialogue.respond("gah weird thing idk", None, today=TODAY, intent="nlu_fallback", confidence=0.3)
    assert reply.texts[0] == CONV["unknown"]
    assert reply.escalation is None
    assert reply.payload["disposition"] == "information"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("no fever", "report_fever"),
        ("the redness is gone", "report_redness_swelling"),
        ("no fever", None),
        ("the redness is gone", None),
    ],
)
def test_negated_symptom_does_not_escalate(dialogue: Dialogue, text: str, intent: str | None) -> None:
    reply = dialogue.respond(text, None, today=TODAY, intent=intent, confidence=0.9 if intent else None)
    assert reply.payload["disposition"] not in ESCALATING
    assert reply.escalation is None


# ----------------------------------------------------------------------------- conversation intents
@pytest.mark.parametrize(("text", "intent", "key"),
                         [("hi", "greet", "greet"), ("bye", "goodbye", "goodbye"), ("thank you", "thanks", "thanks"),
                          ("I feel fine", "feeling_fine", "feeling_fine")])
def test_conversation_intents(dialogue: Dialogue, text: str, intent: str, key: str) -> None:
    reply = dialogue.respond(text, None, today=TODAY, intent=intent, confidence=0.95)
    assert reply.texts == [CONV[key]]
    assert reply.escalation is None
    assert_payload(reply)


def test_feeling_fine_after_an_escalation_reminds(dialogue: Dialogue) -> None:
    first, second = talk(dialogue, [("my breast is red", "report_redness_swelling", 0.9),
                                    ("I feel fine now", "feeling_fine", 0.9)])
    assert first.escalation is not None
    assert second.texts[0] == CONV["feeling_fine_after_escalation"].format(reasons="redness of the breast")
    assert second.payload["disposition"] == "call_physician"
    assert second.escalation is None


def test_benign_message_after_an_emergency_reminds_to_call_911(dialogue: Dialogue) -> None:
    first, second = talk(dialogue, [("I can't breathe", None, None), ("thanks", "thanks", 0.9)])
    assert second.texts[0] == CONV["thanks"]
    assert any("call 911 now" in t and "trouble breathing" in t for t in second.texts[1:])
    assert second.payload["disposition"] == "emergency"


def test_not_english(dialogue: Dialogue) -> None:
    reply = dialogue.respond("hola, tengo una pregunta sobre la prueba", None, today=TODAY)
    assert reply.texts == [CONV["not_english_es"]]  # said in Spanish to a Spanish message
    reply = dialogue.respond("bonjour, j'ai une question sur l'examen", None, today=TODAY)
    assert reply.texts == [CONV["not_english"]]


# ----------------------------------------------------------------------------- escalation drafts
def test_escalation_draft_exactly_when_a_new_escalating_finding_appears(dialogue: Dialogue) -> None:
    turns = [
        ("hello", "greet", 0.9, None),
        ("my breast is red", None, None, ("call_physician", ("redness",))),
        ("my breast is still red", None, None, None),
        ("there's more discharge than usual", None, None, None),
        ("I can't breathe", None, None, ("emergency", ("breathing_trouble",))),
        ("thanks", "thanks", 0.9, None),
        ("my temperature is 102", None, None, ("call_physician", ("fever",))),
        ("now it is 103", "inform_temperature", 0.9, None),
        ("I can't breathe and I have chills", None, None, ("call_physician", ("chills",))),
    ]
    state = None
    for text, intent, confidence, expected in turns:
        reply = dialogue.respond(text, state, today=TODAY, intent=intent, confidence=confidence)
        state = reply.state
        assert_payload(reply)
        if expected is None:
            assert reply.escalation is None, text
        else:
            assert reply.escalation is not None, text
            assert (reply.escalation.disposition, reply.escalation.finding_ids) == expected, text
            assert reply.escalation.reasons


def test_escalation_draft_carries_the_reason(dialogue: Dialogue) -> None:
    reply = dialogue.respond("my temperature is 101.2", None, today=TODAY)
    assert reply.escalation is not None
    assert reply.escalation.reasons == ("temperature 101.2 °F is over 100.5 °F",)
    assert reply.payload["reason"] == "temperature 101.2 °F is over 100.5 °F"


def test_state_can_be_passed_as_a_dict(dialogue: Dialogue) -> None:
    first = dialogue.respond("bloody discharge", None, today=TODAY)
    second = dialogue.respond("6 days ago", first.state.to_dict(), today=TODAY, intent="inform_procedure_day", confidence=0.9)
    assert second.payload["disposition"] == "call_physician"
    assert second.escalation is not None


# ----------------------------------------------------------------------------- payload always complete
_TEXTS = st.sampled_from([
    "", " ", "🙂", "hello", "I can't breathe", "my breast is red", "no fever", "101.2", "38 kelvin", "bloody discharge",
    "5 days ago", "I feel fine", "can I wear deodorant?", "asdf qwer", "the redness is gone", "my breast is sore",
    "i don't have a thermometer", "thanks", "¿qué?", "x" * 3000,
])
_INTENTS = st.sampled_from([None, "greet", "thanks", "feeling_fine", "nlu_fallback", "ask_deodorant", "ask_nothing",
                            "report_fever", "report_pain", "inform_temperature", "inform_procedure_day", "out_of_scope"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(turns=st.lists(st.tuples(st.one_of(_TEXTS, st.text(max_size=80)), _INTENTS,
                                st.one_of(st.none(), st.floats(min_value=0, max_value=1))), min_size=1, max_size=6))
def test_payload_always_has_disposition_reason_and_version(dialogue: Dialogue, turns) -> None:
    state = None
    seen: list[str] = []
    for text, intent, confidence in turns:
        reply = dialogue.respond(text, state, today=TODAY, intent=intent, confidence=confidence)
        state = reply.state
        assert_payload(reply)
        assert reply.texts and all(isinstance(t, str) and t for t in reply.texts)
        if reply.escalation is not None:
            assert reply.escalation.disposition in ESCALATING
            seen.extend(reply.escalation.finding_ids)
    assert len(seen) == len(set(seen)), seen


# ----------------------------------------------------------------------------- fallback
@pytest.mark.parametrize("text", ["", None, "hello", "no fever", "can I wear deodorant?", "🙂", "bloody discharge"])
def test_fallback_always_includes_the_safe_text(dialogue: Dialogue, text) -> None:
    reply = dialogue.fallback(text, today=TODAY)
    assert CONV["safe_fallback"] in reply.texts
    assert reply.payload.get("fallback") is True
    assert_payload(reply)
    assert reply.escalation is None


@pytest.mark.parametrize(
    ("text", "disposition", "reason"),
    [
        ("I can't breathe", "emergency", "trouble breathing"),
        ("my throat is swelling and I feel faint", "emergency", "throat"),
        ("the bleeding won't stop", "emergency", "heavy bleeding"),
        ("my breast is red", "call_physician", "redness"),
        ("fever 101.5", "call_physician", "101.5"),
    ],
)
def test_fallback_escalates_red_flags(dialogue: Dialogue, text: str, disposition: str, reason: str) -> None:
    reply = dialogue.fallback(text, today=TODAY)
    assert CONV["safe_fallback"] in reply.texts
    assert reply.payload["disposition"] == disposition
    assert reason in reply.payload["reason"]
    assert reply.escalation is not None and reply.escalation.disposition == disposition
    assert reason in reply.texts[0]
    assert reply.payload["question"] is None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=200))
def test_fallback_never_raises_and_always_has_safe_text(dialogue: Dialogue, text: str) -> None:
    reply = dialogue.fallback(text, today=TODAY)
    assert CONV["safe_fallback"] in reply.texts
    assert_payload(reply)


@pytest.mark.parametrize(("text", "disposition", "words"), [
    ("no puedo respirar", "emergency", "Llame al 911"),
    ("tengo fiebre de 39 y escalofrios", "call_physician", "llame hoy a su médico"),
    ("quiero matarme", "emergency", "988"),
])
def test_spanish_red_flags_are_answered_in_spanish(dialogue: Dialogue, text: str, disposition: str, words: str) -> None:
    reply = dialogue.respond(text, None, today=TODAY)
    assert reply.payload["disposition"] == disposition
    assert words in " ".join(reply.texts)
    assert "This could be" not in " ".join(reply.texts) and "Please call" not in " ".join(reply.texts)


def test_english_red_flags_stay_in_english(dialogue: Dialogue) -> None:
    reply = dialogue.respond("I cannot breathe", None, today=TODAY)
    assert reply.texts[0].startswith("This could be an emergency")


@pytest.mark.parametrize("text", ["my knee is a little swollen after my run", "me duele una muela desde el sabado"])
def test_a_complaint_elsewhere_on_the_body_gets_the_own_doctor_advice(dialogue: Dialogue, text: str) -> None:
    reply = dialogue.respond(text, None, today=TODAY)
    assert reply.payload["disposition"] == "information" and reply.escalation is None
    assert "own doctor" in reply.texts[0] or "propio médico" in reply.texts[0]
