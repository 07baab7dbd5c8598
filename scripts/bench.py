#!/usr/bin/env python3
"""Benchmark this project's configuration against Rasa's default pipeline and policies.

Usage:
    python scripts/bench.py [--json var/bench/bench.json] [--reuse-models] [--strict]

Both configurations are trained on this project's data (domain.yml, data/) into var/bench/models
(timed, each with an empty cache of its own so the time is a cold training; models/aftercare.tar.gz
is never touched):

- ``project``:  config.yml;
- ``baseline``: Rasa's default pipeline and policies (what an empty ``pipeline:``/``policies:`` means,
  rasa/engine/recipes/config_files/default_config.yml, as ``rasa init`` writes them), written out
  to var/bench/baseline-config.yml.

Then each configuration's action server, Rasa server and nurse console start (one stack after the
other, timed to ready) on free ports of 127.0.0.1 with their own var dir (var/bench/<name>/), and the
script measures: per-turn latency (p50/p95/p99) through the REST channel, action server included,
at 1 and at 20 concurrent conversations (bounded, mixed questions and red flags from
eval/cases.yml, the same seeded conversations for both), played in rounds that alternate the two
configurations so that a change in the machine's load does not favour one (latencies pooled, the
p95 of each round shown); sustained turns/second and errors at 20; resident memory (VmRSS of each
server process and its children, peak during the 20-conversation load); and triage quality on
eval/cases.yml (scripts/evaluate.py). It prints one table with both columns, the ratio
project/baseline and the targets, and with ``--json FILE`` writes all figures. Every server is
stopped at the end.

The functions above ``main`` (conversations, load runner, memory) are shared with tests/e2e.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Sequence

import requests
import yaml

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from aftercare.stack import BIN, Stack  # noqa: E402
from scripts import evaluate  # noqa: E402

BENCH_DIR = ROOT / "var" / "bench"
CASES = ROOT / "eval" / "cases.yml"
WEBHOOK = "/webhooks/rest/webhook"
ESCALATING = ("emergency", "call_physician")

# Rasa 3.6's default configuration: what an empty `pipeline:` / `policies:` means
# (rasa/engine/recipes/config_files/default_config.yml), written out explicitly.
BASELINE_CONFIG = """\
# Baseline for scripts/bench.py: Rasa 3.6's default pipeline and policies, as used when config.yml
# leaves `pipeline:` and `policies:` empty (rasa/engine/recipes/config_files/default_config.yml).
recipe: default.v1
language: en
assistant_id: ductogram-aftercare-baseline

pipeline:
  - name: WhitespaceTokenizer
  - name: RegexFeaturizer
  - name: LexicalSyntacticFeaturizer
  - name: CountVectorsFeaturizer
  - name: CountVectorsFeaturizer
    analyzer: char_wb
    min_ngram: 1
    max_ngram: 4
  - name: DIETClassifier
    epochs: 100
    constrain_similarities: true
  - name: EntitySynonymMapper
  - name: ResponseSelector
    epochs: 100
    constrain_similarities: true
  - name: FallbackClassifier
    threshold: 0.3
    ambiguity_threshold: 0.1

policies:
  - name: MemoizationPolicy
  - name: RulePolicy
  - name: UnexpecTEDIntentPolicy
    max_history: 5
    epochs: 100
  - name: TEDPolicy
    max_history: 5
    epochs: 100
    constrain_similarities: true
"""


# ============================================================================ conversations


@dataclass(frozen=True)
class Conversation:
    """One scripted patient conversation."""

    id: str
    turns: tuple[str, ...]
    red_flag: bool  # contains at least one message that must escalate on its own


def turn_pools(cases_path: Path = CASES) -> tuple[list[str], list[str]]:
    """(questions, red flags) as single messages, from the labelled evaluation set.

    Questions: one-turn aftercare questions, small talk and out-of-scope messages labelled
    information with no follow-up question. Red flags: one-turn messages labelled emergency or
    call_physician that need no follow-up question.
    """
    cases = evaluate.load_cases(cases_path)
    questions = [
        c.turns[0] for c in cases
        if len(c.turns) == 1 and c.expect == "information" and c.check_question and c.question is None
        and c.id.split("-")[0] in ("info", "chat", "oos")
    ]
    red_flags = [
        c.turns[0] for c in cases
        if len(c.turns) == 1 and c.expect in ESCALATING and c.check_question and c.question is None
    ]
    if not questions or not red_flags:
        raise evaluate.CaseFileError(f"{cases_path}: no one-turn questions or red flags to build conversations")
    return questions, red_flags


def make_conversations(
    count: int,
    turns: int,
    *,
    seed: int,
    red_share: float = 0.5,
    red_turns: tuple[int, int] = (1, 2),
    prefix: str = "load",
    pools: tuple[list[str], list[str]] | None = None,
) -> list[Conversation]:
    """``count`` seeded conversations of ``turns`` messages; ``red_share`` of them carry red flags."""
    questions, red_flags = pools or turn_pools()
    rng = random.Random(seed)
    reds = set(rng.sample(range(count), round(count * red_share)))
    run = secrets.token_hex(4)  # unique ids across runs on the same stores
    out = []
    for i in range(count):
        msgs = [rng.choice(questions) for _ in range(turns)]
        if i in reds:
            for pos in rng.sample(range(turns), min(turns, rng.randint(*red_turns))):
                msgs[pos] = rng.choice(red_flags)
        out.append(Conversation(f"{prefix}-{run}-{i:03d}", tuple(msgs), i in reds))
    return out


# ============================================================================ load


@dataclass
class Turn:
    """What one message got back."""

    conversation: str
    index: int
    text: str
    status: int | None = None  # None: no HTTP answer (connection error, timeout)
    latency_ms: float | None = None
    payload: dict[str, Any] | None = None  # the last disposition payload of the answer
    texts: list[str] = field(default_factory=list)
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def send_turn(session: requests.Session, url: str, sender: str, text: str, index: int, timeout: float = 60) -> Turn:
    """POST one message to the REST channel; the answer must be 200 with a disposition payload."""
    turn = Turn(sender, index, text)
    began = time.perf_counter()
    try:
        answer = session.post(url.rstrip("/") + WEBHOOK, json={"sender": sender, "message": text}, timeout=timeout)
    except requests.RequestException as exc:
        turn.error = f"{type(exc).__name__}: {exc}"[:300]
        return turn
    turn.latency_ms = (time.perf_counter() - began) * 1000
    turn.status = answer.status_code
    if answer.status_code != 200:
        turn.error = f"HTTP {answer.status_code}: {answer.text[:200]}"
        return turn
    try:
        body = answer.json()
        turn.texts = [m["text"] for m in body if isinstance(m, dict) and isinstance(m.get("text"), str)]
        customs = [m["custom"] for m in body if isinstance(m, dict) and isinstance(m.get("custom"), dict)
                   and "disposition" in m["custom"]]
    except (ValueError, TypeError) as exc:
        turn.error = f"unreadable answer: {exc}"
        return turn
    if not customs:
        turn.error = f"no disposition payload in {str(body)[:200]}"
        return turn
    turn.payload = customs[-1]
    return turn


#: The REST channel's bearer token of each running stack, by its base URL.
TOKENS: dict[str, str] = {}


def rest_session(url: str) -> requests.Session:
    """A session that sends the stack's REST token."""
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {TOKENS.get(url, '')}"
    return session


def play(url: str, conversation: Conversation, timeout: float = 60) -> list[Turn]:
    """Play one conversation, one message after the other's answer."""
    with rest_session(url) as session:
        return [send_turn(session, url, conversation.id, text, i, timeout) for i, text in enumerate(conversation.turns)]


@dataclass
class LoadRun:
    """All turns of a load run and how long it took."""

    turns: list[Turn]
    seconds: float
    concurrency: int

    @property
    def latencies(self) -> list[float]:
        return [t.latency_ms for t in self.turns if t.ok and t.latency_ms is not None]

    @property
    def errors(self) -> list[Turn]:
        return [t for t in self.turns if not t.ok]

    @property
    def server_errors(self) -> list[Turn]:
        return [t for t in self.turns if t.status is not None and t.status >= 500]

    @property
    def fallbacks(self) -> int:
        return sum(1 for t in self.turns if t.payload and t.payload.get("fallback"))

    def summary(self) -> dict[str, Any]:
        lat = evaluate.latency_summary(self.latencies)
        return {
            "concurrency": self.concurrency,
            "turns": len(self.turns),
            "seconds": round(self.seconds, 2),
            "turns_per_second": round(len(self.turns) / self.seconds, 2) if self.seconds else None,
            "latency_ms": {k: (round(v, 1) if isinstance(v, float) else v) for k, v in lat.items()},
            "errors": len(self.errors),
            "server_errors_5xx": len(self.server_errors),
            "safety_net_replies": self.fallbacks,
            "error_samples": [t.error for t in self.errors[:5]],
        }


def run_load(url: str, conversations: Sequence[Conversation], concurrency: int, timeout: float = 60) -> LoadRun:
    """Play the conversations with at most ``concurrency`` of them at the same time."""
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        results = list(pool.map(lambda c: play(url, c, timeout), conversations))
    return LoadRun([t for r in results for t in r], time.monotonic() - began, concurrency)


# ============================================================================ memory


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            try:
                out += [int(x) for x in (task / "children").read_text().split()]
            except OSError:
                pass
    except OSError:
        pass
    return out


def process_tree(pid: int) -> list[int]:
    """The process and all its descendants (from /proc/<pid>/task/*/children)."""
    seen, todo = [], [pid]
    while todo and len(seen) < 1000:
        p = todo.pop()
        if p in seen:
            continue
        seen.append(p)
        todo += _children(p)
    return seen


def rss_mb(pid: int) -> float:
    """Resident memory (VmRSS) of the process and its descendants, in MB; 0 if it is gone."""
    total_kb = 0
    for p in process_tree(pid):
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
                    break
        except (OSError, ValueError, IndexError):
            pass
    return total_kb / 1024


def stack_rss_mb(stack: Stack) -> dict[str, float]:
    """Resident memory of each running server of the stack (with its children), in MB."""
    return {
        name: round(rss_mb(server.process.pid), 1)
        for name, server in stack.servers.items()
        if server.process is not None and server.alive()
    }


class PeakMemory:
    """Samples the stack's memory every ``every`` seconds in a thread; keeps the peak per server."""

    def __init__(self, stack: Stack, every: float = 0.5) -> None:
        self.stack, self.every = stack, every
        self.peak: dict[str, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for name, mb in stack_rss_mb(self.stack).items():
                self.peak[name] = max(self.peak.get(name, 0.0), mb)
            self._stop.wait(self.every)

    def __enter__(self) -> "PeakMemory":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


# ============================================================================ benchmark


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check_baseline_matches_rasa() -> None:
    """The written-out baseline must equal Rasa's own default configuration."""
    import rasa.engine.recipes

    default = Path(rasa.engine.recipes.__file__).parent / "config_files" / "default_config.yml"
    theirs = yaml.safe_load(default.read_text())
    ours = yaml.safe_load(BASELINE_CONFIG)
    for key in ("pipeline", "policies"):
        if theirs[key] != ours[key]:
            raise SystemExit(f"baseline {key} differs from Rasa's default in {default}; update BASELINE_CONFIG")


def train(name: str, config: Path, log: Callable[[str], None], reuse: bool) -> tuple[Path, float | None]:
    """Train one configuration into var/bench/models/<name>.tar.gz; returns the model and the seconds."""
    models = BENCH_DIR / "models"
    model = models / f"{name}.tar.gz"
    if reuse and model.exists():
        log(f"[{name}] reusing {model.relative_to(ROOT)} (not timed)")
        return model, None
    cache = BENCH_DIR / "cache" / name
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    env = dict(os.environ, RASA_TELEMETRY_ENABLED="false", TF_CPP_MIN_LOG_LEVEL="2",
               RASA_CACHE_DIRECTORY=str(cache), PYTHONPATH=str(ROOT))
    train_log = BENCH_DIR / f"{name}-train.log"
    log(f"[{name}] training with {config.relative_to(ROOT)} (log: {train_log.relative_to(ROOT)})")
    began = time.monotonic()
    with open(train_log, "wb") as out:
        code = subprocess.run(
            [str(BIN / "rasa"), "train", "--config", str(config), "--domain", "domain.yml", "--data", "data",
             "--out", str(models), "--fixed-model-name", name, "--force"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, timeout=3600,
        ).returncode
    took = time.monotonic() - began
    shutil.rmtree(cache, ignore_errors=True)
    if code != 0 or not model.exists():
        raise RuntimeError(f"training {name} failed (exit {code}); see {train_log}")
    log(f"[{name}] trained in {took:.0f} s")
    return model, took


def start_stack(name: str, model: Path, log: Callable[[str], None], *, endpoints: str = "endpoints.yml",
                extra_env: dict[str, str] | None = None) -> tuple[Stack, float]:
    """Start one configuration's servers on free ports with a fresh var dir; returns it and the start-up time."""
    var_dir = BENCH_DIR / name
    shutil.rmtree(var_dir, ignore_errors=True)
    stack = Stack(model=model, rasa_port=free_port(), action_port=free_port(), console_port=free_port(),
                  var_dir=var_dir, endpoints=endpoints, extra_env=dict(extra_env or {}))
    log(f"[{name}] starting servers")
    try:
        took = stack.start(timeout=240)
    except RuntimeError:
        stack.stop()
        raise
    log(f"[{name}] ready in {took:.1f} s")
    return stack, took


#: How each configuration's servers run. The baseline is Rasa's default: one Sanic worker, its in-memory
#: lock store, and no cap on the turns of a session (the session lasts as long as the domain says).
SERVER_SETTINGS: dict[str, dict[str, str]] = {
    "project": {},  # what `make run` does: SANIC_WORKERS=2, the file lock store, AFTERCARE_SESSION_MAX_TURNS=10
    "baseline": {"SANIC_WORKERS": "1", "AFTERCARE_SESSION_MAX_TURNS": "1000000"},
}
BASELINE_ENDPOINTS = """\
# Baseline for scripts/bench.py: endpoints.yml without a lock_store (Rasa's default: in memory, one worker).
action_endpoint:
  url: ${AFTERCARE_ACTION_URL}

tracker_store:
  type: SQL
  dialect: "sqlite"
  db: ${AFTERCARE_TRACKER_DB}
"""
HISTORY_POINTS = (5, 50, 150)


def history(url: str, questions: Sequence[str], points: Sequence[int] = HISTORY_POINTS, window: int = 10) -> dict[str, float]:
    """Median latency (ms) of the ``window`` turns around each turn number in ``points`` of one long
    conversation of short questions (each answered before the next is sent)."""
    from statistics import median

    turns = max(points) + window // 2
    conversation = Conversation(f"history-{secrets.token_hex(4)}", tuple(questions[i % len(questions)] for i in range(turns)), False)
    played = play(url, conversation)
    if any(not t.ok for t in played):
        raise RuntimeError(f"history conversation failed: {next(t.error for t in played if not t.ok)}")
    latencies = [t.latency_ms or 0.0 for t in played]
    out = {}
    for point in points:
        lo = max(0, point - window // 2)
        out[str(point)] = round(median(latencies[lo:lo + window]), 1)
    return out


def postgres_history(model: Path, questions: Sequence[str], log: Callable[[str], None]) -> dict[str, float] | str:
    """The same long conversation on the production stores (PostgreSQL tracker, Redis locks), in a fresh
    database that is dropped after; a string says why it could not be measured."""
    import sqlalchemy as sa
    import uuid

    from aftercare.cluster import drop_database, ensure_database, production_env
    from aftercare.settings import load_settings

    env = production_env(load_settings())
    database = f"aftercare_bench_{uuid.uuid4().hex[:8]}"
    url = str(sa.engine.make_url(env["AFTERCARE_DATABASE_URL"]).set(database=database))
    try:
        ensure_database(url)
    except Exception as exc:  # noqa: BLE001
        return f"no PostgreSQL: {type(exc).__name__}"
    env.update(AFTERCARE_PG_DB=database, AFTERCARE_DATABASE_URL=url)
    stack = None
    try:
        stack, _ = start_stack("project-postgresql", model, log, endpoints="endpoints.postgresql.yml", extra_env=env)
        base = f"http://127.0.0.1:{stack.rasa_port}"
        TOKENS[base] = stack.rest_token()
        play(base, make_conversations(1, 5, seed=98, prefix="warm-pg", pools=(list(questions), list(questions)))[0])
        log("[project-postgresql] one long conversation")
        return history(base, questions)
    finally:
        if stack is not None:
            stack.stop()
        drop_database(url)


def merge(runs: list[LoadRun]) -> LoadRun:
    """Several load runs as one (turns pooled, seconds added)."""
    return LoadRun([t for r in runs for t in r.turns], sum(r.seconds for r in runs), runs[0].concurrency)


def quality(url: str) -> dict[str, Any]:
    """Triage quality on the evaluation set (scripts/evaluate.py)."""
    cases = evaluate.load_cases(CASES)
    with rest_session(url) as session:
        results = [evaluate.play_case(session, url, case, 60) for case in cases]
    summary = evaluate.summarise(results)
    return {
        "cases": summary["counts"]["cases"],
        "under_triaged": summary["counts"]["under_triaged"],
        "over_triaged": summary["counts"]["over_triaged"],
        "errors": summary["counts"]["errors"],
        "exact_match_rate": summary["exact_match_rate"],
        "full_match_rate": summary["full_match_rate"],
        "under_triaged_ids": [r["id"] for r in summary["under_triaged"]],
    }


def measure(stacks: dict[str, Stack], args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """Latency, throughput, memory and quality of the running stacks.

    The load is played in ``args.rounds`` rounds, alternating the configurations (and their order
    from one round to the next), so that a drift in the machine's load does not favour one of them;
    latencies are pooled over the rounds. Every configuration gets the same seeded conversations.
    """
    pools = turn_pools()
    urls = {name: f"http://127.0.0.1:{s.rasa_port}" for name, s in stacks.items()}
    TOKENS.update({urls[name]: s.rest_token() for name, s in stacks.items()})
    single: dict[str, list[LoadRun]] = {name: [] for name in stacks}
    many: dict[str, list[LoadRun]] = {name: [] for name in stacks}
    peaks: dict[str, dict[str, float]] = {name: {} for name in stacks}
    for name, url in urls.items():
        play(url, make_conversations(1, 5, seed=99, prefix=f"warm-{name}", pools=pools)[0])
    histories: dict[str, dict[str, float]] = {}
    for name, url in urls.items():
        log(f"[{name}] one long conversation ({max(HISTORY_POINTS)} turns and more)")
        histories[name] = history(url, pools[0])
    for r in range(args.rounds):
        order = list(stacks) if r % 2 == 0 else list(reversed(stacks))
        for name in order:
            convs = make_conversations(args.single_conversations, args.single_turns, seed=100 + r,
                                       prefix=f"one{r}-{name}", pools=pools)
            log(f"[{name}] round {r + 1}/{args.rounds}: 1 conversation at a time, {sum(len(c.turns) for c in convs)} turns")
            single[name].append(run_load(urls[name], convs, 1))
        for name in order:
            convs = make_conversations(args.concurrency, args.concurrent_turns, seed=200 + r,
                                       prefix=f"many{r}-{name}", pools=pools)
            log(f"[{name}] round {r + 1}/{args.rounds}: {args.concurrency} concurrent conversations, "
                f"{sum(len(c.turns) for c in convs)} turns")
            with PeakMemory(stacks[name]) as peak:
                many[name].append(run_load(urls[name], convs, args.concurrency))
            for server, mb in peak.peak.items():
                peaks[name][server] = max(peaks[name].get(server, 0.0), mb)
    out: dict[str, dict[str, Any]] = {}
    for name, stack in stacks.items():
        log(f"[{name}] triage quality on {CASES.relative_to(ROOT)}")
        figures: dict[str, Any] = {
            "history_ms": histories[name],
            "load_1": merge(single[name]).summary(),
            "load_concurrent": merge(many[name]).summary(),
            "rss_peak_mb": dict(peaks[name]) | {"total": round(sum(peaks[name].values()), 1)},
            "quality": quality(urls[name]),
        }
        figures["load_1"]["p95_by_round"] = [round(evaluate.percentile(x.latencies, 95) or 0, 1) for x in single[name]]
        figures["load_concurrent"]["p95_by_round"] = [round(evaluate.percentile(x.latencies, 95) or 0, 1) for x in many[name]]
        rss = stack_rss_mb(stack)
        figures["rss_after_mb"] = rss | {"total": round(sum(rss.values()), 1)}
        figures["servers_alive_at_end"] = all(s.alive() for s in stack.servers.values())
        out[name] = figures
    return out


# ---------------------------------------------------------------------------- report


def _get(d: dict[str, Any], path: str) -> Any:
    for key in path.split("."):
        if not isinstance(d, dict) or key not in d:
            return None
        d = d[key]
    return d


ROWS: list[tuple[str, str, str]] = [
    # label, path in a configuration's figures, format
    ("training time (s)", "training_seconds", "{:.0f}"),
    ("start-up to ready (s)", "startup_seconds", "{:.1f}"),
    ("turn 5 of one conv: p50 (ms)", "history_ms.5", "{:.0f}"),
    ("turn 50 of one conv: p50 (ms)", "history_ms.50", "{:.0f}"),
    ("turn 150 of one conv: p50 (ms)", "history_ms.150", "{:.0f}"),
    ("turn 150 / turn 5", "history_ratio", "{:.2f}"),
    ("same on PostgreSQL: turn 5/50/150", "history_postgresql_ms", "{:.0f}"),
    ("same on PostgreSQL: 150 / 5", "history_postgresql_ratio", "{:.2f}"),
    ("Rasa server workers", "rasa_workers", "{}"),
    ("1 conv: turns", "load_1.turns", "{}"),
    ("1 conv: p50 latency (ms)", "load_1.latency_ms.p50", "{:.0f}"),
    ("1 conv: p95 latency (ms)", "load_1.latency_ms.p95", "{:.0f}"),
    ("1 conv: p99 latency (ms)", "load_1.latency_ms.p99", "{:.0f}"),
    ("1 conv: p95 of each round (ms)", "load_1.p95_by_round", "{:.0f}"),
    ("1 conv: errors", "load_1.errors", "{}"),
    ("{n} conv: turns", "load_concurrent.turns", "{}"),
    ("{n} conv: p50 latency (ms)", "load_concurrent.latency_ms.p50", "{:.0f}"),
    ("{n} conv: p95 latency (ms)", "load_concurrent.latency_ms.p95", "{:.0f}"),
    ("{n} conv: p99 latency (ms)", "load_concurrent.latency_ms.p99", "{:.0f}"),
    ("{n} conv: p95 of each round (ms)", "load_concurrent.p95_by_round", "{:.0f}"),
    ("{n} conv: sustained turns/s", "load_concurrent.turns_per_second", "{:.1f}"),
    ("{n} conv: errors", "load_concurrent.errors", "{}"),
    ("{n} conv: 5xx", "load_concurrent.server_errors_5xx", "{}"),
    ("{n} conv: safety-net replies", "load_concurrent.safety_net_replies", "{}"),
    ("RSS peak actions (MB)", "rss_peak_mb.actions", "{:.0f}"),
    ("RSS peak rasa (MB)", "rss_peak_mb.rasa", "{:.0f}"),
    ("RSS peak console (MB)", "rss_peak_mb.console", "{:.0f}"),
    ("RSS peak total (MB)", "rss_peak_mb.total", "{:.0f}"),
    ("eval: under-triaged (cases)", "quality.under_triaged", "{}"),
    ("eval: over-triaged (cases)", "quality.over_triaged", "{}"),
    ("eval: exact disposition rate", "quality.exact_match_rate", "{:.1%}"),
    ("eval: errors", "quality.errors", "{}"),
]


def _fmt(fmt: str, value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, list):
        return "/".join(_fmt(fmt, v) for v in value)
    try:
        return fmt.format(value)
    except (ValueError, TypeError):
        return str(value)


def _ratio(a: Any, b: Any) -> str:
    if isinstance(a, list) or isinstance(b, list):
        return ""
    if not isinstance(a, (int, float)) or not isinstance(b, (int, float)) or isinstance(a, bool) or not b:
        return "-"
    return f"{a / b:.2f}"


def targets(project: dict[str, Any], baseline: dict[str, Any] | None, concurrency: int = 20) -> list[dict[str, Any]]:
    """The issues' targets, each met or missed (None: could not be measured)."""
    base = baseline or {}
    p95_1, b95_1 = _get(project, "load_1.latency_ms.p95"), _get(base, "load_1.latency_ms.p95")
    p95_n, b95_n = _get(project, "load_concurrent.latency_ms.p95"), _get(base, "load_concurrent.latency_ms.p95")
    tps, b_tps = _get(project, "load_concurrent.turns_per_second"), _get(base, "load_concurrent.turns_per_second")
    errors_n = _get(project, "load_concurrent.errors")
    startup = _get(project, "startup_seconds")
    training = _get(project, "training_seconds")
    flat = _get(project, "history_ratio")
    flat_pg = _get(project, "history_postgresql_ratio")

    def check(label: str, value: str, met: bool | None) -> dict[str, Any]:
        return {"target": label, "value": value, "met": met}

    return [
        check("turn 150 within 1.25x of turn 5 (SQLite)", _fmt("{:.2f}x", flat), None if flat is None else flat <= 1.25),
        check("turn 150 within 1.25x of turn 5 (PostgreSQL)", _fmt("{:.2f}x", flat_pg),
              None if flat_pg is None else flat_pg <= 1.25),
        check(f"{concurrency} conv: throughput at least 1.5x the baseline's", f"{_ratio(tps, b_tps)}x",
              None if tps is None or not b_tps else tps >= 1.5 * b_tps),
        check(f"{concurrency} conv: p95 below the baseline's", f"{_fmt('{:.0f}', p95_n)} vs {_fmt('{:.0f}', b95_n)} ms",
              None if p95_n is None or b95_n is None else p95_n < b95_n),
        check(f"no error at {concurrency} concurrent conversations", _fmt("{} errors", errors_n),
              None if errors_n is None else errors_n == 0),
        check("p95 latency at 1 conversation under 150 ms", _fmt("{:.0f} ms", p95_1), None if p95_1 is None else p95_1 < 150),
        check("at least as fast as the baseline at 1 conversation (p95)",
              f"{_fmt('{:.0f}', p95_1)} vs {_fmt('{:.0f}', b95_1)} ms",
              None if p95_1 is None or b95_1 is None else p95_1 <= b95_1),
        check("training under 3 minutes on this machine", _fmt("{:.0f} s", training),
              None if training is None else training < 180),
        check("start-up to ready under 45 s", _fmt("{:.1f} s", startup), None if startup is None else startup < 45),
    ]


#: The kinds of message the engine's cost is measured on: a text repeated to the size, or None for
#: distinct patient messages of the evaluation sets (their texts only), shuffled.
ENGINE_MESSAGES: dict[str, str | None] = {
    "prose": "my breast is a little sore today and I have some questions about the results. ",
    "red flags": "fever 101.5 chills red swollen pus bleeding. ",
    "one run-on sentence": "no fever no chills no redness ",
    "digits and temperatures": "101.5 38,2C 99 F 100.4 102 temp 37.8 1o1.2 ",
    # emoji, Cyrillic look-alike letters ("chest pain swollen"), a zero-width space, full-width letters
    "emoji, look-alike letters": "\U0001f912\U0001f637 \u0441\u04bb\u0435st \u0440\u0430in \u200b\u0455w\u043ellen \U0001f525 "
                                 "\uff46\uff45\uff56\uff45\uff52 ",
    "distinct case messages": None,
}


def engine_message(kind: str, size: int) -> str:
    """A message of ``size`` characters of one kind of ENGINE_MESSAGES."""
    unit = ENGINE_MESSAGES[kind]
    if unit is not None:
        return (unit * (size // len(unit) + 1))[:size]
    texts = sorted({
        turn for path in (CASES, ROOT / "eval" / "blind" / "dev.yml")
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"] for turn in case["turns"]
    })
    random.Random(20261123).shuffle(texts)
    picked: list[str] = []
    length = 0
    while length < size:
        picked.append(texts[len(picked) % len(texts)])
        length += len(picked[-1]) + 1
    return " ".join(picked)[:size]


def engine_cost(sizes: Sequence[int] = (2_000, 16_000, 65_536), repeats: int = 3) -> dict[str, dict[str, float]]:
    """Milliseconds the triage engine (with the learned detector) takes for one message, by size and kind
    (the median of a few runs, in this process: the engine's own cost, without HTTP or Rasa)."""
    from datetime import date
    from statistics import median

    from aftercare.triage.classifier import RedFlagClassifier
    from aftercare.triage.dialogue import Dialogue
    from aftercare.triage.protocol import load_protocol

    classifier_path = ROOT / "models" / "redflag.joblib"
    classifier = RedFlagClassifier.load(classifier_path) if classifier_path.exists() else None
    dialogue = Dialogue(load_protocol(ROOT / "protocols" / "ductogram.yml"), classifier)
    today = date(2026, 11, 19)
    dialogue.respond("hello", None, today=today)  # load what loads lazily
    from aftercare.services import keep_out_of_collection

    keep_out_of_collection()  # as the action server does once its services are loaded
    figures: dict[str, dict[str, float]] = {}
    for kind in ENGINE_MESSAGES:
        for size in sizes:
            text = engine_message(kind, size)
            runs = []
            for _ in range(repeats):
                start = time.perf_counter()
                dialogue.respond(text, None, today=today)
                runs.append((time.perf_counter() - start) * 1000)
            figures.setdefault(kind, {})[str(size)] = round(median(runs), 1)
    return figures


def render(report: dict[str, Any]) -> str:
    project = report["configs"].get("project", {})
    baseline = report["configs"].get("baseline", {})
    w, c = 34, 16
    n = report["settings"]["concurrency"]
    lines = [
        f"Benchmark {report['generated_at']}  ({report['machine']['cpus']} CPUs, load average at start "
        f"{report['machine']['loadavg_start']}, Rasa {report['rasa_version']})",
        f"{'':{w}}{'project':>{c}}{'baseline':>{c}}{'ratio p/b':>{c}}",
        f"{'':{w}}{'config.yml':>{c}}{'Rasa default':>{c}}",
    ]
    for label, path, fmt in ROWS:
        a, b = _get(project, path), _get(baseline, path)
        lines.append(f"{label.format(n=n):{w}}{_fmt(fmt, a):>{c}}{_fmt(fmt, b):>{c}}{_ratio(a, b):>{c}}")
    engine = report.get("engine") or {}
    if engine:
        lines.append("")
        lines.append("triage engine alone, ms per message (median of 3)" + "".join(f"{k + ' chars':>{c}}" for k in next(iter(engine.values()))))
        for kind, by_size in engine.items():
            lines.append(f"  {kind:<{w - 2 + 16}}" + "".join(f"{v:>{c}.1f}" for v in by_size.values()))
    lines.append("")
    lines.append("targets (project)")
    for t in report["targets"]:
        verdict = "n/a" if t["met"] is None else "met" if t["met"] else "MISSED"
        lines.append(f"  {t['target']:<58}{t['value']:>22}   {verdict}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", dest="json_out", type=Path, help="also write the figures as JSON to this file")
    ap.add_argument("--configs", default="project,baseline", help="which to run (default project,baseline)")
    ap.add_argument("--reuse-models", action="store_true",
                    help="use var/bench/models/<name>.tar.gz when present instead of training (training not timed)")
    ap.add_argument("--single-conversations", type=int, default=10, help="conversations at 1 at a time (default 10)")
    ap.add_argument("--single-turns", type=int, default=10, help="turns each at 1 at a time (default 10)")
    ap.add_argument("--concurrency", type=int, default=20, help="concurrent conversations (default 20)")
    ap.add_argument("--concurrent-turns", type=int, default=15, help="turns each when concurrent (default 15)")
    ap.add_argument("--rounds", type=int, default=3,
                    help="load rounds, alternating the configurations; latencies are pooled (default 3)")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args(argv)
    args.configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    if not set(args.configs) <= {"project", "baseline"} or not args.configs:
        ap.error("--configs takes project and/or baseline")
    for name in ("single_conversations", "single_turns", "concurrency", "concurrent_turns", "rounds"):
        if not 1 <= getattr(args, name) <= 200:
            ap.error(f"--{name.replace('_', '-')} must be between 1 and 200")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)

    def on_term(signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # run the finally blocks: stop every server

    signal.signal(signal.SIGTERM, on_term)

    def log(msg: str) -> None:
        print(f"{datetime.now():%H:%M:%S} {msg}", file=sys.stderr, flush=True)

    import rasa

    check_baseline_matches_rasa()
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    baseline_config = BENCH_DIR / "baseline-config.yml"
    baseline_config.write_text(BASELINE_CONFIG)
    baseline_endpoints = BENCH_DIR / "baseline-endpoints.yml"
    baseline_endpoints.write_text(BASELINE_ENDPOINTS)
    endpoints = {"project": "endpoints.yml", "baseline": str(baseline_endpoints)}
    configs = {"project": ROOT / "config.yml", "baseline": baseline_config}
    report: dict[str, Any] = {
        "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": {"cpus": os.cpu_count(), "loadavg_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
                    "python": platform.python_version()},
        "rasa_version": rasa.__version__,
        "settings": {k: getattr(args, k) for k in
                     ("single_conversations", "single_turns", "concurrency", "concurrent_turns", "rounds")},
        "configs": {},
    }
    log("triage engine cost by message size")
    report["engine"] = engine_cost()
    failed = False
    stacks: dict[str, Stack] = {}
    try:
        models: dict[str, Path] = {}
        for name in args.configs:
            figures: dict[str, Any] = {"config": str(configs[name].relative_to(ROOT))}
            report["configs"][name] = figures
            try:
                models[name], figures["training_seconds"] = train(name, configs[name], log, args.reuse_models)
                figures["model"] = str(models[name].relative_to(ROOT))
            except (RuntimeError, subprocess.TimeoutExpired, OSError) as exc:
                log(f"[{name}] error: {exc}")
                figures["error"] = str(exc)
                failed = True
        for name, model in models.items():
            try:
                stacks[name], took = start_stack(name, model, log, endpoints=endpoints[name],
                                                 extra_env=SERVER_SETTINGS[name])
                report["configs"][name]["rasa_workers"] = stacks[name].rasa_workers()
                report["configs"][name]["startup_seconds"] = round(took, 2)
            except RuntimeError as exc:
                log(f"[{name}] error: {exc}")
                report["configs"][name]["error"] = str(exc)
                failed = True
        if stacks:
            for name, figures in measure(stacks, args, log).items():
                report["configs"][name].update(figures)
        for stack in stacks.values():
            stack.stop()  # the PostgreSQL run below has the machine to itself
        if "project" in models:
            pg = postgres_history(models["project"], turn_pools()[0], log)
            if isinstance(pg, str):
                log(f"[project-postgresql] not measured: {pg}")
            else:
                report["configs"]["project"]["history_postgresql_ms"] = [pg[str(k)] for k in HISTORY_POINTS]
                report["configs"]["project"]["history_postgresql_ratio"] = round(
                    pg[str(HISTORY_POINTS[-1])] / pg[str(HISTORY_POINTS[0])], 2)
        for name in stacks:
            h = report["configs"][name].get("history_ms")
            if h:
                report["configs"][name]["history_ratio"] = round(h[str(HISTORY_POINTS[-1])] / h[str(HISTORY_POINTS[0])], 2)
    except KeyboardInterrupt:
        log("interrupted")
        return 130
    finally:
        for name, stack in stacks.items():
            log(f"[{name}] stopping servers")
            stack.stop()
    project, baseline = report["configs"].get("project", {}), report["configs"].get("baseline")
    report["targets"] = targets(project, baseline, args.concurrency)
    report["ratios"] = {path: _ratio(_get(project, path), _get(baseline or {}, path)) for _, path, _ in ROWS}
    print(render(report))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        log(f"figures written to {args.json_out}")
    for name, figures in report["configs"].items():
        if figures.get("error"):
            print(f"{name}: {figures['error']}")
    if failed:
        return 2
    missed = [t for t in report["targets"] if t["met"] is False]
    return 1 if args.strict and missed else 0


if __name__ == "__main__":
    sys.exit(main())
