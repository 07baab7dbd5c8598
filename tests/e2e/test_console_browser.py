"""A nurse in a real browser (headless Chromium from Debian, driven by Playwright): logs in, sees an
escalation created through the assistant's REST channel appear without reloading, opens the
transcript, acknowledges it. Screenshots are kept in test-artifacts/screenshots/."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest

from aftercare.console.models import ConsoleStore
from aftercare.escalations import create_db_engine
from aftercare.settings import ROOT

pytestmark = pytest.mark.e2e

SHOTS = ROOT / "test-artifacts" / "screenshots"
PASSWORD = "a long nurse password 42"




def test_nurse_acknowledges_an_escalation_in_the_browser(browser, stack, client):
    SHOTS.mkdir(parents=True, exist_ok=True)
    store = ConsoleStore(create_db_engine(f"sqlite:///{stack.var_dir / 'aftercare.db'}"))
    store.create_schema()
    username = f"nurse{secrets.token_hex(3)}"
    store.create_nurse(username, "Test Nurse, RN", PASSWORD)
    console = f"http://127.0.0.1:{stack.console_port}"

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.goto(f"{console}/")
    assert page.url.endswith("/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{console}/")

    # The escalation arrives while the queue is open: it must appear without a reload.
    sender = f"rest-{secrets.token_hex(12)}"
    _, payload = client.say(sender, "i have a fever of 101.5 and my breast is red")
    assert payload["disposition"] == "call_physician"
    row = page.locator("#queue tbody tr", has_text=sender)
    row.wait_for(timeout=15000)
    assert "temperature 101.5 °F is over 100.5 °F" in row.inner_text()
    page.screenshot(path=str(SHOTS / "01-queue.png"), full_page=True)

    row.locator("a").click()
    page.wait_for_selector("li.patient.escalated")
    highlighted = page.locator("li.patient.escalated").inner_text()
    assert "i have a fever of 101.5" in highlighted
    assert "call physician" in highlighted.lower()
    page.screenshot(path=str(SHOTS / "02-transcript.png"), full_page=True)

    page.click("#acknowledge")
    page.wait_for_selector("#status")
    assert page.inner_text("#status") == "acknowledged"
    page.screenshot(path=str(SHOTS / "03-acknowledged.png"), full_page=True)
    page.close()
    for name in ("01-queue.png", "02-transcript.png", "03-acknowledged.png"):
        assert (SHOTS / name).stat().st_size > 5000
