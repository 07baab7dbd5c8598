"""Enrolment: a nurse signs a patient's phone up for the protocol's SMS check-ins (audited)."""
from __future__ import annotations

from datetime import date

from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

from aftercare.console.models import Session
from aftercare.console.pages import login_required, page
from aftercare.sms.models import EnrolmentError
from aftercare.triage.protocol import load_protocol

FIELDS = ("phone", "procedure_date", "language")
bp = Blueprint("enrolment")


@bp.get("/enrol")
@login_required
async def enrol_form(request: Request, session: Session) -> HTTPResponse:
    return page("enrol.html", session=session, message=None, error=None, form={})


@bp.post("/enrol")
@login_required
async def enrol(request: Request, session: Session) -> HTTPResponse:
    settings = request.app.ctx.settings
    form = {k: (request.form or {}).get(k) or "" for k in FIELDS}

    def refused(error: str) -> HTTPResponse:
        return page("enrol.html", 400, session=session, message=None, form=form, error=error)

    protocol = load_protocol(settings.protocol_path)
    try:
        when = date.fromisoformat(form["procedure_date"])
    except ValueError:
        return refused(f"{form['procedure_date']!r} is not a date.")
    if protocol.followup is None:
        return refused("The protocol has no check-ins.")
    try:
        plan = request.app.ctx.sms.enrol(form["phone"], when, protocol.followup, settings.clinic_timezone,
                                         today=settings.today(), language=form["language"] or None)
    except EnrolmentError as exc:
        return refused(f"Not enrolled: {exc}.")
    request.app.ctx.store.audit(session.nurse.username, "enrolled", form["phone"].strip())
    days = ", ".join(f"day {d}" for d, _ in plan) or "none left"
    note = "" if settings.sms_enabled else " SMS is not configured yet, so nothing will be sent until it is."
    return page("enrol.html", session=session, error=None, form={},
                message=f"Enrolled {form['phone'].strip()}: check-ins on {days}.{note}")
