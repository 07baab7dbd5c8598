"""The terminal chat (make chat) against the real servers."""
from __future__ import annotations

import subprocess
import sys

import pytest

from aftercare.settings import ROOT

pytestmark = pytest.mark.e2e


def test_terminal_chat_shows_replies_and_the_911_banner(client, stack):
    done = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "chat.py"), "--url", client.base,
         "--token-file", str(stack.var_dir / "rest-token")],
        input="how long does it take\nmy lips are swelling\n",
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "30 to 60 minutes" in done.stdout
    assert "CALL 911 NOW" in done.stdout
