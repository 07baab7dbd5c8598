"""UTC time for everything stored (SQLite keeps no offset, so stored times are always UTC)."""
from __future__ import annotations

from datetime import datetime, timezone


def now_utc() -> datetime:
    """The current time in UTC."""
    return datetime.now(timezone.utc)


def as_utc(value: datetime) -> datetime:
    """A stored time as an aware UTC datetime (naive values read back from SQLite are UTC)."""
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)
