"""The REST channel (``POST /webhooks/rest/webhook``), hardened for patients.

Compared with Rasa's own ``RestInput`` it answers malformed bodies with a 400 JSON error instead
of a 500, never logs message text, and never leaves the patient in silence (see
:mod:`aftercare.channels.safe`). It takes the sender id from the body, so it is for trusted callers
only: every request carries ``Authorization: Bearer <AFTERCARE_REST_TOKEN>`` (compared in constant
time), and an id that belongs to another channel (a phone number, a web-chat id) is refused. Browsers
use the web chat channel, whose ids the server issues; patients' phones use SMS.
Configured in ``credentials.yml`` as ``aftercare.channels.rest.SafeRestInput``.
"""
from __future__ import annotations

import json
import re
import secrets
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from aftercare.channels.safe import respond_safely
from aftercare.settings import load_settings
from aftercare.sms.models import E164

SENDER_ID = re.compile(r"^[A-Za-z0-9_.:+\-]{1,128}$")
#: Ids issued by the web chat channel (128 random bits, hex): only that channel may serve them.
WEB_CHAT_ID = re.compile(r"^[0-9a-f]{32}$")
MAX_BODY_BYTES = 64 * 1024  # a message is at most a few thousand characters; larger bodies get 413
MAX_METADATA_DEPTH = 5
MAX_METADATA_BYTES = 4096


def _depth(value: Any, level: int = 0) -> int:
    """How deeply a JSON value nests (stops counting past the limit)."""
    if level > MAX_METADATA_DEPTH or not isinstance(value, (dict, list)):
        return level
    children = value.values() if isinstance(value, dict) else value
    return max((_depth(child, level + 1) for child in children), default=level + 1)


def _bearer_matches(header: str | None, token: str) -> bool:
    """Whether an Authorization header carries the token, compared in constant time."""
    if not header or not header.startswith("Bearer ") or not header.isascii():
        return False
    return secrets.compare_digest(header[len("Bearer "):].strip().encode(), token.encode())


def _error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)


class SafeRestInput(InputChannel):
    """REST input channel with validation, an over-long message path and a safety net."""

    @classmethod
    def name(cls) -> str:
        return "rest"

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The channel's routes."""
        hook = Blueprint("aftercare_rest", __name__)
        token = load_settings().rest_token

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if not token:
                return _error(503, "the REST channel has no token configured (AFTERCARE_REST_TOKEN)")
            if not _bearer_matches(request.headers.get("Authorization"), token):
                answer = _error(401, "send 'Authorization: Bearer <token>' (the REST channel is for trusted callers)")
                answer.headers["WWW-Authenticate"] = "Bearer"
                return answer
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
            if E164.match(sender) or WEB_CHAT_ID.match(sender):
                return _error(403, "this id belongs to another channel (SMS or web chat)")
            if text is None:
                text = ""
            if not isinstance(text, str):
                return _error(400, "'message' must be a string")
            metadata = body.get("metadata")
            if metadata is not None and not isinstance(metadata, dict):
                return _error(400, "'metadata' must be a JSON object")
            if metadata is not None and (_depth(metadata) > MAX_METADATA_DEPTH or len(json.dumps(metadata)) > MAX_METADATA_BYTES):
                # Rasa stores metadata with the message; a deep or huge object breaks the tracker store.
                return _error(400, f"'metadata' must be at most {MAX_METADATA_DEPTH} levels and {MAX_METADATA_BYTES} bytes")
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
        return await respond_safely(on_new_message, sender, text, metadata, self.name())
