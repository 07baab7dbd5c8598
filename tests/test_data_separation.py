"""Training data and evaluation sets never share a sentence (the evaluation would measure memory)."""
from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def _key(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.casefold()))


def training_sentences() -> dict[str, str]:
    """Every training sentence (Rasa NLU examples and the red-flag classifier's), by its folded form."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8")).get("nlu", []):
            for line in str(block.get("examples", "")).splitlines():
                text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line.strip().removeprefix("- "))
                if text:
                    found[_key(text)] = f"{path.name}: {text}"
    for path in sorted((ROOT / "training" / "triage").glob("*.yml")):
        for text in yaml.safe_load(path.read_text(encoding="utf-8"))["examples"]:
            found[_key(text)] = f"{path.name}: {text}"
    return found


def evaluation_sentences() -> dict[str, str]:
    """Every patient turn of every evaluation set, by its folded form."""
    found: dict[str, str] = {}
    for path in [ROOT / "eval" / "cases.yml", *sorted((ROOT / "eval" / "blind").glob("*.yml"))]:
        for case in yaml.safe_load(path.read_text(encoding="utf-8"))["cases"]:
            for turn in case["turns"]:
                found[_key(turn)] = f"{path.name} {case['id']}: {turn}"
    return found


def test_training_and_evaluation_share_no_sentence() -> None:
    train, held_out = training_sentences(), evaluation_sentences()
    # Answers of one or two words ("yes", "101.2", "2 days ago") are not sentences anyone could memorise.
    shared = sorted(k for k in set(train) & set(held_out) if len(k.split()) > 2)
    assert not shared, "\n".join(f"{train[k]}  ==  {held_out[k]}" for k in shared[:20])


def test_the_check_reads_both_sides() -> None:
    assert len(training_sentences()) > 2000
    assert len(evaluation_sentences()) > 1000
