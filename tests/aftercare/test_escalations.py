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


# ----------------------------------------------------------------------------- the journal, hardened (issue 10.1, 10.2)
def broken_store(tmp_path: Path) -> EscalationStore:
    (tmp_path / "dir.db").mkdir(exist_ok=True)
    return EscalationStore(f"sqlite:///{tmp_path / 'dir.db'}", journal_path=tmp_path / "journal.jsonl")


def test_a_half_written_journal_line_never_blocks_recording(tmp_path: Path):
    journal = tmp_path / "journal.jsonl"
    broken_store(tmp_path).record_durably(item("before"))
    with journal.open("a", encoding="utf-8") as handle:
        handle.write('{"conversation_id": "half", "chan')  # a crash in the middle of a line
    store = EscalationStore(f"sqlite:///{tmp_path / 'good.db'}", journal_path=journal)
    assert store.record_durably(item("i cannot breathe")) is True
    assert sorted(r["conversation_id"] for r in store.list_escalations()) == ["before", "i cannot breathe"]
    assert store.pending_in_journal() == 0
    assert store.unreadable_in_journal() == 1  # kept aside for a human, and counted
    assert "half" in (tmp_path / "journal.jsonl.unreadable").read_text(encoding="utf-8")


def test_replay_is_idempotent(tmp_path: Path):
    journal = tmp_path / "journal.jsonl"
    broken_store(tmp_path).record_durably(item("once"))
    saved = journal.read_text(encoding="utf-8")
    store = EscalationStore(f"sqlite:///{tmp_path / 'good.db'}", journal_path=journal)
    assert store.replay_journal() == 1
    journal.write_text(saved, encoding="utf-8")  # as if the process died before removing the journal
    store.replay_journal()
    assert len(store.events_for("once")) == 1


def test_a_failed_replay_rewrites_the_rest_atomically(tmp_path: Path):
    journal = tmp_path / "journal.jsonl"
    broken = broken_store(tmp_path)
    for name in ("a", "b"):
        broken.record_durably(item(name))
    assert broken.replay_journal() == 0  # the database is still down: nothing lost, nothing half-written
    assert broken.pending_in_journal() == 2
    assert not (tmp_path / "journal.jsonl.tmp").exists()


def test_storage_failure_never_raises(tmp_path: Path):
    (tmp_path / "dir.db").mkdir()
    (tmp_path / "journal-is-a-dir").mkdir()
    store = EscalationStore(f"sqlite:///{tmp_path / 'dir.db'}", journal_path=tmp_path / "journal-is-a-dir")
    assert store.record_durably(item("nowhere")) is False


def test_two_processes_journal_and_replay_without_losing_a_line(tmp_path: Path):
    import multiprocessing

    journal = tmp_path / "journal.jsonl"
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_journal_many, args=(str(tmp_path), f"p{n}", 25)) for n in range(2)]
    for p in procs:
        p.start()
    good = EscalationStore(f"sqlite:///{tmp_path / 'good.db'}", journal_path=journal)
    for _ in range(20):
        good.replay_journal()
    for p in procs:
        p.join(60)
    good.replay_journal()
    names = {r["conversation_id"] for r in good.list_escalations()}
    assert names == {f"p{n}-{i}" for n in range(2) for i in range(25)}
    assert sum(len(good.events_for(name)) for name in names) == 50


def _journal_many(folder: str, prefix: str, count: int) -> None:
    store = broken_store(Path(folder))
    for i in range(count):
        store.record_durably(item(f"{prefix}-{i}"))


def test_one_engine_per_database_per_process(tmp_path: Path):
    from aftercare.escalations import create_db_engine

    url = f"sqlite:///{tmp_path / 'one.db'}"
    assert create_db_engine(url) is create_db_engine(url)
