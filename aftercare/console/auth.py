"""Login and logout: the login form's own CSRF cookie, throttled attempts (per account, with a backoff,
and per address; ``ConsoleStore.is_throttled``), and server-side sessions whose id changes at login."""
from __future__ import annotations

import logging
import secrets

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from aftercare.console.models import Session
from aftercare.console.pages import LOGIN_CSRF_COOKIE, SESSION_COOKIE, login_required, page, same_token, set_cookie

logger = logging.getLogger(__name__)
bp = Blueprint("auth")


def client(request: Request) -> str:
    """The address failures are counted against (behind the clinic's proxy, often the whole ward's)."""
    return request.ip or "unknown"


def login_token(request: Request) -> str:
    """The login form's CSRF token: the one in the cookie if it looks like ours, else a new one.

    Keeping an existing token matters: a second GET (the browser's favicon request is redirected to
    /login) must not invalidate the form already on screen."""
    existing = request.cookies.get(LOGIN_CSRF_COOKIE) or ""
    if 32 <= len(existing) <= 64 and existing.replace("-", "").replace("_", "").isalnum():
        return existing
    return secrets.token_urlsafe(32)


@bp.get("/login")
async def login_form(request: Request) -> HTTPResponse:
    token = login_token(request)
    resp = page("login.html", csrf_token=token, error=None)
    set_cookie(resp, LOGIN_CSRF_COOKIE, token, request, max_age=3600)
    return resp


@bp.post("/login")
async def login(request: Request) -> HTTPResponse:
    store = request.app.ctx.store
    form = request.form or {}
    cookie_token = request.cookies.get(LOGIN_CSRF_COOKIE)
    sent = form.get("csrf_token")
    if not cookie_token or not same_token(sent, cookie_token):
        return page("error.html", 403, message="The login form has expired. Go back, reload and try again.")
    username = (form.get("username") or "").strip().lower()[:64]
    password = form.get("password") or ""
    address = client(request)
    if store.is_throttled(username, address):
        logger.warning("console login throttled for an account or client after repeated failures")
        return page("login.html", 429, csrf_token=cookie_token, error="Too many failed attempts. Wait 15 minutes and try again.")
    nurse = store.authenticate(username, password, address)
    if nurse is None:
        logger.warning("console login failed")
        return page("login.html", 401, csrf_token=cookie_token, error="Wrong username or password.")
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        store.end_session(old)
    session = store.start_session(nurse)
    store.audit(nurse.username, "login")
    resp = response.redirect("/")
    set_cookie(resp, SESSION_COOKIE, session.token, request)
    del resp.cookies[LOGIN_CSRF_COOKIE]
    return resp


@bp.post("/logout")
@login_required
async def logout(request: Request, session: Session) -> HTTPResponse:
    store = request.app.ctx.store
    store.end_session(session.token)
    store.audit(session.nurse.username, "logout")
    resp = response.redirect("/login")
    del resp.cookies[SESSION_COOKIE]
    return resp
