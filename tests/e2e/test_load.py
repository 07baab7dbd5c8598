"""Load: 50 concurrent conversations of 20 turns each (questions and red flags from eval/cases.yml)
against the session stack. No 5xx, no turn without a disposition, one escalation row per red-flag
conversation (none for the others), every user message in the tracker store."""
from __future__ import annotations

import json
import sqlite3
import time
from collections import defaultdict

import pytest

from aftercare.escalations import EscalationStore
from scripts.bench import ESCALATING, TOKENS, make_conversations, run_load

pytestmark = pytest.mark.e2e

CONVERSATIONS = 50
TURNS = 20


def test_fifty_concurrent_conversations(stack, client):
    conversations = make_conversations(CONVERSATIONS, TURNS, seed=20261122, prefix="loadtest", red_turns=(1, 3))
    assert sum(c.red_flag for c in conversations) == CONVERSATIONS // 2
    TOKENS[client.base] = client.headers["Authorization"].removeprefix("Bearer ")
    run = run_load(client.base, conversations, concurrency=CONVERSATIONS, timeout=120)
    summary = run.summary()
    print(f"\nload: {json.dumps(summary)}")

    assert len(run.turns) == CONVERSATIONS * TURNS
    assert not run.server_errors, [(t.conversation, t.index, t.status, t.error) for t in run.server_errors[:10]]
    lost = [(t.conversation, t.index, t.error) for t in run.errors]
    assert not lost, f"{len(lost)} turns without a proper answer, e.g. {lost[:5]}"

    # Escalations: every red-flag conversation escalated and has exactly one row, with the most
    # urgent disposition the patient was given; a conversation that never escalated has none.
    # (A question-only conversation that escalated is over-triage, judged by the evaluation set.)
    by_conv = defaultdict(list)
    for t in run.turns:
        by_conv[t.conversation].append(t)
    rows = defaultdict(list)
    for row in EscalationStore(f"sqlite:///{stack.var_dir / 'aftercare.db'}").list_escalations():
        rows[row["conversation_id"]].append(row)
    over = []
    for conv in conversations:
        seen = [t.payload["disposition"] for t in by_conv[conv.id]]
        escalated = [d for d in seen if d in ESCALATING]
        if conv.red_flag:
            assert escalated, f"{conv.id}: red flag not escalated: {list(zip(conv.turns, seen))}"
        elif escalated:
            over.append(conv.id)
        if escalated:
            assert len(rows[conv.id]) == 1, f"{conv.id}: {len(rows[conv.id])} escalation rows"
            assert rows[conv.id][0]["disposition"] == max(escalated, key=ESCALATING[::-1].index)
        else:
            assert not rows[conv.id], f"{conv.id}: escalation row without an escalating reply"
    print(f"question-only conversations that escalated (over-triage): {len(over)}")

    # Nothing lost in the transcript: every user message, in order.
    texts = defaultdict(list)
    deadline = time.monotonic() + 10
    while True:
        with sqlite3.connect(stack.var_dir / "tracker.db", timeout=10) as db:
            found = db.execute(
                "select sender_id, data from events where type_name = 'user' and sender_id like 'loadtest-%' order by id"
            ).fetchall()
        texts.clear()
        for sender, data in found:
            texts[sender].append(json.loads(data)["text"])
        if all(texts[c.id] == list(c.turns) for c in conversations) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    for conv in conversations:
        assert texts[conv.id] == list(conv.turns), f"{conv.id}: tracker has {len(texts[conv.id])} of {TURNS} user messages"


def test_long_message_does_not_stall_other_conversations(stack, client):
    """An over-long message (under the 64 KB body limit) must not hold up everyone else's answers."""
    import threading

    long_text = ("i was wondering about my appointment and the parking. " * 5000)[:60_000]
    outcome: dict = {}

    def send_long() -> None:
        outcome["answer"] = client.post("loadtest-long", long_text)

    sender = threading.Thread(target=send_long)
    sender.start()
    time.sleep(0.5)
    began = time.monotonic()
    _, payload = client.say("loadtest-short", "how long does it take")
    took = time.monotonic() - began
    sender.join(timeout=120)
    assert outcome["answer"].status_code == 200
    assert took < 3, f"a short message waited {took:.1f} s behind a {len(long_text):,}-character message"
