"""Judge a `rasa test core --e2e` run of tests/test_stories.yml.

Every action prediction must be right (every message is answered by action_respond). The intents
of the user turns, all phrasings the model never saw in training, must be right in at least
MIN_INTENT_ACCURACY of turns: a statistical classifier moves on marginal phrasings whenever the
data changes, and the dispositions do not depend on it (the triage engine reads every message;
see tests/e2e/test_evaluation.py for the gate on dispositions). The misclassified turns are printed.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

MIN_INTENT_ACCURACY = 0.92


def main(out_dir: str) -> int:
    path = Path(out_dir) / "story_report.json"
    if not path.exists():
        print(f"FAILED: no {path}: did rasa test run?", file=sys.stderr)
        return 1
    report = json.loads(path.read_text())
    labels = {k: v for k, v in report.items() if isinstance(v, dict) and "support" in v and not k.endswith(" avg")}
    actions = {k: v for k, v in labels.items() if k.startswith("action_")}
    intents = {k: v for k, v in labels.items() if not k.startswith("action_")}
    turns = sum(v["support"] for v in intents.values())
    correct = sum(round(v["recall"] * v["support"]) for v in intents.values())
    accuracy = correct / turns if turns else 0.0
    wrong_actions = {k: v for k, v in actions.items() if v["precision"] < 1 or v["recall"] < 1}
    failed = Path(out_dir) / "failed_test_stories.yml"
    misses = [line.strip() for line in failed.read_text().splitlines() if "# predicted:" in line] if failed.exists() else []
    print(f"conversation tests: {turns} user turns, intents {correct}/{turns} ({accuracy:.1%}, "
          f"minimum {MIN_INTENT_ACCURACY:.0%}); actions {'all right' if not wrong_actions else wrong_actions}")
    for miss in misses:
        print(f"  misclassified: {miss}")
    if wrong_actions:
        print("FAILED: wrong action predictions", file=sys.stderr)
        return 1
    if accuracy < MIN_INTENT_ACCURACY:
        print("FAILED: intent accuracy under the minimum", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else "var/story-results"))
