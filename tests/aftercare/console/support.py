"""What the console tests share: a browser that keeps cookies, a Rasa-shaped tracker store, escalations."""
from __future__ import annotations

import json
import re
from typing import Any

import sqlalchemy as sa

from aftercare.escalations import EscalationRecord, EscalationStore

PASSWORD = "correct horse battery staple"


class Browser:
    """Keeps cookies between requests to the app's ASGI test client, like a browser would."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.cookies: dict[str, str] = {}

    async def request(self, method: str, path: str, **kw: Any) -> Any:
        client = self.app.asgi_client
        kw.setdefault("follow_redirects", False)
        _, resp = await getattr(client, method)(path, cookies=dict(self.cookies), **kw)
        for header in resp.headers.get_list("set-cookie"):
            name, _, rest = header.partition("=")
            value = rest.split(";", 1)[0].strip('"')
            if "max-age=0" in header.lower() or not value:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return resp

    async def get(self, path: str, **kw: Any) -> Any:
        return await self.request("get", path, **kw)

    async def post(self, path: str, **kw: Any) -> Any:
        return await self.request("post", path, **kw)

    async def login(self, username: str = "ann", password: str = PASSWORD) -> Any:
        form = await self.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', form.text).group(1)
        return await self.post("/login", data={"csrf_token": token, "username": username, "password": password})

    async def csrf(self, path: str = "/") -> str:
        page = await self.get(path)
        return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def make_tracker(url: str) -> None:
    """A table shaped like Rasa's SQL tracker store `events` table."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(
            "create table events (id integer primary key, sender_id varchar(255), type_name varchar(255),"
            " timestamp float, intent_name varchar(255), action_name varchar(255), data text)"
        ))
    engine.dispose()


def add_turns(url: str, sender: str, turns: list[tuple[str, str, float, dict | None]]) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        for kind, text, ts, custom in turns:
            data = {"event": kind, "timestamp": ts, "text": text}
            if custom is not None:
                data = {"event": "bot", "timestamp": ts, "text": None, "data": {"custom": custom}}
            conn.execute(sa.text("insert into events (sender_id, type_name, timestamp, data) values (:s, :t, :ts, :d)"),
                         {"s": sender, "t": kind, "ts": ts, "d": json.dumps(data)})
    engine.dispose()


def escalate(store: EscalationStore, conversation: str = "conv-1", disposition: str = "call_physician",
             reasons: tuple[str, ...] = ("temperature 101.2 °F is over 100.5 °F",), ts: float | None = 1763780000.0) -> int:
    return store.record(EscalationRecord(conversation, "rest", disposition, reasons, ("fever",), "v-test", ts))
