"""The REST channel (``POST /webhooks/rest/webhook``), hardened for patients.

Compared with Rasa's own ``RestInput`` it
- answers malformed bodies with a 400 JSON error instead of a 500, and never logs message text;
- answers empty or letter-less messages itself, and triages over-long ones with the engine alone;
- never leaves the patient in silence: when the assistant produced no disposition (the action
  server is down, slow or raised), it sends the safety-net reply, which still triages the message
  with the plain engine, stores any escalation, and gives the 911 and call-your-physician signs.
Configured in ``credentials.yml`` as ``aftercare.channels.rest.SafeRestInput``.
"""
from __future__ import annotations

import asyncio
import logging
import re
from typing import Any, Awaitable, Callable

import rasa.core.actions.action as rasa_action
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from aftercare.services import services
from aftercare.text import has_letters

logger = logging.getLogger(__name__)

SENDER_ID = re.compile(r"^[A-Za-z0-9_.:+\-]{1,128}$")
MAX_BODY_BYTES = 256 * 1024

# Rasa waits 5 minutes for the action server by default; a patient should not.
rasa_action.DEFAULT_REQUEST_TIMEOUT = services().settings.action_timeout_seconds


def _error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)


def _has_disposition(messages: list[dict[str, Any]]) -> bool:
    return any(isinstance(m.get("custom"), dict) and "disposition" in m["custom"] for m in messages)


def _as_messages(recipient: str, texts: list[str], payload: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [{"recipient_id": recipient, "text": t} for t in texts]
    out.append({"recipient_id": recipient, "custom": payload})
    return out


class SafeRestInput(InputChannel):
    """REST input channel with validation, an over-long message path and a safety net."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The channel's routes."""
        hook = Blueprint("aftercare_rest", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if len(request.body or b"") > MAX_BODY_BYTES:
                return _error(413, f"request body over {MAX_BODY_BYTES} bytes")
            try:
                body = request.json
            except Exception:  # sanic raises InvalidUsage on bad JSON
                return _error(400, "request body must be JSON")
            if not isinstance(body, dict):
                return _error(400, "request body must be a JSON object")
            sender, text = body.get("sender"), body.get("message")
            if not isinstance(sender, str) or not SENDER_ID.match(sender):
                return _error(400, "'sender' must be 1-128 letters, digits or _.:+-")
            if text is None:
                text = ""
            if not isinstance(text, str):
                return _error(400, "'message' must be a string")
            metadata = body.get("metadata")
            if metadata is not None and not isinstance(metadata, dict):
                return _error(400, "'metadata' must be a JSON object")
            return response.json(await self.handle(on_new_message, sender, text, metadata))

        return hook

    async def handle(
        self,
        on_new_message: Callable[[UserMessage], Awaitable[Any]],
        sender: str,
        text: str,
        metadata: dict[str, Any] | None,
    ) -> list[dict[str, Any]]:
        """Run one message through the assistant and return the bot messages."""
        svc = services()
        if not text.strip() or not has_letters(text):
            return _as_messages(
                sender,
                [svc.protocol.conversation["empty"]],
                {"disposition": "information", "reason": "empty message", "protocol_version": svc.protocol.version, "question": None},
            )
        if len(text) > svc.settings.max_message_chars:
            return await self._safety_net(sender, text, too_long=True)

        collector = CollectingOutputChannel()
        message = UserMessage(text, collector, sender, input_channel=self.name(), metadata=metadata)
        try:
            await asyncio.wait_for(on_new_message(message), timeout=svc.settings.action_timeout_seconds + 5)
        except asyncio.TimeoutError:
            logger.error("assistant timed out for a conversation; sending the safety-net reply")
        except Exception as exc:  # noqa: BLE001 - the patient must get an answer whatever failed
            logger.error("assistant failed (%s); sending the safety-net reply", type(exc).__name__)
        if _has_disposition(collector.messages):
            return collector.messages
        logger.warning("no disposition from the assistant; sending the safety-net reply")
        return collector.messages + await self._safety_net(sender, text)

    async def _safety_net(self, sender: str, text: str, *, too_long: bool = False) -> list[dict[str, Any]]:
        svc = services()
        reply = svc.dialogue.fallback(text, today=svc.today())
        texts = reply.texts
        if too_long:
            limit = svc.settings.max_message_chars
            texts = [svc.protocol.conversation["too_long"].format(limit=limit)] + texts
            reply.payload["too_long"] = True
        if reply.escalation is not None:
            await asyncio.to_thread(svc.record, reply.escalation, conversation_id=sender, channel=self.name())
        return _as_messages(sender, texts, reply.payload)
