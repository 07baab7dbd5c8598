"""The SMS channel (``POST /webhooks/twilio/webhook``), signed by Twilio.

- Every request must carry a valid ``X-Twilio-Signature`` for the configured public webhook URL
  (checked with the twilio library's ``RequestValidator``); otherwise 403 and nothing is stored.
- A missing ``Body`` or ``From`` is a 400, never a 500.
- The webhook answers Twilio at once (empty TwiML); the assistant's reply goes out afterwards
  through the REST API, in a thread, retried, and recorded (a failure is recorded, never reported
  as delivered). The escalation is stored by the action before any reply is sent.
- STOP, STOPALL, UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPT OUT stop check-ins (one confirmation);
  START, UNSTOP (and YES while stopped) resume; HELP says who we are, how to reach the care team and
  how to stop. A message that opts out and also says more is still triaged.
- Without the Twilio settings (README, "Settings") the server still starts, with SMS disabled.
Configured in ``credentials.yml`` as ``aftercare.channels.twilio.SignedTwilioInput``; credentials come
from the environment only.
"""
from __future__ import annotations

import asyncio
import logging
import re
from urllib.parse import parse_qsl
from typing import Any, Awaitable, Callable

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.request_validator import RequestValidator

from aftercare.channels.safe import respond_safely
from aftercare.escalations import create_db_engine
from aftercare.services import services
from aftercare.sms.models import E164, InboundText, SmsStore
from aftercare.sms.sender import SmsSender

logger = logging.getLogger(__name__)

OPT_OUT = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"})
OPT_IN = frozenset({"START", "UNSTOP"})
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
MAX_BODY_CHARS = 1600
MESSAGE_SID = re.compile(r"^(SM|MM)[0-9a-fA-F]{32}$")


def keyword(body: str) -> tuple[str | None, str]:
    """The keyword (STOP, START, YES, HELP, ...) when it is the whole message, as carriers read them, and
    the text; any longer message ("End of day 3 and my breast is red") is no keyword and is triaged."""
    text = body.strip()
    match = re.fullmatch(r"\s*(opt[\s-]*out|[a-z]+)[\s.,!?:;-]*", text, re.I)
    if not match:
        return None, text
    word = re.sub(r"[\s-]", "", match.group(1)).upper()
    if word in OPT_OUT | OPT_IN | {"YES", "HELP", "INFO"}:
        return word, ""
    return None, text


def signed_fields(body: bytes) -> dict[str, str]:
    """The form fields exactly as Twilio signed them, blank ones included (Sanic's own form parsing drops
    ``FromCity=`` and the like, and the signature of a real Twilio request then never matches)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return {}
    return dict(parse_qsl(text, keep_blank_values=True))


class SmsOutput(OutputChannel):
    """Sends the assistant's texts as SMS (used by the check-in worker through trigger_intent)."""

    def __init__(self, sender: SmsSender) -> None:
        self.sender = sender

    @classmethod
    def name(cls) -> str:
        return "twilio"

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await asyncio.to_thread(self.sender.send, recipient_id, [text])

    async def send_custom_json(self, recipient_id: str, json_message: dict[str, Any], **kwargs: Any) -> None:
        """SMS carries only the text; the disposition payload stays in the transcript."""


class SignedTwilioInput(InputChannel):
    """Inbound SMS from Twilio, signature-checked."""

    def __init__(self) -> None:
        svc = services()
        self.settings = svc.settings
        self.store = SmsStore(create_db_engine(svc.settings.database_url))
        self.store.create_schema()
        self.sender: SmsSender | None = None
        if svc.settings.sms_enabled:
            self.validator = RequestValidator(svc.settings.twilio_auth_token)
            self.sender = SmsSender(
                svc.settings.twilio_account_sid, svc.settings.twilio_auth_token, svc.settings.twilio_number,
                self.store, api_base=svc.settings.twilio_api_base,
            )
            logger.info("SMS enabled")
        else:
            logger.warning(
                "SMS disabled: set AFTERCARE_TWILIO_ACCOUNT_SID, AFTERCARE_TWILIO_AUTH_TOKEN, "
                "AFTERCARE_TWILIO_NUMBER and AFTERCARE_TWILIO_WEBHOOK_URL to enable it"
            )
        self._tasks: set[asyncio.Task] = set()

    @classmethod
    def name(cls) -> str:
        return "twilio"

    def get_output_channel(self) -> OutputChannel | None:
        return SmsOutput(self.sender) if self.sender else None

    def _texts(self, name: str) -> str:
        protocol = services().protocol
        template = protocol.followup.messages[name] if protocol.followup else ""
        return template.format(clinic=self.settings.clinic_name, care_team=self.settings.care_team_contact)

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The webhook route."""
        hook = Blueprint("aftercare_twilio", __name__)

        @hook.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok", "sms": "enabled" if self.sender else "disabled"})

        @hook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            if self.sender is None:
                return response.json({"error": "SMS is not configured"}, status=503)
            form = signed_fields(request.body or b"")
            signature = request.headers.get("X-Twilio-Signature", "")
            if not signature or not self.validator.validate(self.settings.twilio_webhook_url, form, signature):
                logger.warning("SMS webhook refused: missing or wrong signature")
                return response.json({"error": "invalid signature"}, status=403)
            phone, body, sid = form.get("From"), form.get("Body"), form.get("MessageSid")
            if not isinstance(phone, str) or not E164.match(phone):
                return response.json({"error": "missing or invalid 'From'"}, status=400)
            if not isinstance(body, str):
                return response.json({"error": "missing 'Body'"}, status=400)
            if not isinstance(sid, str) or not MESSAGE_SID.match(sid):
                return response.json({"error": "missing or invalid 'MessageSid'"}, status=400)
            # Stored before Twilio hears 200: a crash or restart now loses nothing (see resume_unanswered),
            # and a retry or replay of the same MessageSid is answered once only.
            if await asyncio.to_thread(self.store.receive, sid, phone, body[:MAX_BODY_CHARS]):
                self._start(on_new_message, InboundText(sid, phone, body[:MAX_BODY_CHARS]))
            return response.text(EMPTY_TWIML, content_type="text/xml")

        @hook.listener("after_server_start")
        async def resume_unanswered(app: Any, loop: Any) -> None:
            """Answer the texts a previous run stored but did not answer (it stopped in between)."""
            if self.sender is None:
                return
            for text in await asyncio.to_thread(self.store.unanswered):
                self._start(on_new_message, text)

        return hook

    def _start(self, on_new_message: Callable[[UserMessage], Awaitable[Any]], text: InboundText) -> None:
        task = asyncio.create_task(self._handle(on_new_message, text))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, on_new_message: Callable[[UserMessage], Awaitable[Any]], text: InboundText) -> None:
        assert self.sender is not None
        phone, body = text.phone, text.body
        try:
            word, rest = keyword(body)
            replies: list[str] = []
            triage = True
            if word in OPT_OUT:
                await asyncio.to_thread(self.store.set_opted_out, phone, True)
                replies.append(self._texts("sms_stopped"))
                triage = bool(rest)
            elif word in OPT_IN or (word == "YES" and not rest and await asyncio.to_thread(self.store.is_opted_out, phone)):
                await asyncio.to_thread(self.store.set_opted_out, phone, False)
                replies.append(self._texts("sms_started"))
                triage = bool(rest)
            elif word in ("HELP", "INFO") and not rest:
                replies.append(self._texts("sms_help"))
                triage = False
            if triage:
                messages = await respond_safely(on_new_message, phone, body, {"channel": "sms"}, self.name())
                texts = [m["text"] for m in messages if m.get("text")]
                replies = texts + replies  # the assistant's answer (its disposition first) before the confirmation
            if replies:
                await asyncio.to_thread(self.sender.send, phone, replies)
            await asyncio.to_thread(self.store.mark_answered, text.message_sid)
        except Exception as exc:  # noqa: BLE001 - log the kind of failure, never the message
            logger.error("SMS handling failed: %s", type(exc).__name__)
