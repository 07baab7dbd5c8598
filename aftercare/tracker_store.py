"""Rasa's SQL tracker store, with a current-session query whose cost does not grow with the conversation.

Rasa finds a conversation's current session with one query that joins its events to the
``max(timestamp)`` of its ``session_started`` events. A conversation new since the last statistics
(every new one, and every one on a fresh database) is estimated at one row, and PostgreSQL then runs
the join as a nested loop that recomputes the maximum for each event of the conversation: each turn
costs more as the conversation grows, however short its sessions (measured on PostgreSQL: the query
went from 9 to 97 ms over 100 turns; per turn 55 ms at turn 5, 474 ms at turn 150).
``SessionSQLTrackerStore`` asks for the session start first (one row, from an index on sender, type and
time) and then for the events from it on (an index on sender and time); what it loads is exactly what
Rasa's query loads. Configured in endpoints.yml and endpoints.postgresql.yml as
``type: aftercare.tracker_store.SessionSQLTrackerStore`` with the ``SQL`` store's settings.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.events import SessionStarted

#: name -> columns of the indexes the two queries use (Rasa itself indexes sender_id only)
INDEXES = {
    "ix_events_sender_type_timestamp": ("sender_id", "type_name", "timestamp"),
    "ix_events_sender_timestamp": ("sender_id", "timestamp"),
}


def ensure_session_indexes(engine: sa.engine.Engine) -> bool:
    """Create the indexes on Rasa's ``events`` table if missing; False when there is no table."""
    if not sa.inspect(engine).has_table("events"):
        return False
    with engine.begin() as conn:
        for name, columns in INDEXES.items():
            conn.execute(sa.text(f"CREATE INDEX IF NOT EXISTS {name} ON events ({', '.join(columns)})"))
    return True


class SessionSQLTrackerStore(SQLTrackerStore):
    """``SQLTrackerStore`` that loads the current session in two plain queries (and indexes them)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)  # creates Rasa's tables
        ensure_session_indexes(self.engine)

    def _event_query(self, session: Any, sender_id: str, fetch_events_from_all_sessions: bool) -> Any:
        """The conversation's events, ordered by id; unless all sessions are asked for, only those from
        its latest ``session_started`` event on (all of them when it has none), as Rasa's query does."""
        event = self.SQLEvent
        query = session.query(event).filter(event.sender_id == sender_id)
        if not fetch_events_from_all_sessions:
            start = (
                session.query(sa.func.max(event.timestamp))
                .filter(event.sender_id == sender_id, event.type_name == SessionStarted.type_name)
                .scalar()
            )
            if start is not None:
                query = query.filter(event.timestamp >= start)
        return query.order_by(event.id)
