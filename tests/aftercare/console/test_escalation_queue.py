"""The queue page and its polling API (escalation_queue.py)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

from aftercare.console.app import create_app
from aftercare.console.escalation_queue import parse_date
from aftercare.escalations import EscalationStore

from .support import Browser, escalate


async def test_queue_orders_emergencies_first_and_shows_why(app, env):
    escalate(env["store"], "older-call")
    escalate(env["store"], "newer-emergency", "emergency", ("chest pain",))
    b = Browser(app)
    await b.login()
    data = (await b.get("/api/queue")).json
    assert [e["conversation_id"] for e in data["escalations"]] == ["newer-emergency", "older-call"]
    first = data["escalations"][0]
    assert first["reasons"] == ["chest pain"] and first["protocol_version"] == "v-test" and first["channel"] == "rest"
    page = (await b.get("/")).text
    assert "temperature 101.2 °F is over 100.5 °F" in page


async def test_filters_by_status_and_date(app, env):
    a = escalate(env["store"], "c-a")
    escalate(env["store"], "c-b")
    b = Browser(app)
    await b.login()
    csrf = await b.csrf()
    await b.post(f"/escalations/{a}/resolve", data={"csrf_token": csrf})
    open_ = (await b.get("/api/queue?status=open")).json["escalations"]
    resolved = (await b.get("/api/queue?status=resolved")).json["escalations"]
    assert [e["conversation_id"] for e in open_] == ["c-b"]
    assert [e["conversation_id"] for e in resolved] == ["c-a"]
    tomorrow = (datetime.now(timezone.utc) + timedelta(days=1)).date().isoformat()
    assert (await b.get(f"/api/queue?status=all&from={tomorrow}")).json["escalations"] == []
    assert len((await b.get(f"/api/queue?status=all&to={tomorrow}")).json["escalations"]) == 2


async def test_unreadable_journal_lines_are_shown_to_nurses(tmp_path, env):
    journal = tmp_path / "journal.jsonl"
    journal.write_text('{"conversation_id": "cut-off", "chan\n', encoding="utf-8")
    settings = env["settings"].with_changes(journal_path=journal)
    EscalationStore(settings.database_url, journal_path=journal).replay_journal()
    app = create_app(settings, name=f"console_journal_{id(settings)}")
    b = Browser(app)
    await b.login()
    page = await b.get("/")
    assert "could not be read" in page.text and "1 line(s)" in page.text


async def test_check_ins_that_could_not_be_sent_are_listed_for_nurses(app, env):
    from datetime import date

    from aftercare.sms.models import MAX_ATTEMPTS, SmsStore
    from aftercare.triage.protocol import load_protocol
    from aftercare.settings import ROOT

    sms = SmsStore(env["store"].engine)
    followup = load_protocol(ROOT / "protocols" / "ductogram.yml").followup
    today = datetime.now(timezone.utc).date()
    sms.enrol("+15557654321", today, followup, "America/Chicago", today=today)
    checkin = sms.checkin_rows()[0]
    for _ in range(MAX_ATTEMPTS):
        sms.claim(checkin["id"], datetime.now(timezone.utc))
        sms.release(checkin["id"], "the SMS provider did not accept the text")
    b = Browser(app)
    await b.login()
    page = await b.get("/")
    assert "could not be sent" in page.text and "+15557654321" in page.text


def test_a_filter_date_that_is_not_a_date_is_no_filter():
    assert parse_date("2026-11-22") == date(2026, 11, 22)
    for value in (None, "", "22/11/2026", "2026-02-30", "yesterday"):
        assert parse_date(value) is None, value


async def test_an_unknown_status_filter_shows_the_open_ones(app, env):
    escalate(env["store"], "c-open")
    b = Browser(app)
    await b.login()
    data = (await b.get("/api/queue?status=nonsense&from=not-a-date")).json
    assert data["filters"] == {"status": "open", "from": "", "to": ""}
    assert [e["conversation_id"] for e in data["escalations"]] == ["c-open"]
