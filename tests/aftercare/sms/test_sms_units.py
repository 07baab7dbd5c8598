"""SMS pieces without servers: splitting, keywords, schedule, enrolment, claims and recovery, retries."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from aftercare.channels.twilio import keyword
from aftercare.triage.protocol import in_quiet_hours, load_protocol
from aftercare.settings import ROOT
from aftercare.sms.models import EnrolmentError, SmsStore, schedule, validate_phone
from aftercare.sms.sender import PART_LIMIT, SmsSender, split_sms

FOLLOWUP = load_protocol(ROOT / "protocols" / "ductogram.yml").followup
TODAY = date(2026, 11, 22)
#: The store's clock in these tests: the evening of TODAY in the clinic (America/Chicago), before every check-in.
NOW = datetime(2026, 11, 22, 23, 30, tzinfo=timezone.utc)


@pytest.fixture
def store(tmp_path: Path) -> SmsStore:
    s = SmsStore(sa.create_engine(f"sqlite:///{tmp_path / 'sms.db'}"), clock=lambda: NOW)
    s.create_schema()
    return s


# ----------------------------------------------------------------------------- splitting
def test_short_texts_stay_whole_and_in_order():
    assert split_sms(["Call 911 now.", "Second."]) == ["Call 911 now.", "Second."]


def test_long_text_splits_at_sentence_boundaries_disposition_first():
    first = "Please call your physician today: temperature 101.2 °F is over 100.5 °F."
    long = first + " " + " ".join(f"Sentence number {i} of the advice." for i in range(40))
    parts = split_sms([long])
    assert parts[0].startswith(first)
    assert all(len(p) <= PART_LIMIT for p in parts)
    assert all(p.endswith(".") for p in parts)
    assert " ".join(parts) == " ".join(long.split())


def test_a_sentence_longer_than_the_limit_is_cut_at_words():
    parts = split_sms(["word " * 200])
    assert all(len(p) <= PART_LIMIT for p in parts) and len(parts) >= 3


# ----------------------------------------------------------------------------- keywords
@pytest.mark.parametrize("body, word, rest", [
    ("STOP", "STOP", ""), ("stop", "STOP", ""), ("  Stop.  ", "STOP", ""), ("opt out", "OPTOUT", ""),
    ("OPT-OUT", "OPTOUT", ""), ("unsubscribe", "UNSUBSCRIBE", ""), ("STOPALL", "STOPALL", ""),
    ("quit", "QUIT", ""), ("revoke", "REVOKE", ""), ("end", "END", ""), ("cancel", "CANCEL", ""),
    ("start", "START", ""), ("UNSTOP", "UNSTOP", ""), ("yes", "YES", ""), ("help", "HELP", ""),
    # A keyword counts only as the whole message (issue 10.6): anything longer is triaged as it is.
    ("STOP. i cant breathe", None, "STOP. i cant breathe"), ("yes still bloody", None, "yes still bloody"),
    ("End of day 3 and my breast is red", None, "End of day 3 and my breast is red"),
    ("Stop!", "STOP", ""), ("help?", "HELP", ""),
    ("stopped bleeding", None, "stopped bleeding"), ("i want to stop", None, "i want to stop"),
    ("hello", None, "hello"), ("", None, ""),
])
def test_keywords(body, word, rest):
    assert keyword(body) == (word, rest)


# ----------------------------------------------------------------------------- schedule
def test_schedule_days_time_and_quiet_hours():
    plan = schedule(date(2026, 11, 20), FOLLOWUP, "America/Chicago", date(2026, 11, 20))
    assert [d for d, _ in plan] == [1, 3, 5]
    assert plan[0][1] == datetime(2026, 11, 21, 16, 0, tzinfo=timezone.utc)  # 10:00 Chicago (CST)
    assert not in_quiet_hours(FOLLOWUP.send_at, FOLLOWUP.quiet_hours)
    assert in_quiet_hours(time(23, 0), FOLLOWUP.quiet_hours) and in_quiet_hours(time(7, 59), FOLLOWUP.quiet_hours)
    assert not in_quiet_hours(time(8, 0), FOLLOWUP.quiet_hours)


def test_past_checkin_days_are_not_scheduled():
    plan = schedule(date(2026, 11, 18), FOLLOWUP, "America/Chicago", TODAY)  # day 4 today
    assert [d for d, _ in plan] == [5]


# ----------------------------------------------------------------------------- enrolment
@pytest.mark.parametrize("bad", ["5551234567", "+0551234567", "+1-555-abc", "+1555123456789012", ""])
def test_bad_phone_numbers(bad):
    with pytest.raises(EnrolmentError):
        validate_phone(bad)


def test_enrol_refuses_future_and_absurd_dates(store):
    with pytest.raises(EnrolmentError, match="future"):
        store.enrol("+15551234567", TODAY + timedelta(days=1), FOLLOWUP, "America/Chicago", today=TODAY)
    with pytest.raises(EnrolmentError, match="more than"):
        store.enrol("+15551234567", TODAY - timedelta(days=365), FOLLOWUP, "America/Chicago", today=TODAY)


def test_reenrolment_replaces_pending_checkins(store):
    store.enrol("+15551234567", TODAY - timedelta(days=1), FOLLOWUP, "America/Chicago", today=TODAY)
    store.enrol("+15551234567", TODAY, FOLLOWUP, "America/Chicago", today=TODAY)
    rows = store.checkin_rows()
    assert sorted(r["day"] for r in rows) == [1, 3, 5]
    assert store.procedure_date_for("+15551234567") == TODAY


# ----------------------------------------------------------------------------- claims and recovery
def _due_now(store: SmsStore) -> datetime:
    return store.clock() + timedelta(days=10)


def test_claim_is_exclusive_and_one_checkin_a_day(store):
    store.enrol("+15551234567", TODAY - timedelta(days=5), FOLLOWUP, "America/Chicago", today=TODAY - timedelta(days=5))
    due = store.due(_due_now(store))
    assert len(due) == 1 and due[0].day == 5  # overdue days 1 and 3 are skipped, not sent in a burst
    assert store.claim(due[0].id, store.clock())
    assert not store.claim(due[0].id, store.clock())
    assert sorted(r["status"] for r in store.checkin_rows()) == ["sending", "skipped", "skipped"]


def test_recovery_marks_sent_when_a_text_went_out_after_the_claim(store):
    store.enrol("+15551234567", TODAY, FOLLOWUP, "America/Chicago", today=TODAY)
    store.enrol("+15557654321", TODAY, FOLLOWUP, "America/Chicago", today=TODAY)
    later = _due_now(store)
    a, b = sorted(store.due(later), key=lambda c: c.phone)
    claimed_at = store.clock() - timedelta(minutes=10)
    store.claim(a.id, claimed_at)
    store.claim(b.id, claimed_at)
    store.record_message(a.phone, "sent", 1, "SMx")  # a's text went out, then the worker died
    assert store.recover(timedelta(minutes=5), store.clock()) == 2
    status = {r["phone"]: r["status"] for r in store.checkin_rows() if r["id"] in (a.id, b.id)}
    assert status == {a.phone: "sent", b.phone: "pending"}


def test_release_fails_after_max_attempts(store):
    store.enrol("+15551234567", TODAY, FOLLOWUP, "America/Chicago", today=TODAY)
    checkin = store.due(_due_now(store))[0]
    for _ in range(5):
        assert store.claim(checkin.id, store.clock())
        store.release(checkin.id, "rasa unreachable")
    assert [r["status"] for r in store.checkin_rows() if r["id"] == checkin.id] == ["failed"]


def test_opt_out_cancels_and_opt_in_restores_future_checkins(store):
    store.enrol("+15551234567", TODAY, FOLLOWUP, "America/Chicago", today=TODAY)
    assert store.set_opted_out("+15551234567", True)
    assert store.due(_due_now(store)) == []
    assert store.set_opted_out("+15551234567", False)
    assert {r["status"] for r in store.checkin_rows()} == {"pending"}
    assert not store.set_opted_out("+15550000000", True)  # not enrolled


# ----------------------------------------------------------------------------- retries
class FlakyMessages:
    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.bodies: list[str] = []

    def create(self, to: str, from_: str, body: str):
        if self.failures:
            self.failures -= 1
            raise OSError("connection reset")
        self.bodies.append(body)
        return type("Message", (), {"sid": f"SM{len(self.bodies)}"})()


def sender_with(store: SmsStore, failures: int) -> tuple[SmsSender, FlakyMessages]:
    sender = SmsSender("AC" + "0" * 32, "token", "+15550000000", store, sleep=lambda _: None)
    flaky = FlakyMessages(failures)
    sender.client = type("Client", (), {"messages": flaky})()
    return sender, flaky


def test_send_retries_then_records_sent(store):
    sender, flaky = sender_with(store, failures=2)
    assert sender.send("+15551234567", ["hello"]) is True
    assert flaky.bodies == ["hello"]


def test_send_that_finally_fails_is_recorded_as_failed_not_delivered(store):
    sender, _ = sender_with(store, failures=100)
    assert sender.send("+15551234567", ["hello"]) is False
    failed = store.failed_messages("+15551234567")
    assert len(failed) == 1 and failed[0]["status"] == "failed"


def test_due_compares_in_utc_whatever_the_offset(store):
    """Regression: SQLite keeps no offset, so a local time must be converted before comparing."""
    from zoneinfo import ZoneInfo

    store.enrol("+15551234567", TODAY - timedelta(days=1), FOLLOWUP, "America/Chicago", today=TODAY)
    noon_chicago = datetime(2026, 11, 22, 12, 0, tzinfo=ZoneInfo("America/Chicago"))  # due was 10:00 Chicago
    nine_chicago = datetime(2026, 11, 22, 9, 0, tzinfo=ZoneInfo("America/Chicago"))
    assert store.due(nine_chicago) == []  # 15:00 UTC: not yet (a naive comparison would say due)
    assert [c.day for c in store.due(noon_chicago)] == [1]


def test_the_twilio_client_has_a_timeout(store):
    from aftercare.sms.sender import REQUEST_TIMEOUT_SECONDS

    sender = SmsSender("AC" + "0" * 32, "token", "+15550000000", store, sleep=lambda _: None)
    assert sender.client.http_client.timeout == REQUEST_TIMEOUT_SECONDS


def test_a_failed_check_in_is_logged_without_phone_or_token(store, monkeypatch, caplog):
    import requests

    from aftercare.settings import load_settings
    from aftercare.sms import worker

    settings = load_settings().with_changes(rasa_api_token="tok-secret-123")

    def refuse(url, **kw):
        raise requests.ConnectionError(f"HTTPConnectionPool: Max retries exceeded with url: {url}?token=tok-secret-123")

    monkeypatch.setattr(worker.requests, "post", refuse)
    store.enrol("+15551234567", TODAY, FOLLOWUP, "America/Chicago", today=TODAY)
    worker.run_once(store, settings, FOLLOWUP, at=_due_now(store).replace(hour=16))
    text = " ".join(r.getMessage() for r in caplog.records)
    assert "check-in" in text and "ConnectionError" in text
    assert "+15551234567" not in text and "tok-secret-123" not in text


# ----------------------------------------------------------------------------- signature over what Twilio signed
TWILIO_FIELDS = {
    "ToCountry": "US", "ToState": "IL", "SmsMessageSid": "SM" + "1" * 32, "NumMedia": "0", "ToCity": "",
    "FromZip": "", "SmsSid": "SM" + "1" * 32, "FromState": "IL", "SmsStatus": "received", "FromCity": "",
    "Body": "my breast is red", "FromCountry": "US", "To": "+15550000000", "ToZip": "", "NumSegments": "1",
    "MessageSid": "SM" + "1" * 32, "AccountSid": "AC" + "0" * 32, "From": "+15551234567", "ApiVersion": "2010-04-01",
}


def test_signed_fields_keep_blank_values_and_validate():
    from urllib.parse import urlencode

    from twilio.request_validator import RequestValidator

    from aftercare.channels.twilio import signed_fields

    url = "https://clinic.example/webhooks/twilio/webhook"
    validator = RequestValidator("secret-token")
    signature = validator.compute_signature(url, TWILIO_FIELDS)
    fields = signed_fields(urlencode(TWILIO_FIELDS).encode())
    assert fields["FromCity"] == "" and fields == TWILIO_FIELDS
    assert validator.validate(url, fields, signature)
    assert signed_fields(b"\xff\xfe") == {}


# ----------------------------------------------------------------------------- patients' texts, stored first
def test_a_text_is_stored_once_by_its_message_sid(store):
    sid = "SM" + "3" * 32
    assert store.receive(sid, "+15551234567", "i have chills") is True
    assert store.receive(sid, "+15551234567", "i have chills") is False
    assert [t.message_sid for t in store.unanswered()] == [sid]
    store.mark_answered(sid)
    assert store.unanswered() == []


def test_a_check_in_the_provider_refused_is_not_marked_sent(store, monkeypatch):
    import dataclasses

    from aftercare.settings import load_settings
    from aftercare.sms import worker

    store.enrol("+15551234567", TODAY, FOLLOWUP, "America/Chicago", today=TODAY)
    # Rasa answers 200, but the text it tried to send was refused by the provider.
    monkeypatch.setattr(worker, "trigger_checkin",
                        lambda settings, phone: store.record_message(phone, "failed", 1, None, "provider refused"))
    real_now = store.clock
    store.clock = lambda: datetime.now(timezone.utc)  # texts are stamped with the real clock, as in production
    settings = load_settings()
    assert worker.run_once(store, settings, FOLLOWUP, at=real_now() + timedelta(days=10)) == 0
    rows = [r for r in store.checkin_rows() if r["last_error"]]
    assert rows and rows[0]["status"] in ("pending", "failed") and "did not accept" in rows[0]["last_error"]
