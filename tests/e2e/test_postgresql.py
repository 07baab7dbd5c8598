"""The production configuration: Rasa's tracker store and the escalation store on PostgreSQL,
the lock store on Redis, all on 127.0.0.1."""
from __future__ import annotations

import json
import secrets
from typing import Iterator

import pytest
import sqlalchemy as sa

from aftercare.stack import Stack
from tests.e2e.conftest import Client, start_stack
from tests.pg import fresh_database, production_env

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


@pytest.fixture(scope="module")
def pg_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, str]]:
    with fresh_database() as database:
        env = production_env(database)
        stack = start_stack(tmp_path_factory.mktemp("pgstack"), endpoints="endpoints.postgresql.yml", extra_env=env)
        try:
            yield stack, env["AFTERCARE_DATABASE_URL"]
        finally:
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
