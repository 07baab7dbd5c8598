"""Nurse console routes, with sanic's test client (ASGI), on a throwaway SQLite database."""
from __future__ import annotations

import dataclasses
import json
import logging
import re
import subprocess
import sys
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from aftercare.clock import as_utc
from aftercare.console.app import PUBLIC_ROUTES, SESSION_COOKIE, create_app
from aftercare.console.models import THROTTLE_FAILURES, ConsoleStore, audit_log, console_sessions
from aftercare.escalations import EscalationRecord, EscalationStore
from aftercare.settings import ROOT, load_settings

PASSWORD = "correct horse battery staple"


class Browser:
    """Keeps cookies between requests to the app's ASGI test client, like a browser would."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.cookies: dict[str, str] = {}

    async def request(self, method: str, path: str, **kw: Any) -> Any:
        client = self.app.asgi_client
        kw.setdefault("follow_redirects", False)
        _, resp = await getattr(client, method)(path, cookies=dict(self.cookies), **kw)
        for header in resp.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0].strip('"')
            if "max-age=0" in header.lower() or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return resp

    async def get(self, path: str, **kw: Any) -> Any:
        return await self.request("get", path, **kw)

    async def post(self, path: str, **kw: Any) -> Any:
        return await self.request("post", path, **kw)

    async def login(self, username: str = "ann", password: str = PASSWORD) -> Any:
        form = await self.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        return await self.post("/login", data={"csrf_token": token, "username": username, "password": password})

    async def csrf(self, path: str = "/") -> str:
        page = await self.get(path)
        return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, Any]:
    db = f"sqlite:///{tmp_path / 'aftercare.db'}"
    tracker = f"sqlite:///{tmp_path / 'tracker.db'}"
    settings = dataclasses.replace(load_settings(), database_url=db, tracker_store_url=tracker)
    store = EscalationStore(db)
    store.create_schema()
    console = ConsoleStore(store.engine)
    console.create_schema()
    console.create_nurse("ann", "Ann Lee, RN", PASSWORD)
    console.create_nurse("bob", "Bob Roy, RN", PASSWORD)
    _make_tracker(tracker)
    return {"settings": settings, "store": store, "console": console, "tracker": tracker}


def _make_tracker(url: str) -> None:
    """A table shaped like Rasa's SQL tracker store `events` table."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "create table events (id integer primary key, sender_id varchar(255), type_name varchar(255),"
            " timestamp float, intent_name varchar(255), action_name varchar(255), data text)"
        ))
    engine.dispose()


def add_turns(url: str, sender: str, turns: list[tuple[str, str, float, dict | None]]) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for kind, text, ts, custom in turns:
            data = {"event": kind, "timestamp": ts, "text": text}
            if custom is not None:
                data = {"event": "bot", "timestamp": ts, "text": None, "data": {"custom": custom}}
            conn.execute(sa.text("insert into events (sender_id, type_name, timestamp, data) values (:s, :t, :ts, :d)"),
                         {"s": sender, "t": kind, "ts": ts, "d": json.dumps(data)})
    engine.dispose()


def escalate(store: EscalationStore, conversation: str = "conv-1", disposition: str = "call_physician",
             reasons: tuple[str, ...] = ("temperature 101.2 °F is over 100.5 °F",), ts: float | None = 1763780000.0) -> int:
    return store.record(EscalationRecord(conversation, "rest", disposition, reasons, ("fever",), "v-test", ts))


@pytest.fixture
def app(env):
    return create_app(env["settings"], name=f"console_{uuid.uuid4().hex[:8]}")


# ----------------------------------------------------------------------------- every route needs a login
def _concrete(path: str) -> str:
    path = "/" + path.lstrip("/")
    return path.replace("<escalation_id:int>", "1").replace("<__file_uri__:path>", "console.css")


async def test_every_route_requires_login(app, env):
    escalate(env["store"])
    anonymous = Browser(app)
    checked = 0
    for route in app.router.routes:
        template = "/" + route.path.lstrip("/")
        for method in route.methods:
            if method in ("HEAD", "OPTIONS"):
                continue
            resp = await anonymous.request(method.lower(), _concrete(route.path))
            checked += 1
            if template in PUBLIC_ROUTES:
                assert resp.status in (200, 403), (method, template, resp.status)  # POST /login without CSRF is 403
                continue
            if method == "GET" and not template.startswith("/api/"):
                assert resp.status == 302 and resp.headers["location"] == "/login", (method, template)
            else:
                assert resp.status == 401, (method, template, resp.status)
    assert checked >= 12
    assert not any({"PUT", "PATCH", "DELETE"} & set(r.methods) for r in app.router.routes), "nothing edits or deletes"


async def test_unknown_path_does_not_leak_to_anonymous(app):
    resp = await Browser(app).get("/nothing-here")
    assert resp.status == 302 and resp.headers["location"] == "/login"


# ----------------------------------------------------------------------------- sessions
async def test_login_sets_a_strict_httponly_cookie_and_rotates_the_id(app):
    b = Browser(app)
    resp = await b.login()
    assert resp.status == 302 and resp.headers["location"] == "/"
    cookie = [h for h in resp.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)][0].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    first = b.cookies[SESSION_COOKIE]
    await b.login()
    assert b.cookies[SESSION_COOKIE] != first
    stale = Browser(app)
    stale.cookies[SESSION_COOKIE] = first
    assert (await stale.get("/")).status == 302, "the old session ends when the id changes"


async def test_secure_cookie_when_served_over_tls(env):
    app = create_app(env["settings"], name=f"console_{uuid.uuid4().hex[:8]}", cookie_secure=True)
    resp = await Browser(app).login()
    cookie = [h for h in resp.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE)][0].lower()
    assert "secure" in cookie


async def test_wrong_password_and_unknown_user(app):
    assert (await Browser(app).login(password="wrong password!!")).status == 401
    assert (await Browser(app).login(username="nobody")).status == 401


async def test_logout_invalidates_the_session_on_the_server(app):
    b = Browser(app)
    await b.login()
    token = b.cookies[SESSION_COOKIE]
    csrf = await b.csrf()
    assert (await b.post("/logout", data={"csrf_token": csrf})).status == 302
    replay = Browser(app)
    replay.cookies[SESSION_COOKIE] = token
    assert (await replay.get("/")).status == 302


@pytest.mark.parametrize("column, age", [("last_seen_at", timedelta(minutes=31)), ("created_at", timedelta(hours=12, minutes=1))])
async def test_sessions_expire_idle_and_absolute(app, env, column, age):
    b = Browser(app)
    await b.login()
    assert (await b.get("/")).status == 200
    with env["store"].engine.begin() as conn:
        conn.execute(console_sessions.update().values(**{column: datetime.now(timezone.utc) - age}))
    assert (await b.get("/")).status == 302


async def test_repeated_failed_logins_are_throttled_and_logged(app, caplog):
    b = Browser(app)
    with caplog.at_level(logging.WARNING):
        for _ in range(THROTTLE_FAILURES):
            assert (await b.login(password="not the password")).status == 401
        resp = await b.login()  # the right password, but too many failures
    assert resp.status == 429
    assert any("throttled" in r.getMessage() for r in caplog.records)
    assert any("login failed" in r.getMessage() for r in caplog.records)


# ----------------------------------------------------------------------------- CSRF and escaping
async def test_state_changes_need_the_csrf_token(app, env):
    esc = escalate(env["store"])
    b = Browser(app)
    await b.login()
    assert (await b.post(f"/escalations/{esc}/acknowledge")).status == 403
    assert (await b.post(f"/escalations/{esc}/acknowledge", data={"csrf_token": "forged"})).status == 403
    assert env["store"].list_escalations()[0]["status"] == "open"
    csrf = await b.csrf()
    assert (await b.post(f"/escalations/{esc}/acknowledge", data={"csrf_token": csrf})).status == 302
    row = env["store"].list_escalations()[0]
    assert (row["status"], row["assignee"]) == ("acknowledged", "ann")


async def test_login_form_needs_its_csrf_token(app):
    resp = await Browser(app).post("/login", data={"username": "ann", "password": PASSWORD})
    assert resp.status == 403


async def test_patient_text_is_escaped_and_pages_carry_a_csp(app, env):
    sender = "conv<script>alert(1)</script>"
    add_turns(env["tracker"], sender, [
        ("user", "hi <script>alert('x')</script> <img src=x onerror=alert(1)>", 1763780000.0, None),
        ("bot", "Please call your physician", 1763780001.0, None),
    ])
    esc = escalate(env["store"], sender, reasons=("<b onerror=alert(2)>",), ts=1763780000.0)
    b = Browser(app)
    await b.login()
    for path in ("/", f"/escalations/{esc}"):
        resp = await b.get(path)
        assert resp.status == 200
        assert "<script>alert" not in resp.text and "<img src=x" not in resp.text and "<b onerror" not in resp.text
        assert "&lt;script&gt;" in resp.text
        csp = resp.headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp and "unsafe-inline" not in csp


# ----------------------------------------------------------------------------- the work
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


async def test_database_errors_give_a_generic_page(app, env, monkeypatch):
    esc = escalate(env["store"])
    b = Browser(app)
    await b.login()
    csrf = await b.csrf()

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise sa.exc.OperationalError("update escalations", {}, Exception("database is locked"))

    monkeypatch.setattr(app.ctx.store, "set_status", broken)
    resp = await b.post(f"/escalations/{esc}/acknowledge", data={"csrf_token": csrf})
    assert resp.status == 503
    assert "Nothing was changed" in resp.text
    assert "Traceback" not in resp.text and "database is locked" not in resp.text
    assert env["store"].list_escalations()[0]["status"] == "open"


async def test_patient_text_never_reaches_the_log(app, env, caplog):
    marker = "marker" + uuid.uuid4().hex[:6]
    add_turns(env["tracker"], "conv-1", [("user", f"my name is {marker}", 1763780000.0, None)])
    esc = escalate(env["store"], ts=1763780000.0)
    b = Browser(app)
    with caplog.at_level(logging.DEBUG):
        await b.login()
        page = await b.get(f"/escalations/{esc}")
        await b.get(f"/escalations/{esc}/export")
    assert marker in page.text
    assert marker not in caplog.text


# ----------------------------------------------------------------------------- accounts
def test_accounts_command(tmp_path: Path):
    env = {"AFTERCARE_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}", "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    run = lambda args, password: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "aftercare.console.accounts", "create", *args, "--password-stdin"],
        input=password + "\n", capture_output=True, text=True, env=env, timeout=60,
    )
    assert run(["cara", "--name", "Cara Diaz, RN"], PASSWORD).returncode == 0
    taken = run(["cara"], PASSWORD)
    assert taken.returncode == 2 and "taken" in taken.stderr
    short = run(["dan"], "short")
    assert short.returncode == 2 and "12 characters" in short.stderr
    engine = sa.create_engine(env["AFTERCARE_DATABASE_URL"])
    with engine.connect() as conn:
        hashes = [r[0] for r in conn.execute(sa.text("select password_hash from nurses"))]
    assert len(hashes) == 1 and hashes[0].startswith("$argon2id$")


def test_no_default_account(tmp_path: Path):
    store = ConsoleStore(sa.create_engine(f"sqlite:///{tmp_path / 'fresh.db'}"))
    store.create_schema()
    for username in ("admin", "nurse", "root", "test"):
        assert store.authenticate(username, "admin", "127.0.0.1") is None


async def test_a_second_login_page_load_keeps_the_form_valid(app):
    """Regression: the browser's favicon request redirects to /login and must not rotate the token."""
    b = Browser(app)
    form = await b.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    await b.get("/favicon.ico")
    await b.get("/login")
    resp = await b.post("/login", data={"csrf_token": token, "username": "ann", "password": PASSWORD})
    assert resp.status == 302 and resp.headers["location"] == "/"


async def test_undelivered_texts_are_shown_to_the_nurse(app, env):
    from aftercare.sms.models import SmsStore

    esc = escalate(env["store"], "+15551234567")
    SmsStore(env["store"].engine).record_message("+15551234567", "failed", 1, None, "provider unreachable")
    b = Browser(app)
    await b.login()
    page = (await b.get(f"/escalations/{esc}")).text
    assert "could not be delivered" in page


async def test_nurse_enrols_a_patient_for_sms(app, env):
    from aftercare.sms.models import SmsStore

    b = Browser(app)
    await b.login()
    csrf = await b.csrf("/enrol")
    today = datetime.now(timezone.utc).date()
    bad = await b.post("/enrol", data={"csrf_token": csrf, "phone": "555-1234", "procedure_date": today.isoformat()})
    assert bad.status == 400 and "E.164" in bad.text
    future = await b.post("/enrol", data={"csrf_token": csrf, "phone": "+15551234567",
                                          "procedure_date": (today + timedelta(days=3)).isoformat()})
    assert future.status == 400 and "future" in future.text
    ok = await b.post("/enrol", data={"csrf_token": csrf, "phone": "+15551234567",
                                      "procedure_date": (today - timedelta(days=1)).isoformat()})
    assert ok.status == 200 and "Enrolled +15551234567" in ok.text
    assert SmsStore(env["store"].engine).procedure_date_for("+15551234567") == today - timedelta(days=1)
    assert (await b.post("/enrol", data={"phone": "+15551234567", "procedure_date": today.isoformat()})).status == 403


async def test_a_non_ascii_csrf_token_is_refused_not_a_server_error(app, env):
    esc = escalate(env["store"])
    b = Browser(app)
    await b.login()
    assert (await b.post(f"/escalations/{esc}/acknowledge", data={"csrf_token": "é" * 43})).status == 403
    assert (await Browser(app).post("/login", data={"username": "ann", "password": PASSWORD, "csrf_token": "ü"})).status == 403


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


async def test_unreadable_journal_lines_are_shown_to_nurses(tmp_path, env):
    journal = tmp_path / "journal.jsonl"
    journal.write_text('{"conversation_id": "cut-off", "chan\n', encoding="utf-8")
    settings = dataclasses.replace(env["settings"], journal_path=journal)
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


# ----------------------------------------------------------------------------- sessions and throttling (issue 10.10)
async def test_polling_does_not_keep_a_session_alive(app, env):
    b = Browser(app)
    await b.login()
    idle = datetime.now(timezone.utc) - timedelta(minutes=29)
    with env["store"].engine.begin() as conn:
        conn.execute(console_sessions.update().values(last_seen_at=idle))
    assert (await b.get("/api/queue")).status == 200  # the open queue page polls
    with env["store"].engine.connect() as conn:
        seen = conn.execute(sa.select(console_sessions.c.last_seen_at)).scalar_one()
    assert abs((as_utc(seen) - idle).total_seconds()) < 1  # not extended
    assert (await b.get("/")).status == 200  # a person's action
    with env["store"].engine.connect() as conn:
        seen = conn.execute(sa.select(console_sessions.c.last_seen_at)).scalar_one()
    assert as_utc(seen) > idle + timedelta(minutes=28)


async def test_failures_against_one_account_do_not_lock_out_the_ward(app):
    attacker = Browser(app)  # the same address as every nurse behind the clinic's proxy
    for _ in range(THROTTLE_FAILURES + 3):
        await attacker.login(username="bob", password="not the password")
    assert (await attacker.login(username="bob")).status == 429  # bob's account waits
    assert (await Browser(app).login(username="ann")).status == 302  # ann logs in from the same address
