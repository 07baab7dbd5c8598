"""The audit page: who did what (logins, views, status changes, notes, exports, enrolments); viewing it is audited too."""
from __future__ import annotations

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

from aftercare.console.models import Session
from aftercare.console.pages import login_required, page

bp = Blueprint("audit")


@bp.get("/audit")
@login_required
async def audit(request: Request, session: Session) -> HTTPResponse:
    store = request.app.ctx.store
    store.audit(session.nurse.username, "viewed_audit")
    return page("audit.html", session=session, entries=store.audit_entries())
