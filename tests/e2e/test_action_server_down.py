"""When the action server is down, the patient still gets a safe message, never silence."""
from __future__ import annotations

import secrets

import pytest

pytestmark = pytest.mark.e2e


def test_action_server_killed_mid_conversation(client, stack, protocol):
    sender = f"rest-{secrets.token_hex(12)}"
    _, payload = client.say(sender, "hi, i had my ductogram yesterday")
    assert payload["disposition"] == "information"
    stack.servers["actions"].stop()
    try:
        texts, payload = client.say(sender, "now i can't breathe properly", fallback_ok=True)
        assert payload["disposition"] == "emergency"
        assert payload.get("fallback") is True
        assert protocol.conversation["safe_fallback"] in texts

        texts, payload = client.say(sender, "how long will the results take", fallback_ok=True)
        assert protocol.conversation["safe_fallback"] in texts
    finally:
        stack.restart("actions")
    texts, payload = client.say(sender, "how long does the procedure take")
    assert protocol.information["duration"]["answer"] in texts
    assert payload.get("fallback") is None
