"""SMS end to end: enrolment, the check-in worker through Rasa, the signed Twilio webhook, opt-out,
and a fake Twilio API on 127.0.0.1 receiving what the assistant sends."""
from __future__ import annotations

import secrets
import subprocess
import sys
import time
from datetime import datetime, timedelta
from typing import Iterator
from zoneinfo import ZoneInfo

import pytest
import requests
from twilio.request_validator import RequestValidator

from aftercare.escalations import EscalationStore
from aftercare.settings import ROOT
from aftercare.sms.models import SmsStore
from tests.e2e.conftest import free_port, start_stack
from tests.e2e.fake_twilio import FakeTwilio

pytestmark = pytest.mark.e2e

AUTH_TOKEN = secrets.token_hex(16)
TZ = "America/Chicago"


@pytest.fixture(scope="module")
def sms(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    fake = FakeTwilio()
    rasa_port = free_port()
    webhook = f"http://127.0.0.1:{rasa_port}/webhooks/twilio/webhook"
    env = {
        "AFTERCARE_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
        "AFTERCARE_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "AFTERCARE_TWILIO_NUMBER": "+15550000000",
        "AFTERCARE_TWILIO_WEBHOOK_URL": webhook,
        "AFTERCARE_TWILIO_API_BASE": fake.url,
        "AFTERCARE_CLINIC_TIMEZONE": TZ,
        "AFTERCARE_CLINIC_NAME": "Test Imaging Clinic",
        "AFTERCARE_CARE_TEAM_CONTACT": "555-0100",
    }
    tmp = tmp_path_factory.mktemp("sms")
    stack = start_stack(tmp, names=("actions", "rasa"), rasa_port=rasa_port, extra_env=env)
    child_env = {**stack.env(), **env}
    yield {"stack": stack, "fake": fake, "webhook": webhook, "env": child_env,
           "store": SmsStore(EscalationStore(child_env["AFTERCARE_DATABASE_URL"]).engine),
           "escalations": EscalationStore(child_env["AFTERCARE_DATABASE_URL"])}
    stack.stop()
    fake.close()


def phone() -> str:
    return "+1555" + str(secrets.randbelow(10**7)).zfill(7)


def signed_post(sms: dict, params: dict, signature: str | None = "sign") -> requests.Response:
    params = {"MessageSid": "SM" + secrets.token_hex(16), **params}  # Twilio sends one with every text
    headers = {}
    if signature == "sign":
        headers["X-Twilio-Signature"] = RequestValidator(AUTH_TOKEN).compute_signature(sms["webhook"], params)
    elif signature:
        headers["X-Twilio-Signature"] = signature
    return requests.post(sms["webhook"], data=params, headers=headers, timeout=30)


def run(sms: dict, module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", module, *args], env=sms["env"], cwd=ROOT,
                          capture_output=True, text=True, timeout=180)


def clinic_today():
    return datetime.now(ZoneInfo(TZ)).date()


def daytime_today() -> str:
    """Noon in the clinic today: the worker's rounds run as if it were then (not in quiet hours)."""
    return datetime.combine(clinic_today(), datetime.min.time(), tzinfo=ZoneInfo(TZ)).replace(hour=12).isoformat()


# ----------------------------------------------------------------------------- the webhook
def test_signed_message_gets_a_reply_quickly(sms):
    number = phone()
    began = time.monotonic()
    answer = signed_post(sms, {"From": number, "Body": "how long does the procedure take"})
    took = time.monotonic() - began
    assert answer.status_code == 200 and "<Response>" in answer.text
    assert took < 2.0, f"the webhook must answer at once, took {took:.1f}s"
    reply = sms["fake"].wait_for(number)[0]
    assert "30 to 60 minutes" in reply


@pytest.mark.parametrize("signature", [None, "forged", "wrong-url"])
def test_unsigned_or_forged_requests_are_refused_and_nothing_is_stored(sms, signature):
    number = phone()
    params = {"From": number, "Body": "i cant breathe"}
    if signature == "wrong-url":
        sig = RequestValidator(AUTH_TOKEN).compute_signature("https://elsewhere.example/hook", params)
        answer = signed_post(sms, params, sig)
    else:
        answer = signed_post(sms, params, None if signature is None else "bm90IGEgc2lnbmF0dXJl")
    assert answer.status_code == 403
    time.sleep(1)
    assert sms["fake"].to(number) == []
    assert [r for r in sms["escalations"].list_escalations() if r["conversation_id"] == number] == []


def test_missing_body_is_a_4xx(sms):
    assert signed_post(sms, {"From": phone()}).status_code == 400
    assert signed_post(sms, {"Body": "hello"}).status_code == 400


def test_red_flag_by_sms_is_escalated_with_the_disposition_first(sms):
    number = phone()
    signed_post(sms, {"From": number, "Body": "my breast is red and swollen and i have chills"})
    reply = sms["fake"].wait_for(number)[0]
    assert reply.startswith("Please call your physician")
    rows = [r for r in sms["escalations"].list_escalations() if r["conversation_id"] == number]
    assert rows and rows[0]["channel"] == "twilio" and rows[0]["disposition"] == "call_physician"


# ----------------------------------------------------------------------------- keywords
def test_stop_help_start(sms):
    number = phone()
    day = (clinic_today() - timedelta(days=1)).isoformat()
    assert run(sms, "aftercare.sms.enrol", number, "--procedure-date", day).returncode == 0
    signed_post(sms, {"From": number, "Body": "stop"})
    assert "no more check-in messages" in sms["fake"].wait_for(number, 1)[0]
    assert sms["store"].is_opted_out(number)
    assert all(r["status"] != "pending" for r in sms["store"].checkin_rows() if r["phone"] == number)
    signed_post(sms, {"From": number, "Body": "HELP"})
    help_text = sms["fake"].wait_for(number, 2)[1]
    assert "Test Imaging Clinic" in help_text and "555-0100" in help_text and "STOP" in help_text
    signed_post(sms, {"From": number, "Body": "Start"})
    assert "on again" in sms["fake"].wait_for(number, 3)[2]
    assert not sms["store"].is_opted_out(number)


def test_opt_out_with_a_red_flag_is_still_triaged(sms):
    number = phone()
    signed_post(sms, {"From": number, "Body": "STOP. i cant breathe"})
    texts = sms["fake"].wait_for(number, 1)
    assert "911" in texts[0]
    rows = [r for r in sms["escalations"].list_escalations() if r["conversation_id"] == number]
    assert rows and rows[0]["disposition"] == "emergency"


def test_a_real_twilio_request_with_blank_fields_is_accepted(sms):
    number = phone()
    params = {
        "ToCountry": "US", "ToState": "IL", "SmsMessageSid": "SM" + "2" * 32, "NumMedia": "0", "ToCity": "",
        "FromZip": "", "SmsSid": "SM" + "2" * 32, "FromState": "", "SmsStatus": "received", "FromCity": "",
        "Body": "my breast is red and warm", "FromCountry": "US", "To": "+15550000000", "ToZip": "",
        "NumSegments": "1", "MessageSid": "SM" + "2" * 32, "AccountSid": "AC" + "0" * 32, "From": number,
        "ApiVersion": "2010-04-01",
    }
    assert signed_post(sms, params).status_code == 200
    assert "physician" in sms["fake"].wait_for(number, 1)[0]


def test_a_repeated_message_sid_is_answered_once(sms):
    number = phone()
    params = {"From": number, "Body": "i have chills", "MessageSid": "SM" + secrets.token_hex(16)}
    assert signed_post(sms, params).status_code == 200
    assert signed_post(sms, params).status_code == 200  # Twilio's retry, or a replay of the signed request
    sms["fake"].wait_for(number, 1)
    time.sleep(3)
    assert len(sms["fake"].to(number)) == 1
    rows = [r for r in sms["escalations"].list_escalations() if r["conversation_id"] == number]
    assert len(sms["escalations"].events_for(number)) == 1 and rows


def test_a_text_stored_before_a_restart_is_answered_after_it(sms):
    number = phone()
    sid = "SM" + secrets.token_hex(16)
    sms["store"].receive(sid, number, "my breast is red and hot")  # accepted, then the server stopped
    sms["stack"].restart("rasa")
    assert "physician" in sms["fake"].wait_for(number, 1, timeout=120)[0]
    assert not sms["store"].unanswered()


def test_a_keyword_inside_a_longer_message_does_not_opt_out(sms):
    number = phone()
    day = (clinic_today() - timedelta(days=3)).isoformat()
    assert run(sms, "aftercare.sms.enrol", number, "--procedure-date", day).returncode == 0
    signed_post(sms, {"From": number, "Body": "End of day 3 and my breast is red"})
    texts = sms["fake"].wait_for(number, 1)
    assert "physician" in texts[0]
    assert not sms["store"].is_opted_out(number)


# ----------------------------------------------------------------------------- enrolment and check-ins
@pytest.mark.parametrize("number, when, problem", [
    ("5551234567", "today", "E.164"),
    ("+1555abc", "today", "E.164"),
    ("+15551234567", "tomorrow", "future"),
    ("+15551234567", "long ago", "more than"),
    ("+15551234567", "2026-13-45", "not a date"),
])
def test_bad_enrolments_are_refused(sms, number, when, problem):
    dates = {"today": clinic_today().isoformat(), "tomorrow": (clinic_today() + timedelta(days=1)).isoformat(),
             "long ago": (clinic_today() - timedelta(days=400)).isoformat()}
    done = run(sms, "aftercare.sms.enrol", number, "--procedure-date", dates.get(when, when))
    assert done.returncode == 2 and problem in done.stderr


def test_day5_checkin_then_yes_still_bloody_escalates(sms):
    number = phone()
    five_days_ago = (clinic_today() - timedelta(days=5)).isoformat()
    assert run(sms, "aftercare.sms.enrol", number, "--procedure-date", five_days_ago).returncode == 0
    worker = run(sms, "aftercare.sms.worker", "--once", "--at", daytime_today())
    assert worker.returncode == 0, worker.stderr
    checkin = sms["fake"].wait_for(number)[0]
    assert "bloody discharge" in checkin and "5 days" in checkin
    signed_post(sms, {"From": number, "Body": "yes still bloody"})
    reply = sms["fake"].wait_for(number, 2)[1]
    assert reply.startswith("Please call your physician")
    rows = [r for r in sms["escalations"].list_escalations() if r["conversation_id"] == number]
    assert rows and rows[0]["disposition"] == "call_physician" and rows[0]["channel"] == "twilio"
    assert any("day 5" in reason for reason in rows[0]["reasons"])
    # Nothing more is due today: a second round sends nothing.
    run(sms, "aftercare.sms.worker", "--once", "--at", daytime_today())
    time.sleep(1)
    assert len(sms["fake"].to(number)) == 2


def test_worker_restart_mid_batch_sends_nothing_twice_and_loses_nothing(sms):
    numbers = [phone() for _ in range(4)]
    yesterday = (clinic_today() - timedelta(days=1)).isoformat()
    for number in numbers:
        assert run(sms, "aftercare.sms.enrol", number, "--procedure-date", yesterday).returncode == 0
    crashed = run(sms, "aftercare.sms.worker", "--once", "--at", daytime_today(), "--exit-after", "2")
    assert crashed.returncode == 3, crashed.stderr  # died after the 2nd send, before recording it
    again = run(sms, "aftercare.sms.worker", "--once", "--at", daytime_today(), "--lease-seconds", "0")
    assert again.returncode == 0, again.stderr
    for number in numbers:
        texts = sms["fake"].wait_for(number, 1)
        time.sleep(0.2)
        assert len(sms["fake"].to(number)) == 1, (number, sms["fake"].to(number))
        assert "How are you feeling" in texts[0]
    statuses = [r["status"] for r in sms["store"].checkin_rows() if r["phone"] in numbers and r["day"] == 1]
    assert statuses == ["sent"] * 4


def test_quiet_hours_send_nothing(sms):
    number = phone()
    yesterday = (clinic_today() - timedelta(days=1)).isoformat()
    run(sms, "aftercare.sms.enrol", number, "--procedure-date", yesterday)
    night = datetime.combine(clinic_today(), datetime.min.time(), tzinfo=ZoneInfo(TZ)).replace(hour=23).isoformat()
    run(sms, "aftercare.sms.worker", "--once", "--at", night)
    time.sleep(1)
    assert sms["fake"].to(number) == []


def test_failed_send_is_retried_then_recorded_as_failed(sms):
    number = phone()
    sms["fake"].fail_next = 2  # two failures, then the retry goes through
    signed_post(sms, {"From": number, "Body": "hello"})
    assert sms["fake"].wait_for(number)
    sms["fake"].fail_next = 100
    signed_post(sms, {"From": number, "Body": "thanks"})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not sms["store"].failed_messages(number):
        time.sleep(0.3)
    sms["fake"].fail_next = 0
    failed = sms["store"].failed_messages(number)
    assert failed and failed[0]["status"] == "failed"
