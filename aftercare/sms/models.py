"""SMS enrolments, the check-in schedule and every text sent, in the escalation store's database.

The schedule lives here, not in Rasa reminders (those are lost on restart and dropped when a session
expires). A check-in moves pending -> sending (claimed by the worker) -> sent; a claim older than the
lease is recovered: if a text already went to that phone after the claim it is marked sent (nothing
twice), otherwise it goes back to pending (nothing lost).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from aftercare.clock import as_utc, now_utc
from aftercare.escalations import metadata
from aftercare.triage.protocol import Followup

E164 = re.compile(r"^\+[1-9]\d{7,14}$")
MAX_ATTEMPTS = 5
MAX_PROCEDURE_AGE_DAYS = 60

enrolments = sa.Table(
    "sms_enrolments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("phone", sa.String(16), nullable=False, unique=True),
    sa.Column("procedure_date", sa.Date, nullable=False),
    sa.Column("language", sa.String(8), nullable=True),
    sa.Column("opted_out", sa.Boolean, nullable=False, default=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

checkins = sa.Table(
    "sms_checkins",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("enrolment_id", sa.Integer, sa.ForeignKey("sms_enrolments.id"), nullable=False),
    sa.Column("day", sa.Integer, nullable=False),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),  # pending, sending, sent, skipped, cancelled, failed
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_error", sa.String(200), nullable=True),
    sa.UniqueConstraint("enrolment_id", "day"),
)

messages = sa.Table(
    "sms_messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("phone", sa.String(16), nullable=False, index=True),
    sa.Column("status", sa.String(16), nullable=False),  # sent, failed
    sa.Column("provider_id", sa.String(64), nullable=True),
    sa.Column("error", sa.String(200), nullable=True),
    sa.Column("parts", sa.Integer, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)


inbound = sa.Table(
    "sms_inbound",
    metadata,
    sa.Column("message_sid", sa.String(64), primary_key=True),  # Twilio's id: a retry or replay is a no-op
    sa.Column("phone", sa.String(16), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending, done
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
)


@dataclass(frozen=True)
class InboundText:
    message_sid: str
    phone: str
    body: str


class EnrolmentError(ValueError):
    """An enrolment refused, with a message for the nurse."""


@dataclass(frozen=True)
class DueCheckin:
    id: int
    phone: str
    day: int


def validate_phone(phone: str) -> str:
    """An E.164 number ("+15551234567"), or EnrolmentError."""
    phone = phone.strip().replace(" ", "").replace("-", "")
    if not E164.match(phone):
        raise EnrolmentError(f"{phone!r} is not a phone number in E.164 form, e.g. +15551234567")
    return phone


def schedule(procedure_date: date, followup: Followup, tz: str, today: date) -> list[tuple[int, datetime]]:
    """(day, due time in UTC) for each check-in day not already past, at the protocol's time of day."""
    zone = ZoneInfo(tz)
    out = []
    for day in followup.checkin_days:
        when = procedure_date + timedelta(days=day)
        if when < today:
            continue
        local = datetime.combine(when, followup.send_at, tzinfo=zone)
        out.append((day, local.astimezone(timezone.utc)))
    return out


class SmsStore:
    """Enrolments, check-ins and sent texts."""

    def __init__(self, engine: sa.engine.Engine, *, clock: Callable[[], datetime] = now_utc) -> None:
        self.engine = engine
        self.clock = clock  # injected so that tests do not depend on the wall clock

    def create_schema(self) -> None:
        metadata.create_all(self.engine)

    def enrol(self, phone: str, procedure_date: date, followup: Followup, tz: str, *, today: date,
              language: str | None = None) -> list[tuple[int, datetime]]:
        """Enrol a patient (or re-enrol with a new date) and schedule the check-ins; returns the schedule."""
        phone = validate_phone(phone)
        if procedure_date > today:
            raise EnrolmentError(f"the procedure date {procedure_date} is in the future")
        if (today - procedure_date).days > MAX_PROCEDURE_AGE_DAYS:
            raise EnrolmentError(f"the procedure date {procedure_date} is more than {MAX_PROCEDURE_AGE_DAYS} days ago")
        if language is not None and not re.fullmatch(r"[a-z]{2}(-[A-Z]{2})?", language):
            raise EnrolmentError(f"language {language!r} should look like 'en' or 'es'")
        plan = schedule(procedure_date, followup, tz, today)
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(enrolments.c.id).where(enrolments.c.phone == phone)).first()
            if row is None:
                enrolment_id = conn.execute(enrolments.insert().values(
                    phone=phone, procedure_date=procedure_date, language=language, opted_out=False, created_at=self.clock()
                )).inserted_primary_key[0]
            else:
                enrolment_id = row[0]
                conn.execute(enrolments.update().where(enrolments.c.id == enrolment_id).values(
                    procedure_date=procedure_date, language=language))
                conn.execute(checkins.delete().where(checkins.c.enrolment_id == enrolment_id, checkins.c.status == "pending"))
            done = {r[0] for r in conn.execute(sa.select(checkins.c.day).where(checkins.c.enrolment_id == enrolment_id))}
            for day, due in plan:
                if day not in done:
                    conn.execute(checkins.insert().values(enrolment_id=enrolment_id, day=day, due_at=due, status="pending", attempts=0))
        return plan

    # ------------------------------------------------------------ texts from patients
    def receive(self, message_sid: str, phone: str, body: str) -> bool:
        """Store a patient's text before it is answered; False when this MessageSid was stored already."""
        try:
            with self.engine.begin() as conn:
                conn.execute(inbound.insert().values(
                    message_sid=message_sid, phone=phone, body=body, status="pending", received_at=self.clock()))
            return True
        except sa.exc.IntegrityError:
            return False

    def mark_answered(self, message_sid: str) -> None:
        """The text was triaged and answered (or the answer recorded as failed)."""
        with self.engine.begin() as conn:
            conn.execute(inbound.update().where(inbound.c.message_sid == message_sid)
                         .values(status="done", done_at=self.clock()))

    def unanswered(self, older_than: timedelta = timedelta(seconds=0)) -> list[InboundText]:
        """Texts stored but not answered (a restart in between): oldest first."""
        cutoff = self.clock() - older_than
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(inbound.c.message_sid, inbound.c.phone, inbound.c.body)
                .where(inbound.c.status == "pending", inbound.c.received_at <= cutoff)
                .order_by(inbound.c.received_at)
            ).all()
        return [InboundText(*row) for row in rows]

    def procedure_date_for(self, phone: str) -> date | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(enrolments.c.procedure_date).where(enrolments.c.phone == phone)).first()
        return row[0] if row else None

    def set_opted_out(self, phone: str, opted_out: bool) -> bool:
        """STOP / START; returns whether the phone is enrolled. Opting out cancels pending check-ins."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(enrolments.c.id).where(enrolments.c.phone == phone)).first()
            if row is None:
                return False
            conn.execute(enrolments.update().where(enrolments.c.id == row[0]).values(opted_out=opted_out))
            old, new = ("pending", "cancelled") if opted_out else ("cancelled", "pending")
            query = checkins.update().where(checkins.c.enrolment_id == row[0], checkins.c.status == old)
            if not opted_out:
                query = query.where(checkins.c.due_at >= self.clock())
            conn.execute(query.values(status=new))
        return True

    def is_opted_out(self, phone: str) -> bool:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(enrolments.c.opted_out).where(enrolments.c.phone == phone)).first()
        return bool(row and row[0])

    # ------------------------------------------------------------ the worker's side
    def due(self, at: datetime) -> list[DueCheckin]:
        """Check-ins due now, at most one per patient (older overdue ones are skipped, not sent late in a burst)."""
        at = at.astimezone(timezone.utc)  # stored times are UTC; SQLite keeps no offset to compare with
        with self.engine.begin() as conn:
            rows = conn.execute(
                sa.select(checkins.c.id, checkins.c.day, checkins.c.enrolment_id, enrolments.c.phone)
                .join(enrolments, enrolments.c.id == checkins.c.enrolment_id)
                .where(checkins.c.status == "pending", checkins.c.due_at <= at, enrolments.c.opted_out.is_(False))
                .order_by(checkins.c.enrolment_id, checkins.c.day)
            ).all()
            latest: dict[int, Any] = {}
            for row in rows:
                if row.enrolment_id in latest:
                    conn.execute(checkins.update().where(checkins.c.id == latest[row.enrolment_id].id).values(status="skipped"))
                latest[row.enrolment_id] = row
        return [DueCheckin(r.id, r.phone, r.day) for r in latest.values()]

    def claim(self, checkin_id: int, at: datetime) -> bool:
        """Take a pending check-in for sending; False if another worker took it."""
        at = at.astimezone(timezone.utc)
        with self.engine.begin() as conn:
            result = conn.execute(
                checkins.update()
                .where(checkins.c.id == checkin_id, checkins.c.status == "pending")
                .values(status="sending", claimed_at=at, attempts=checkins.c.attempts + 1)
            )
        return result.rowcount == 1

    def mark_sent(self, checkin_id: int, at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(checkins.update().where(checkins.c.id == checkin_id).values(status="sent", sent_at=at))

    def release(self, checkin_id: int, error: str) -> None:
        """A failed attempt: back to pending, or failed after MAX_ATTEMPTS."""
        with self.engine.begin() as conn:
            attempts = conn.execute(sa.select(checkins.c.attempts).where(checkins.c.id == checkin_id)).scalar_one()
            status = "failed" if attempts >= MAX_ATTEMPTS else "pending"
            conn.execute(checkins.update().where(checkins.c.id == checkin_id).values(status=status, last_error=error[:200]))

    def recover(self, lease: timedelta, at: datetime) -> int:
        """Claims older than the lease (a worker died): sent if a text went out after the claim, else pending."""
        at = at.astimezone(timezone.utc)
        recovered = 0
        with self.engine.begin() as conn:
            stale = conn.execute(
                sa.select(checkins.c.id, checkins.c.claimed_at, enrolments.c.phone)
                .join(enrolments, enrolments.c.id == checkins.c.enrolment_id)
                .where(checkins.c.status == "sending", checkins.c.claimed_at <= at - lease)
            ).all()
            for row in stale:
                went_out = conn.execute(
                    sa.select(messages.c.id).where(
                        messages.c.phone == row.phone, messages.c.status == "sent",
                        messages.c.at >= as_utc(row.claimed_at),
                    )
                ).first()
                status = "sent" if went_out else "pending"
                conn.execute(checkins.update().where(checkins.c.id == row.id).values(status=status))
                recovered += 1
        return recovered

    def checkin_rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(
                sa.select(checkins, enrolments.c.phone).join(enrolments, enrolments.c.id == checkins.c.enrolment_id)
                .order_by(checkins.c.id)).mappings()]

    # ------------------------------------------------------------ texts sent
    def record_message(self, phone: str, status: str, parts: int, provider_id: str | None = None,
                       error: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(messages.insert().values(
                phone=phone, status=status, parts=parts, provider_id=provider_id, error=(error or "")[:200] or None, at=self.clock()))

    def delivery_since(self, phone: str, since: datetime) -> str | None:
        """'sent' or 'failed': what became of the last text to this phone since then (None: no text)."""
        since = since.astimezone(timezone.utc)
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(messages.c.status).where(messages.c.phone == phone, messages.c.at >= since)
                .order_by(messages.c.id.desc()).limit(1)
            ).first()
        return row[0] if row else None

    def failed_checkins(self) -> list[dict[str, Any]]:
        """Check-ins that could not be sent after every attempt, newest first (listed for nurses)."""
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(
                sa.select(checkins.c.id, checkins.c.day, checkins.c.due_at, checkins.c.last_error, enrolments.c.phone)
                .join(enrolments, enrolments.c.id == checkins.c.enrolment_id)
                .where(checkins.c.status == "failed").order_by(checkins.c.due_at.desc())).mappings()]

    def failed_messages(self, phone: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(
                sa.select(messages).where(messages.c.phone == phone, messages.c.status == "failed")
                .order_by(messages.c.id)).mappings()]
