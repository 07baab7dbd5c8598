"""Run one patient message through the assistant so that the patient never meets silence.

Shared by every input channel: empty or letter-less messages are answered directly, over-long ones
are triaged by the engine alone, and when the assistant produced no disposition (the action server
is down, slow or raised) the safety-net reply triages the message with the same plain engine,
stores any escalation first, and gives the protocol's 911 and call-your-physician signs.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable

import rasa.core.actions.action as rasa_action
from rasa.core.channels.channel import CollectingOutputChannel, UserMessage

from aftercare.services import services
from aftercare.triage.text import has_letters

logger = logging.getLogger(__name__)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

# Rasa waits 5 minutes for the action server by default; a patient should not.
rasa_action.DEFAULT_REQUEST_TIMEOUT = services().settings.action_timeout_seconds


def has_disposition(messages: list[dict[str, Any]]) -> bool:
    """Whether the bot messages carry a disposition payload (every action_respond reply does)."""
    return any(isinstance(m.get("custom"), dict) and "disposition" in m["custom"] for m in messages)


def as_messages(recipient: str, texts: list[str], payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Bot messages in the REST channel's shape: texts, then the disposition payload."""
    out: list[dict[str, Any]] = [{"recipient_id": recipient, "text": t} for t in texts]
    out.append({"recipient_id": recipient, "custom": payload})
    return out


def as_patient_text(text: str) -> str:
    """Text that Rasa reads as words, never as a command.

    Rasa treats a message starting with "/" as an intent to execute ("/restart" would wipe the
    conversation and its triage; "/session_start" would start over), and logs it. A word joiner
    (U+2060, invisible, kept by ``str.strip``) in front keeps the patient's words as words.
    """
    stripped = text.strip()
    return "\u2060" + stripped if stripped.startswith("/") else text


async def respond_safely(
    on_new_message: OnNewMessage,
    sender: str,
    text: str,
    metadata: dict[str, Any] | None,
    channel: str,
) -> list[dict[str, Any]]:
    """The bot messages for one patient message, never empty."""
    svc = services()
    if not text.strip() or not has_letters(text):
        payload = {"disposition": "information", "reason": "empty message",
                   "protocol_version": svc.protocol.version, "question": None}
        return as_messages(sender, [svc.protocol.conversation["empty"]], payload)
    if len(text) > svc.settings.max_message_chars:
        return await safety_net(sender, text, channel, too_long=True)

    collector = CollectingOutputChannel()
    message = UserMessage(as_patient_text(text), collector, sender, input_channel=channel, metadata=metadata)
    try:
        await asyncio.wait_for(on_new_message(message), timeout=svc.settings.action_timeout_seconds + 5)
    except asyncio.TimeoutError:
        logger.error("assistant timed out for a conversation; sending the safety-net reply")
    except Exception as exc:  # noqa: BLE001 - the patient must get an answer whatever failed
        logger.error("assistant failed (%s); sending the safety-net reply", type(exc).__name__)
    if has_disposition(collector.messages):
        return collector.messages
    logger.warning("no disposition from the assistant; sending the safety-net reply")
    return collector.messages + await safety_net(sender, text, channel)


async def safety_net(sender: str, text: str, channel: str, *, too_long: bool = False) -> list[dict[str, Any]]:
    """Triage with the plain engine alone, store any escalation, and add the protocol's safe message."""
    svc = services()
    # In a thread: a long message takes the engine a while, and other patients must not wait.
    reply = await asyncio.to_thread(svc.dialogue.fallback, text, today=svc.today())
    texts = reply.texts
    if too_long:
        texts = [svc.protocol.conversation["too_long"].format(limit=svc.settings.max_message_chars)] + texts
        reply.payload["too_long"] = True
    if reply.escalation is not None:
        await asyncio.to_thread(svc.record, reply.escalation, conversation_id=sender, channel=channel)
    return as_messages(sender, texts, reply.payload)
