"""FileLockStore: Rasa's ticket locks shared by several processes through files."""
from __future__ import annotations

import asyncio
import multiprocessing
import os
from pathlib import Path

import pytest
from rasa.core.lock_store import LockStore
from rasa.utils.endpoints import EndpointConfig

from aftercare.lock_store import FileLockStore


def test_rasa_builds_it_from_endpoints_yml(tmp_path: Path) -> None:
    config = EndpointConfig(type="aftercare.lock_store.FileLockStore", directory=str(tmp_path / "locks"))
    store = LockStore.create(config)
    assert isinstance(store, FileLockStore)
    assert (tmp_path / "locks").is_dir() and oct((tmp_path / "locks").stat().st_mode & 0o777) == "0o700"


def test_a_directory_is_required() -> None:
    with pytest.raises(ValueError, match="directory"):
        FileLockStore(EndpointConfig(type="aftercare.lock_store.FileLockStore"))


def test_tickets_are_served_in_order_and_the_lock_file_goes_when_done(tmp_path: Path) -> None:
    store = FileLockStore(directory=tmp_path)
    first = store.issue_ticket("+15551234567")
    second = store.issue_ticket("+15551234567")
    assert (first, second) == (0, 1)
    lock = store.get_lock("+15551234567")
    assert lock is not None and not lock.is_locked(first) and lock.is_locked(second)
    store.cleanup("+15551234567", first)
    assert not store.get_lock("+15551234567").is_locked(second)
    store.cleanup("+15551234567", second)
    assert store.get_lock("+15551234567") is None
    assert not [p for p in tmp_path.iterdir() if p.suffix == ".json"]


def test_no_conversation_id_appears_on_disk(tmp_path: Path) -> None:
    store = FileLockStore(directory=tmp_path)
    store.issue_ticket("+15551234567")
    for path in tmp_path.iterdir():
        assert "5551234567" not in path.name
        if path.suffix == ".json":
            assert "5551234567" not in path.read_text()


def test_an_unreadable_lock_file_counts_as_no_lock(tmp_path: Path) -> None:
    store = FileLockStore(directory=tmp_path)
    store.issue_ticket("conv")
    next(p for p in tmp_path.iterdir() if p.suffix == ".json").write_text("{half")
    assert store.get_lock("conv") is None
    assert store.issue_ticket("conv") == 0


async def test_a_second_turn_waits_for_the_first(tmp_path: Path) -> None:
    store = FileLockStore(directory=tmp_path)
    order: list[str] = []

    async def turn(name: str, hold: float) -> None:
        async with store.lock("conv"):
            order.append(f"{name} in")
            await asyncio.sleep(hold)
            order.append(f"{name} out")

    first = asyncio.create_task(turn("a", 0.2))
    await asyncio.sleep(0.05)
    await asyncio.gather(first, turn("b", 0))
    assert order == ["a in", "a out", "b in", "b out"]


def _issue(directory: str, count: int, queue: "multiprocessing.Queue[list[int]]") -> None:
    store = FileLockStore(directory=directory)
    queue.put([store.issue_ticket("shared") for _ in range(count)])


def test_processes_never_get_the_same_ticket(tmp_path: Path) -> None:
    """Four processes issue tickets for one conversation at once: every number is issued once."""
    ctx = multiprocessing.get_context("fork" if os.name == "posix" else "spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_issue, args=(str(tmp_path), 25, queue)) for _ in range(4)]
    for p in procs:
        p.start()
    issued = [n for _ in procs for n in queue.get(timeout=60)]
    for p in procs:
        p.join(timeout=60)
    assert sorted(issued) == list(range(100))
