"""The console app as a whole (app.py): every route needs a login, security headers, the one error
handler, and patient text kept out of the log. Sanic's test client (ASGI), on a throwaway SQLite database."""
from __future__ import annotations

import logging
import uuid
from typing import Any

import sqlalchemy as sa

from aftercare.console.app import PUBLIC_ROUTES

from .support import Browser, add_turns, escalate


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


# ----------------------------------------------------------------------------- headers, errors and the log
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


async def test_security_headers_everywhere_and_no_caching_but_static_files(app):
    b = Browser(app)
    for path in ("/health", "/login", "/static/console.css", "/nothing-here"):
        resp = await b.get(path)
        assert resp.headers["x-content-type-options"] == "nosniff" and resp.headers["x-frame-options"] == "DENY", path
        assert resp.headers["referrer-policy"] == "no-referrer" and "frame-ancestors 'none'" in resp.headers["content-security-policy"]
        assert (resp.headers.get("cache-control") == "no-store") is (not path.startswith("/static/")), path
    assert (await b.get("/health")).json == {"status": "ok"}


def test_the_factory_keeps_shared_objects_on_the_app(app, env):
    assert app.ctx.settings == env["settings"] and app.ctx.cookie_secure is False
    for name in ("store", "escalations", "transcripts", "sms"):
        assert getattr(app.ctx, name) is not None, name
    assert {r.name.split(".")[1] for r in app.router.routes} >= {"auth", "queue", "conversation", "audit", "enrolment"}
