"""``action_respond``: the one action that answers every patient message.

A thin adapter: read the message, intent and triage state from the tracker, let
:mod:`aftercare.triage.dialogue` decide the reply, store any escalation (committed before the reply is
returned to Rasa), then send the texts and the machine-readable disposition.

Per-turn cost must not grow with the conversation: Rasa loads, featurises and sends to this server
every event of the current session. So once a session holds ``settings.session_max_turns`` patient
messages, the action closes it after its reply the way Rasa's own ``action_session_start`` does
(``session_started``, the triage slots carried over, then listen): the next turn loads one short
session. Nothing is lost: the tracker store keeps every session and the console reads them all.
"""
from __future__ import annotations

import asyncio
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, FollowupAction, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from aftercare.services import Services, services

STATE_SLOT = "triage_state"
PROCEDURE_DATE_SLOT = "procedure_date"


class ActionRespond(Action):
    """Triage and answer the latest patient message."""

    def __init__(self, svc: Services | None = None) -> None:
        self._svc = svc

    @property
    def svc(self) -> Services:
        return self._svc or services()

    def name(self) -> str:
        return "action_respond"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: dict[str, Any]
    ) -> list[EventType]:
        svc = self.svc
        message = tracker.latest_message or {}
        intent = message.get("intent") or {}
        state = tracker.get_slot(STATE_SLOT) or {}
        on_file = tracker.get_slot(PROCEDURE_DATE_SLOT) or await asyncio.to_thread(
            svc.procedure_date_on_file, tracker.sender_id
        )
        if on_file and isinstance(state, dict) and not state.get("procedure_date"):
            state = {**state, "procedure_date": on_file}

        reply = svc.dialogue.respond(
            message.get("text") or "",
            state,
            today=svc.today(),
            intent=intent.get("name"),
            confidence=intent.get("confidence"),
        )
        if reply.escalation is not None:
            await asyncio.to_thread(
                svc.record,
                reply.escalation,
                conversation_id=tracker.sender_id,
                channel=tracker.get_latest_input_channel() or "unknown",
                message_timestamp=_latest_user_timestamp(tracker),
            )
        for text in reply.texts:
            dispatcher.utter_message(text=text)
        dispatcher.utter_message(json_message=reply.payload)
        slots = {STATE_SLOT: reply.state.to_dict(), PROCEDURE_DATE_SLOT: tracker.get_slot(PROCEDURE_DATE_SLOT)}
        events: list[EventType] = [SlotSet(STATE_SLOT, slots[STATE_SLOT])]
        if patient_turns_in_session(tracker) >= svc.settings.session_max_turns:
            events += new_session(slots)
        # Every message gets exactly this one answer: listen next, without running the policies again.
        return events + [FollowupAction("action_listen")]


def patient_turns_in_session(tracker: Tracker) -> int:
    """How many patient messages the tracker's current session holds (this one included)."""
    count = 0
    for event in reversed(tracker.events):
        if event.get("event") == "session_started":
            break
        count += event.get("event") == "user"
    return count


def new_session(slots: dict[str, Any]) -> list[EventType]:
    """Events that start a new session now, with the given slots carried over (as Rasa's own
    ``action_session_start`` does); the caller ends them with a listen."""
    return [SessionStarted(), *(SlotSet(name, value) for name, value in slots.items() if value is not None)]


def _latest_user_timestamp(tracker: Tracker) -> float | None:
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            return event.get("timestamp")
    return None
