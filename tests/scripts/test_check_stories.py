"""scripts/check_stories.py judges a rasa e2e story run."""
from __future__ import annotations

import json
from pathlib import Path

from scripts.check_stories import main


def write_report(tmp: Path, intents: dict[str, tuple[float, int]], action_recall: float = 1.0) -> str:
    report = {name: {"precision": 1.0, "recall": recall, "f1-score": 1.0, "support": n} for name, (recall, n) in intents.items()}
    report["action_respond"] = {"precision": 1.0, "recall": action_recall, "f1-score": 1.0, "support": 10}
    report["weighted avg"] = {"precision": 1.0, "recall": 1.0, "f1-score": 1.0, "support": 20}
    (tmp / "story_report.json").write_text(json.dumps(report))
    return str(tmp)


def test_passes_at_full_accuracy(tmp_path):
    assert main(write_report(tmp_path, {"greet": (1.0, 5), "ask_duration": (1.0, 5)})) == 0


def test_fails_under_minimum_intent_accuracy(tmp_path):
    assert main(write_report(tmp_path, {"greet": (0.5, 10), "ask_duration": (1.0, 10)})) == 1


def test_fails_on_any_wrong_action(tmp_path):
    assert main(write_report(tmp_path, {"greet": (1.0, 10)}, action_recall=0.9)) == 1


def test_fails_without_a_report(tmp_path):
    assert main(str(tmp_path)) == 1
