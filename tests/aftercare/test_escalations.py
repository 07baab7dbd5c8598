"""The escalation store on SQLite and on a real PostgreSQL server."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest

from aftercare.escalations import EscalationRecord, EscalationStore
from tests.pg import pg_schema_url


def item(conversation: str = "c1", disposition: str = "call_physician", reasons: tuple[str, ...] = ("chills",),
         findings: tuple[str, ...] = ("chills",)) -> EscalationRecord:
    return EscalationRecord(conversation, "rest", disposition, reasons, findings, "v1", 1700000000.0)


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path: Path) -> EscalationStore:
    url = f"sqlite:///{tmp_path / 'a.db'}" if request.param == "sqlite" else pg_schema_url()
    s = EscalationStore(url, journal_path=tmp_path / "journal.jsonl")
    s.create_schema()
    yield s
    s.engine.dispose()


def test_record_then_list(store):
    store.record(item())
    rows = store.list_escalations()
    assert len(rows) == 1
    assert rows[0]["conversation_id"] == "c1"
    assert rows[0]["status"] == "open"
    assert rows[0]["reasons"] == ["chills"]


def test_one_row_per_conversation_disposition_only_rises(store):
    store.record(item(disposition="emergency", reasons=("chest pain",), findings=("chest_pain",)))
    store.record(item(disposition="call_physician", reasons=("chills",)))
    rows = store.list_escalations()
    assert len(rows) == 1
    assert rows[0]["disposition"] == "emergency"
    assert rows[0]["reasons"] == ["chest pain", "chills"]
    assert [e["disposition"] for e in store.events_for("c1")] == ["emergency", "call_physician"]


def test_queue_order_emergencies_first_then_oldest(store):
    store.record(item("a", "call_physician"))
    store.record(item("b", "emergency"))
    store.record(item("c", "call_physician"))
    assert [r["conversation_id"] for r in store.list_escalations()] == ["b", "a", "c"]


def test_concurrent_first_escalations_make_one_row(store):
    errors: list[Exception] = []

    def write(n: int) -> None:
        try:
            store.record(item("same", reasons=(f"reason {n}",)))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    rows = store.list_escalations()
    assert len(rows) == 1
    assert len(store.events_for("same")) == 8


def test_unwritable_database_goes_to_journal_and_is_replayed(tmp_path: Path):
    good = f"sqlite:///{tmp_path / 'good.db'}"
    (tmp_path / "dir.db").mkdir()
    broken = EscalationStore(f"sqlite:///{tmp_path / 'dir.db'}", journal_path=tmp_path / "journal.jsonl")
    assert broken.record_durably(item("j1")) is False
    assert broken.record_durably(item("j2")) is False
    assert broken.pending_in_journal() == 2
    healed = EscalationStore(good, journal_path=tmp_path / "journal.jsonl")
    assert healed.record_durably(item("j3")) is True
    assert sorted(r["conversation_id"] for r in healed.list_escalations()) == ["j1", "j2", "j3"]
    assert healed.pending_in_journal() == 0


def test_database_errors_never_carry_the_parameters(tmp_path: Path):
    import sqlalchemy as sa

    from aftercare.escalations import create_db_engine

    engine = create_db_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (phone TEXT UNIQUE)"))
        conn.execute(sa.text("INSERT INTO t VALUES (:p)"), {"p": "+15551234567"})
    with pytest.raises(sa.exc.IntegrityError) as caught:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO t VALUES (:p)"), {"p": "+15551234567"})
    assert "+15551234567" not in str(caught.value)
