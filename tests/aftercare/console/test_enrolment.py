"""Enrolling a patient for SMS check-ins from the console (enrolment.py)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from .support import Browser


async def test_nurse_enrols_a_patient_for_sms(app, env):
    from aftercare.sms.models import SmsStore

    b = Browser(app)
    await b.login()
    csrf = await b.csrf("/enrol")
    today = datetime.now(timezone.utc).date()
    bad = await b.post("/enrol", data={"csrf_token": csrf, "phone": "555-1234", "procedure_date": today.isoformat()})
    assert bad.status == 400 and "E.164" in bad.text
    future = await b.post("/enrol", data={"csrf_token": csrf, "phone": "+15551234567",
                                          "procedure_date": (today + timedelta(days=3)).isoformat()})
    assert future.status == 400 and "future" in future.text
    ok = await b.post("/enrol", data={"csrf_token": csrf, "phone": "+15551234567",
                                      "procedure_date": (today - timedelta(days=1)).isoformat()})
    assert ok.status == 200 and "Enrolled +15551234567" in ok.text
    assert SmsStore(env["store"].engine).procedure_date_for("+15551234567") == today - timedelta(days=1)
    assert (await b.post("/enrol", data={"phone": "+15551234567", "procedure_date": today.isoformat()})).status == 403
