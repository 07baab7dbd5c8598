"""The nurse console: a sanic app to review, understand and acknowledge escalated conversations.

Every page and API route needs a login (``PUBLIC_ROUTES`` lists the only exceptions); state changes
are POSTs with the session's CSRF token; templates autoescape patient text; pages carry a strict
Content-Security-Policy; sessions live on the server, end after 30 minutes idle or 12 hours, and
change id at login. Patient text is never logged.

``create_app`` is the factory: it builds the stores (kept on ``app.ctx`` for the handlers), registers
the middleware, the one error handler and the blueprints: ``auth`` (login, logout), ``queue``
(escalation_queue.py), ``conversation``, ``audit`` and ``enrolment``; ``pages`` holds what they share.
"""
from __future__ import annotations

import logging

import sqlalchemy as sa
from sanic import Sanic, response
from sanic.exceptions import NotFound, SanicException
from sanic.request import Request
from sanic.response import HTTPResponse

from aftercare.console import audit, auth, conversation, enrolment, escalation_queue
from aftercare.console.models import ConsoleStore
from aftercare.console.pages import HERE, SESSION_COOKIE, page, wants_json
from aftercare.console.transcripts import TranscriptReader
from aftercare.escalations import EscalationStore, create_db_engine
from aftercare.settings import Settings, load_settings
from aftercare.sms.models import SmsStore

logger = logging.getLogger(__name__)
PUBLIC_ROUTES = frozenset({"/login", "/health", "/static/<__file_uri__:path>"})
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
BLUEPRINTS = (auth.bp, escalation_queue.bp, conversation.bp, audit.bp, enrolment.bp)
#: Requests that are not a person's action (the queue page's polling, files): they do not extend a session.
NOT_A_PERSON = ("/api/", "/static/")


def create_app(settings: Settings | None = None, *, name: str = "nurse_console", cookie_secure: bool = False) -> Sanic:
    """Build the console app on the escalation store's database and Rasa's tracker store."""
    settings = settings or load_settings()
    app = Sanic(name)
    app.config.FORWARDED_SECRET = None
    engine = create_db_engine(settings.database_url)
    app.ctx.settings = settings
    app.ctx.cookie_secure = cookie_secure
    app.ctx.store = ConsoleStore(engine)
    app.ctx.escalations = EscalationStore(settings.database_url, journal_path=settings.journal_path)  # same engine
    app.ctx.store.create_schema()
    app.ctx.transcripts = TranscriptReader(create_db_engine(settings.tracker_store_url))
    app.ctx.sms = SmsStore(engine)  # texts that could not be delivered are shown on the conversation
    app.static("/static", str(HERE / "static"), name="static")
    app.add_route(health, "/health", methods=["GET"])
    app.register_middleware(load_session, "request")
    app.register_middleware(security_headers, "response")
    app.error_handler.add(Exception, error_page)
    app.blueprint(BLUEPRINTS)
    return app


async def health(request: Request) -> HTTPResponse:
    return response.json({"status": "ok"})


async def load_session(request: Request) -> None:
    """The session of the cookie, if any. Only a person's action extends it: polling and files do not."""
    person = not request.path.startswith(NOT_A_PERSON)
    request.ctx.session = request.app.ctx.store.session_for(request.cookies.get(SESSION_COOKIE), touch=person)


async def security_headers(request: Request, resp: HTTPResponse) -> None:
    """CSP and friends on every response; no caching but for static files."""
    resp.headers["Content-Security-Policy"] = CSP
    resp.headers["X-Content-Type-Options"] = "nosniff"
    resp.headers["Referrer-Policy"] = "no-referrer"
    resp.headers["X-Frame-Options"] = "DENY"
    if not request.path.startswith("/static/"):
        resp.headers["Cache-Control"] = "no-store"


async def error_page(request: Request, exc: Exception) -> HTTPResponse:
    """The one error handler: a generic page (no detail, nothing of the request logged), and an unknown
    path looks like any other page to someone not logged in."""
    if isinstance(exc, sa.exc.SQLAlchemyError):
        logger.error("console database error: %s", type(exc).__name__)
        return page("error.html", 503, message="The database is not available. Nothing was changed; please try again in a moment.")
    if isinstance(exc, NotFound):
        if request.ctx.session is None and request.path not in ("/login",):
            if wants_json(request):
                return response.json({"error": "login required"}, status=401)
            return response.redirect("/login")
        return page("error.html", 404, message="Not found.")
    if isinstance(exc, SanicException):
        status = getattr(exc, "status_code", 500) or 500
        return page("error.html", status, message="The request could not be handled.")
    logger.error("console error: %s", type(exc).__name__)
    return page("error.html", 500, message="Something went wrong. Nothing was changed; please try again.")
