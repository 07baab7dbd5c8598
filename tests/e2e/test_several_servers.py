"""Two Rasa servers and two action servers behind nginx, sharing PostgreSQL and Redis (aftercare/cluster.py).

Turns of the same conversations go through the balancer to different servers; every turn must be in
order in the transcript, every red flag escalated exactly once, and check-ins sent once when two
workers run at the same time. The public listener serves Twilio and the web chat, and nothing else.
"""
from __future__ import annotations

import secrets
import subprocess
import sys
import threading
from datetime import datetime, timedelta
from typing import Iterator
from zoneinfo import ZoneInfo

import pytest
import requests
import sqlalchemy as sa
from twilio.request_validator import RequestValidator

from aftercare.cluster import NGINX, Cluster
from aftercare.console.transcripts import TranscriptReader
from aftercare.escalations import EscalationStore
from aftercare.settings import ROOT
from aftercare.sms.models import SmsStore
from tests.e2e.conftest import MODEL, free_port
from tests.e2e.fake_twilio import FakeTwilio
from tests.pg import fresh_database, production_env

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

AUTH_TOKEN = secrets.token_hex(16)
TZ = "America/Chicago"
QUESTIONS = ("can I take a shower tonight?", "is it ok to wear a bra?", "when will I get my results?",
             "thanks, that helps", "can I go back to work tomorrow?")
RED_FLAGS = {"my breast is red and hot to the touch": "call_physician", "I can't breathe": "emergency"}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict]:
    if not NGINX.exists():
        pytest.fail(f"{NGINX} is missing: make test installs Debian's nginx")
    if not MODEL.exists():
        pytest.fail(f"{MODEL} is missing: run 'make train'")
    fake = FakeTwilio()
    ports = [free_port() for _ in range(8)]
    with fresh_database("aftercare_cluster") as database:
        env = {
            **production_env(database),
            "AFTERCARE_TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
            "AFTERCARE_TWILIO_AUTH_TOKEN": AUTH_TOKEN,
            "AFTERCARE_TWILIO_NUMBER": "+15550000000",
            "AFTERCARE_TWILIO_WEBHOOK_URL": f"http://127.0.0.1:{ports[0]}/webhooks/twilio/webhook",
            "AFTERCARE_TWILIO_API_BASE": fake.url,
            "AFTERCARE_CLINIC_TIMEZONE": TZ,
        }
        nodes = Cluster(ports, nodes=2, var_dir=tmp_path_factory.mktemp("cluster"), extra_env=env, served_by_header=True)
        nodes.start()
        try:
            child_env = {**nodes.stacks[0].env(), **env}
            yield {"cluster": nodes, "fake": fake, "env": child_env, "database_url": env["AFTERCARE_DATABASE_URL"],
                   "tracker_url": str(sa.engine.make_url(env["AFTERCARE_DATABASE_URL"]))}
        finally:
            nodes.stop()
            fake.close()


def rest(cluster: dict) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {cluster['cluster'].stacks[0].rest_token()}"
    return session


def run(cluster: dict, module: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", module, *args], env=cluster["env"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_interleaved_turns_through_the_balancer_stay_in_order_and_escalate_once(cluster):
    url = cluster["cluster"].internal_url + "/webhooks/rest/webhook"
    run_id = secrets.token_hex(4)
    conversations: dict[str, list[str]] = {}
    for i in range(8):
        red = list(RED_FLAGS)[i % 2]
        turns = [QUESTIONS[(i + k) % len(QUESTIONS)] for k in range(6)]
        turns[2 + i % 3] = red
        conversations[f"rest-cluster-{run_id}-{i}"] = turns
    served: dict[str, list[str]] = {c: [] for c in conversations}
    failures: list[str] = []
    start = threading.Barrier(len(conversations))

    def play(sender: str) -> None:
        with rest(cluster) as session:
            start.wait()
            for text in conversations[sender]:
                answer = session.post(url, json={"sender": sender, "message": text}, timeout=120)
                if answer.status_code != 200:
                    failures.append(f"{sender}: {answer.status_code}")
                    return
                served[sender].append(answer.headers.get("X-Served-By", ""))

    threads = [threading.Thread(target=play, args=(c,)) for c in conversations]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not failures, failures

    # The balancer spread the turns: both Rasa servers answered, and conversations moved between them.
    servers = {s for by in served.values() for s in by}
    assert len(servers) == 2, servers
    assert sum(len(set(by)) > 1 for by in served.values()) >= len(conversations) // 2, served

    transcripts = TranscriptReader(sa.create_engine(cluster["tracker_url"], future=True))
    store = EscalationStore(cluster["database_url"])
    rows = store.list_escalations()
    for sender, turns in conversations.items():
        said = [t.text for t in transcripts.turns(sender) if t.who == "patient"]
        assert said == turns, (sender, said)
        mine = [r for r in rows if r["conversation_id"] == sender]
        red = next(t for t in turns if t in RED_FLAGS)
        assert [r["disposition"] for r in mine] == [RED_FLAGS[red]], (sender, mine)


def test_checkins_are_sent_once_when_two_workers_run_at_once(cluster):
    today = datetime.now(ZoneInfo(TZ)).date()
    noon = datetime.combine(today, datetime.min.time(), tzinfo=ZoneInfo(TZ)).replace(hour=12).isoformat()
    numbers = ["+1555" + str(secrets.randbelow(10**7)).zfill(7) for _ in range(6)]
    for number in numbers:
        enrol = run(cluster, "aftercare.sms.enrol", number, "--procedure-date", (today - timedelta(days=1)).isoformat())
        assert enrol.wait(timeout=120) == 0, enrol.stderr.read() if enrol.stderr else ""
    workers = [run(cluster, "aftercare.sms.worker", "--once", "--at", noon) for _ in range(2)]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err
    fake = cluster["fake"]
    for number in numbers:
        assert len(fake.wait_for(number, 1)) >= 1
    store = SmsStore(EscalationStore(cluster["database_url"]).engine)
    rows = [r for r in store.checkin_rows() if r["phone"] in numbers and r["day"] == 1]
    assert sorted(r["status"] for r in rows) == ["sent"] * len(numbers)
    for number in numbers:
        assert len(fake.to(number)) == 1, (number, fake.to(number))


@pytest.mark.parametrize("method, path", [
    ("POST", "/webhooks/rest/webhook"),
    ("GET", "/webhooks/rest/"),
    ("GET", "/conversations/+15551234567/tracker"),
    ("POST", "/conversations/+15551234567/trigger_intent"),
    ("GET", "/status"),
    ("POST", "/model/parse"),
    ("GET", "/"),
    ("GET", "/webhooks/twilio/webhook/../../conversations/x/tracker"),
])
def test_the_public_listener_serves_nothing_but_twilio_and_the_web_chat(cluster, method, path):
    answer = requests.request(method, cluster["cluster"].public_url + path, timeout=30,
                              headers={"Authorization": f"Bearer {cluster['cluster'].stacks[0].rest_token()}"})
    assert answer.status_code == 404
    assert "X-Served-By" not in answer.headers  # answered by nginx, no Rasa server was asked


def test_a_signed_text_through_the_public_listener_is_answered(cluster):
    public = cluster["cluster"].public_url
    assert requests.get(public + "/webhooks/web/demo", timeout=30).status_code == 200
    webhook = f"{public}/webhooks/twilio/webhook"
    number = "+1555" + str(secrets.randbelow(10**7)).zfill(7)
    params = {"MessageSid": "SM" + secrets.token_hex(16), "From": number, "To": "+15550000000",
              "Body": "my breast is red and swollen", "FromCity": ""}
    unsigned = requests.post(webhook, data=params, timeout=30)
    assert unsigned.status_code == 403
    signature = RequestValidator(AUTH_TOKEN).compute_signature(webhook, params)
    answer = requests.post(webhook, data=params, headers={"X-Twilio-Signature": signature}, timeout=30)
    assert answer.status_code == 200
    texts = cluster["fake"].wait_for(number, 1)
    assert "call your physician" in " ".join(texts).lower()
