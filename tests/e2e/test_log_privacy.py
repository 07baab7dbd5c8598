"""Patient details never reach the logs at the default log level, whatever the channel: a made-up
name, phone number and symptom text (each with a unique marker) sent through the REST channel and the
web chat API, then read by a nurse in the console (queue, transcript, export, a note)."""
from __future__ import annotations

import random
import re
import secrets
import time

import pytest
import requests

from aftercare.console.models import ConsoleStore
from aftercare.escalations import create_db_engine

pytestmark = pytest.mark.e2e

PASSWORD = "a long nurse password 42"


def patient(channel: str) -> dict[str, str]:
    rng = random.Random(secrets.randbits(64))
    last = "Quarrington" + "".join(rng.choices("bcdfghjklmnpqrstvwxz", k=6))
    digits = f"{rng.randint(201, 989)}555{rng.randint(1000, 9999)}"
    return {
        "name": f"Ysolde {last}",
        "last_name": last,
        "phone": f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
        "phone_digits": digits,
        "phone_dashes": f"{digits[:3]}-{digits[3:6]}-{digits[6:]}",
        "symptom_marker": f"zebrafinch{channel}{secrets.token_hex(4)}",
    }


def messages(p: dict[str, str]) -> list[str]:
    return [
        f"Hi, this is {p['name']}, my phone is {p['phone']}.",
        f"{p['symptom_marker']} since this morning I have a fever of 101.4 and my breast is red",
    ]


def markers(p: dict[str, str]) -> list[str]:
    return [p["name"], p["last_name"], p["phone"], p["phone_digits"], p["phone_dashes"], p["symptom_marker"]]


def test_patient_details_never_reach_the_logs(stack, client):
    rest_patient, web_patient = patient("rest"), patient("web")

    # REST channel.
    rest_sender = f"rest-{secrets.token_hex(12)}"
    for text in messages(rest_patient):
        _, payload = client.say(rest_sender, text)
    assert payload["disposition"] == "call_physician"

    # Web chat API: session, messages, history.
    web = f"http://127.0.0.1:{stack.rasa_port}/webhooks/web"
    s = requests.post(f"{web}/session", json={}, timeout=30).json()
    for text in messages(web_patient):
        answer = requests.post(f"{web}/message", timeout=60, json={
            "conversation_id": s["conversation_id"], "token": s["token"], "message": text})
        assert answer.status_code == 200
    history = requests.post(f"{web}/history", timeout=30,
                            json={"conversation_id": s["conversation_id"], "token": s["token"]})
    assert history.status_code == 200 and web_patient["symptom_marker"] in history.text

    # Nurse console: log in, queue, both transcripts, export, a note with the patient's details.
    store = ConsoleStore(create_db_engine(f"sqlite:///{stack.var_dir / 'aftercare.db'}"))
    store.create_schema()
    username = f"nurse{secrets.token_hex(3)}"
    store.create_nurse(username, "Privacy Test, RN", PASSWORD)
    console = f"http://127.0.0.1:{stack.console_port}"
    nurse = requests.Session()
    form = nurse.get(f"{console}/login", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    nurse.post(f"{console}/login", data={"username": username, "password": PASSWORD, "csrf_token": token}, timeout=30)
    assert nurse.get(f"{console}/", timeout=30).status_code == 200
    queue = nurse.get(f"{console}/api/queue", params={"status": "all"}, timeout=30).json()["escalations"]
    ids = {r["conversation_id"]: r["id"] for r in queue}
    for conversation, p in ((rest_sender, rest_patient), (s["conversation_id"], web_patient)):
        assert conversation in ids, "the conversation was not escalated"
        detail = nurse.get(f"{console}/escalations/{ids[conversation]}", timeout=30)
        assert detail.status_code == 200 and p["symptom_marker"] in detail.text
        export = nurse.get(f"{console}/escalations/{ids[conversation]}/export", timeout=30)
        assert export.status_code == 200 and p["name"] in export.text and p["symptom_marker"] in export.text
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', detail.text).group(1)
        note = nurse.post(f"{console}/escalations/{ids[conversation]}/notes", timeout=30,
                          data={"csrf_token": csrf, "note": f"called {p['name']} back on {p['phone']}"})
        assert note.status_code in (200, 302, 303)
        assert p["phone"] in nurse.get(f"{console}/escalations/{ids[conversation]}/export", timeout=30).text
    assert nurse.get(f"{console}/audit", timeout=30).status_code == 200

    time.sleep(1)  # let the servers write their last lines
    files = [p for p in (stack.var_dir / "logs").rglob("*") if p.is_file()]
    assert files, "no log files found"
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace").casefold()
        for p in (rest_patient, web_patient):
            for marker in markers(p):
                assert marker.casefold() not in text, f"patient detail {marker!r} found in {path.name}"


def test_messages_starting_with_a_slash_are_not_logged(stack, client):
    """Rasa reads a message starting with '/' as an intent shortcut and, when it cannot parse one,
    warns with the whole message; a patient may type a slash too."""
    p = patient("slash")
    sender = f"rest-{secrets.token_hex(12)}"
    forms = [
        f"/greet this is {p['name']} {p['symptom_marker']}",
        f"/ my phone is {p['phone']}",
        f"/{p['symptom_marker']} fever 101.4",
    ]
    for text in forms:
        client.say(sender, text, fallback_ok=True)
    time.sleep(1)
    leaked = []
    for path in (stack.var_dir / "logs").rglob("*"):
        if path.is_file():
            text = path.read_text(encoding="utf-8", errors="replace").casefold()
            leaked += [f"{m!r} in {path.name}" for m in markers(p) if m.casefold() in text]
    assert not leaked, f"patient details logged: {leaked}"
