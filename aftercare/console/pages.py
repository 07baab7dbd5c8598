"""What the console's blueprints share: templates and ``page()``, ``login_required`` with its CSRF
check, and the session cookies."""
from __future__ import annotations

import functools
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Awaitable, Callable

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sanic import response
from sanic.request import Request
from sanic.response import HTTPResponse

from aftercare.clock import as_utc
from aftercare.console.models import Session

HERE = Path(__file__).parent
SESSION_COOKIE = "console_session"
LOGIN_CSRF_COOKIE = "console_login_csrf"

Handler = Callable[..., Awaitable[HTTPResponse]]


@functools.lru_cache(maxsize=1)
def templates() -> Environment:
    """The console's Jinja templates (autoescaped HTML)."""
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    env.filters["ago"] = ago
    env.filters["utc"] = lambda v: as_utc(v).strftime("%Y-%m-%d %H:%M UTC") if v else ""
    return env


def page(template: str, status: int = 200, **context: Any) -> HTTPResponse:
    """A rendered template as an HTML response."""
    return response.html(templates().get_template(template).render(**context), status=status)


def ago(value: datetime) -> str:
    """How long ago, roughly: "3 h ago"."""
    seconds = int((datetime.now(timezone.utc) - as_utc(value)).total_seconds())
    for size, unit in ((86400, "d"), (3600, "h"), (60, "min")):
        if seconds >= size:
            return f"{seconds // size} {unit} ago"
    return "just now"


def wants_json(request: Request) -> bool:
    """API routes answer a missing login with 401 JSON; pages redirect to the login form."""
    return request.path.startswith("/api/")


def login_required(handler: Handler) -> Handler:
    """Only with a session: else a redirect to /login (GET pages) or 401; a POST also needs the CSRF token.
    The handler gets the session after the request."""

    @functools.wraps(handler)
    async def wrapper(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
        session: Session | None = request.ctx.session
        if session is None:
            if wants_json(request) or request.method != "GET":
                return response.json({"error": "login required"}, status=401)
            return response.redirect("/login")
        if request.method == "POST":
            sent = request.form.get("csrf_token") if request.form else None
            sent = sent or request.headers.get("X-CSRF-Token")
            if not same_token(sent, session.csrf_token):
                return page("error.html", 403, message="The form has expired or is not valid. Go back, reload and try again.")
        return await handler(request, session, *args, **kwargs)

    return wrapper


def same_token(sent: object, expected: str) -> bool:
    """Constant-time comparison of a submitted token; anything that is not ASCII text is simply wrong
    (``secrets.compare_digest`` raises on non-ASCII str, which was a 500)."""
    if not isinstance(sent, str) or not sent or not sent.isascii():
        return False
    return secrets.compare_digest(sent.encode(), expected.encode())


def set_cookie(resp: HTTPResponse, name: str, value: str, request: Request, max_age: int | None = None) -> None:
    """An HttpOnly, SameSite=Strict cookie; Secure over TLS or when the app was built with cookie_secure."""
    resp.cookies[name] = value
    cookie = resp.cookies[name]
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["path"] = "/"
    if max_age:
        cookie["max-age"] = max_age
    if request.scheme == "https" or request.app.ctx.cookie_secure:
        cookie["secure"] = True
