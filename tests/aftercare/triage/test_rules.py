"""The rule registry: handlers read their settings and wording from the finding, never name a finding."""
from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from aftercare.triage.protocol import load_protocol
from aftercare.triage.rules import RULES, RuleInput, RuleOutput, day_window, fixed, temperature
from aftercare.triage.temperature import Reading

ROOT = Path(__file__).resolve().parents[3]
PROTOCOL = load_protocol(ROOT / "protocols" / "ductogram.yml")


def run(rule, spec_id: str, *, found=(), pending=(), seen=(), readings=(), since=None, lasted=None, asked=None):
    inp = RuleInput(PROTOCOL, set(found), set(pending), set(seen), list(readings), since, lasted, dict(asked or {}))
    out = RuleOutput()
    rule(PROTOCOL.finding(spec_id), inp, out)
    return out


def reading(value: float, unit: str = "F") -> Reading:
    f = value * 9 / 5 + 32 if unit == "C" else value
    return Reading(value, unit, "ok", f, f"{value} {unit}")


def test_every_protocol_rule_is_registered() -> None:
    assert {spec.rule for spec in PROTOCOL.findings} <= set(RULES)


def test_fixed_reports_its_disposition_unless_a_finding_takes_its_place() -> None:
    assert [f.disposition for f in run(fixed, "chills", found={"chills"}).findings] == ["call_physician"]
    assert run(fixed, "increased_discharge", found={"increased_discharge", "bloody_discharge"}).findings == []
    assert run(fixed, "cannot_measure", found={"cannot_measure"}).findings == []  # information: informs others


@pytest.mark.parametrize(("readings", "disposition"), [
    ([reading(101.2)], "call_physician"),
    ([reading(100.5)], "information"),  # "over 100.5" means above it
    ([reading(38.1, "C")], "call_physician"),
    ([reading(99.0), reading(101.6)], "call_physician"),  # the highest reading counts
])
def test_temperature_judges_readings_by_the_protocol_threshold(readings, disposition) -> None:
    out = run(temperature, "fever", readings=readings)
    assert [f.disposition for f in out.findings] == [disposition]
    assert out.decided_by_number


def test_temperature_asks_then_escalates_and_knows_the_companion() -> None:
    assert run(temperature, "fever", found={"fever"}).question == "temperature"
    out = run(temperature, "fever", found={"fever", "cannot_measure"}, seen={"chills"})
    assert out.findings[0].reason == PROTOCOL.finding("fever").texts["unmeasured_with_companion"]
    out = run(temperature, "fever", pending={"fever"}, asked={"temperature": 2})
    assert out.findings[0].disposition == "call_physician"


def test_day_window_within_beyond_and_unknown() -> None:
    assert run(day_window, "bloody_discharge", found={"bloody_discharge"}, since=2).findings[0].disposition == "self_care"
    assert run(day_window, "bloody_discharge", found={"bloody_discharge"}, since=5).findings[0].disposition == "call_physician"
    assert run(day_window, "bloody_discharge", found={"bloody_discharge"}, lasted=6).findings[0].disposition == "call_physician"
    out = run(day_window, "bloody_discharge", found={"bloody_discharge"})
    assert out.question == "procedure_day" and out.waiting == ["bloody_discharge"]
    out = run(day_window, "bloody_discharge", pending={"bloody_discharge"}, asked={"procedure_day": 2})
    assert out.findings[0].disposition == "call_physician"
    assert run(day_window, "pain", found={"pain", "persistent_pain"}, since=1).findings == []


def test_day_window_follows_a_changed_threshold() -> None:
    changed = dataclasses.replace(PROTOCOL, thresholds=dataclasses.replace(PROTOCOL.thresholds, expected_pain_days=6))
    inp = RuleInput(changed, {"pain"}, set(), set(), [], 5, None, {})
    out = RuleOutput()
    day_window(changed.finding("pain"), inp, out)
    assert out.findings[0].disposition == "self_care"


def test_no_finding_id_is_written_in_the_engine() -> None:
    ids = {spec.id for spec in PROTOCOL.findings}
    for module in (ROOT / "aftercare" / "triage").glob("*.py"):
        strings = {
            node.value for node in ast.walk(ast.parse(module.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
        assert not strings & ids, f"{module.name} names findings {sorted(strings & ids)}"
