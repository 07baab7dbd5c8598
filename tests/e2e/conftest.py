"""One real stack (action server + Rasa server on 127.0.0.1) per test session."""
from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from aftercare.settings import ROOT
from aftercare.stack import Stack

MODEL = ROOT / "models" / "aftercare.tar.gz"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    """Talks to the REST channel like a web page or the evaluation script would."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.url = f"{base}/webhooks/rest/webhook"
        self.headers = {"Authorization": f"Bearer {token}"}

    def post(self, sender: str, message: Any, **kw: Any) -> requests.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        return requests.post(self.url, json={"sender": sender, "message": message}, timeout=60, headers=headers, **kw)

    def say(self, sender: str, message: str, *, fallback_ok: bool = False) -> tuple[list[str], dict[str, Any]]:
        """Send one message; unless ``fallback_ok``, the answer must come from the assistant proper."""
        answer = self.post(sender, message)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        texts = [m["text"] for m in body if "text" in m]
        customs = [m["custom"] for m in body if isinstance(m.get("custom"), dict)]
        assert customs, f"no disposition payload in {body}"
        if not fallback_ok:
            assert not customs[-1].get("fallback"), "the safety net answered: is the action server reachable?"
        return texts, customs[-1]


def start_stack(tmp: Path, names: tuple[str, ...] = ("actions", "rasa", "console"), **kw: Any) -> Stack:
    """Start the named servers on free ports (``action_port`` may be given, e.g. a fake's)."""
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run 'make train' (make test does it for you)")
    kw.setdefault("rasa_port", free_port())
    kw.setdefault("action_port", free_port())
    kw.setdefault("console_port", free_port())
    stack = Stack(var_dir=tmp, **kw)
    stack.start(names, timeout=240)
    return stack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    s = start_stack(tmp_path_factory.mktemp("stack"))
    yield s
    s.stop()


@pytest.fixture(scope="session")
def client(stack: Stack) -> Client:
    return Client(f"http://127.0.0.1:{stack.rasa_port}", stack.rest_token())


CHROMIUM = Path(os.environ.get("AFTERCARE_CHROMIUM", "/usr/bin/chromium"))


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium from Debian, driven by Playwright (which cannot download a browser here).

    Module scope: Playwright's sync API keeps an event loop running while it is open, which must
    not outlive the module (async tests elsewhere need their own loop)."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} not found: 'make test' installs Debian's chromium (apt-get install chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield b
        b.close()
