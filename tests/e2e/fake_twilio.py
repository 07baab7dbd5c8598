"""A fake Twilio REST API on 127.0.0.1: records the texts the assistant sends (the REST client's
base_url points here), and can be told to fail."""
from __future__ import annotations

import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class FakeTwilio:
    def __init__(self) -> None:
        self.sent: list[dict[str, str]] = []
        self.fail_next = 0
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                with fake.lock:
                    if fake.fail_next > 0:
                        fake.fail_next -= 1
                        self.send_response(500)
                        self.end_headers()
                        self.wfile.write(b'{"message": "fake failure", "status": 500}')
                        return
                    sid = "SM" + secrets.token_hex(16)
                    fake.sent.append({"to": form.get("To", ""), "from": form.get("From", ""), "body": form.get("Body", ""), "sid": sid})
                body = json.dumps({"sid": sid, "status": "queued", "to": form.get("To"), "from": form.get("From"),
                                   "body": form.get("Body")}).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def to(self, phone: str) -> list[str]:
        with self.lock:
            return [m["body"] for m in self.sent if m["to"] == phone]

    def wait_for(self, phone: str, count: int = 1, timeout: float = 60) -> list[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.to(phone)
            if len(got) >= count:
                return got
            time.sleep(0.2)
        raise AssertionError(f"expected {count} text(s) to {phone}, got {self.to(phone)}")

    def close(self) -> None:
        self.server.shutdown()
