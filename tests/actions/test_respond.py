"""action_respond with real Tracker and CollectingDispatcher, and a real SQLite escalation store."""
from __future__ import annotations

import time
from typing import Any

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher

from actions.respond import ActionRespond


def tracker_for(text: str, intent: str = "nlu_fallback", confidence: float = 0.9, slots: dict[str, Any] | None = None,
                sender: str = "conv-1", channel: str = "rest") -> Tracker:
    message = {"text": text, "intent": {"name": intent, "confidence": confidence}, "entities": []}
    events = [{"event": "action", "name": "action_listen"},
              {"event": "user", "text": text, "parse_data": message, "input_channel": channel, "timestamp": time.time()}]
    return Tracker(sender, slots or {}, message, events, False, None, {}, "action_listen")


async def run(action: ActionRespond, tracker: Tracker) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, tracker, {})
    return dispatcher.messages, events


def payload_of(messages: list[dict[str, Any]]) -> dict[str, Any]:
    customs = [m["custom"] for m in messages if m.get("custom")]
    assert len(customs) == 1, messages
    return customs[0]


async def test_fever_over_threshold_is_stored_before_reply(services_on_tmp):
    action = ActionRespond(services_on_tmp)
    messages, events = await run(action, tracker_for("i have a fever of 101.2", "report_fever"))
    payload = payload_of(messages)
    assert payload["disposition"] == "call_physician"
    assert payload["reason"] == "temperature 101.2 °F is over 100.5 °F"
    assert payload["protocol_version"] == services_on_tmp.protocol.version
    assert any("call your physician" in m.get("text", "").lower() for m in messages)
    rows = services_on_tmp.store.list_escalations()
    assert [(r["conversation_id"], r["channel"], r["disposition"]) for r in rows] == [("conv-1", "rest", "call_physician")]
    assert rows[0]["reasons"] == ["temperature 101.2 °F is over 100.5 °F"]
    assert events[0]["event"] == "slot" and events[0]["name"] == "triage_state"


async def test_emergency_whatever_the_intent(services_on_tmp):
    action = ActionRespond(services_on_tmp)
    messages, _ = await run(action, tracker_for("can i wear deodorant? also my throat is closing up", "ask_deodorant", 0.95))
    assert payload_of(messages)["disposition"] == "emergency"
    assert "911" in messages[0]["text"]
    assert services_on_tmp.store.list_escalations()[0]["disposition"] == "emergency"


async def test_question_then_answer_uses_slot_state(services_on_tmp):
    action = ActionRespond(services_on_tmp)
    messages, events = await run(action, tracker_for("bloody discharge from my nipple", "report_bloody_discharge"))
    first = payload_of(messages)
    assert first["question"] == "procedure_day"
    assert services_on_tmp.store.list_escalations() == []
    state = events[0]["value"]
    messages, _ = await run(action, tracker_for("6 days ago", "inform_procedure_day", slots={"triage_state": state}))
    second = payload_of(messages)
    assert second["disposition"] == "call_physician"
    assert "day 6" in second["reason"]


async def test_procedure_date_on_file_is_used(services_on_tmp):
    action = ActionRespond(services_on_tmp)
    tracker = tracker_for("still some blood in the discharge", "report_bloody_discharge",
                          slots={"procedure_date": "2026-11-16"})
    messages, _ = await run(action, tracker)
    assert payload_of(messages)["disposition"] == "call_physician"


async def test_information_question(services_on_tmp, protocol):
    action = ActionRespond(services_on_tmp)
    messages, _ = await run(action, tracker_for("how long does the test take", "ask_duration", 0.97))
    assert messages[0]["text"] == protocol.information["duration"]["answer"]
    assert payload_of(messages)["disposition"] == "information"


async def test_repeated_red_flag_is_escalated_once(services_on_tmp):
    action = ActionRespond(services_on_tmp)
    _, events = await run(action, tracker_for("i have chills", "report_chills"))
    state = events[0]["value"]
    await run(action, tracker_for("still have chills", "report_chills", slots={"triage_state": state}))
    rows = services_on_tmp.store.list_escalations()
    assert len(rows) == 1
    assert len(services_on_tmp.store.events_for("conv-1")) == 1


async def test_database_down_journals_and_still_replies(services_on_tmp, tmp_path):
    services_on_tmp.store.engine.dispose()
    # Point the store at a path that cannot be a database (a directory).
    from aftercare.escalations import create_db_engine
    (tmp_path / "not-a-db").mkdir()
    services_on_tmp.store.engine = create_db_engine(f"sqlite:///{tmp_path / 'not-a-db'}")
    services_on_tmp.store._ready = False
    action = ActionRespond(services_on_tmp)
    messages, _ = await run(action, tracker_for("i cant breathe", "report_emergency"))
    assert payload_of(messages)["disposition"] == "emergency"
    assert services_on_tmp.store.pending_in_journal() == 1


# ----------------------------------------------------------------------------- flat per-turn cost


def long_session_tracker(turns: int, text: str, slots: dict[str, Any] | None = None, started: bool = False) -> Tracker:
    """A tracker whose current session holds ``turns`` patient messages, the last one ``text``."""
    events: list[dict[str, Any]] = [{"event": "user", "text": "older session", "timestamp": 1.0},
                                    {"event": "session_started", "timestamp": 2.0}] if started else []
    message = {"text": text, "intent": {"name": "nlu_fallback", "confidence": 0.9}, "entities": []}
    for i in range(turns):
        events += [{"event": "action", "name": "action_listen"},
                   {"event": "user", "text": text if i == turns - 1 else "can I shower?", "parse_data": message,
                    "input_channel": "rest", "timestamp": time.time()},
                   {"event": "action", "name": "action_respond"}]
    return Tracker("conv-1", slots or {}, message, events, False, None, {}, "action_listen")


async def test_every_answer_ends_with_listen(services_on_tmp):
    _, events = await run(ActionRespond(services_on_tmp), tracker_for("can I shower tonight?"))
    assert events[-1] == {"event": "followup", "name": "action_listen", "timestamp": None}
    assert not any(e["event"] == "session_started" for e in events)


async def test_a_long_session_is_closed_with_the_triage_state_carried_over(services_on_tmp):
    limit = services_on_tmp.settings.session_max_turns
    messages, events = await run(ActionRespond(services_on_tmp), long_session_tracker(limit, "bloody discharge from my nipple"))
    assert payload_of(messages)["question"] == "procedure_day"  # the reply is the same as in a short session
    assert [e["event"] for e in events] == ["slot", "session_started", "slot", "followup"]
    assert events[2] == {**events[0], "timestamp": events[2]["timestamp"]}  # the open question goes on

    # The answer, in the new session, is read against the carried-over question.
    answer = long_session_tracker(1, "it started 6 days ago", slots={"triage_state": events[2]["value"]}, started=True)
    messages, _ = await run(ActionRespond(services_on_tmp), answer)
    assert payload_of(messages)["disposition"] == "call_physician"


async def test_the_procedure_date_slot_is_carried_over_too(services_on_tmp):
    limit = services_on_tmp.settings.session_max_turns
    tracker = long_session_tracker(limit, "can I shower?", slots={"procedure_date": "2026-11-10"})
    _, events = await run(ActionRespond(services_on_tmp), tracker)
    assert [e["event"] for e in events] == ["slot", "session_started", "slot", "slot", "followup"]
    assert {e["name"]: e["value"] for e in events[2:4]}["procedure_date"] == "2026-11-10"


async def test_the_count_restarts_with_each_session(services_on_tmp):
    limit = services_on_tmp.settings.session_max_turns
    _, events = await run(ActionRespond(services_on_tmp), long_session_tracker(limit - 1, "thanks", started=True))
    assert not any(e["event"] == "session_started" for e in events)


async def test_the_limit_comes_from_the_settings(services_on_tmp):
    svc = services_on_tmp
    svc.settings = svc.settings.with_changes(session_max_turns=2)
    _, events = await run(ActionRespond(svc), long_session_tracker(2, "thanks"))
    assert any(e["event"] == "session_started" for e in events)
