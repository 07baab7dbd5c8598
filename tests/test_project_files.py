"""The domain, the rules, the training data and the protocol agree with each other."""
from __future__ import annotations


import yaml

from aftercare.settings import ROOT


def load(path: str) -> dict:
    return yaml.safe_load((ROOT / path).read_text())


def domain_intents() -> set[str]:
    return set(load("domain.yml")["intents"])


def nlu_intents() -> set[str]:
    found: set[str] = set()
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        found |= {item["intent"] for item in yaml.safe_load(path.read_text())["nlu"] if "intent" in item}
    return found


def test_every_intent_is_answered_by_action_respond():
    ruled = {}
    for rule in load("data/rules/respond.yml")["rules"]:
        steps = rule["steps"]
        ruled[steps[0]["intent"]] = [s.get("action") for s in steps[1:]]
    assert set(ruled) == domain_intents() | {"nlu_fallback"}
    assert all(actions == ["action_respond"] for actions in ruled.values())


def test_domain_lists_exactly_the_trained_intents():
    assert domain_intents() == nlu_intents()


def test_every_information_topic_has_an_intent(protocol):
    assert {f"ask_{topic}" for topic in protocol.information} == {i for i in domain_intents() if i.startswith("ask_")}


def test_ci_runs_the_readme_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    assert readme.index("make run") < 600 and readme.index("make test") < 600
