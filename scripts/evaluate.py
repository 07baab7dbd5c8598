#!/usr/bin/env python3
"""Play the labelled evaluation set against a running Rasa server and report triage accuracy.

Usage:
    python scripts/evaluate.py [--url http://127.0.0.1:5005] [--cases eval/cases.yml] [--json out.json]

Each case is played in a fresh conversation (random 128-bit sender id) through the REST channel
(`POST {url}/webhooks/rest/webhook`). The conversation's disposition after a turn is the most urgent
`custom.disposition` seen so far (emergency > call_physician > self_care > information; a turn
without a payload counts as information). `question` is read from the last custom payload of the
last turn.

Exit codes: 0 all cases at least as urgent as expected; 1 some case under-triaged;
2 some case could not be played (connection error, non-200, unreadable answer) or bad arguments/cases.
"""

from __future__ import annotations

import argparse
import json
import math
import secrets
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests
import yaml

# Most urgent first.
DISPOSITIONS: tuple[str, ...] = ("emergency", "call_physician", "self_care", "information")
RANK: dict[str, int] = {name: len(DISPOSITIONS) - 1 - i for i, name in enumerate(DISPOSITIONS)}
QUESTIONS: tuple[str, ...] = ("temperature", "procedure_day")
DEFAULT_URL = "http://127.0.0.1:5005"
DEFAULT_CASES = "eval/cases.yml"
WEBHOOK_PATH = "/webhooks/rest/webhook"


class CaseFileError(ValueError):
    """The cases file is missing, unreadable or malformed."""


class PlayError(RuntimeError):
    """A turn could not be played or its answer could not be read."""


@dataclass(frozen=True)
class Case:
    """One labelled conversation."""

    id: str
    turns: tuple[str, ...]
    expect: str
    check_question: bool = False
    question: str | None = None
    reason_contains: str | None = None
    note: str | None = None


@dataclass
class Result:
    """The outcome of playing one case."""

    case: Case
    got: str | None = None
    question: str | None = None
    reason: str | None = None
    last_reason: str | None = None
    latencies_ms: list[float] = field(default_factory=list)
    error: str | None = None

    @property
    def outcome(self) -> str:
        """'error', 'under', 'over' or 'match' (disposition only)."""
        if self.error is not None or self.got is None:
            return "error"
        delta = rank(self.got) - rank(self.case.expect)
        return "under" if delta < 0 else "over" if delta > 0 else "match"

    @property
    def question_ok(self) -> bool:
        """True when the case does not check the question or the question matches."""
        return not self.case.check_question or self.question == self.case.question

    @property
    def reason_ok(self) -> bool:
        """True when the case has no reason_contains or it occurs in the final or last reason."""
        needle = self.case.reason_contains
        if not needle:
            return True
        hay = [r for r in (self.reason, self.last_reason) if r]
        return any(needle.casefold() in r.casefold() for r in hay)


# ----------------------------------------------------------------------------- pure helpers


def rank(disposition: str | None) -> int:
    """Urgency rank of a disposition (information=0 ... emergency=3); None counts as information."""
    if disposition is None:
        return RANK["information"]
    try:
        return RANK[disposition]
    except KeyError:
        raise ValueError(f"unknown disposition {disposition!r}") from None


def most_urgent(dispositions: Iterable[str | None]) -> str:
    """The most urgent of the given dispositions; information when there are none."""
    best = "information"
    for d in dispositions:
        if rank(d) > rank(best):
            best = d  # type: ignore[assignment]
    return best


def disposition_payloads(messages: Any) -> list[dict[str, Any]]:
    """The custom payloads carrying a disposition in one REST answer, in order.

    Raises PlayError when the answer is not a list of message objects or a payload
    names an unknown disposition.
    """
    if not isinstance(messages, list):
        raise PlayError(f"answer is not a JSON list: {str(messages)[:200]}")
    found: list[dict[str, Any]] = []
    for msg in messages:
        if not isinstance(msg, dict):
            raise PlayError(f"answer item is not an object: {str(msg)[:200]}")
        custom = msg.get("custom")
        if isinstance(custom, dict) and "disposition" in custom:
            if custom["disposition"] not in RANK:
                raise PlayError(f"unknown disposition {custom['disposition']!r} in payload")
            found.append(custom)
    return found


def confusion_matrix(pairs: Iterable[tuple[str, str]]) -> dict[str, dict[str, int]]:
    """Counts of (expected, got) pairs as {expected: {got: n}} over all four dispositions."""
    matrix = {e: {g: 0 for g in DISPOSITIONS} for e in DISPOSITIONS}
    for expected, got in pairs:
        matrix[expected][got] += 1
    return matrix


def percentile(values: Sequence[float], p: float) -> float | None:
    """The p-th percentile (0-100) with linear interpolation between closest ranks; None if empty."""
    if not values:
        return None
    if not 0 <= p <= 100:
        raise ValueError("p must be between 0 and 100")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * p / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def latency_summary(values: Sequence[float]) -> dict[str, float | int | None]:
    """Count, p50, p95, p99 and max of per-turn latencies in milliseconds."""
    return {
        "count": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "p99": percentile(values, 99),
        "max": max(values) if values else None,
    }


# ----------------------------------------------------------------------------- cases


def parse_cases(data: Any) -> list[Case]:
    """Validate the loaded YAML and build the cases; raises CaseFileError with the case id."""
    if not isinstance(data, dict) or not isinstance(data.get("cases"), list):
        raise CaseFileError("top level must be a mapping with a 'cases' list")
    cases: list[Case] = []
    seen: set[str] = set()
    for i, raw in enumerate(data["cases"]):
        where = f"case #{i + 1}"
        if not isinstance(raw, dict):
            raise CaseFileError(f"{where}: not a mapping")
        cid = raw.get("id")
        if not isinstance(cid, str) or not cid:
            raise CaseFileError(f"{where}: missing id")
        where = f"case {cid!r}"
        if cid in seen:
            raise CaseFileError(f"{where}: duplicate id")
        seen.add(cid)
        turns = raw.get("turns")
        if not isinstance(turns, list) or not turns or not all(isinstance(t, str) for t in turns):
            raise CaseFileError(f"{where}: 'turns' must be a non-empty list of strings")
        expect = raw.get("expect")
        if expect not in RANK:
            raise CaseFileError(f"{where}: 'expect' must be one of {', '.join(DISPOSITIONS)}")
        question = raw.get("question")
        if question is not None and question not in QUESTIONS:
            raise CaseFileError(f"{where}: 'question' must be null or one of {', '.join(QUESTIONS)}")
        reason = raw.get("reason_contains")
        if reason is not None and not isinstance(reason, str):
            raise CaseFileError(f"{where}: 'reason_contains' must be a string")
        cases.append(
            Case(
                id=cid,
                turns=tuple(turns),
                expect=expect,
                check_question="question" in raw,
                question=question,
                reason_contains=reason,
                note=raw.get("note"),
            )
        )
    return cases


def case_file_today(path: Path) -> Any:
    """The fixed 'today' a cases file is written for (its top-level `today`), or None."""
    from datetime import date

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    value = data.get("today") if isinstance(data, dict) else None
    if isinstance(value, date):
        return value
    return date.fromisoformat(value) if value else date.today()


def load_cases(path: Path) -> list[Case]:
    """Read and validate a cases file."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CaseFileError(f"{path}: {exc}") from exc
    try:
        return parse_cases(data)
    except CaseFileError as exc:
        raise CaseFileError(f"{path}: {exc}") from exc


# ----------------------------------------------------------------------------- playing


def post_turn(
    session: requests.Session, webhook: str, sender: str, text: str, timeout: float
) -> tuple[list[dict[str, Any]], float]:
    """Send one message; return its disposition payloads and the latency in ms."""
    start = time.perf_counter()
    try:
        resp = session.post(webhook, json={"sender": sender, "message": text}, timeout=timeout)
    except requests.RequestException as exc:
        raise PlayError(f"request failed: {exc}") from exc
    elapsed_ms = (time.perf_counter() - start) * 1000
    if resp.status_code != 200:
        raise PlayError(f"HTTP {resp.status_code}: {resp.text[:200]}")
    try:
        body = resp.json()
    except ValueError as exc:
        raise PlayError(f"answer is not JSON: {resp.text[:200]}") from exc
    return disposition_payloads(body), elapsed_ms


def rest_session(token_file: Path) -> requests.Session:
    """A session that sends the REST channel's bearer token (from the environment or the token file)."""
    import os

    token = os.environ.get("AFTERCARE_REST_TOKEN") or (token_file.read_text().strip() if token_file.exists() else "")
    session = requests.Session()
    if token:
        session.headers["Authorization"] = f"Bearer {token}"
    return session


def play_case(session: requests.Session, url: str, case: Case, timeout: float) -> Result:
    """Play all turns of a case in a fresh conversation and compute its outcome."""
    result = Result(case=case)
    webhook = url.rstrip("/") + WEBHOOK_PATH
    sender = f"eval-{secrets.token_hex(12)}"  # a REST id (32 hex digits would be a web-chat id, refused)
    current = "information"
    final_reason: str | None = None
    last: list[dict[str, Any]] = []
    for n, text in enumerate(case.turns, start=1):
        try:
            payloads, ms = post_turn(session, webhook, sender, text, timeout)
        except PlayError as exc:
            result.error = f"turn {n}: {exc}"
            return result
        result.latencies_ms.append(ms)
        for p in payloads:
            d = p["disposition"]
            if rank(d) > rank(current):
                current = d
            if d == current:
                final_reason = p.get("reason") or final_reason
        last = payloads
    result.got = current
    result.reason = final_reason
    result.question = last[-1].get("question") if last else None
    result.last_reason = last[-1].get("reason") if last else None
    return result


# ----------------------------------------------------------------------------- reporting


def play_case_offline(dialogue: Any, case: Case, today: Any) -> Result:
    """Play a case through the engine and dialogue in this process (no servers, no classifier intent)."""
    result = Result(case=case)
    state: Any = None
    current = "information"
    final_reason: str | None = None
    payload: dict[str, Any] = {}
    for text in case.turns:
        start = time.perf_counter()
        reply = dialogue.respond(text, state, today=today)
        result.latencies_ms.append((time.perf_counter() - start) * 1000)
        state, payload = reply.state, reply.payload
        if rank(payload["disposition"]) > rank(current):
            current = payload["disposition"]
        if payload["disposition"] == current:
            final_reason = payload.get("reason") or final_reason
    result.got = current
    result.reason = final_reason
    result.question = payload.get("question")
    result.last_reason = payload.get("reason")
    return result


def case_row(r: Result) -> dict[str, Any]:
    """A JSON-friendly description of one case's outcome."""
    return {
        "id": r.case.id,
        "turns": list(r.case.turns),
        "expected": r.case.expect,
        "got": r.got,
        "reason": r.reason or r.last_reason,
        "expected_question": r.case.question if r.case.check_question else "(not checked)",
        "question": r.question,
        "reason_contains": r.case.reason_contains,
        "latencies_ms": [round(x, 1) for x in r.latencies_ms],
        "error": r.error,
        "outcome": r.outcome,
    }


def summarise(results: Sequence[Result]) -> dict[str, Any]:
    """All figures of a run as one JSON-serialisable dict."""
    played = [r for r in results if r.outcome != "error"]
    latencies = [ms for r in results for ms in r.latencies_ms]
    exact = [r for r in played if r.outcome == "match"]
    full = [r for r in exact if r.question_ok and r.reason_ok]
    by_expect = {d: sum(1 for r in results if r.case.expect == d) for d in DISPOSITIONS}
    return {
        "counts": {
            "cases": len(results),
            "turns": sum(len(r.case.turns) for r in results),
            "played": len(played),
            "errors": len(results) - len(played),
            "exact": len(exact),
            "under_triaged": sum(1 for r in played if r.outcome == "under"),
            "over_triaged": sum(1 for r in played if r.outcome == "over"),
            "question_mismatches": sum(1 for r in played if not r.question_ok),
            "reason_mismatches": sum(1 for r in played if not r.reason_ok),
            "by_expected": by_expect,
        },
        "confusion_matrix": confusion_matrix((r.case.expect, r.got) for r in played if r.got),
        "exact_match_rate": len(exact) / len(played) if played else None,
        "full_match_rate": len(full) / len(played) if played else None,
        "under_triaged": [case_row(r) for r in played if r.outcome == "under"],
        "over_triaged": [case_row(r) for r in played if r.outcome == "over"],
        "question_mismatches": [case_row(r) for r in played if not r.question_ok],
        "reason_mismatches": [case_row(r) for r in played if not r.reason_ok],
        "errors": [case_row(r) for r in results if r.outcome == "error"],
        "latency_ms": latency_summary(latencies),
        "cases": [case_row(r) for r in results],
    }


def level_report(summary: dict[str, Any]) -> str:
    """Recall per expected level and over-triage rates, from the confusion matrix."""
    m = summary["confusion_matrix"]
    lines = ["recall (at least as urgent as expected):"]
    for e in DISPOSITIONS:
        total = sum(m[e].values())
        ok = sum(n for g, n in m[e].items() if rank(g) >= rank(e))
        lines.append(f"  {e:<15} {ok}/{total}" + (f" = {ok / total:.1%}" if total else ""))
    for e in ("self_care", "information"):
        total = sum(m[e].values())
        over = sum(n for g, n in m[e].items() if rank(g) > rank(e))
        escal = sum(n for g, n in m[e].items() if rank(g) >= rank("call_physician"))
        if total:
            lines.append(f"over-triage on {e}: {over}/{total} = {over / total:.1%} (escalated to a nurse: {escal})")
    return "\n".join(lines)


def exit_code(summary: dict[str, Any]) -> int:
    """2 if any case errored, else 1 if any case was under-triaged, else 0."""
    if summary["counts"]["errors"]:
        return 2
    return 1 if summary["counts"]["under_triaged"] else 0


def format_matrix(matrix: dict[str, dict[str, int]]) -> str:
    """The confusion matrix as a text table, expected rows x got columns."""
    short = {"emergency": "emergency", "call_physician": "call_phys", "self_care": "self_care",
             "information": "info"}
    width = max(len(v) for v in short.values()) + 2
    head = "expected \\ got".ljust(16) + "".join(short[g].rjust(width) for g in DISPOSITIONS)
    lines = [head]
    for e in DISPOSITIONS:
        lines.append(short[e].ljust(16) + "".join(str(matrix[e][g]).rjust(width) for g in DISPOSITIONS))
    return "\n".join(lines)


def _fmt_ms(v: float | int | None) -> str:
    return "-" if v is None else f"{v:.0f}"


def _print_rows(title: str, rows: list[dict[str, Any]], with_question: bool = False) -> None:
    print(f"\n{title} ({len(rows)})")
    for row in rows:
        print(f"  - {row['id']}: expected {row['expected']}, got {row['got']}")
        for t in row["turns"]:
            shown = t if len(t) <= 160 else t[:157] + "..."
            print(f"      > {shown}")
        if with_question:
            print(f"      question: expected {row['expected_question']}, got {row['question']}")
        if row.get("reason_contains"):
            print(f"      reason should contain: {row['reason_contains']!r}")
        print(f"      reason: {row['reason']}")


def print_report(summary: dict[str, Any], *, quiet: bool = False) -> None:
    """Print the human-readable report (figures only when quiet)."""
    c = summary["counts"]
    print(f"cases {c['cases']}  turns {c['turns']}  played {c['played']}  errors {c['errors']}")
    print("expected: " + ", ".join(f"{k} {v}" for k, v in c["by_expected"].items()))
    print(f"exact {c['exact']}  under-triaged {c['under_triaged']}  over-triaged {c['over_triaged']}  "
          f"question mismatches {c['question_mismatches']}  reason mismatches {c['reason_mismatches']}")
    print("\nconfusion matrix (rows expected, columns got)")
    print(format_matrix(summary["confusion_matrix"]))
    print(level_report(summary))
    if not quiet:
        _print_rows("UNDER-TRIAGED", summary["under_triaged"])
        _print_rows("over-triaged", summary["over_triaged"])
        _print_rows("question mismatches", summary["question_mismatches"], with_question=True)
        _print_rows("reason mismatches", summary["reason_mismatches"])
    if summary["errors"]:
        print(f"\nERRORS ({len(summary['errors'])})")
        for row in summary["errors"]:
            print(f"  - {row['id']}: {row['error']}")
    rate = summary["exact_match_rate"]
    full = summary["full_match_rate"]
    print(f"\nexact-match rate (disposition): {'-' if rate is None else f'{rate:.1%}'}"
          f"   with question and reason: {'-' if full is None else f'{full:.1%}'}")
    lat = summary["latency_ms"]
    print(f"per-turn latency ms (n={lat['count']}): p50 {_fmt_ms(lat['p50'])}  p95 {_fmt_ms(lat['p95'])}  "
          f"p99 {_fmt_ms(lat['p99'])}  max {_fmt_ms(lat['max'])}")


# ----------------------------------------------------------------------------- entry point


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    """Command-line options."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", default=DEFAULT_URL, help=f"Rasa server base URL (default {DEFAULT_URL})")
    ap.add_argument("--cases", action="append", type=Path,
                    help=f"cases file; repeat for several sets (default {DEFAULT_CASES})")
    ap.add_argument("--numbers-only", action="append", type=Path, default=[],
                    help="a cases file reported by its figures only, never its cases (the blind test split)")
    ap.add_argument("--json", dest="json_out", type=Path, help="also write the figures as JSON to this file")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds per request (default 60)")
    ap.add_argument("--token-file", type=Path, default=Path("var/rest-token"),
                    help="the REST channel's bearer token (default var/rest-token; AFTERCARE_REST_TOKEN wins)")
    ap.add_argument("--engine", action="store_true",
                    help="play through the triage engine in this process instead of the REST channel (no servers)")
    ap.add_argument("--model", type=Path, help="with --engine: the red-flag classifier to use (default: none)")
    ap.add_argument("--quiet", action="store_true", help="print the figures only, not the cases")
    return ap.parse_args(argv)


def set_row(name: str, summary: dict[str, Any]) -> str:
    """One line of the closing table: a set's under-triage, recall per level, over-triage and p95."""
    m = summary["confusion_matrix"]

    def recall(level: str) -> str:
        total = sum(m[level].values())
        ok = sum(n for g, n in m[level].items() if rank(g) >= rank(level))
        return f"{ok / total:.1%}" if total else "-"

    low = [e for e in ("self_care", "information")]
    total_low = sum(sum(m[e].values()) for e in low)
    over = sum(n for e in low for g, n in m[e].items() if rank(g) > rank(e))
    escalated = sum(n for e in low for g, n in m[e].items() if rank(g) >= rank("call_physician"))
    c = summary["counts"]
    return (
        f"{name:<22}{c['cases']:>6}{c['under_triaged']:>7}{recall('emergency'):>9}{recall('call_physician'):>9}"
        f"{recall('self_care'):>9}{(f'{over / total_low:.1%}' if total_low else '-'):>9}"
        f"{(f'{escalated / total_low:.1%}' if total_low else '-'):>10}{summary['exact_match_rate'] or 0:>8.1%}"
        f"{_fmt_ms(summary['latency_ms']['p95']):>7}"
    )


TABLE_HEAD = (
    f"{'set':<22}{'cases':>6}{'under':>7}{'911 rec':>9}{'call rec':>9}{'care rec':>9}{'over':>9}"
    f"{'to nurse':>10}{'exact':>8}{'p95 ms':>7}"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the evaluation of every set given; return the exit code (the worst of the sets)."""
    args = parse_args(argv)
    paths = [(p, False) for p in (args.cases or ([] if args.numbers_only else [Path(DEFAULT_CASES)]))]
    paths += [(p, True) for p in args.numbers_only]
    dialogue = None
    if args.engine:
        from aftercare.triage.classifier import RedFlagClassifier
        from aftercare.triage.dialogue import Dialogue
        from aftercare.triage.protocol import load_protocol

        root = Path(__file__).resolve().parent.parent
        classifier = RedFlagClassifier.load(args.model) if args.model else None
        dialogue = Dialogue(load_protocol(root / "protocols" / "ductogram.yml"), classifier)
    rows: list[str] = []
    worst = 0
    everything: dict[str, Any] = {}
    for path, numbers_only in paths:
        try:
            cases = load_cases(path)
        except CaseFileError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if dialogue is not None:
            today = case_file_today(path)
            results = [play_case_offline(dialogue, case, today) for case in cases]
        else:
            with rest_session(args.token_file) as session:
                results = [play_case(session, args.url, case, args.timeout) for case in cases]
        summary = summarise(results)
        print(f"\n==================== {path}" + (" (figures only)" if numbers_only else ""))
        print_report(summary, quiet=args.quiet or numbers_only)
        if numbers_only:
            summary = {k: v for k, v in summary.items() if k not in
                       ("under_triaged", "over_triaged", "question_mismatches", "reason_mismatches", "cases", "errors")}
        everything[str(path)] = summary
        rows.append(set_row(path.stem if path.parent.name != "blind" else f"blind {path.stem}", summary))
        worst = max(worst, exit_code(summary) if "errors" in summary else
                    (2 if summary["counts"]["errors"] else 1 if summary["counts"]["under_triaged"] else 0))
    print("\n" + TABLE_HEAD)
    print("\n".join(rows))
    print("(under: red flags or expected cases answered below their level; rec: share answered at least as urgently"
          " as labelled; over: self-care and information cases answered above their level; to nurse: of those,"
          " escalated to call-your-physician or 911)")
    if args.json_out:
        args.json_out.write_text(json.dumps(everything, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return worst


if __name__ == "__main__":
    sys.exit(main())
