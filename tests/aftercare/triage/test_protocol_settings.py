"""Triage follows the protocol file: a copy with another threshold or day window decides differently."""
from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import yaml

from aftercare.triage.engine import TriageEngine
from aftercare.triage.protocol import load_protocol

PROTOCOLS = Path(__file__).resolve().parents[3] / "protocols"
TODAY = date(2026, 11, 19)


def engine_with(tmp_path: Path, **thresholds: object) -> TriageEngine:
    for name in ("general-emergencies.yml", "context-rules.yml"):
        shutil.copy(PROTOCOLS / name, tmp_path / name)
    data = yaml.safe_load((PROTOCOLS / "ductogram.yml").read_text(encoding="utf-8"))
    data["thresholds"].update(thresholds)
    path = tmp_path / "clinic.yml"
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return TriageEngine(load_protocol(path))


def disposition(engine: TriageEngine, *turns: str) -> str | None:
    state = None
    for text in turns:
        a = engine.assess(text, state, today=TODAY)
        state = a.state
    return a.conversation_disposition


def test_fever_threshold_follows_the_file(tmp_path: Path) -> None:
    default = TriageEngine(load_protocol(PROTOCOLS / "ductogram.yml"))
    assert disposition(default, "my temperature is 101.2") == "call_physician"
    raised = engine_with(tmp_path, fever_over_f=101.5)
    assert disposition(raised, "my temperature is 101.2") == "information"
    assert disposition(raised, "my temperature is 101.6") == "call_physician"


def test_bloody_discharge_window_follows_the_file(tmp_path: Path) -> None:
    text = "still bloody discharge from the nipple, my ductogram was 5 days ago"
    default = TriageEngine(load_protocol(PROTOCOLS / "ductogram.yml"))
    assert disposition(default, text) == "call_physician"
    longer = engine_with(tmp_path, bloody_discharge_escalate_after_day=6)
    assert disposition(longer, text) == "self_care"


def test_pain_window_follows_the_file(tmp_path: Path) -> None:
    text = "my breast is sore, the ductogram was 4 days ago"
    default = TriageEngine(load_protocol(PROTOCOLS / "ductogram.yml"))
    assert disposition(default, text) == "call_physician"
    longer = engine_with(tmp_path, expected_pain_days=5)
    assert disposition(longer, text) == "self_care"
