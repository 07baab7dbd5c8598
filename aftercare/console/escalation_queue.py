"""The queue: the page of escalated conversations (with the journal's and the failed check-ins' warnings)
and the JSON the open page polls (``/api/queue``, which does not extend the session)."""
from __future__ import annotations

from datetime import date
from typing import Any

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from aftercare.clock import as_utc
from aftercare.console.models import Session
from aftercare.console.pages import ago, login_required, page

STATUSES = ("open", "acknowledged", "resolved")
bp = Blueprint("queue")


def parse_date(value: str | None) -> date | None:
    """A YYYY-MM-DD filter value; anything else is no filter."""
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def filtered(request: Request) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """The escalations the query's status and from/to dates select, and the filters as applied."""
    status = request.args.get("status", "open")
    if status not in STATUSES + ("active", "all"):
        status = "open"
    since = parse_date(request.args.get("from"))
    until = parse_date(request.args.get("to"))
    rows = request.app.ctx.escalations.list_escalations()
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


@bp.get("/")
@login_required
async def queue(request: Request, session: Session) -> HTTPResponse:
    ctx = request.app.ctx
    rows, filters = filtered(request)
    return page("queue.html", session=session, rows=rows, filters=filters, statuses=STATUSES,
                journaled=ctx.escalations.pending_in_journal(), unreadable=ctx.escalations.unreadable_in_journal(),
                failed_checkins=ctx.sms.failed_checkins())


@bp.get("/api/queue")
@login_required
async def queue_api(request: Request, session: Session) -> HTTPResponse:
    rows, filters = filtered(request)
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
                    "ago": ago(r["created_at"]),
                }
                for r in rows
            ],
        }
    )
