"""Fixtures of the console tests: a throwaway SQLite database with two nurses, and the app on it."""
from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from aftercare.console.app import create_app
from aftercare.console.models import ConsoleStore
from aftercare.escalations import EscalationStore
from aftercare.settings import load_settings

from .support import PASSWORD, make_tracker


@pytest.fixture
def env(tmp_path: Path) -> dict[str, Any]:
    db = f"sqlite:///{tmp_path / 'aftercare.db'}"
    tracker = f"sqlite:///{tmp_path / 'tracker.db'}"
    settings = load_settings().with_changes(database_url=db, tracker_store_url=tracker)
    store = EscalationStore(db)
    store.create_schema()
    console = ConsoleStore(store.engine)
    console.create_schema()
    console.create_nurse("ann", "Ann Lee, RN", PASSWORD)
    console.create_nurse("bob", "Bob Roy, RN", PASSWORD)
    make_tracker(tracker)
    return {"settings": settings, "store": store, "console": console, "tracker": tracker}


@pytest.fixture
def app(env):
    return create_app(env["settings"], name=f"console_{uuid.uuid4().hex[:8]}")
