"""Read a conversation's transcript from Rasa's SQL tracker store (table ``events``)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone

import sqlalchemy as sa
from sqlalchemy.exc import NoSuchTableError


@dataclass(frozen=True)
class Turn:
    """One message of the transcript."""

    who: str  # "patient" or "assistant"
    text: str
    at: datetime
    timestamp: float
    disposition: str | None = None  # on assistant turns that gave one
    reason: str | None = None


class TranscriptReader:
    """Reads transcripts; the tracker store may not exist yet (no conversation so far)."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine = engine

    def turns(self, conversation_id: str) -> list[Turn]:
        """Patient and assistant turns in order; a disposition payload is attached to the turn before it."""
        try:
            events = sa.Table("events", sa.MetaData(), autoload_with=self.engine)
        except (NoSuchTableError, sa.exc.OperationalError):
            return []
        query = (
            sa.select(events.c.type_name, events.c.timestamp, events.c.data)
            .where(events.c.sender_id == conversation_id, events.c.type_name.in_(("user", "bot")))
            .order_by(events.c.id)
        )
        turns: list[Turn] = []
        with self.engine.connect() as conn:
            for type_name, timestamp, data in conn.execute(query):
                event = json.loads(data or "{}")
                at = datetime.fromtimestamp(float(timestamp), timezone.utc)
                if type_name == "user":
                    turns.append(Turn("patient", event.get("text") or "", at, float(timestamp)))
                    continue
                custom = ((event.get("data") or {}).get("custom")) or {}
                if event.get("text"):
                    turns.append(Turn("assistant", event["text"], at, float(timestamp)))
                elif isinstance(custom, dict) and custom.get("disposition") and turns:
                    last = turns[-1]
                    turns[-1] = Turn(last.who, last.text, last.at, last.timestamp, custom["disposition"], custom.get("reason"))
        return turns
