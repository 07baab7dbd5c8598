"""Shared fixtures: the real protocol, and services on a throwaway SQLite database."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from aftercare.triage.protocol import Protocol, load_protocol
from aftercare.services import Services, build_services
from aftercare.settings import ROOT, load_settings

PROTOCOL_PATH = ROOT / "protocols" / "ductogram.yml"
#: A fixed clinic day (a Sunday) so day counts in tests do not depend on when they run.
TODAY = date(2026, 11, 22)


@pytest.fixture(scope="session")
def protocol() -> Protocol:
    return load_protocol(PROTOCOL_PATH)


@pytest.fixture
def services_on_tmp(tmp_path: Path) -> Services:
    """Services with their own SQLite escalation store and journal, and a fixed 'today'."""
    settings = load_settings().with_changes(
        protocol_path=PROTOCOL_PATH,
        database_url=f"sqlite:///{tmp_path / 'aftercare.db'}",
        journal_path=tmp_path / "journal.jsonl",
    )
    svc = build_services(settings)
    svc.today = lambda: TODAY  # type: ignore[method-assign]
    return svc
