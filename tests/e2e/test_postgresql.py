"""The production configuration: Rasa's tracker store and the escalation store on PostgreSQL,
the lock store on Redis, all on 127.0.0.1."""
from __future__ import annotations

import json
import os
import secrets
import uuid
from typing import Iterator

import pytest
import sqlalchemy as sa

from tests.e2e.conftest import Client, start_stack
from tests.pg import PG_URL

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


@pytest.fixture(scope="module")
def pg_database() -> Iterator[str]:
    name = f"aftercare_e2e_{uuid.uuid4().hex[:10]}"
    try:
        admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT", future=True)
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL is required in CI but not reachable at {PG_URL}: {exc}")
        pytest.skip(f"no PostgreSQL reachable at {PG_URL}: {type(exc).__name__}")
    yield name
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def pg_stack(tmp_path_factory: pytest.TempPathFactory, pg_database: str):
    url = sa.engine.make_url(PG_URL)
    env = {
        "AFTERCARE_DATABASE_URL": str(url.set(database=pg_database)),
        "AFTERCARE_PG_HOST": url.host or "127.0.0.1",
        "AFTERCARE_PG_PORT": str(url.port or 5432),
        "AFTERCARE_PG_DB": pg_database,
        "AFTERCARE_PG_USER": url.username or "postgres",
        "AFTERCARE_PG_PASSWORD": url.password or "",
        "AFTERCARE_REDIS_HOST": os.environ.get("AFTERCARE_TEST_REDIS_HOST", "127.0.0.1"),
        "AFTERCARE_REDIS_PORT": os.environ.get("AFTERCARE_TEST_REDIS_PORT", "6379"),
    }
    stack = start_stack(tmp_path_factory.mktemp("pgstack"), endpoints="endpoints.postgresql.yml", extra_env=env)
    yield stack, env["AFTERCARE_DATABASE_URL"]
    stack.stop()


def test_transcript_and_escalation_in_postgresql(pg_stack):
    stack, db_url = pg_stack
    client = Client(f"http://127.0.0.1:{stack.rasa_port}", stack.rest_token())
    sender = f"rest-{secrets.token_hex(12)}"
    _, payload = client.say(sender, "my breast is red and hot to the touch")
    assert payload["disposition"] == "call_physician"

    engine = sa.create_engine(db_url, future=True)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text("select disposition, channel, reasons from escalations where conversation_id = :c"), {"c": sender}
        ).all()
        events = conn.execute(
            sa.text("select type_name, data from events where sender_id = :c order by id"), {"c": sender}
        ).all()
    engine.dispose()
    assert [(r.disposition, r.channel) for r in rows] == [("call_physician", "rest")]
    assert "redness of the breast" in json.loads(rows[0].reasons)
    user_texts = [json.loads(e.data).get("text") for e in events if e.type_name == "user"]
    bot_texts = [json.loads(e.data).get("text") for e in events if e.type_name == "bot"]
    assert user_texts == ["my breast is red and hot to the touch"]
    assert any("call your physician" in (t or "").lower() for t in bot_texts)
