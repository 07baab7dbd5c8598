"""What the blueprints share (pages.py): login_required's CSRF check, token comparison, "ago"."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from aftercare.console.pages import ago, same_token

from .support import Browser, escalate


async def test_state_changes_need_the_csrf_token(app, env):
    esc = escalate(env["store"])
    b = Browser(app)
    await b.login()
    assert (await b.post(f"/escalations/{esc}/acknowledge")).status == 403
    assert (await b.post(f"/escalations/{esc}/acknowledge", data={"csrf_token": "forged"})).status == 403
    assert env["store"].list_escalations()[0]["status"] == "open"
    csrf = await b.csrf()
    assert (await b.post(f"/escalations/{esc}/acknowledge", data={"csrf_token": csrf})).status == 302
    row = env["store"].list_escalations()[0]
    assert (row["status"], row["assignee"]) == ("acknowledged", "ann")


def test_tokens_are_compared_as_ascii_text_only():
    token = "a" * 43
    assert same_token(token, token)
    assert not same_token("b" * 43, token)
    for sent in (None, "", "é" * 43, b"a" * 43, 42):
        assert not same_token(sent, token), sent


def test_ago_in_words():
    now = datetime.now(timezone.utc)
    assert ago(now) == "just now"
    assert ago(now - timedelta(minutes=5, seconds=3)) == "5 min ago"
    assert ago(now - timedelta(hours=3, minutes=1)) == "3 h ago"
    assert ago((now - timedelta(days=2, minutes=1)).replace(tzinfo=None)) == "2 d ago"  # naive means UTC
