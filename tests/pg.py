"""PostgreSQL for tests of the production configuration (127.0.0.1:5432, database `test`)."""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from typing import Iterator

import pytest
import sqlalchemy as sa

from aftercare.cluster import drop_database, ensure_database

PG_URL = os.environ.get("AFTERCARE_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


def pg_schema_url() -> str:
    """A fresh schema on the test server for one test; skips, saying why, when none is reachable."""
    try:
        engine = sa.create_engine(PG_URL, future=True)
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with engine.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        engine.dispose()
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI but not reachable at {PG_URL}: {exc}")
        pytest.skip(f"no PostgreSQL reachable at {PG_URL} ({type(exc).__name__}); start it to run this test")
    return f"{PG_URL}?options=-csearch_path%3D{schema}"


def _unreachable(exc: Exception) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required in CI but not reachable at {PG_URL}: {exc}")
    pytest.skip(f"no PostgreSQL reachable at {PG_URL}: {type(exc).__name__}")


@contextmanager
def fresh_database(prefix: str = "aftercare_e2e") -> Iterator[str]:
    """A new, empty database on the test server for the block (dropped after); skips when none is reachable."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    url = str(sa.engine.make_url(PG_URL).set(database=name))
    try:
        ensure_database(url)
    except Exception as exc:  # noqa: BLE001
        _unreachable(exc)
    try:
        yield name
    finally:
        drop_database(url)


def production_env(database: str) -> dict[str, str]:
    """The settings endpoints.postgresql.yml and the escalation store read, for ``database`` and Redis."""
    url = sa.engine.make_url(PG_URL)
    return {
        "AFTERCARE_DATABASE_URL": str(url.set(database=database)),
        "AFTERCARE_PG_HOST": url.host or "127.0.0.1",
        "AFTERCARE_PG_PORT": str(url.port or 5432),
        "AFTERCARE_PG_DB": database,
        "AFTERCARE_PG_USER": url.username or "postgres",
        "AFTERCARE_PG_PASSWORD": url.password or "",
        "AFTERCARE_REDIS_HOST": os.environ.get("AFTERCARE_TEST_REDIS_HOST", "127.0.0.1"),
        "AFTERCARE_REDIS_PORT": os.environ.get("AFTERCARE_TEST_REDIS_PORT", "6379"),
    }
