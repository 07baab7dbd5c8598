"""PostgreSQL for tests of the production configuration (127.0.0.1:5432, database `test`)."""
from __future__ import annotations

import os
import uuid

import pytest
import sqlalchemy as sa

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
