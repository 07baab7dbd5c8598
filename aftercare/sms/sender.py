"""Send texts through Twilio's REST API: split at sentence boundaries, retried, every outcome recorded.

The REST client is blocking, so callers run :meth:`SmsSender.send` in a thread (``asyncio.to_thread``).
A send that finally fails is recorded as failed (the nurse console shows it), never as delivered.
"""
from __future__ import annotations

import logging
import re
import time
from typing import Callable

from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from aftercare.sms.models import SmsStore

#: Seconds one request to Twilio's REST API may take before it is retried.
REQUEST_TIMEOUT_SECONDS = 10.0

logger = logging.getLogger(__name__)

#: Characters per text: two concatenated SMS segments, so a part stays readable on any phone.
PART_LIMIT = 306
RETRY_DELAYS = (0.5, 1.5, 3.0)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def split_sms(texts: list[str], limit: int = PART_LIMIT) -> list[str]:
    """Texts as SMS parts of at most ``limit`` characters, split at sentence boundaries.

    The order is kept, so a reply whose first text is the disposition keeps that sentence first.
    A sentence longer than the limit is cut at a word boundary.
    """
    parts: list[str] = []
    for text in texts:
        current = ""
        for sentence in _SENTENCE.split(" ".join(text.split())):
            pieces = [sentence]
            if len(sentence) > limit:
                pieces, word_run = [], ""
                for word in sentence.split(" "):
                    if word_run and len(word_run) + 1 + len(word) > limit:
                        pieces.append(word_run)
                        word_run = word[:limit]
                    else:
                        word_run = f"{word_run} {word}".strip()[:limit]
                if word_run:
                    pieces.append(word_run)
            for piece in pieces:
                if current and len(current) + 1 + len(piece) > limit:
                    parts.append(current)
                    current = piece
                else:
                    current = f"{current} {piece}".strip()
        if current:
            parts.append(current)
    return parts


class SmsSender:
    """Twilio REST client for one account and sending number."""

    def __init__(self, account_sid: str, auth_token: str, from_number: str, store: SmsStore,
                 api_base: str = "", sleep: Callable[[float], None] = time.sleep) -> None:
        # Twilio's client waits forever by default; a hung connection would hold the reply (and the thread).
        self.client = Client(account_sid, auth_token, http_client=TwilioHttpClient(timeout=REQUEST_TIMEOUT_SECONDS))
        if api_base:
            self.client.api.base_url = api_base.rstrip("/")
        self.from_number = from_number
        self.store = store
        self.sleep = sleep

    def send(self, to: str, texts: list[str]) -> bool:
        """Send the texts as SMS parts; True when every part was accepted by the provider."""
        parts = split_sms([t for t in texts if t and t.strip()])
        ids: list[str] = []
        for part in parts:
            provider_id = self._send_part(to, part)
            if provider_id is None:
                self.store.record_message(to, "failed", len(parts), ",".join(ids) or None, "provider refused or unreachable")
                return False
            ids.append(provider_id)
        self.store.record_message(to, "sent", len(parts), ",".join(ids)[:64])
        return True

    def _send_part(self, to: str, body: str) -> str | None:
        for attempt, delay in enumerate((0.0,) + RETRY_DELAYS):
            if delay:
                self.sleep(delay)
            try:
                message = self.client.messages.create(to=to, from_=self.from_number, body=body)
                return str(message.sid)
            except (TwilioException, OSError) as exc:
                logger.warning("SMS send attempt %d failed: %s", attempt + 1, type(exc).__name__)
        logger.error("SMS not sent after %d attempts", len(RETRY_DELAYS) + 1)
        return None
