"""The escalation store: every emergency or call-physician outcome, kept for nurse review.

One row per conversation in ``escalations`` (its most urgent disposition and all reasons; a new
red flag reopens a resolved one), and one row per escalating message in ``escalation_events``.
SQLite by default, PostgreSQL by URL. ``record`` commits before it returns, so the caller can send
the reply knowing the escalation is stored. When the database cannot be written, the escalation
goes to an append-only journal file (fsynced) and is replayed into the database later; it is
never silently dropped.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import sqlalchemy as sa
from filelock import FileLock
from sqlalchemy.exc import SQLAlchemyError

from aftercare.clock import as_utc, now_utc
from aftercare.triage.protocol import rank

logger = logging.getLogger(__name__)

metadata = sa.MetaData()

escalations = sa.Table(
    "escalations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("conversation_id", sa.String(255), nullable=False, unique=True),
    sa.Column("channel", sa.String(64), nullable=False),
    sa.Column("disposition", sa.String(32), nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),  # JSON list
    sa.Column("protocol_version", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, default="open"),  # open | acknowledged | resolved
    sa.Column("assignee", sa.String(64), nullable=True),  # the nurse who acknowledged it
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

escalation_events = sa.Table(
    "escalation_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("escalation_id", sa.Integer, sa.ForeignKey("escalations.id"), nullable=False, index=True),
    sa.Column("conversation_id", sa.String(255), nullable=False, index=True),
    sa.Column("disposition", sa.String(32), nullable=False),
    sa.Column("reasons", sa.Text, nullable=False),
    sa.Column("finding_ids", sa.Text, nullable=False),
    sa.Column("protocol_version", sa.String(64), nullable=False),
    sa.Column("message_timestamp", sa.Float, nullable=True),  # the escalating user message (tracker time)
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)


class StoreError(RuntimeError):
    """The escalation could not be committed to the database."""


@dataclass(frozen=True)
class EscalationRecord:
    """One escalating outcome to store."""

    conversation_id: str
    channel: str
    disposition: str
    reasons: tuple[str, ...]
    finding_ids: tuple[str, ...]
    protocol_version: str
    message_timestamp: float | None = None
    at: datetime | None = None

    def to_json(self) -> str:
        data = self.__dict__ | {"at": (self.at or now_utc()).isoformat()}
        return json.dumps(data)

    @classmethod
    def from_json(cls, line: str) -> "EscalationRecord":
        data = json.loads(line)
        data["reasons"] = tuple(data["reasons"])
        data["finding_ids"] = tuple(data["finding_ids"])
        data["at"] = datetime.fromisoformat(data["at"])
        return cls(**data)


def _write_synced(path: Path, lines: list[str], mode: int) -> None:
    """Write lines to a file only this user can read, and wait until they are on disk."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | mode, 0o600)
    try:
        os.write(fd, "".join(line + "\n" for line in lines).encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _count_lines(path: Path | None) -> int:
    if path is None or not path.exists():
        return 0
    return sum(1 for l in path.read_text(encoding="utf-8", errors="replace").splitlines() if l.strip())


@lru_cache(maxsize=16)
def create_db_engine(url: str) -> sa.engine.Engine:
    """The process's one engine for the URL; creates the SQLite file's folder, waits on a locked SQLite file."""
    if url.startswith("sqlite:///"):
        Path(url[len("sqlite:///"):]).parent.mkdir(parents=True, exist_ok=True)
        return sa.create_engine(url, connect_args={"timeout": 5}, future=True, hide_parameters=True)
    # hide_parameters: an error (a locked database, a constraint) never carries phone numbers or reasons
    # into a log line.
    return sa.create_engine(url, pool_pre_ping=True, future=True, hide_parameters=True)


class EscalationStore:
    """Reads and writes escalations in a SQL database."""

    def __init__(self, url: str, journal_path: str | Path | None = None) -> None:
        self.engine = create_db_engine(url)
        self.journal = Path(journal_path) if journal_path else None
        self._lock = threading.Lock()
        self._ready = False

    def create_schema(self) -> None:
        """Create the tables if they do not exist."""
        metadata.create_all(self.engine)
        self._ready = True

    def record(self, item: EscalationRecord) -> int:
        """Store one escalation and commit; returns the conversation's escalation id.

        Raises :class:`StoreError` if the database cannot be written (the caller journals it).
        """
        try:
            if not self._ready:
                self.create_schema()
            with self.engine.begin() as conn:
                return self._upsert(conn, item)
        except SQLAlchemyError as exc:
            raise StoreError(f"escalation not stored: {type(exc).__name__}") from exc

    def record_durably(self, item: EscalationRecord) -> bool:
        """Store, or journal when the database fails. True when it reached the database.

        Never raises: a storage failure must not keep the safe reply from the patient (it is logged,
        and the escalation waits in the journal, or, when even that fails, in the log's error line).
        """
        with self._lock:
            try:
                self.replay_journal()
            except Exception:  # noqa: BLE001 - replay is best effort; recording this one is what matters
                logger.exception("journal replay failed")
            try:
                self.record(item)
                return True
            except StoreError:
                logger.error("escalation store unavailable; journaling the escalation")
            try:
                self._journal(item)
            except Exception as exc:  # noqa: BLE001 - disk full, no journal: say so, never raise
                logger.error("escalation could not be journaled either: %s", type(exc).__name__)
            return False

    def replay_journal(self) -> int:
        """Move journaled escalations into the database; returns how many were replayed.

        Across processes (the action server and the Rasa server both journal): one replay at a time under
        a file lock, and the journal is rewritten atomically (write, fsync, rename), so a line appended
        meanwhile waits for the lock and is never lost. A line that cannot be read (half-written by a
        crash, disk full) is moved aside to ``<journal>.unreadable`` for a human and counted, and never
        blocks the others. Replaying twice records nothing twice (an event already stored is skipped).
        """
        if self.journal is None or not self.journal.exists():
            return 0
        with self._file_lock():
            if not self.journal.exists():
                return 0
            lines = [l for l in self.journal.read_text(encoding="utf-8", errors="replace").splitlines() if l.strip()]
            done, remaining, unreadable = 0, [], []
            for index, line in enumerate(lines):
                try:
                    item = EscalationRecord.from_json(line)
                except (ValueError, KeyError, TypeError):
                    unreadable.append(line)
                    continue
                try:
                    self._record_once(item)
                    done += 1
                except StoreError:
                    remaining = [l for l in lines[index:] if l not in unreadable]
                    break
            if unreadable:
                self._append(self.unreadable_path, unreadable)
                logger.error("moved %d unreadable journal line(s) aside to %s", len(unreadable), self.unreadable_path.name)
            if remaining:
                self._rewrite(self.journal, remaining)
            else:
                self.journal.unlink()
            if done:
                logger.warning("replayed %d journaled escalations into the database", done)
            return done

    def pending_in_journal(self) -> int:
        """How many escalations wait in the journal (shown to nurses when not zero)."""
        return _count_lines(self.journal)

    def unreadable_in_journal(self) -> int:
        """How many journal lines could not be read and were kept aside (shown to nurses when not zero)."""
        return _count_lines(self.unreadable_path) if self.journal else 0

    @property
    def unreadable_path(self) -> Path:
        assert self.journal is not None
        return self.journal.with_name(self.journal.name + ".unreadable")

    def _file_lock(self) -> FileLock:
        assert self.journal is not None
        self.journal.parent.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.journal) + ".lock", timeout=30)

    def _journal(self, item: EscalationRecord) -> None:
        if self.journal is None:
            raise StoreError("escalation not stored and no journal configured")
        with self._file_lock():
            self._append(self.journal, [item.to_json()])

    @staticmethod
    def _append(path: Path, lines: list[str]) -> None:
        _write_synced(path, lines, os.O_APPEND)

    @staticmethod
    def _rewrite(path: Path, lines: list[str]) -> None:
        tmp = path.with_name(path.name + ".tmp")
        _write_synced(tmp, lines, os.O_TRUNC)
        os.replace(tmp, path)

    def _record_once(self, item: EscalationRecord) -> None:
        """Record a journaled escalation unless the same event is stored already (a replay that crashed
        after writing the database but before rewriting the journal)."""
        try:
            if not self._ready:
                self.create_schema()
            with self.engine.connect() as conn:
                seen = conn.execute(
                    sa.select(escalation_events.c.id).where(
                        escalation_events.c.conversation_id == item.conversation_id,
                        escalation_events.c.created_at == item.at,
                        escalation_events.c.reasons == json.dumps(list(item.reasons)),
                    )
                ).first()
        except SQLAlchemyError as exc:
            raise StoreError(f"journal replay: {type(exc).__name__}") from exc
        if seen is None:
            self.record(item)

    def _upsert(self, conn: sa.engine.Connection, item: EscalationRecord) -> int:
        at = item.at or now_utc()
        row = conn.execute(
            sa.select(escalations).where(escalations.c.conversation_id == item.conversation_id)
        ).mappings().first()
        if row is None:
            try:
                with conn.begin_nested():
                    escalation_id = conn.execute(
                        escalations.insert().values(
                            conversation_id=item.conversation_id,
                            channel=item.channel,
                            disposition=item.disposition,
                            reasons=json.dumps(list(item.reasons)),
                            protocol_version=item.protocol_version,
                            status="open",
                            created_at=at,
                            updated_at=at,
                        )
                    ).inserted_primary_key[0]
            except sa.exc.IntegrityError:
                # Another process inserted this conversation's row first: update it instead.
                return self._upsert(conn, item)
        else:
            escalation_id = row["id"]
            reasons = json.loads(row["reasons"])
            reasons += [r for r in item.reasons if r not in reasons]
            disposition = max(row["disposition"], item.disposition, key=rank)
            conn.execute(
                escalations.update()
                .where(escalations.c.id == escalation_id)
                .values(
                    disposition=disposition,
                    reasons=json.dumps(reasons),
                    protocol_version=item.protocol_version,
                    status="open",  # a new red flag reopens a resolved conversation
                    updated_at=at,
                )
            )
        conn.execute(
            escalation_events.insert().values(
                escalation_id=escalation_id,
                conversation_id=item.conversation_id,
                disposition=item.disposition,
                reasons=json.dumps(list(item.reasons)),
                finding_ids=json.dumps(list(item.finding_ids)),
                protocol_version=item.protocol_version,
                message_timestamp=item.message_timestamp,
                created_at=at,
            )
        )
        return int(escalation_id)

    # ---------------------------------------------------------------- reading
    def list_escalations(self, status: str | None = None) -> list[dict[str, Any]]:
        """Escalations, emergencies first then oldest first."""
        if not self._ready:
            self.create_schema()
        query = sa.select(escalations)
        if status:
            query = query.where(escalations.c.status == status)
        with self.engine.connect() as conn:
            rows = [dict(r) for r in conn.execute(query).mappings()]
        for r in rows:
            r["reasons"] = json.loads(r["reasons"])
        return sorted(rows, key=lambda r: (-rank(r["disposition"]), as_utc(r["created_at"])))

    def events_for(self, conversation_id: str) -> list[dict[str, Any]]:
        """The escalating events of one conversation, oldest first."""
        if not self._ready:
            self.create_schema()
        with self.engine.connect() as conn:
            rows = [
                dict(r)
                for r in conn.execute(
                    sa.select(escalation_events)
                    .where(escalation_events.c.conversation_id == conversation_id)
                    .order_by(escalation_events.c.id)
                ).mappings()
            ]
        for r in rows:
            r["reasons"] = json.loads(r["reasons"])
            r["finding_ids"] = json.loads(r["finding_ids"])
        return rows


def reasons_text(reasons: Iterable[str]) -> str:
    """Reasons joined for display."""
    return "; ".join(reasons)
