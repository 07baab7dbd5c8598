"""Fuzz: 10,000 seeded hostile or odd requests against the REST channel and the web chat API of the
session stack. No 5xx, every answered message carries a disposition, the servers stay up, and the
Rasa server's memory does not grow without bound.

Most requests are short messages that go through the whole pipeline (classifier, rules, action
server, tracker store); the rest exercise the input checks (wrong types, malformed and nested JSON,
huge bodies, forged web ids) and the over-long path.
"""
from __future__ import annotations

import json
import random
import secrets
import string
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import pytest
import requests

from scripts.bench import rss_mb, turn_pools

pytestmark = pytest.mark.e2e

SEED = 20261122
TOTAL = 10_000
THREADS = 6
RSS_GROWTH_LIMIT_MB = 150
REST = "/webhooks/rest/webhook"
WEB = "/webhooks/web"

# ----------------------------------------------------------------------------- text generators
# (first, last, weight): character ranges to draw from.
RANGES = [
    (0x61, 0x7A, 20), (0x20, 0x7E, 20),                   # ascii letters, printable ascii
    (0xA0, 0x17F, 5), (0x370, 0x3FF, 2), (0x400, 0x4FF, 3),  # latin-1/extended, greek, cyrillic
    (0x590, 0x5FF, 3), (0x600, 0x6FF, 4), (0x900, 0x97F, 1),  # hebrew, arabic (RTL), devanagari
    (0x4E00, 0x9FFF, 4), (0xAC00, 0xD7A3, 1),             # CJK, hangul
    (0x1F300, 0x1FAFF, 6), (0x1F1E6, 0x1F1FF, 1),          # emoji (astral), regional indicators
    (0x1D400, 0x1D7FF, 1), (0x20000, 0x2A6DF, 1),          # math alphanumerics, CJK ext. B (astral)
    (0x0, 0x1F, 3), (0x7F, 0x9F, 1),                       # C0 controls incl. NUL, DEL, C1 controls
    (0x300, 0x36F, 2), (0x20D0, 0x20FF, 1),                # combining marks
    (0xE000, 0xF8FF, 1), (0xFFF0, 0xFFFF, 1), (0x10FFF0, 0x10FFFF, 1),  # private use, specials
    (0xFF10, 0xFF5A, 1), (0x660, 0x669, 1), (0x2070, 0x209F, 1),  # fullwidth, arabic-indic digits, super/subscripts
]
SPECIAL = [
    "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",
    "\u2066", "\u2067", "\u2068", "\u2069", "\ufeff", "\x00", "\r\n", "\t", "\u2028", "\u2029", "\u00ad",
    "👩‍👩‍👧‍👦", "🏳️‍🌈", "🇺🇸", "é", "ﷺ", "ǅ", "ß", "İ", "\u0301" * 30,
]
INJECTIONS = [
    "'; DROP TABLE events; --", "\" OR 1=1 --", "1; SELECT * FROM escalations; --", "' UNION SELECT password_hash FROM nurses --",
    "<script>alert(1)</script>", "<img src=x onerror=alert(document.cookie)>", "javascript:alert(1)",
    "{{7*7}}", "{% for x in range(9999999) %}", "${7*7}", "#{7*7}", "%s%s%s%n%x", "${jndi:ldap://127.0.0.1/a}",
    "../../../../etc/passwd", "..\\..\\windows\\win.ini", "$(id)", "`id`", "; ls -la", "| cat /etc/shadow",
    "\\x00\\x01", "{\"$gt\": \"\"}", "__proto__", "constructor.prototype", "NaN", "null", "undefined", "None",
    "/restart", "/greet", "/nlu_fallback", "/session_start", "/inform_temperature{\"temp\": 1e308}",
    "/report_fever{\"x\":", "/ask_duration[]", "/\u0000", "/" + "a" * 300, "*" * 50, "\\" * 50,
    "</textarea><svg onload=alert(1)>", "\r\nSet-Cookie: x=1", "%0d%0aLocation: http://127.0.0.1/",
    "A" * 1500, "🙂" * 400, "\u202egnidaolnwod\u202c exe.txt",
]
NUMBERS = [
    "1e308", "1e309", "-1e309", "1.7976931348623157e308", "4.9e-324", "NaN", "Infinity", "-0", "0x65", "0b101",
    "1,000,000,000", "101,2,3,4", "10^100", "101°F°C", "-40", "1/0", "٣٨٫٥", "３８．５", "¹⁰¹", "10²", "⅞",
    "101..5", "..101", "101.", ".5", "1_000", "+101.2", "−101", "101.2.3", "99.9999999999999999999",
]
NUMBER_FORMS = [
    "temp {}", "fever of {}", "my temperature is {} F", "{} C", "{} degrees", "had it {} days ago",
    "for {} days", "day {}", "{} weeks ago bloody discharge", "bloody discharge for {} days",
    "it was {} days ago and my breast is red", "{}", "temp {} and chills",
]


def fuzz_text(rng: random.Random, length: int, surrogates: bool = False) -> str:
    weights = [w for _, _, w in RANGES]
    out = []
    while len(out) < length:
        roll = rng.random()
        if roll < 0.12:
            out.append(rng.choice(SPECIAL))
        else:
            lo, hi, _ = rng.choices(RANGES, weights)[0]
            c = rng.randint(lo, hi)
            if 0xD800 <= c <= 0xDFFF:
                c = 0xFFFD
            out.append(chr(c))
    if surrogates:
        out.insert(rng.randrange(len(out) + 1), chr(rng.randint(0xD800, 0xDFFF)))
    return "".join(out)


def big_number(rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.3:
        return rng.choice(NUMBERS)
    if roll < 0.6:
        return "".join(rng.choices(string.digits, k=rng.randint(10, 1900)))
    if roll < 0.8:
        k = rng.randint(5, 900)
        return "9" * k + "." + "9" * k
    return str(rng.randint(-(10**40), 10**40))


def short_message(rng: random.Random, pools: tuple[list[str], list[str]]) -> str:
    """A short message with at least one word, so it goes through the whole pipeline."""
    questions, red_flags = pools
    kind = rng.random()
    base = rng.choice(questions if rng.random() < 0.6 else red_flags)
    if kind < 0.35:  # real message with noise inserted
        words = base.split()
        for _ in range(rng.randint(1, 4)):
            words.insert(rng.randrange(len(words) + 1), fuzz_text(rng, rng.randint(1, 6)))
        return " ".join(words)
    if kind < 0.6:  # random unicode around one word
        return fuzz_text(rng, rng.randint(0, 40)) + " " + rng.choice(["fever", "pain", "hello", "red", "help"]) + " " + fuzz_text(rng, rng.randint(0, 40))
    if kind < 0.8:  # numbers
        return rng.choice(NUMBER_FORMS).format(big_number(rng))[:1990]
    return rng.choice(INJECTIONS) + " " + rng.choice(["", base, "fever", "cant breathe"])


def nested(rng: random.Random, depth: int) -> Any:
    value: Any = rng.choice([1, "x", None, True, 1.5])
    for _ in range(depth):
        value = [value] if rng.random() < 0.5 else {rng.choice(["a", "message", "sender", "\u0000", "🙂"]): value}
    return value


def nested_raw(rng: random.Random, depth: int) -> str:
    """Deeply nested JSON as text (json.dumps itself stops at Python's recursion limit)."""
    opens, closes = [], []
    for _ in range(depth):
        if rng.random() < 0.5:
            opens.append("[")
            closes.append("]")
        else:
            opens.append('{"a":')
            closes.append("}")
    return "".join(opens) + "1" + "".join(reversed(closes))


def wrong_value(rng: random.Random) -> Any:
    return rng.choice([
        0, -1, 10**300, 1.5, 1e308, -0.0, True, False, [], ["hi"], {}, {"text": "fever 102"},
        nested(rng, rng.randint(1, 60)), [None] * rng.randint(1, 50), "x" * rng.randint(129, 400),
    ])


# ----------------------------------------------------------------------------- requests
@dataclass
class Case:
    category: str
    method: str
    path: str
    body: bytes | None
    headers: dict[str, str]
    answered: bool = False  # a message that must get 200 with a disposition


def as_json(obj: Any, ascii_only: bool = True) -> bytes:
    """JSON as a client sends it: escaped ASCII, or raw UTF-8 (lone surrogates as invalid bytes)."""
    return json.dumps(obj, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@dataclass
class WebSession:
    conversation_id: str
    token: str


def build_cases(rng: random.Random, pools: tuple[list[str], list[str]], sessions: list[WebSession]) -> list[Case]:
    jh = {"Content-Type": "application/json"}
    rest_senders = [f"fuzz-{secrets.token_hex(6)}" for _ in range(2000)]

    def rest(category: str, body: Any, raw: bytes | None = None, answered: bool = False, headers: dict | None = None) -> Case:
        raw = raw if raw is not None else as_json(body, rng.random() < 0.5)
        return Case(category, "POST", REST, raw, headers or jh, answered)

    def web(category: str, route: str, body: Any, raw: bytes | None = None, answered: bool = False) -> Case:
        raw = raw if raw is not None else as_json(body, rng.random() < 0.5)
        return Case(category, "POST", f"{WEB}/{route}", raw, jh, answered)

    def session() -> WebSession:
        return rng.choice(sessions)

    def malformed() -> bytes:
        good = as_json({"sender": rng.choice(rest_senders), "message": short_message(rng, pools)})
        return rng.choice([
            lambda: bytes(rng.randrange(256) for _ in range(rng.randint(0, 300))),
            lambda: good[: rng.randint(0, len(good) - 1)],
            lambda: b"[" * rng.randint(1, 5000),
            lambda: b'{"a":' * rng.randint(1, 3000) + b"1" + b"}" * rng.randint(0, 3000),
            lambda: b"[" * 2000 + b"]" * 2000,
            lambda: b'{"sender": "a", "message": "\xff\xfe\xc0\xaf"}',
            lambda: b'{"sender": "a", "message": NaN}',
            lambda: b'{"sender": "a", "message": "x", "message": 1}',
            lambda: "\ufeff".encode() + good,
            lambda: good.decode().encode("utf-16"),
            lambda: b"",
            lambda: rng.choice([b"null", b"true", b"1e999", b'"string"', b"[]", b"{}", b"-"]),
            lambda: b'{"sender": "a", "message": "' + b"\\u" + bytes(rng.choices(b"0123456789abcdefXYZ", k=4)) + b'"}',
        ])()

    weights = {
        "rest_message": 34, "web_message": 16, "rest_too_long": 1.5, "rest_wrong_types": 10, "rest_malformed": 11,
        "rest_huge": 0.25, "rest_surrogates": 1, "web_surrogates": 0.5, "web_session": 5, "web_message_bad": 8, "web_history": 4,
        "web_history_bad": 4, "web_huge": 0.15, "other_methods": 2,
    }
    names, w = list(weights), list(weights.values())
    cases: list[Case] = []
    for _ in range(TOTAL):
        cat = rng.choices(names, w)[0]
        if cat == "rest_message":
            cases.append(rest(cat, {"sender": rng.choice(rest_senders), "message": short_message(rng, pools)}, answered=True))
        elif cat == "web_message":
            s = session()
            cases.append(web(cat, "message", {"conversation_id": s.conversation_id, "token": s.token,
                                               "message": short_message(rng, pools)}, answered=True))
        elif cat == "rest_too_long":
            # Over AFTERCARE_MAX_MESSAGE_CHARS (2000): the engine alone answers. Kept under 5,000 characters
            # of words (the engine takes about 0.1 s per 2,000), except digit runs (cheap; over 4,300 digits
            # int() refuses them).
            text = rng.choice([
                lambda: fuzz_text(rng, rng.randint(2001, 4000)),
                lambda: "for " + "9" * rng.randint(2001, 20000) + " days bloody discharge",
                lambda: "temp " + "1" * rng.randint(4301, 30000),
                lambda: ("i feel ok " * rng.randint(201, 450)) + rng.choice(["cant breathe", "fever 102", ""]),
            ])()
            cases.append(rest(cat, {"sender": rng.choice(rest_senders), "message": text}, answered=True))
        elif cat == "rest_wrong_types":
            field = rng.choice(["message", "sender", "metadata", "metadata_deep", "extra"])
            body: dict[str, Any] = {"sender": rng.choice(rest_senders), "message": short_message(rng, pools)}
            if field == "metadata_deep":
                raw = as_json(body)[:-1] + b', "metadata": {"x": ' + nested_raw(rng, rng.randint(1, 1100)).encode() + b"}}"
                cases.append(rest(cat, None, raw=raw))
                continue
            if field == "extra":
                body[fuzz_text(rng, 8)] = wrong_value(rng)
            elif field == "sender" and rng.random() < 0.5:
                body["sender"] = fuzz_text(rng, rng.randint(0, 200))
            else:
                body[field] = wrong_value(rng)
            cases.append(rest(cat, body))
        elif cat == "rest_malformed":
            headers = rng.choice([jh, {"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"},
                                  {"Content-Type": "multipart/form-data; boundary=x"}, {}])
            cases.append(rest(cat, None, raw=malformed(), headers=headers))
        elif cat == "rest_huge":
            size = rng.randint(256 * 1024 + 1, 1_500_000)
            raw = as_json({"sender": "huge", "message": "a" * size}) if rng.random() < 0.7 else bytes(rng.randrange(256) for _ in range(1000)) * (size // 1000)
            cases.append(rest(cat, None, raw=raw))
        elif cat == "rest_surrogates":
            cases.append(rest(cat, {"sender": rng.choice(rest_senders), "message": fuzz_text(rng, rng.randint(1, 40), surrogates=True)}))
        elif cat == "web_session":
            raw = rng.choice([b"", b"{}", malformed(), as_json(wrong_value(rng))])
            cases.append(web(cat, "session", None, raw=raw))
        elif cat == "web_message_bad":
            s = session()
            body = rng.choice([
                {"conversation_id": s.conversation_id, "token": s.token, "message": wrong_value(rng)},
                {"conversation_id": s.conversation_id, "token": secrets.token_hex(32), "message": "fever 103"},
                {"conversation_id": wrong_value(rng), "token": wrong_value(rng), "message": "hi"},
                {"conversation_id": fuzz_text(rng, 32), "token": fuzz_text(rng, 64), "message": short_message(rng, pools)},
                {"conversation_id": s.conversation_id.upper(), "token": s.token, "message": "hi"},
                {"conversation_id": s.conversation_id, "token": s.token + "\u0000", "message": "hi"},
                {"conversation_id": s.conversation_id, "token": fuzz_text(rng, rng.randint(1, 64)), "message": "hi"},
            ])
            cases.append(web(cat, "message", None, raw=malformed() if rng.random() < 0.25 else as_json(body)))
        elif cat == "web_surrogates":
            s = session()
            cases.append(web(cat, "message", {"conversation_id": s.conversation_id, "token": s.token,
                                               "message": fuzz_text(rng, rng.randint(1, 40), surrogates=True)}))
        elif cat == "web_history":
            s = session()
            cases.append(web(cat, "history", {"conversation_id": s.conversation_id, "token": s.token}))
        elif cat == "web_history_bad":
            s = session()
            body = rng.choice([
                {"conversation_id": s.conversation_id, "token": wrong_value(rng)},
                {"conversation_id": wrong_value(rng), "token": s.token},
                {"conversation_id": "' OR 1=1 --" + "0" * 21, "token": s.token},
                {"conversation_id": s.conversation_id, "token": fuzz_text(rng, rng.randint(1, 64))},
                None,
            ])
            raw = nested_raw(rng, rng.randint(1, 1100)).encode() if body is None else as_json(body)
            cases.append(web(cat, "history", None, raw=malformed() if rng.random() < 0.25 else raw))
        elif cat == "web_huge":
            s = session()
            cases.append(web(cat, "message", {"conversation_id": s.conversation_id, "token": s.token,
                                               "message": "b" * rng.randint(64 * 1024 + 1, 1_000_000)}))
        else:  # other methods and preflights
            path = rng.choice([REST, f"{WEB}/session", f"{WEB}/message", f"{WEB}/history"])
            method = rng.choice(["GET", "PUT", "DELETE", "PATCH", "OPTIONS"])
            origin = rng.choice(["https://evil.example", "null", "http://127.0.0.1:1",
                                 "https://" + "".join(rng.choices(string.ascii_letters + "-._~%", k=rng.randint(1, 60)))])
            cases.append(Case(cat, method, path, None, {"Origin": origin}))
    return cases


# ----------------------------------------------------------------------------- the test
def log_sizes(stack) -> dict[str, int]:
    return {p.name: p.stat().st_size for p in (stack.var_dir / "logs").glob("*.log")}


def new_log_text(stack, sizes: dict[str, int]) -> str:
    out = []
    for p in (stack.var_dir / "logs").glob("*.log"):
        with open(p, "rb") as handle:
            handle.seek(sizes.get(p.name, 0))
            out.append(f"--- {p.name}\n" + handle.read().decode("utf-8", "replace"))
    return "\n".join(out)


def has_disposition(messages: Any) -> bool:
    return isinstance(messages, list) and any(
        isinstance(m, dict) and isinstance(m.get("custom"), dict) and "disposition" in m["custom"] for m in messages
    )


def test_fuzz_rest_and_web_chat(stack):
    base = f"http://127.0.0.1:{stack.rasa_port}"
    rng = random.Random(SEED)
    pools = turn_pools()
    sessions = []
    for _ in range(150):
        answer = requests.post(f"{base}{WEB}/session", json={}, timeout=30)
        assert answer.status_code == 200
        sessions.append(WebSession(answer.json()["conversation_id"], answer.json()["token"]))
    cases = build_cases(rng, pools, sessions)
    assert len(cases) >= 10_000
    counts = Counter(c.category for c in cases)
    answered = sum(c.answered for c in cases)

    # Warm up, then the Rasa server's memory before.
    auth = {"Authorization": f"Bearer {stack.rest_token()}"}
    requests.post(f"{base}{REST}", json={"sender": "fuzz-warmup", "message": "hello"}, headers=auth, timeout=60)
    rasa_pid = stack.servers["rasa"].process.pid
    rss_before = rss_mb(rasa_pid)
    sizes = log_sizes(stack)

    failures: list[str] = []
    statuses: Counter[str] = Counter()
    lock = threading.Lock()
    local = threading.local()

    def send(case: Case) -> None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        problem = None
        try:
            headers = {**case.headers, **auth} if case.path == REST else case.headers  # fuzz what is behind the token
            answer = local.session.request(case.method, base + case.path, data=case.body, headers=headers, timeout=60)
            status = answer.status_code
            if status >= 500:
                problem = f"HTTP {status}: {answer.text[:200]}"
            elif case.answered and status != 200:
                problem = f"HTTP {status} for a message: {answer.text[:200]}"
            elif status == 200 and case.method == "POST" and case.path in (REST, f"{WEB}/message"):
                body = answer.json()
                messages = body.get("messages") if isinstance(body, dict) else body
                if not has_disposition(messages):  # never silence: every answered message has one
                    problem = f"no disposition in {str(body)[:200]}"
        except (requests.RequestException, ValueError) as exc:
            status, problem = "no answer", f"{type(exc).__name__}: {str(exc)[:200]}"
        with lock:
            statuses[f"{case.category} {status}"] += 1
            if problem and len(failures) < 200:
                shown = case.body[:300] if case.body else b""
                failures.append(f"{case.category} {case.method} {case.path} body={shown!r}... -> {problem}")

    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        list(pool.map(send, cases))
    took = time.monotonic() - began
    rss_after = rss_mb(rasa_pid)
    pipeline = counts["rest_message"] + counts["web_message"]
    print(f"\nfuzz: {len(cases)} requests ({pipeline} short messages through the whole pipeline, {answered} that "
          f"must be answered) in {took:.0f} s; "
          f"rasa RSS {rss_before:.0f} -> {rss_after:.0f} MB")
    print("categories:", dict(sorted(counts.items())))
    print("statuses:", dict(sorted(statuses.items())))

    alive = {name: s.alive() for name, s in stack.servers.items()}
    problems = []
    if failures:
        logs = new_log_text(stack, sizes)
        # Unhandled errors (the 5xx) first, then other tracebacks.
        chunks = logs.split("Traceback (most recent call last)")
        unhandled = [c for prev, c in zip(chunks, chunks[1:]) if "Exception occurred while handling" in prev[-500:]]
        tracebacks = (unhandled or chunks[1:])[:3]
        problems.append(f"{len(failures)} failures, first ones:\n  " + "\n  ".join(failures[:15]) +
                        "\nlog excerpts:\n" + "\n....\n".join("Traceback" + t[:2500] for t in tracebacks))
    if not all(alive.values()):
        problems.append(f"servers down after the fuzz: {alive}")
    if requests.get(f"{base}/webhooks/rest/", timeout=30).status_code != 200:
        problems.append("the Rasa server does not answer its health check")
    if rss_after - rss_before > RSS_GROWTH_LIMIT_MB:
        problems.append(f"rasa RSS grew {rss_after - rss_before:.0f} MB ({rss_before:.0f} -> {rss_after:.0f})")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("command", ["/restart", "/session_start"])
def test_typed_slash_commands_do_not_reset_the_triage(client, command):
    """Found by the fuzz: Rasa reads a message starting with '/' as an intent or command. A patient
    typing one must not wipe the conversation's triage (a later message never lowers it)."""
    sender = f"rest-{secrets.token_hex(12)}"
    _, payload = client.say(sender, "i have the chills")
    assert payload["disposition"] == "call_physician"
    client.say(sender, command, fallback_ok=True)
    texts, payload = client.say(sender, "thanks", fallback_ok=True)
    assert payload["disposition"] == "call_physician", f"{command!r} lowered the disposition: {texts}"
