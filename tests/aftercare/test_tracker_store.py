"""SessionSQLTrackerStore: the same events as Rasa's SQL store, found with queries that stay cheap."""
from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from rasa.core.tracker_store import SQLTrackerStore, TrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import read_endpoint_config

from aftercare.settings import ROOT
from aftercare.tracker_store import INDEXES, SessionSQLTrackerStore, ensure_session_indexes
from tests.pg import pg_schema_url

DOMAIN = Domain.load(str(ROOT / "domain.yml"))


def conversation(sessions: int, turns: int) -> DialogueStateTracker:
    """A tracker of ``sessions`` sessions of ``turns`` messages, with strictly increasing timestamps."""
    tracker = DialogueStateTracker("+15551234567", DOMAIN.slots)
    clock = 1_795_000_000.0
    for s in range(sessions):
        if s:
            clock += 1
            tracker.update(SessionStarted(timestamp=clock))
            tracker.update(SlotSet("triage_state", {"s": s}, timestamp=clock))
        for t in range(turns):
            clock += 1
            tracker.update(UserUttered(f"message {s}.{t}", timestamp=clock))
            clock += 1
            tracker.update(ActionExecuted("action_listen", timestamp=clock))
    return tracker


def stores(tmp_path: Path) -> tuple[SQLTrackerStore, SessionSQLTrackerStore]:
    rasa = SQLTrackerStore(DOMAIN, dialect="sqlite", db=str(tmp_path / "rasa.db"))
    ours = SessionSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(tmp_path / "ours.db"))
    return rasa, ours


@pytest.mark.parametrize("sessions, turns", [(1, 3), (3, 4), (12, 2)])
def test_it_loads_exactly_what_rasas_store_loads(tmp_path: Path, sessions: int, turns: int) -> None:
    rasa, ours = stores(tmp_path)
    tracker = conversation(sessions, turns)
    for store in (rasa, ours):
        asyncio.run(store.save(tracker))
    for method in ("retrieve", "retrieve_full_tracker"):
        theirs = asyncio.run(getattr(rasa, method)(tracker.sender_id))
        mine = asyncio.run(getattr(ours, method)(tracker.sender_id))
        assert [e.as_dict() for e in mine.events] == [e.as_dict() for e in theirs.events]
    assert len(asyncio.run(ours.retrieve(tracker.sender_id)).events) == (2 + 2 * turns if sessions > 1 else 2 * turns)


def test_saving_again_adds_only_the_new_events(tmp_path: Path) -> None:
    _, ours = stores(tmp_path)
    tracker = conversation(3, 2)
    asyncio.run(ours.save(tracker))
    loaded = asyncio.run(ours.retrieve(tracker.sender_id))
    loaded.update(UserUttered("one more", timestamp=1_796_000_000.0))
    asyncio.run(ours.save(loaded))
    full = asyncio.run(ours.retrieve_full_tracker(tracker.sender_id))
    assert len(full.events) == len(tracker.events) + 1


def test_the_indexes_are_made_with_the_tables(tmp_path: Path) -> None:
    _, ours = stores(tmp_path)
    made = {i["name"]: tuple(i["column_names"]) for i in sa.inspect(ours.engine).get_indexes("events")}
    assert all(made.get(name) == columns for name, columns in INDEXES.items())
    assert ensure_session_indexes(sa.create_engine(f"sqlite:///{tmp_path / 'empty.db'}")) is False


@pytest.mark.parametrize("endpoints", ["endpoints.yml", "endpoints.postgresql.yml"])
def test_both_endpoint_files_use_it(endpoints: str) -> None:
    config = yaml.safe_load((ROOT / endpoints).read_text())
    assert config["tracker_store"]["type"] == "aftercare.tracker_store.SessionSQLTrackerStore"


def test_rasa_builds_it_from_endpoints_yml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Rasa falls back to an in-memory store, with only a warning, when it cannot import the class.
    monkeypatch.setenv("AFTERCARE_TRACKER_DB", str(tmp_path / "tracker.db"))
    monkeypatch.setenv("AFTERCARE_ACTION_URL", "http://127.0.0.1:1/webhook")
    monkeypatch.setenv("AFTERCARE_LOCK_DIR", str(tmp_path / "locks"))
    config = read_endpoint_config(str(ROOT / "endpoints.yml"), "tracker_store")
    store = TrackerStore.create(config, DOMAIN)
    assert isinstance(getattr(store, "_tracker_store", store), SessionSQLTrackerStore)


def test_on_postgresql_too_it_loads_what_rasas_store_loads() -> None:
    url = pg_schema_url()
    ours = SessionSQLTrackerStore(domain=DOMAIN, host=url)
    rasa = SQLTrackerStore(DOMAIN, host=url)
    tracker = conversation(20, 5)
    asyncio.run(ours.save(tracker))
    mine, theirs = (asyncio.run(s.retrieve(tracker.sender_id)) for s in (ours, rasa))
    assert [e.as_dict() for e in mine.events] == [e.as_dict() for e in theirs.events]
    assert len(mine.events) == 12
    made = {i["name"] for i in sa.inspect(ours.engine).get_indexes("events")}
    ours.engine.dispose()
    rasa.engine.dispose()
    assert set(INDEXES) <= made
