"""An action server that hangs or answers 500: the patient gets the safety-net reply, in time."""
from __future__ import annotations

import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from tests.e2e.conftest import Client, free_port, start_stack

pytestmark = pytest.mark.e2e

ACTION_TIMEOUT = 3


class FaultyActions(BaseHTTPRequestHandler):
    """POST /webhook hangs when the message asks for it, otherwise answers 500."""

    def do_GET(self) -> None:  # /health
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if b"slowly" in body:
            time.sleep(ACTION_TIMEOUT * 4)
        self.send_response(500)
        self.end_headers()
        self.wfile.write(b'{"error": "boom"}')

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def faulty_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Client]:
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), FaultyActions)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stack = start_stack(
        tmp_path_factory.mktemp("faulty"), names=("rasa",), action_port=port,
        extra_env={"AFTERCARE_ACTION_TIMEOUT": str(ACTION_TIMEOUT)},
    )
    yield Client(f"http://127.0.0.1:{stack.rasa_port}", stack.rest_token())
    stack.stop()
    server.shutdown()


def test_action_server_error_gets_the_safe_message(faulty_client, protocol):
    texts, payload = faulty_client.say(f"rest-{secrets.token_hex(12)}", "my breast is red and i have chills", fallback_ok=True)
    assert payload["fallback"] is True
    assert payload["disposition"] == "call_physician"
    assert protocol.conversation["safe_fallback"] in texts


def test_slow_action_server_gets_the_safe_message_in_time(faulty_client, protocol):
    began = time.monotonic()
    texts, payload = faulty_client.say(f"rest-{secrets.token_hex(12)}", "i am slowly losing consciousness", fallback_ok=True)
    took = time.monotonic() - began
    assert payload["fallback"] is True
    assert payload["disposition"] == "emergency"
    assert protocol.conversation["safe_fallback"] in texts
    assert took < ACTION_TIMEOUT + 6, f"took {took:.1f}s"
