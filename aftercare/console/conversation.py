"""One escalated conversation: its page (transcript with the escalating turns marked, notes, texts that
could not be delivered, audit), acknowledge / resolve / reopen, notes, and the chart export."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from aftercare.clock import as_utc
from aftercare.console.models import Session
from aftercare.console.pages import Handler, login_required, page

bp = Blueprint("conversation")
CHANGES = (("acknowledge", "acknowledged"), ("resolve", "resolved"), ("reopen", "open"))  # route, status


def no_such_escalation() -> HTTPResponse:
    return page("error.html", 404, message="No such escalation.")


def escalation_store_reasons(row: dict[str, Any]) -> list[str]:
    """An escalation's reasons (a JSON list in the database)."""
    value = row["reasons"]
    return value if isinstance(value, list) else json.loads(value)


def details(request: Request, escalation_id: int) -> dict[str, Any] | None:
    """Everything the conversation page and the export show, or None for no such escalation."""
    ctx = request.app.ctx
    row = ctx.store.escalation(escalation_id)
    if row is None:
        return None
    row["reasons"] = escalation_store_reasons(row)
    events = ctx.escalations.events_for(row["conversation_id"])
    marks = {round(e["message_timestamp"], 3): e for e in events if e["message_timestamp"]}
    turns = ctx.transcripts.turns(row["conversation_id"])
    return {
        "escalation": row,
        "events": events,
        "turns": [(t, marks.get(round(t.timestamp, 3))) for t in turns],
        "notes": ctx.store.notes(escalation_id),
        "failed_texts": ctx.sms.failed_messages(row["conversation_id"]),
        "audit": ctx.store.audit_entries(row["conversation_id"], limit=50),
    }


@bp.get("/escalations/<escalation_id:int>")
@login_required
async def detail(request: Request, session: Session, escalation_id: int) -> HTTPResponse:
    store = request.app.ctx.store
    row = store.escalation(escalation_id)
    if row is None:
        return no_such_escalation()
    store.audit(session.nurse.username, "viewed", row["conversation_id"])
    return page("detail.html", session=session, **details(request, escalation_id))


@bp.get("/escalations/<escalation_id:int>/export")
@login_required
async def export(request: Request, session: Session, escalation_id: int) -> HTTPResponse:
    data = details(request, escalation_id)
    if data is None:
        return no_such_escalation()
    esc = data["escalation"]
    request.app.ctx.store.audit(session.nurse.username, "exported", esc["conversation_id"])
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
        lines.append(f"[{turn.at:%Y-%m-%d %H:%M:%S} UTC] {turn.who}: {one_line(turn.text)}{flag}")
    for note in data["notes"]:
        lines.append(f"[{as_utc(note['at']):%Y-%m-%d %H:%M:%S} UTC] note by {note['nurse']}: {one_line(note['note'])}")
    return response.text(
        "\n".join(lines) + "\n",
        headers={"Content-Disposition": f'attachment; filename="escalation-{escalation_id}.txt"'},
    )


def change_to(status: str) -> Handler:
    """The handler that sets an escalation's status (the nurse becomes its assignee; audited by the store)."""

    async def handler(request: Request, session: Session, escalation_id: int) -> HTTPResponse:
        if request.app.ctx.store.set_status(escalation_id, status, session.nurse) is None:
            return no_such_escalation()
        return response.redirect(f"/escalations/{escalation_id}")

    return handler


for _verb, _status in CHANGES:
    bp.add_route(login_required(change_to(_status)), f"/escalations/<escalation_id:int>/{_verb}", methods=["POST"], name=_verb)


@bp.post("/escalations/<escalation_id:int>/notes")
@login_required
async def add_note(request: Request, session: Session, escalation_id: int) -> HTTPResponse:
    note = (request.form or {}).get("note") or ""
    if not note.strip():
        return page("error.html", 400, message="The note is empty.")
    if not request.app.ctx.store.add_note(escalation_id, session.nurse, note):
        return no_such_escalation()
    return response.redirect(f"/escalations/{escalation_id}")


def one_line(text: str) -> str:
    """Patient or nurse text on one line of the chart export: a line break cannot forge another entry."""
    return " ".join(str(text).replace("\r", "\n").split("\n")).replace("\u2028", " ").replace("\u2029", " ")
