"""Self-test of the pure parts of scripts/evaluate.py (no server needed)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "scripts" / "evaluate.py"
_spec = importlib.util.spec_from_file_location("evaluate", _PATH)
assert _spec and _spec.loader
ev = importlib.util.module_from_spec(_spec)
sys.modules["evaluate"] = ev
_spec.loader.exec_module(ev)


def test_rank_orders_dispositions() -> None:
    assert ev.rank("emergency") > ev.rank("call_physician") > ev.rank("self_care") > ev.rank("information")
    assert ev.rank(None) == ev.rank("information")
    with pytest.raises(ValueError):
        ev.rank("call_911")


def test_most_urgent() -> None:
    assert ev.most_urgent([]) == "information"
    assert ev.most_urgent([None, "self_care", "information"]) == "self_care"
    assert ev.most_urgent(["call_physician", "emergency", "self_care"]) == "emergency"


def test_disposition_payloads() -> None:
    answer = [
        {"text": "hello"},
        {"custom": {"disposition": "self_care", "reason": "r"}},
        {"custom": {"other": 1}},
    ]
    assert [p["disposition"] for p in ev.disposition_payloads(answer)] == ["self_care"]
    with pytest.raises(ev.PlayError):
        ev.disposition_payloads({"text": "not a list"})
    with pytest.raises(ev.PlayError):
        ev.disposition_payloads([{"custom": {"disposition": "urgent"}}])


def test_confusion_matrix() -> None:
    m = ev.confusion_matrix([("emergency", "emergency"), ("emergency", "self_care"), ("information", "emergency")])
    assert set(m) == set(ev.DISPOSITIONS) and all(set(row) == set(ev.DISPOSITIONS) for row in m.values())
    assert m["emergency"]["emergency"] == 1
    assert m["emergency"]["self_care"] == 1
    assert m["information"]["emergency"] == 1
    assert sum(sum(row.values()) for row in m.values()) == 3


def test_percentile() -> None:
    assert ev.percentile([], 50) is None
    assert ev.percentile([7.0], 99) == 7.0
    values = [float(x) for x in range(1, 101)]  # 1..100
    assert ev.percentile(values, 0) == 1.0
    assert ev.percentile(values, 100) == 100.0
    assert ev.percentile(values, 50) == pytest.approx(50.5)
    assert ev.percentile(values, 95) == pytest.approx(95.05)
    assert ev.percentile([3.0, 1.0, 2.0], 50) == 2.0
    with pytest.raises(ValueError):
        ev.percentile(values, 101)


def _result(expect: str, got: str | None, error: str | None = None, **case_kw: object) -> "ev.Result":
    case = ev.Case(id="c", turns=("hi",), expect=expect, **case_kw)  # type: ignore[arg-type]
    return ev.Result(case=case, got=got, error=error, latencies_ms=[10.0])


def test_outcomes_and_exit_code() -> None:
    assert _result("call_physician", "self_care").outcome == "under"
    assert _result("self_care", "emergency").outcome == "over"
    assert _result("information", "information").outcome == "match"
    assert _result("information", None, error="HTTP 500").outcome == "error"

    ok = ev.summarise([_result("information", "information")])
    assert ev.exit_code(ok) == 0 and ok["exact_match_rate"] == 1.0
    under = ev.summarise([_result("emergency", "call_physician"), _result("information", "self_care")])
    assert ev.exit_code(under) == 1
    assert under["counts"]["under_triaged"] == 1 and under["counts"]["over_triaged"] == 1
    err = ev.summarise([_result("emergency", "information"), _result("information", None, error="down")])
    assert ev.exit_code(err) == 2 and err["counts"]["errors"] == 1


def test_question_and_reason_checks() -> None:
    r = _result("information", "information", check_question=True, question="temperature")
    r.question = None
    assert not r.question_ok
    r.question = "temperature"
    assert r.question_ok
    assert _result("information", "information").question_ok  # not checked

    r = _result("call_physician", "call_physician", reason_contains="101.2")
    r.reason = "Temperature 101.2 °F is over 100.5 °F"
    assert r.reason_ok
    r.reason, r.last_reason = "chills", "still escalated"
    assert not r.reason_ok


def test_parse_cases_validates() -> None:
    cases = ev.parse_cases({"cases": [
        {"id": "a", "turns": ["fever"], "expect": "information", "question": "temperature"},
        {"id": "b", "turns": ["hi"], "expect": "information"},
    ]})
    assert cases[0].check_question and cases[0].question == "temperature"
    assert not cases[1].check_question
    for bad in (
        {"cases": [{"id": "a", "turns": [], "expect": "information"}]},
        {"cases": [{"id": "a", "turns": ["x"], "expect": "urgent"}]},
        {"cases": [{"id": "a", "turns": ["x"], "expect": "information", "question": "age"}]},
        {"cases": [{"id": "a", "turns": ["x"], "expect": "information"}] * 2},
    ):
        with pytest.raises(ev.CaseFileError):
            ev.parse_cases(bad)


def test_shipped_cases_file_is_valid() -> None:
    path = _PATH.parents[1] / "eval" / "cases.yml"
    if not path.exists():
        pytest.skip("no eval/cases.yml")
    cases = ev.load_cases(path)
    assert sum(len(c.turns) == 1 for c in cases) >= 170
    assert sum(2 <= len(c.turns) <= 4 for c in cases) >= 30


# ----------------------------------------------------------------------------- in-process play and the table
def test_engine_mode_plays_a_set_in_process(tmp_path, capsys):
    cases = tmp_path / "cases.yml"
    cases.write_text(
        "today: '2026-11-19'\n"
        "cases:\n"
        "  - {id: a, turns: ['I cannot breathe'], expect: emergency}\n"
        "  - {id: b, turns: ['my temperature is 101.4'], expect: call_physician}\n"
        "  - {id: c, turns: ['what should I wear?'], expect: information}\n",
        encoding="utf-8",
    )
    code = ev.main(["--engine", "--cases", str(cases), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert ev.TABLE_HEAD in out
    assert "under-triaged 0" in out


def test_numbers_only_sets_never_print_cases(tmp_path, capsys):
    cases = tmp_path / "test.yml"
    cases.write_text("cases:\n  - {id: secret-case, turns: ['I cannot breathe'], expect: information}\n", encoding="utf-8")
    ev.main(["--engine", "--numbers-only", str(cases)])
    out = capsys.readouterr().out
    assert "secret-case" not in out and "I cannot breathe" not in out
    assert "(figures only)" in out


def test_set_row_reports_recall_and_over_triage():
    results = [
        ev.Result(case=ev.Case("a", ("x",), "emergency"), got="emergency", latencies_ms=[10.0]),
        ev.Result(case=ev.Case("b", ("y",), "information"), got="call_physician", latencies_ms=[20.0]),
    ]
    row = ev.set_row("s", ev.summarise(results))
    assert "100.0%" in row  # 911 recall
    assert "100.0%" in row.split()[6]  # all information cases over-triaged
