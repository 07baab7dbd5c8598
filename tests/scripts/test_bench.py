"""The benchmark's in-process engine figures (the server measurements need `make bench`)."""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

_PATH = Path(__file__).resolve().parents[2] / "scripts" / "bench.py"
_spec = importlib.util.spec_from_file_location("bench", _PATH)
assert _spec and _spec.loader
bench = importlib.util.module_from_spec(_spec)
sys.modules["bench"] = bench
_spec.loader.exec_module(bench)


def test_engine_cost_reports_every_kind_and_size() -> None:
    figures = bench.engine_cost(sizes=(200, 1000), repeats=1)
    assert set(figures) == set(bench.ENGINE_MESSAGES)
    for by_size in figures.values():
        assert set(by_size) == {"200", "1000"}
        assert all(ms > 0 for ms in by_size.values())


def test_render_shows_the_engine_table() -> None:
    report = {
        "configs": {}, "settings": {"concurrency": 20}, "generated_at": "now", "rasa_version": "3.6",
        "machine": {"cpus": 2, "loadavg_start": "0"}, "targets": [],
        "engine": {"prose": {"2000": 10.0, "65536": 90.0}},
    }
    text = bench.render(report)
    assert "triage engine alone" in text and "90.0" in text
