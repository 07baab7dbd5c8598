"""The labelled evaluation set (eval/cases.yml) through the REST channel: no red flag under-triaged."""
from __future__ import annotations

import requests
import pytest

from aftercare.settings import ROOT
from scripts import evaluate

pytestmark = pytest.mark.e2e


def test_no_case_is_under_triaged(client, capsys):
    cases = evaluate.load_cases(ROOT / "eval" / "cases.yml")
    with requests.Session() as session:
        session.headers.update(client.headers)
        results = [evaluate.play_case(session, client.base, case, 60) for case in cases]
    summary = evaluate.summarise(results)
    with capsys.disabled():
        print()
        evaluate.print_report(summary)
    assert summary["counts"]["errors"] == 0
    assert summary["counts"]["under_triaged"] == 0, "under-triaged cases: see the report above"
    assert evaluate.exit_code(summary) == 0
