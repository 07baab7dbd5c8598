"""The nurse console's tables and the operations on them (accounts, sessions, audit, notes, status).

They live in the escalation store's database, beside ``escalations``. The audit log is append-only:
this module has no function that updates or deletes an entry, and the console has no route to.
"""
from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from aftercare.clock import as_utc, now_utc
from aftercare.escalations import escalations, metadata

nurses = sa.Table(
    "nurses",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, unique=True),
    sa.Column("display_name", sa.String(128), nullable=False),
    sa.Column("password_hash", sa.String(256), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),  # sha256 of the cookie value
    sa.Column("nurse_id", sa.Integer, sa.ForeignKey("nurses.id"), nullable=False),
    sa.Column("csrf_token", sa.String(64), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
)

login_attempts = sa.Table(
    "login_attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("username", sa.String(64), nullable=False, index=True),
    sa.Column("client", sa.String(64), nullable=False),
    sa.Column("success", sa.Boolean, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, index=True),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("nurse", sa.String(64), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),  # viewed, acknowledged, noted, resolved, reopened, exported, login, logout
    sa.Column("conversation_id", sa.String(255), nullable=True, index=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

escalation_notes = sa.Table(
    "escalation_notes",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("escalation_id", sa.Integer, sa.ForeignKey("escalations.id"), nullable=False, index=True),
    sa.Column("nurse", sa.String(64), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

IDLE_TIMEOUT = timedelta(minutes=30)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
THROTTLE_WINDOW = timedelta(minutes=15)
THROTTLE_FAILURES = 5  # failures of one account before it waits
THROTTLE_FIRST_BACKOFF = timedelta(minutes=1)  # then 2, 4, 8 ... up to THROTTLE_WINDOW
THROTTLE_CLIENT_FAILURES = 100  # failures from one address (a whole ward behind one proxy) in the window
MAX_NOTE_CHARS = 4000
_hasher = PasswordHasher()  # argon2id with the library's current recommended parameters


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccountError(ValueError):
    """A nurse account that cannot be created as asked."""


@dataclass(frozen=True)
class Nurse:
    id: int
    username: str
    display_name: str


@dataclass(frozen=True)
class Session:
    token: str  # the cookie value; only its digest is stored
    nurse: Nurse
    csrf_token: str


class ConsoleStore:
    """Accounts, sessions, throttling, audit, notes and escalation status, on one SQL engine."""

    def __init__(self, engine: sa.engine.Engine) -> None:
        self.engine = engine

    def create_schema(self) -> None:
        metadata.create_all(self.engine)

    # ------------------------------------------------------------ accounts
    def create_nurse(self, username: str, display_name: str, password: str) -> Nurse:
        """Create a personal account; refuses short passwords and taken usernames."""
        username = username.strip().lower()
        if not username or not username.replace(".", "").replace("-", "").replace("_", "").isalnum() or len(username) > 64:
            raise AccountError("username: letters, digits, '.', '-' or '_', at most 64 characters")
        if len(password) < 12:
            raise AccountError("password: at least 12 characters")
        with self.engine.begin() as conn:
            if conn.execute(sa.select(nurses.c.id).where(nurses.c.username == username)).first():
                raise AccountError(f"username {username!r} is taken")
            new_id = conn.execute(
                nurses.insert().values(
                    username=username,
                    display_name=display_name.strip() or username,
                    password_hash=_hasher.hash(password),
                    active=True,
                    created_at=now_utc(),
                )
            ).inserted_primary_key[0]
        return Nurse(int(new_id), username, display_name.strip() or username)

    def is_throttled(self, username: str, client: str) -> bool:
        """Too many recent failures for this account (with a backoff that doubles per failure), or a flood
        from one address. Failures against one account never lock out the others: all nurses may share
        one address behind the clinic's proxy, so the per-address limit is high."""
        at = now_utc()
        since = at - THROTTLE_WINDOW
        username = username.strip().lower()[:64]
        with self.engine.connect() as conn:
            failed = sa.select(login_attempts.c.at).where(
                login_attempts.c.at >= since, login_attempts.c.success.is_(False)
            )
            account = [as_utc(r[0]) for r in conn.execute(failed.where(login_attempts.c.username == username))]
            from_client = conn.execute(
                sa.select(sa.func.count()).select_from(failed.where(login_attempts.c.client == client[:64]).subquery())
            ).scalar_one()
        if from_client >= THROTTLE_CLIENT_FAILURES:
            return True
        if len(account) < THROTTLE_FAILURES:
            return False
        backoff = min(THROTTLE_WINDOW, THROTTLE_FIRST_BACKOFF * 2 ** (len(account) - THROTTLE_FAILURES))
        return at - max(account) < backoff

    def authenticate(self, username: str, password: str, client: str) -> Nurse | None:
        """Check a password and record the attempt; None when wrong (or throttled, checked by the caller)."""
        username = username.strip().lower()[:64]
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(nurses).where(nurses.c.username == username)).mappings().first()
            ok = False
            if row is not None and row["active"]:
                try:
                    ok = _hasher.verify(row["password_hash"], password)
                except (VerificationError, InvalidHashError):
                    ok = False
            else:
                _hasher.hash(password)  # same cost whether or not the account exists
            conn.execute(login_attempts.insert().values(username=username, client=client[:64], success=ok, at=now_utc()))
        return Nurse(row["id"], row["username"], row["display_name"]) if ok and row is not None else None

    # ------------------------------------------------------------ sessions
    def start_session(self, nurse: Nurse) -> Session:
        """A new session with a fresh id (the id changes at every login)."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        at = now_utc()
        with self.engine.begin() as conn:
            conn.execute(
                console_sessions.insert().values(
                    id_hash=_digest(token), nurse_id=nurse.id, csrf_token=csrf, created_at=at, last_seen_at=at
                )
            )
        return Session(token, nurse, csrf)

    def session_for(self, token: str | None, *, touch: bool = True) -> Session | None:
        """The live session for a cookie value; None if unknown or expired. ``touch``: this request is a
        person's action and keeps the session alive (the queue page's polling is not)."""
        if not token or len(token) > 128:
            return None
        at = now_utc()
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(console_sessions, nurses.c.username, nurses.c.display_name, nurses.c.active)
                .join(nurses, nurses.c.id == console_sessions.c.nurse_id)
                .where(console_sessions.c.id_hash == _digest(token))
            ).mappings().first()
            if row is None:
                return None
            expired = (
                at - as_utc(row["last_seen_at"]) > IDLE_TIMEOUT
                or at - as_utc(row["created_at"]) > ABSOLUTE_TIMEOUT
                or not row["active"]
            )
            if expired:
                conn.execute(console_sessions.delete().where(console_sessions.c.id_hash == row["id_hash"]))
                return None
            if touch:
                conn.execute(
                    console_sessions.update().where(console_sessions.c.id_hash == row["id_hash"]).values(last_seen_at=at)
                )
        return Session(token, Nurse(row["nurse_id"], row["username"], row["display_name"]), row["csrf_token"])

    def end_session(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(console_sessions.delete().where(console_sessions.c.id_hash == _digest(token)))

    # ------------------------------------------------------------ audit
    def audit(self, nurse: str, action: str, conversation_id: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(audit_log.insert().values(nurse=nurse, action=action, conversation_id=conversation_id, at=now_utc()))

    def audit_entries(self, conversation_id: str | None = None, limit: int = 500) -> list[dict[str, Any]]:
        query = sa.select(audit_log).order_by(audit_log.c.id.desc()).limit(limit)
        if conversation_id:
            query = query.where(audit_log.c.conversation_id == conversation_id)
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(query).mappings()]

    # ------------------------------------------------------------ escalations
    def escalation(self, escalation_id: int) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(escalations).where(escalations.c.id == escalation_id)).mappings().first()
        return dict(row) if row else None

    def set_status(self, escalation_id: int, status: str, nurse: Nurse) -> dict[str, Any] | None:
        """acknowledged (assigns it to the nurse), resolved, or open (reopen); audited."""
        action = {"acknowledged": "acknowledged", "resolved": "resolved", "open": "reopened"}[status]
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(escalations).where(escalations.c.id == escalation_id)).mappings().first()
            if row is None:
                return None
            values: dict[str, Any] = {"status": status}
            if status == "acknowledged":
                values["assignee"] = nurse.username
            conn.execute(escalations.update().where(escalations.c.id == escalation_id).values(**values))
            conn.execute(
                audit_log.insert().values(nurse=nurse.username, action=action, conversation_id=row["conversation_id"], at=now_utc())
            )
        return self.escalation(escalation_id)

    def add_note(self, escalation_id: int, nurse: Nurse, note: str) -> bool:
        note = note.strip()[:MAX_NOTE_CHARS]
        if not note:
            return False
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(escalations.c.conversation_id).where(escalations.c.id == escalation_id)).first()
            if row is None:
                return False
            conn.execute(escalation_notes.insert().values(escalation_id=escalation_id, nurse=nurse.username, note=note, at=now_utc()))
            conn.execute(audit_log.insert().values(nurse=nurse.username, action="noted", conversation_id=row[0], at=now_utc()))
        return True

    def notes(self, escalation_id: int) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [
                dict(r)
                for r in conn.execute(
                    sa.select(escalation_notes).where(escalation_notes.c.escalation_id == escalation_id).order_by(escalation_notes.c.id)
                ).mappings()
            ]
