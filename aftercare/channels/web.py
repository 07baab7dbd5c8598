"""The web chat channel (``/webhooks/web/``): a chat page, the script tag that embeds it, and its API.

A clinic page embeds the chat with one script tag (``widget.js``), which opens the chat page in an
iframe served from this server, or with one iframe of ``/webhooks/web/chat``. The server issues
every conversation id (128 random bits) with a token bound to it (HMAC-SHA256 under a server
secret); the page keeps both for the visit (``sessionStorage``), so a reload keeps the conversation
and a new visit starts a new one. A message or history request whose token does not match its id
is refused, so nobody can read or write another visitor's conversation by sending its id.
Cross-origin calls are allowed only from the configured clinic origins.
Configured in ``credentials.yml`` as ``aftercare.channels.web.WebChatInput``.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from aftercare.channels.safe import respond_safely
from aftercare.console.transcripts import TranscriptReader
from aftercare.escalations import create_db_engine
from aftercare.services import services
from aftercare.settings import Settings, load_settings

STATIC = Path(__file__).parent / "web_static"
MAX_BODY_BYTES = 64 * 1024
QUICK_REPLIES = ["I have a symptom", "Aftercare questions", "Preparing for my test"]
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors {ancestors}"
)


def load_secret(settings: Settings) -> bytes:
    """The HMAC secret: AFTERCARE_WEB_SECRET, or one made once and kept in var/web-secret (mode 0600)."""
    if settings.web_secret:
        return settings.web_secret.encode()
    path = settings.web_secret_file
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


class WebChatInput(InputChannel):
    """The web chat: server-issued conversation ids bound to the visit."""

    def __init__(self) -> None:
        settings = load_settings()
        self.secret = load_secret(settings)
        self.origins = list(settings.web_origins)  # clinic origins allowed to call the API and frame the chat
        self._transcripts: TranscriptReader | None = None

    @classmethod
    def name(cls) -> str:
        return "web"

    def token_for(self, conversation_id: str) -> str:
        return hmac.new(self.secret, conversation_id.encode(), hashlib.sha256).hexdigest()

    def verify(self, conversation_id: Any, token: Any) -> bool:
        """Whether the token was issued by this server for this conversation id."""
        if not isinstance(conversation_id, str) or not isinstance(token, str):
            return False
        if len(conversation_id) != 32 or not all(c in "0123456789abcdef" for c in conversation_id):
            return False
        if len(token) != 64 or not all(c in "0123456789abcdef" for c in token):
            return False  # compare_digest takes ASCII only: anything else is no token of ours
        return hmac.compare_digest(self.token_for(conversation_id), token)

    @property
    def transcripts(self) -> TranscriptReader:
        if self._transcripts is None:
            self._transcripts = TranscriptReader(create_db_engine(services().settings.tracker_store_url))
        return self._transcripts

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """Routes: the chat page and its assets, the demo page, and the JSON API."""
        web = Blueprint("aftercare_web", __name__)
        ancestors = " ".join(["'self'"] + self.origins)

        def cors(request: Request, resp: HTTPResponse) -> HTTPResponse:
            origin = request.headers.get("origin", "").rstrip("/")
            if origin and origin in self.origins:
                resp.headers["Access-Control-Allow-Origin"] = origin
                resp.headers["Vary"] = "Origin"
                resp.headers["Access-Control-Allow-Headers"] = "Content-Type"
                resp.headers["Access-Control-Allow-Methods"] = "POST, OPTIONS"
            return resp

        def error(request: Request, status: int, message: str) -> HTTPResponse:
            return cors(request, response.json({"error": message}, status=status))

        def body_of(request: Request) -> dict[str, Any] | HTTPResponse:
            if len(request.body or b"") > MAX_BODY_BYTES:
                return error(request, 413, "request too large")
            try:
                body = request.json
            except Exception:  # sanic raises InvalidUsage on bad JSON
                return error(request, 400, "request body must be JSON")
            if not isinstance(body, dict):
                return error(request, 400, "request body must be a JSON object")
            return body

        def verified_body(request: Request) -> dict[str, Any] | HTTPResponse:
            """The JSON body, if its conversation id carries this server's token (else 4xx)."""
            body = body_of(request)
            if isinstance(body, HTTPResponse):
                return body
            if not self.verify(body.get("conversation_id"), body.get("token")):
                return error(request, 403, "unknown conversation: start a new one")
            return body

        def page(name: str, content_type: str = "text/html; charset=utf-8") -> HTTPResponse:
            resp = response.raw((STATIC / name).read_bytes(), content_type=content_type)
            resp.headers["Content-Security-Policy"] = CSP.format(ancestors=ancestors)
            resp.headers["X-Content-Type-Options"] = "nosniff"
            resp.headers["Referrer-Policy"] = "no-referrer"
            return resp

        @web.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @web.route("/chat", methods=["GET"])
        async def chat_page(_: Request) -> HTTPResponse:
            return page("chat.html")

        @web.route("/demo", methods=["GET"])
        async def demo_page(_: Request) -> HTTPResponse:
            resp = page("demo.html")
            resp.headers["Content-Security-Policy"] = CSP.format(ancestors="'none'").replace(
                "default-src 'none'", "default-src 'none'; frame-src 'self'"
            )
            return resp

        assets = {"chat.js": "text/javascript", "chat.css": "text/css", "widget.js": "text/javascript"}

        @web.route("/<asset:(chat\\.js|chat\\.css|widget\\.js)>", methods=["GET"])
        async def static_asset(_: Request, asset: str) -> HTTPResponse:
            resp = page(asset, f"{assets[asset]}; charset=utf-8")
            resp.headers["Cache-Control"] = "no-cache"
            return resp

        @web.route("/<endpoint:(session|message|history)>", methods=["OPTIONS"])
        async def preflight(request: Request, endpoint: str) -> HTTPResponse:
            """CORS preflight of the API: allowed headers only for the configured clinic origins."""
            return cors(request, response.empty())

        @web.route("/session", methods=["POST"])
        async def new_session(request: Request) -> HTTPResponse:
            svc = services()
            conversation_id = secrets.token_hex(16)
            greeting = svc.protocol.conversation["greet"]
            return cors(request, response.json({
                "conversation_id": conversation_id,
                "token": self.token_for(conversation_id),
                "messages": [{"text": greeting}],
                "quick_replies": QUICK_REPLIES,
            }))

        @web.route("/message", methods=["POST"])
        async def message(request: Request) -> HTTPResponse:
            body = verified_body(request)
            if isinstance(body, HTTPResponse):
                return body
            conversation_id, text = body["conversation_id"], body.get("message")
            if text is None:
                text = ""
            if not isinstance(text, str):
                return error(request, 400, "'message' must be a string")
            messages = await respond_safely(on_new_message, conversation_id, text, None, self.name())
            return cors(request, response.json({"messages": messages}))

        @web.route("/history", methods=["POST"])
        async def history(request: Request) -> HTTPResponse:
            body = verified_body(request)
            if isinstance(body, HTTPResponse):
                return body
            conversation_id = body["conversation_id"]
            turns = self.transcripts.turns(conversation_id)
            out: list[dict[str, Any]] = [{"from": "assistant", "text": services().protocol.conversation["greet"]}]
            for turn in turns:
                item: dict[str, Any] = {"from": turn.who, "text": turn.text}
                if turn.disposition:
                    item["custom"] = {"disposition": turn.disposition, "reason": turn.reason}
                out.append(item)
            return cors(request, response.json({"messages": out}))

        return web

