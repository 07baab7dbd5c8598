"""The blind evaluation set through the REST channel, on a stack whose clinic day is the set's `today`.

The dev split gates: no red flag answered below its level. The test split, the later "check" set and
the lay check set are played and their figures printed, never their cases (they are the held-out
measures; see the headers of eval/blind/dev.yml, check.yml and lay_check.yml). Each set is played on a
stack whose clinic day is its own.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
import requests

from aftercare.settings import ROOT
from scripts import evaluate
from tests.e2e.conftest import start_stack

pytestmark = pytest.mark.e2e
BLIND = ROOT / "eval" / "blind"


def _stack_for(path: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    today = evaluate.case_file_today(path)
    stack = start_stack(
        tmp_path_factory.mktemp("blind"), ("actions", "rasa"), extra_env={"AFTERCARE_FIXED_TODAY": today.isoformat()}
    )
    yield f"http://127.0.0.1:{stack.rasa_port}", stack.rest_token()
    stack.stop()


@pytest.fixture(scope="module")
def blind_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    yield from _stack_for(BLIND / "dev.yml", tmp_path_factory)


@pytest.fixture(scope="module")
def check_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    yield from _stack_for(BLIND / "check.yml", tmp_path_factory)


def play(target: tuple[str, str], path: Path) -> dict:
    url, token = target
    cases = evaluate.load_cases(path)
    with requests.Session() as session:
        session.headers["Authorization"] = f"Bearer {token}"
        return evaluate.summarise([evaluate.play_case(session, url, case, 60) for case in cases])


def red_flags_under(summary: dict) -> int:
    m = summary["confusion_matrix"]
    return sum(n for e in ("emergency", "call_physician") for g, n in m[e].items() if evaluate.rank(g) < evaluate.rank(e))


def test_dev_split_has_no_red_flag_under_triaged(blind_url: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    summary = play(blind_url, BLIND / "dev.yml")
    with capsys.disabled():
        print("\nblind dev split")
        evaluate.print_report(summary)
    assert summary["counts"]["errors"] == 0
    assert red_flags_under(summary) == 0, "red flags under-triaged in the dev split: see the report above"


def figures_only(target: tuple[str, str], name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Play a held-out set and print its figures, never its cases."""
    summary = play(target, BLIND / f"{name}.yml")
    with capsys.disabled():
        print(f"\nblind {name} (figures only)")
        print(evaluate.TABLE_HEAD)
        print(evaluate.set_row(f"blind {name}", summary))
        print(f"red flags under-triaged: {red_flags_under(summary)}")
    assert summary["counts"]["errors"] == 0


def test_test_split_figures(blind_url: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    figures_only(blind_url, "test", capsys)


def test_check_set_figures(check_url: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    figures_only(check_url, "check", capsys)


def test_lay_check_set_figures(blind_url: tuple[str, str], capsys: pytest.CaptureFixture[str]) -> None:
    # lay emergencies and everyday complaints; its clinic day is the dev split's
    figures_only(blind_url, "lay_check", capsys)
