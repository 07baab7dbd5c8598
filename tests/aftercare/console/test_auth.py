"""Login, logout and sessions (auth.py, and the session middleware in app.py): cookies, expiry,
CSRF on the login form, and throttling."""
from __future__ import annotations

import logging
import re
import uuid
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from aftercare.clock import as_utc
from aftercare.console.app import SESSION_COOKIE, create_app
from aftercare.console.auth import login_token
from aftercare.console.pages import LOGIN_CSRF_COOKIE
from aftercare.console.models import THROTTLE_FAILURES, console_sessions

from .support import PASSWORD, Browser, escalate


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


# ----------------------------------------------------------------------------- the login form's CSRF token
async def test_login_form_needs_its_csrf_token(app):
    resp = await Browser(app).post("/login", data={"username": "ann", "password": PASSWORD})
    assert resp.status == 403


async def test_a_second_login_page_load_keeps_the_form_valid(app):
    """Regression: the browser's favicon request redirects to /login and must not rotate the token."""
    b = Browser(app)
    form = await b.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    await b.get("/favicon.ico")
    await b.get("/login")
    resp = await b.post("/login", data={"csrf_token": token, "username": "ann", "password": PASSWORD})
    assert resp.status == 302 and resp.headers["location"] == "/"


async def test_a_non_ascii_csrf_token_is_refused_not_a_server_error(app, env):
    esc = escalate(env["store"])
    b = Browser(app)
    await b.login()
    assert (await b.post(f"/escalations/{esc}/acknowledge", data={"csrf_token": "é" * 43})).status == 403
    assert (await Browser(app).post("/login", data={"username": "ann", "password": PASSWORD, "csrf_token": "ü"})).status == 403


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


def test_the_login_form_keeps_a_well_formed_token_only():
    kept = "A-b_c" * 8
    assert login_token(SimpleNamespace(cookies={LOGIN_CSRF_COOKIE: kept})) == kept
    for cookie in ({}, {LOGIN_CSRF_COOKIE: "short"}, {LOGIN_CSRF_COOKIE: "x" * 65}, {LOGIN_CSRF_COOKIE: "a\"b" * 12}):
        fresh = login_token(SimpleNamespace(cookies=cookie))
        assert fresh != cookie.get(LOGIN_CSRF_COOKIE) and len(fresh) >= 32


async def test_logout_and_login_are_audited(app, env):
    b = Browser(app)
    await b.login()
    await b.post("/logout", data={"csrf_token": await b.csrf()})
    assert [(e["nurse"], e["action"]) for e in env["console"].audit_entries()][:2] == [("ann", "logout"), ("ann", "login")]
