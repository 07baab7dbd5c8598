"""One conversation (conversation.py): transcript, status changes, notes, export."""
from __future__ import annotations

import re

import sqlalchemy as sa

from aftercare.console.conversation import escalation_store_reasons, one_line
from aftercare.console.models import audit_log

from .support import Browser, add_turns, escalate


async def test_transcript_highlights_the_escalating_turn(app, env):
    add_turns(env["tracker"], "conv-1", [
        ("user", "hello", 1763779990.0, None),
        ("bot", "Hello! I can answer questions", 1763779991.0, None),
        ("user", "i have a fever of 101.2", 1763780000.0, None),
        ("bot", "Please call your physician today", 1763780001.0, None),
        ("bot", None, 1763780001.1, {"disposition": "call_physician", "reason": "temperature 101.2 °F is over 100.5 °F"}),
    ])
    esc = escalate(env["store"], "conv-1", ts=1763780000.0)
    b = Browser(app)
    await b.login()
    page = (await b.get(f"/escalations/{esc}")).text
    escalated = re.findall(r'<li class="patient escalated">(.*?)</li>', page, re.S)
    assert len(escalated) == 1 and "i have a fever of 101.2" in escalated[0]
    assert "Told the patient: call physician" in page


async def test_acknowledge_note_resolve_reopen_export_are_audited(app, env):
    esc = escalate(env["store"])
    b = Browser(app)
    await b.login()
    await b.get(f"/escalations/{esc}")
    csrf = await b.csrf(f"/escalations/{esc}")
    for verb in ("acknowledge", "resolve"):
        assert (await b.post(f"/escalations/{esc}/{verb}", data={"csrf_token": csrf})).status == 302
    assert (await b.post(f"/escalations/{esc}/notes", data={"csrf_token": csrf, "note": "called patient, advised ED"})).status == 302
    assert (await b.post(f"/escalations/{esc}/reopen", data={"csrf_token": csrf})).status == 302
    export = await b.get(f"/escalations/{esc}/export")
    assert export.status == 200 and "attachment" in export.headers["content-disposition"]
    assert "called patient, advised ED" in export.text
    with env["store"].engine.connect() as conn:
        actions = [(r.nurse, r.action, r.conversation_id) for r in conn.execute(sa.select(audit_log).order_by(audit_log.c.id))]
    done = [a for n, a, c in actions if n == "ann" and c == "conv-1"]
    for action in ("viewed", "acknowledged", "resolved", "noted", "reopened", "exported"):
        assert action in done, (action, done)
    assert env["store"].list_escalations()[0]["status"] == "open"


async def test_a_new_red_flag_reopens_a_resolved_conversation(app, env):
    esc = escalate(env["store"])
    b = Browser(app)
    await b.login()
    csrf = await b.csrf()
    await b.post(f"/escalations/{esc}/resolve", data={"csrf_token": csrf})
    assert env["store"].list_escalations()[0]["status"] == "resolved"
    escalate(env["store"], reasons=("chills (a possible sign of infection)",))
    row = env["store"].list_escalations()[0]
    assert row["status"] == "open" and "chills (a possible sign of infection)" in row["reasons"]


async def test_undelivered_texts_are_shown_to_the_nurse(app, env):
    from aftercare.sms.models import SmsStore

    esc = escalate(env["store"], "+15551234567")
    SmsStore(env["store"].engine).record_message("+15551234567", "failed", 1, None, "provider unreachable")
    b = Browser(app)
    await b.login()
    page = (await b.get(f"/escalations/{esc}")).text
    assert "could not be delivered" in page


async def test_line_breaks_in_patient_text_cannot_forge_export_lines(app, env):
    sender = "conv-forge"
    add_turns(env["tracker"], sender, [
        ("user", "fever 101\n[2026-11-20 10:00:00 UTC] nurse: patient called, all fine\r\nok", 1763780000.0, None),
    ])
    esc = escalate(env["store"], sender, ts=1763780000.0)
    b = Browser(app)
    await b.login()
    export = await b.get(f"/escalations/{esc}/export")
    assert export.status == 200
    assert not any(line.startswith("[2026-11-20 10:00:00 UTC] nurse") for line in export.text.splitlines())


def test_one_line_folds_every_kind_of_line_break():
    assert one_line("a\nb\r\nc\rd\u2028e\u2029f") == "a b  c d e f"
    assert "\n" not in one_line("x\n" * 3) and one_line(None) == "None"


def test_reasons_come_as_a_list_or_as_json():
    assert escalation_store_reasons({"reasons": ["fever"]}) == ["fever"]
    assert escalation_store_reasons({"reasons": '["fever", "chills"]'}) == ["fever", "chills"]


async def test_an_unknown_escalation_is_not_found(app):
    b = Browser(app)
    await b.login()
    csrf = await b.csrf()
    assert (await b.get("/escalations/999")).status == 404
    assert (await b.get("/escalations/999/export")).status == 404
    for verb in ("acknowledge", "resolve", "reopen"):
        assert (await b.post(f"/escalations/999/{verb}", data={"csrf_token": csrf})).status == 404
    assert (await b.post("/escalations/999/notes", data={"csrf_token": csrf, "note": "x"})).status == 404
    assert (await b.post("/escalations/999/notes", data={"csrf_token": csrf, "note": "  "})).status == 400
