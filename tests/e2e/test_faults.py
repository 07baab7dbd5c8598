"""Faults on a stack of its own: the action server or the Rasa server killed with SIGKILL, and the
escalation database locked. The patient always gets an answer, escalations are never lost."""
from __future__ import annotations

import json
import re
import secrets
import signal
import sqlite3
import time
from typing import Iterator

import pytest
import requests

from aftercare.console.models import ConsoleStore
from aftercare.escalations import EscalationStore, create_db_engine
from aftercare.stack import Stack
from tests.e2e.conftest import Client, start_stack

pytestmark = pytest.mark.e2e

PASSWORD = "a long nurse password 42"


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Client]]:
    stack = start_stack(tmp_path_factory.mktemp("faults"))
    try:
        yield stack, Client(f"http://127.0.0.1:{stack.rasa_port}", stack.rest_token())
    finally:
        stack.stop()


def conv() -> str:
    return f"rest-{secrets.token_hex(12)}"


def store_of(stack: Stack) -> EscalationStore:
    return EscalationStore(f"sqlite:///{stack.var_dir / 'aftercare.db'}")


def rows_for(stack: Stack, sender: str) -> list[dict]:
    return [r for r in store_of(stack).list_escalations() if r["conversation_id"] == sender]


def user_texts(stack: Stack, sender: str) -> list[str]:
    with sqlite3.connect(stack.var_dir / "tracker.db", timeout=10) as db:
        found = db.execute(
            "select data from events where type_name = 'user' and sender_id = ? order by id", (sender,)
        ).fetchall()
    return [json.loads(d)["text"] for (d,) in found]


def console_login(stack: Stack) -> requests.Session:
    store = ConsoleStore(create_db_engine(f"sqlite:///{stack.var_dir / 'aftercare.db'}"))
    store.create_schema()
    username = f"nurse{secrets.token_hex(3)}"
    store.create_nurse(username, "Fault Test, RN", PASSWORD)
    base = f"http://127.0.0.1:{stack.console_port}"
    web = requests.Session()
    form = web.get(f"{base}/login", timeout=30)
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
    answer = web.post(f"{base}/login", data={"username": username, "password": PASSWORD, "csrf_token": token},
                      timeout=30, allow_redirects=False)
    assert answer.status_code in (302, 303), answer.status_code
    return web


def test_action_server_killed_mid_red_flag_conversation(own, protocol):
    stack, client = own
    sender = conv()
    _, payload = client.say(sender, "hi, i had my ductogram yesterday")
    assert payload["disposition"] == "information"
    _, payload = client.say(sender, "i think i have a fever")
    assert payload["question"] == "temperature"

    stack.servers["actions"].stop(signal.SIGKILL)
    assert not stack.servers["actions"].alive()
    try:
        texts, payload = client.say(sender, "it is 101.8 now and i have the chills", fallback_ok=True)
        assert payload.get("fallback") is True
        assert payload["disposition"] in ("emergency", "call_physician")
        assert protocol.conversation["safe_fallback"] in texts
        rows = rows_for(stack, sender)
        assert len(rows) == 1, "the safety net must store the escalation"
        assert rows[0]["disposition"] == payload["disposition"] and rows[0]["channel"] == "rest"
    finally:
        stack.restart("actions")

    texts, payload = client.say(sender, "how long does the procedure take")
    assert payload.get("fallback") is None
    assert protocol.information["duration"]["answer"] in texts
    assert len(rows_for(stack, sender)) == 1
    assert user_texts(stack, sender) == [
        "hi, i had my ductogram yesterday", "i think i have a fever",
        "it is 101.8 now and i have the chills", "how long does the procedure take",
    ]


def test_locked_database_journals_and_replays(own):
    stack, client = own
    journal = stack.var_dir / "escalations-journal.jsonl"
    base = f"http://127.0.0.1:{stack.console_port}"
    web = console_login(stack)
    first, second = conv(), conv()

    lock = sqlite3.connect(stack.var_dir / "aftercare.db", timeout=10, isolation_level=None)
    try:
        lock.execute("BEGIN EXCLUSIVE")
        began = time.monotonic()
        texts, payload = client.say(first, "i have a fever of 101.6", fallback_ok=True)
        took = time.monotonic() - began
        assert payload["disposition"] == "call_physician"
        assert texts, "the patient gets the reply while the database is locked"
        assert took < 15, f"reply took {took:.1f}s"
        assert journal.exists(), "the escalation must wait in the journal"
        lines = [json.loads(l) for l in journal.read_text().splitlines() if l.strip()]
        assert [l["conversation_id"] for l in lines] == [first]
    finally:
        lock.execute("ROLLBACK")
        lock.close()

    assert not rows_for(stack, first), "not in the database yet: nothing has replayed the journal"
    queue = web.get(f"{base}/", timeout=30)
    console_showed_journal = queue.status_code == 200 and "1 escalation(s) could not be written" in queue.text

    # The next escalation replays the journal first.
    _, payload = client.say(second, "my lips are swelling up")
    assert payload["disposition"] == "emergency"
    assert len(rows_for(stack, first)) == 1, "the journaled escalation was not replayed into the database"
    assert rows_for(stack, first)[0]["disposition"] == "call_physician"
    assert len(rows_for(stack, second)) == 1
    assert not journal.exists() or not journal.read_text().strip()
    queue = web.get(f"{base}/", timeout=30)
    assert queue.status_code == 200 and "could not be written" not in queue.text
    assert first in queue.text and second in queue.text

    assert console_showed_journal, (
        "the console's queue page did not show the escalation waiting in the journal "
        "(aftercare/console/app.py builds its EscalationStore without the journal path)"
    )


def test_rasa_server_killed_mid_conversation(own, protocol):
    stack, client = own
    sender = conv()
    said = ["hello", "i have the chills", "when will i get my results"]
    for text in said:
        _, payload = client.say(sender, text)
    assert payload["disposition"] == "call_physician"
    before = rows_for(stack, sender)
    assert len(before) == 1

    stack.servers["rasa"].stop(signal.SIGKILL)
    assert not stack.servers["rasa"].alive()
    stack.restart("rasa")

    assert user_texts(stack, sender) == said, "the transcript must survive the crash"
    assert rows_for(stack, sender) == before
    texts, payload = client.say(sender, "thanks")
    assert payload.get("fallback") is None
    assert payload["disposition"] == "call_physician", "a later message never lowers the disposition"
    assert user_texts(stack, sender) == said + ["thanks"]
    assert len(rows_for(stack, sender)) == 1
