"""A Rasa lock store for several Sanic workers on one machine, with no server to install.

Rasa runs more than one worker (``SANIC_WORKERS``) only with a lock store shared by the workers; its
in-memory one is per process and Redis needs a server. ``FileLockStore`` keeps each conversation's
ticket lock (Rasa's own ``TicketLock``) as a small JSON file in a private directory, and makes every
read-modify-write of a lock atomic across processes with ``filelock``. File names are a hash of the
conversation id: phone numbers never appear on disk. Configure it in endpoints.yml::

    lock_store:
      type: aftercare.lock_store.FileLockStore
      directory: ${AFTERCARE_LOCK_DIR}
"""
from __future__ import annotations

import hashlib
import json
import os
import tempfile
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

from filelock import FileLock
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockStore
from rasa.utils.endpoints import EndpointConfig

STRIPES = 64  # lock files guarding the ticket files; a conversation always maps to the same one
POLL_SECONDS = 0.02  # Rasa polls a busy lock every second by default: far longer than a turn takes


class FileLockStore(LockStore):
    """Rasa ticket locks in files, shared by every process on this machine."""

    def __init__(self, endpoint_config: EndpointConfig | None = None, directory: str | Path | None = None) -> None:
        configured = directory or (endpoint_config.kwargs.get("directory") if endpoint_config else None)
        if not configured:
            raise ValueError("FileLockStore needs a directory (lock_store: directory: ... in endpoints.yml)")
        self.directory = Path(configured)
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._guards = [FileLock(str(self.directory / f"stripe-{i:02d}.lock")) for i in range(STRIPES)]
        super().__init__()

    # ------------------------------------------------------------------ storage of one lock

    def _key(self, conversation_id: str) -> str:
        return hashlib.sha256(conversation_id.encode("utf-8")).hexdigest()[:40]

    def _path(self, conversation_id: str) -> Path:
        return self.directory / f"{self._key(conversation_id)}.json"

    def _guard(self, conversation_id: str) -> FileLock:
        return self._guards[int(self._key(conversation_id)[:8], 16) % STRIPES]

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        """The conversation's lock, or None when there is none (or its file is unreadable)."""
        try:
            data = json.loads(self._path(conversation_id).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        lock = TicketLock.from_dict(data)
        lock.conversation_id = conversation_id  # the file holds only a hash of the id
        return lock

    def delete_lock(self, conversation_id: str) -> None:
        """Remove the conversation's lock file."""
        try:
            self._path(conversation_id).unlink()
        except FileNotFoundError:
            pass

    def save_lock(self, lock: TicketLock) -> None:
        """Write the lock atomically (temporary file, then rename)."""
        tickets = json.loads(lock.dumps())["tickets"]
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"conversation_id": None, "tickets": tickets}, handle)
            os.replace(tmp, self._path(lock.conversation_id))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # ------------------------------------------------------------------ read-modify-write, atomic

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        """Issue the next ticket; no other process can issue the same number."""
        with self._guard(conversation_id):
            return super().issue_ticket(conversation_id, lock_lifetime)

    def update_lock(self, conversation_id: str) -> None:
        """Drop expired tickets (a worker that died while holding one)."""
        with self._guard(conversation_id):
            super().update_lock(conversation_id)

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        """Remove a served ticket."""
        with self._guard(conversation_id):
            super().finish_serving(conversation_id, ticket_number)

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        """Remove the ticket, and the lock file when nobody else waits."""
        with self._guard(conversation_id):
            super().cleanup(conversation_id, ticket_number)

    def lock(
        self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME, wait_time_in_seconds: float = POLL_SECONDS
    ) -> AbstractAsyncContextManager[Any]:
        """Rasa's ticket lock, polled every ``POLL_SECONDS`` while another turn of the conversation runs."""
        return super().lock(conversation_id, lock_lifetime, min(wait_time_in_seconds, POLL_SECONDS))
