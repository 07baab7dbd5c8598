"""The web chat: its API over HTTP, and a patient using it in a real browser (headless Chromium)."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
import requests

from aftercare.settings import ROOT

pytestmark = pytest.mark.e2e

SHOTS = ROOT / "test-artifacts" / "screenshots"


def web(stack) -> str:
    return f"http://127.0.0.1:{stack.rasa_port}/webhooks/web"


def new_session(stack) -> dict:
    answer = requests.post(f"{web(stack)}/session", json={}, timeout=30)
    assert answer.status_code == 200
    return answer.json()


# ----------------------------------------------------------------------------- API
def test_server_issues_unguessable_ids_with_a_greeting(stack, protocol):
    a, b = new_session(stack), new_session(stack)
    assert len(a["conversation_id"]) == 32 and int(a["conversation_id"], 16) >= 0  # 128 bits, hex
    assert a["conversation_id"] != b["conversation_id"]
    assert "911" in a["messages"][0]["text"]
    assert a["quick_replies"]


def test_message_with_its_token_is_answered(stack, protocol):
    s = new_session(stack)
    answer = requests.post(f"{web(stack)}/message", timeout=60, json={
        "conversation_id": s["conversation_id"], "token": s["token"], "message": "how long does the test take"})
    assert answer.status_code == 200
    texts = [m.get("text") for m in answer.json()["messages"]]
    assert protocol.information["duration"]["answer"] in texts


@pytest.mark.parametrize("case", ["forged", "foreign", "missing", "made-up-id"])
def test_forged_or_foreign_conversation_ids_are_refused(stack, case):
    mine, theirs = new_session(stack), new_session(stack)
    body = {"conversation_id": theirs["conversation_id"], "token": mine["token"], "message": "hello"}
    if case == "forged":
        body["token"] = secrets.token_hex(32)
    elif case == "missing":
        body.pop("token")
    elif case == "made-up-id":
        body = {"conversation_id": secrets.token_hex(16), "token": secrets.token_hex(32), "message": "hi"}
    for path in ("message", "history"):
        answer = requests.post(f"{web(stack)}/{path}", json=body, timeout=30)
        assert answer.status_code == 403, (case, path)


def test_history_needs_the_token_and_returns_the_conversation(stack):
    s = new_session(stack)
    requests.post(f"{web(stack)}/message", timeout=60, json={
        "conversation_id": s["conversation_id"], "token": s["token"], "message": "i have chills"})
    history = requests.post(f"{web(stack)}/history", timeout=30, json={
        "conversation_id": s["conversation_id"], "token": s["token"]}).json()["messages"]
    assert any(m["from"] == "patient" and m["text"] == "i have chills" for m in history)
    assert any((m.get("custom") or {}).get("disposition") == "call_physician" for m in history)


def test_cross_origin_access_only_for_configured_origins(stack):
    for origin in ("https://evil.example", "null"):
        answer = requests.post(f"{web(stack)}/session", json={}, headers={"Origin": origin}, timeout=30)
        assert "Access-Control-Allow-Origin" not in answer.headers
    preflight = requests.options(f"{web(stack)}/message", headers={
        "Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}, timeout=30)
    assert "Access-Control-Allow-Origin" not in preflight.headers


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"conversation_id": 5, "token": [], "message": "x"}'])
def test_malformed_web_requests_get_4xx(stack, body):
    answer = requests.post(f"{web(stack)}/message", data=body, headers={"Content-Type": "application/json"}, timeout=30)
    assert 400 <= answer.status_code < 500


# ----------------------------------------------------------------------------- a patient in a browser


def _wait_for_reply(frame, count_before: int) -> None:
    frame.wait_for_function(
        "n => document.querySelectorAll('#log li.assistant, #log li.banner, #log li.error').length > n",
        arg=count_before, timeout=30000)


def _assistant_count(frame) -> int:
    return frame.locator("#log li.assistant, #log li.banner, #log li.error").count()


def _say(frame, text: str) -> None:
    before = _assistant_count(frame)
    frame.fill("#input", text)
    frame.press("#input", "Enter")
    _wait_for_reply(frame, before)


def test_patient_chats_on_the_demo_page(browser, stack, protocol):
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport={"width": 390, "height": 844})  # a phone
    page = context.new_page()
    page.goto(f"{web(stack)}/demo")
    page.click("#aftercare-chat-button")
    frame = page.frame_locator("#aftercare-chat-frame")
    frame.locator("#log li.assistant").first.wait_for()
    assert "911" in frame.locator("#log li.assistant").first.inner_text()
    assert frame.locator("#quick button").count() == 3

    chat = page.frame(url=lambda u: u.endswith("/webhooks/web/chat"))
    _say(chat, "can i wear deodorant to the appointment")
    assert protocol.information["deodorant"]["answer"] in chat.inner_text("#log")

    _say(chat, "I have a fever of 101.5")
    notice = chat.locator("#log li.banner.call")
    notice.wait_for()
    assert "101.5 °F is over 100.5 °F" in notice.inner_text()
    page.screenshot(path=str(SHOTS / "web-01-call-physician.png"))

    _say(chat, "now I have trouble breathing")
    banner = chat.locator("#log li.banner.emergency")
    banner.wait_for()
    assert banner.locator("a[href='tel:911']").count() == 1
    assert banner.get_attribute("role") == "alert"
    page.screenshot(path=str(SHOTS / "web-02-emergency.png"))

    before = chat.inner_text("#log")
    page.reload()
    page.click("#aftercare-chat-button")
    chat = page.frame(url=lambda u: u.endswith("/webhooks/web/chat"))
    chat.locator("#log li.banner.emergency").wait_for()
    after = chat.inner_text("#log")
    for line in ("can i wear deodorant to the appointment", "I have a fever of 101.5", "now I have trouble breathing"):
        assert line in after
    page.screenshot(path=str(SHOTS / "web-03-after-reload.png"))
    context.close()

    fresh = browser.new_context().new_page()  # a new visit starts a new conversation
    fresh.goto(f"{web(stack)}/chat")
    fresh.locator("#log li.assistant").first.wait_for()
    assert "trouble breathing" not in fresh.inner_text("#log")
    fresh.context.close()
    assert before  # the log had content before the reload


def test_keyboard_only_use(browser, stack, protocol):
    page = browser.new_context().new_page()
    page.goto(f"{web(stack)}/demo")
    page.keyboard.press("Tab")  # to the chat button
    assert page.evaluate("document.activeElement.id") == "aftercare-chat-button"
    page.keyboard.press("Enter")
    chat = page.frame(url=lambda u: u.endswith("/webhooks/web/chat"))
    chat.locator("#log li.assistant").first.wait_for()
    chat.focus("#input")
    before = _assistant_count(chat)
    page.keyboard.type("how long does the procedure take")
    page.keyboard.press("Enter")
    _wait_for_reply(chat, before)
    assert protocol.information["duration"]["answer"] in chat.inner_text("#log")
    assert chat.get_attribute("#log", "aria-live") == "polite"
    assert chat.locator("label[for=input]").count() == 1
    page.screenshot(path=str(SHOTS / "web-04-keyboard.png"))
    page.context.close()


def test_unreachable_assistant_shows_a_visible_state(browser, stack):
    page = browser.new_context().new_page()
    page.goto(f"{web(stack)}/chat")
    page.locator("#log li.assistant").first.wait_for()
    page.route("**/webhooks/web/message", lambda route: route.abort())
    page.fill("#input", "hello?")
    page.press("#input", "Enter")
    error = page.locator("#log li.error")
    error.wait_for()
    assert "call 911" in error.inner_text().lower()
    assert error.locator("a[href='tel:911']").count() == 1
    assert error.locator("button.retry").count() == 1
    page.context.close()


def test_slow_reply_says_still_working(browser, stack):
    page = browser.new_context().new_page()
    page.goto(f"{web(stack)}/chat")
    page.locator("#log li.assistant").first.wait_for()

    def slow(route):
        import time
        time.sleep(4)
        route.continue_()

    page.route("**/webhooks/web/message", slow)
    page.fill("#input", "how long does it take")
    page.press("#input", "Enter")
    page.wait_for_function("document.getElementById('status').textContent.includes('Still working')", timeout=10000)
    page.context.close()
