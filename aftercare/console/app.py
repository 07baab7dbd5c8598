"""The nurse console: a sanic app to review, understand and acknowledge escalated conversations.

Every page and API route needs a login (``PUBLIC_ROUTES`` lists the only exceptions); state changes
are POSTs with the session's CSRF token; templates autoescape patient text; pages carry a strict
Content-Security-Policy; sessions live on the server, end after 30 minutes idle or 12 hours, and
change id at login. Patient text is never logged.
"""
from __future__ import annotations

import functools
import json
import logging
import secrets
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable

import sqlalchemy as sa
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import Sanic, response
from sanic.exceptions import NotFound, SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from aftercare.clock import as_utc
from aftercare.console.models import ConsoleStore, Session
from aftercare.console.transcripts import TranscriptReader
from aftercare.escalations import EscalationStore, create_db_engine
from aftercare.triage.protocol import load_protocol
from aftercare.sms.models import EnrolmentError, SmsStore
from aftercare.settings import Settings, load_settings

logger = logging.getLogger(__name__)
HERE = Path(__file__).parent
SESSION_COOKIE = "console_session"
LOGIN_CSRF_COOKIE = "console_login_csrf"
PUBLIC_ROUTES = frozenset({"/login", "/health", "/static/<__file_uri__:path>"})
STATUSES = ("open", "acknowledged", "resolved")
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)

Handler = Callable[..., Awaitable[HTTPResponse]]


def _templates() -> Environment:
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    env.filters["ago"] = _ago
    env.filters["utc"] = lambda v: as_utc(v).strftime("%Y-%m-%d %H:%M UTC") if v else ""
    return env


def _ago(value: datetime) -> str:
    seconds = int((datetime.now(timezone.utc) - as_utc(value)).total_seconds())
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


def _client(request: Request) -> str:
    return request.ip or "unknown"


def _secure(request: Request, settings: "ConsoleSettings") -> bool:
    return request.scheme == "https" or settings.cookie_secure


class ConsoleSettings:
    """What the console needs from the environment."""

    def __init__(self, settings: Settings, cookie_secure: bool = False) -> None:
        self.database_url = settings.database_url
        self.tracker_store_url = settings.tracker_store_url
        self.cookie_secure = cookie_secure


def create_app(settings: Settings | None = None, *, name: str = "nurse_console", cookie_secure: bool = False) -> Sanic:
    """Build the console app on the escalation store's database and Rasa's tracker store."""
    app_settings = settings or load_settings()
    cfg = ConsoleSettings(app_settings, cookie_secure)
    app = Sanic(name)
    app.config.FORWARDED_SECRET = None
    engine = create_db_engine(cfg.database_url)
    store = ConsoleStore(engine)
    escalation_store = EscalationStore(cfg.database_url, journal_path=app_settings.journal_path)  # same engine
    store.create_schema()
    transcripts = TranscriptReader(create_db_engine(cfg.tracker_store_url))
    sms_store = SmsStore(engine)  # texts that could not be delivered are shown on the conversation
    templates = _templates()
    app.ctx.store = store
    app.ctx.escalations = escalation_store
    app.static("/static", str(HERE / "static"), name="static")

    def page(template: str, status: int = 200, **context: Any) -> HTTPResponse:
        return response.html(templates.get_template(template).render(**context), status=status)

    # ------------------------------------------------------------------ middleware
    @app.middleware("request")
    async def load_session(request: Request) -> None:
        # Only a person's action extends the session: the queue page's polling (/api/) and files do not.
        person = not request.path.startswith(("/api/", "/static/"))
        request.ctx.session = store.session_for(request.cookies.get(SESSION_COOKIE), touch=person)

    @app.middleware("response")
    async def security_headers(request: Request, resp: HTTPResponse) -> None:
        resp.headers["Content-Security-Policy"] = CSP
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers["X-Frame-Options"] = "DENY"
        if not request.path.startswith("/static/"):
            resp.headers["Cache-Control"] = "no-store"

    def login_required(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def wrapper(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            session: Session | None = request.ctx.session
            if session is None:
                if request.path.startswith("/api/") or request.method != "GET":
                    return response.json({"error": "login required"}, status=401)
                return response.redirect("/login")
            if request.method == "POST":
                sent = request.form.get("csrf_token") if request.form else None
                sent = sent or request.headers.get("X-CSRF-Token")
                if not _same_token(sent, session.csrf_token):
                    return page("error.html", 403, message="The form has expired or is not valid. Go back, reload and try again.")
            return await handler(request, session, *args, **kwargs)

        return wrapper

    # ------------------------------------------------------------------ errors
    @app.exception(sa.exc.SQLAlchemyError)
    async def database_error(request: Request, exc: Exception) -> HTTPResponse:
        logger.error("console database error: %s", type(exc).__name__)
        return page("error.html", 503, message="The database is not available. Nothing was changed; please try again in a moment.")

    @app.exception(NotFound)
    async def not_found(request: Request, exc: Exception) -> HTTPResponse:
        if request.ctx.session is None and request.path not in ("/login",):
            if request.path.startswith("/api/"):
                return response.json({"error": "login required"}, status=401)
            return response.redirect("/login")
        return page("error.html", 404, message="Not found.")

    @app.exception(SanicException)
    async def http_error(request: Request, exc: SanicException) -> HTTPResponse:
        status = getattr(exc, "status_code", 500) or 500
        return page("error.html", status, message="The request could not be handled.")

    @app.exception(Exception)
    async def any_error(request: Request, exc: Exception) -> HTTPResponse:
        logger.error("console error: %s", type(exc).__name__)
        return page("error.html", 500, message="Something went wrong. Nothing was changed; please try again.")

    # ------------------------------------------------------------------ public
    @app.get("/health")
    async def health(request: Request) -> HTTPResponse:
        return response.json({"status": "ok"})

    @app.get("/login")
    async def login_form(request: Request) -> HTTPResponse:
        # Keep an existing token: a second GET (the browser's favicon request is redirected here)
        # must not invalidate the form already on screen.
        existing = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
        token = existing if 32 <= len(existing) <= 64 and existing.replace("-", "").replace("_", "").isalnum() else secrets.token_urlsafe(32)
        resp = page("login.html", csrf_token=token, error=None)
        _set_cookie(resp, LOGIN_CSRF_COOKIE, token, request, cfg, max_age=3600)
        return resp

    @app.post("/login")
    async def login(request: Request) -> HTTPResponse:
        form = request.form or {}
        cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE)
        sent = form.get("csrf_token")
        if not cookie_token or not _same_token(sent, cookie_token):
            return page("error.html", 403, message="The login form has expired. Go back, reload and try again.")
        username = (form.get("username") or "").strip().lower()[:64]
        password = form.get("password") or ""
        client = _client(request)
        if store.is_throttled(username, client):
            logger.warning("console login throttled for an account or client after repeated failures")
            return page("login.html", 429, csrf_token=cookie_token, error="Too many failed attempts. Wait 15 minutes and try again.")
        nurse = store.authenticate(username, password, client)
        if nurse is None:
            logger.warning("console login failed")
            return page("login.html", 401, csrf_token=cookie_token, error="Wrong username or password.")
        old = request.cookies.get(SESSION_COOKIE)
        if old:
            store.end_session(old)
        session = store.start_session(nurse)
        store.audit(nurse.username, "login")
        resp = response.redirect("/")
        _set_cookie(resp, SESSION_COOKIE, session.token, request, cfg)
        del resp.cookies[LOGIN_CSRF_COOKIE]
        return resp

    # ------------------------------------------------------------------ logged in
    @app.post("/logout")
    @login_required
    async def logout(request: Request, session: Session) -> HTTPResponse:
        store.end_session(session.token)
        store.audit(session.nurse.username, "logout")
        resp = response.redirect("/login")
        del resp.cookies[SESSION_COOKIE]
        return resp

    def _filtered(request: Request) -> tuple[list[dict[str, Any]], dict[str, str]]:
        status = request.args.get("status", "open")
        if status not in STATUSES + ("active", "all"):
            status = "open"
        since = _parse_date(request.args.get("from"))
        until = _parse_date(request.args.get("to"))
        rows = escalation_store.list_escalations()
        if status == "active":
            rows = [r for r in rows if r["status"] != "resolved"]
        elif status != "all":
            rows = [r for r in rows if r["status"] == status]
        if since:
            rows = [r for r in rows if as_utc(r["created_at"]).date() >= since]
        if until:
            rows = [r for r in rows if as_utc(r["created_at"]).date() <= until]
        filters = {"status": status, "from": since.isoformat() if since else "", "to": until.isoformat() if until else ""}
        return rows, filters

    @app.get("/")
    @login_required
    async def queue(request: Request, session: Session) -> HTTPResponse:
        rows, filters = _filtered(request)
        journaled = escalation_store.pending_in_journal()
        unreadable = escalation_store.unreadable_in_journal()
        failed_checkins = sms_store.failed_checkins()
        return page("queue.html", session=session, rows=rows, filters=filters, statuses=STATUSES, journaled=journaled,
                    unreadable=unreadable, failed_checkins=failed_checkins)

    @app.get("/api/queue")
    @login_required
    async def queue_api(request: Request, session: Session) -> HTTPResponse:
        rows, filters = _filtered(request)
        return response.json(
            {
                "filters": filters,
                "escalations": [
                    {
                        "id": r["id"],
                        "conversation_id": r["conversation_id"],
                        "channel": r["channel"],
                        "disposition": r["disposition"],
                        "reasons": r["reasons"],
                        "protocol_version": r["protocol_version"],
                        "status": r["status"],
                        "assignee": r["assignee"],
                        "created_at": as_utc(r["created_at"]).isoformat(),
                        "ago": _ago(r["created_at"]),
                    }
                    for r in rows
                ],
            }
        )

    def _detail(escalation_id: int) -> dict[str, Any] | None:
        row = store.escalation(escalation_id)
        if row is None:
            return None
        row["reasons"] = escalation_store_reasons(row)
        events = escalation_store.events_for(row["conversation_id"])
        marks = {round(e["message_timestamp"], 3): e for e in events if e["message_timestamp"]}
        turns = transcripts.turns(row["conversation_id"])
        return {
            "escalation": row,
            "events": events,
            "turns": [(t, marks.get(round(t.timestamp, 3))) for t in turns],
            "notes": store.notes(escalation_id),
            "failed_texts": sms_store.failed_messages(row["conversation_id"]),
            "audit": store.audit_entries(row["conversation_id"], limit=50),
        }

    @app.get("/escalations/<escalation_id:int>")
    @login_required
    async def detail(request: Request, session: Session, escalation_id: int) -> HTTPResponse:
        row = store.escalation(escalation_id)
        if row is None:
            return page("error.html", 404, message="No such escalation.")
        store.audit(session.nurse.username, "viewed", row["conversation_id"])
        return page("detail.html", session=session, **_detail(escalation_id))

    @app.get("/escalations/<escalation_id:int>/export")
    @login_required
    async def export(request: Request, session: Session, escalation_id: int) -> HTTPResponse:
        data = _detail(escalation_id)
        if data is None:
            return page("error.html", 404, message="No such escalation.")
        esc = data["escalation"]
        store.audit(session.nurse.username, "exported", esc["conversation_id"])
        lines = [
            f"Conversation {esc['conversation_id']} ({esc['channel']})",
            f"Disposition: {esc['disposition']}; protocol {esc['protocol_version']}",
            f"Reasons: {'; '.join(esc['reasons'])}",
            f"Status: {esc['status']}" + (f" ({esc['assignee']})" if esc["assignee"] else ""),
            f"Exported by {session.nurse.username} at {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}",
            "",
        ]
        for turn, mark in data["turns"]:
            flag = "  <-- escalated: " + "; ".join(mark["reasons"]) if mark else ""
            lines.append(f"[{turn.at:%Y-%m-%d %H:%M:%S} UTC] {turn.who}: {_one_line(turn.text)}{flag}")
        for note in data["notes"]:
            lines.append(f"[{as_utc(note['at']):%Y-%m-%d %H:%M:%S} UTC] note by {note['nurse']}: {_one_line(note['note'])}")
        return response.text(
            "\n".join(lines) + "\n",
            headers={"Content-Disposition": f'attachment; filename="escalation-{escalation_id}.txt"'},
        )

    def _change(status: str) -> Handler:
        async def handler(request: Request, session: Session, escalation_id: int) -> HTTPResponse:
            if store.set_status(escalation_id, status, session.nurse) is None:
                return page("error.html", 404, message="No such escalation.")
            return response.redirect(f"/escalations/{escalation_id}")

        return handler

    for verb, status in (("acknowledge", "acknowledged"), ("resolve", "resolved"), ("reopen", "open")):
        app.add_route(login_required(_change(status)), f"/escalations/<escalation_id:int>/{verb}", methods=["POST"], name=verb)

    @app.post("/escalations/<escalation_id:int>/notes")
    @login_required
    async def add_note(request: Request, session: Session, escalation_id: int) -> HTTPResponse:
        note = (request.form or {}).get("note") or ""
        if not note.strip():
            return page("error.html", 400, message="The note is empty.")
        if not store.add_note(escalation_id, session.nurse, note):
            return page("error.html", 404, message="No such escalation.")
        return response.redirect(f"/escalations/{escalation_id}")

    @app.get("/enrol")
    @login_required
    async def enrol_form(request: Request, session: Session) -> HTTPResponse:
        return page("enrol.html", session=session, message=None, error=None, form={})

    @app.post("/enrol")
    @login_required
    async def enrol(request: Request, session: Session) -> HTTPResponse:
        form = {k: (request.form or {}).get(k) or "" for k in ("phone", "procedure_date", "language")}
        protocol = load_protocol(app_settings.protocol_path)
        try:
            when = date.fromisoformat(form["procedure_date"])
        except ValueError:
            return page("enrol.html", 400, session=session, message=None, form=form,
                        error=f"{form['procedure_date']!r} is not a date.")
        if protocol.followup is None:
            return page("enrol.html", 400, session=session, message=None, form=form, error="The protocol has no check-ins.")
        try:
            plan = sms_store.enrol(form["phone"], when, protocol.followup, app_settings.clinic_timezone,
                                   today=app_settings.today(), language=form["language"] or None)
        except EnrolmentError as exc:
            return page("enrol.html", 400, session=session, message=None, form=form, error=f"Not enrolled: {exc}.")
        store.audit(session.nurse.username, "enrolled", form["phone"].strip())
        days = ", ".join(f"day {d}" for d, _ in plan) or "none left"
        note = "" if app_settings.sms_enabled else " SMS is not configured yet, so nothing will be sent until it is."
        return page("enrol.html", session=session, error=None, form={},
                    message=f"Enrolled {form['phone'].strip()}: check-ins on {days}.{note}")

    @app.get("/audit")
    @login_required
    async def audit(request: Request, session: Session) -> HTTPResponse:
        store.audit(session.nurse.username, "viewed_audit")
        return page("audit.html", session=session, entries=store.audit_entries())

    return app


def escalation_store_reasons(row: dict[str, Any]) -> list[str]:
    value = row["reasons"]
    return value if isinstance(value, list) else json.loads(value)


def _parse_date(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _set_cookie(
    resp: HTTPResponse, name: str, value: str, request: Request, cfg: ConsoleSettings, max_age: int | None = None
) -> None:
    resp.cookies[name] = value
    cookie = resp.cookies[name]
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["path"] = "/"
    if max_age:
        cookie["max-age"] = max_age
    if _secure(request, cfg):
        cookie["secure"] = True


def _same_token(sent: object, expected: str) -> bool:
    """Constant-time comparison of a submitted token; anything that is not ASCII text is simply wrong
    (``secrets.compare_digest`` raises on non-ASCII str, which was a 500)."""
    if not isinstance(sent, str) or not sent or not sent.isascii():
        return False
    return secrets.compare_digest(sent.encode(), expected.encode())


def _one_line(text: str) -> str:
    """Patient or nurse text on one line of the chart export: a line break cannot forge another entry."""
    return " ".join(str(text).replace("\r", "\n").split("\n")).replace("\u2028", " ").replace("\u2029", " ")
