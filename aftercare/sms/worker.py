"""``python -m aftercare.sms.worker``: send the check-ins that are due, through Rasa, as SMS.

Each round: recover claims left by a worker that died (see SmsStore.recover), skip quiet hours, then
for each due check-in claim it, ask Rasa to run the check-in (``POST /conversations/<phone>/
trigger_intent?output_channel=twilio``, which sends the text and keeps it in the transcript) and mark
it sent. A failed trigger goes back to pending (failed after several attempts). After a crash or a
restart nothing is sent twice and nothing due is lost.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import requests

from aftercare.escalations import create_db_engine
from aftercare.triage.protocol import Followup, in_quiet_hours, load_protocol
from aftercare.settings import Settings, load_settings
from aftercare.sms.models import SmsStore

logger = logging.getLogger("aftercare.sms.worker")
DEFAULT_LEASE = timedelta(minutes=5)


def trigger_checkin(settings: Settings, phone: str, timeout: float = 60) -> None:
    """Ask Rasa to run the check-in for this conversation and send it by SMS; raises on failure."""
    answer = requests.post(
        f"{settings.rasa_url}/conversations/{phone}/trigger_intent",
        params={"output_channel": "twilio", "token": settings.rasa_api_token},
        json={"name": "checkin"},
        timeout=timeout,
    )
    if answer.status_code != 200:
        raise RuntimeError(f"trigger_intent answered {answer.status_code}")


def _failure(exc: Exception) -> str:
    """What went wrong, without the URL (phone, token) that requests puts in its messages."""
    if isinstance(exc, RuntimeError):
        return str(exc)  # our own "trigger_intent answered 500"
    return type(exc).__name__


def run_once(store: SmsStore, settings: Settings, followup: Followup, *, at: datetime | None = None,
             lease: timedelta = DEFAULT_LEASE, exit_after: int | None = None) -> int:
    """One round; returns how many check-ins were sent."""
    # Stored times are UTC (SQLite keeps no offset), so every comparison is made in UTC.
    at = (at or datetime.now(timezone.utc)).astimezone(timezone.utc)
    # Claims and recovery use the real clock (texts sent are stamped with it); `at` only decides what is due.
    recovered = store.recover(lease, datetime.now(timezone.utc))
    if recovered:
        logger.warning("recovered %d check-in(s) claimed by a worker that stopped", recovered)
    local = at.astimezone(ZoneInfo(settings.clinic_timezone)).time()
    if in_quiet_hours(local, followup.quiet_hours):
        return 0
    sent = 0
    for checkin in store.due(at):
        claimed_at = datetime.now(timezone.utc)
        if not store.claim(checkin.id, claimed_at):
            continue
        try:
            trigger_checkin(settings, checkin.phone)
        except (requests.RequestException, RuntimeError) as exc:
            # The request's URL holds the phone number and the API token: log the kind of failure only.
            reason = _failure(exc)
            logger.error("check-in %d not sent: %s", checkin.id, reason)
            store.release(checkin.id, reason)
            continue
        delivery = store.delivery_since(checkin.phone, claimed_at)
        if delivery != "sent":
            # Rasa answered, but the provider did not take the text: retried, and listed for nurses if it never goes.
            reason = "the SMS provider did not accept the text" if delivery == "failed" else "no text was sent"
            logger.error("check-in %d not sent: %s", checkin.id, reason)
            store.release(checkin.id, reason)
            continue
        if exit_after is not None and sent + 1 >= exit_after:
            logger.error("exiting on purpose after a send, before recording it (--exit-after)")
            os._exit(3)
        store.mark_sent(checkin.id, datetime.now(timezone.utc))
        sent += 1
    return sent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--once", action="store_true", help="one round, then exit")
    parser.add_argument("--interval", type=float, default=30.0, help="seconds between rounds")
    parser.add_argument("--lease-seconds", type=float, default=DEFAULT_LEASE.total_seconds(),
                        help="after how long a claim of a stopped worker is recovered")
    parser.add_argument("--at", type=datetime.fromisoformat, default=None,
                        help="for tests: run the rounds as if it were this time (ISO, with offset)")
    parser.add_argument("--exit-after", type=int, default=None,
                        help="for crash tests: exit right after the Nth send, before recording it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    settings = load_settings()
    protocol = load_protocol(settings.protocol_path)
    if not settings.sms_enabled or protocol.followup is None:
        logger.warning("SMS disabled (no Twilio settings or no followup in the protocol): the worker has nothing to do")
        return 0
    store = SmsStore(create_db_engine(settings.database_url))
    store.create_schema()
    lease = timedelta(seconds=args.lease_seconds)
    while True:
        sent = run_once(store, settings, protocol.followup, at=args.at, lease=lease, exit_after=args.exit_after)
        if sent:
            logger.info("sent %d check-in(s)", sent)
        if args.once:
            return 0
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
