"""``python -m aftercare.sms.enrol PHONE --procedure-date YYYY-MM-DD [--language en]``: enrol a patient
for text-message check-ins (re-enrolling the same phone replaces the date and the pending check-ins)."""
from __future__ import annotations

import argparse
import sys
from datetime import date

from aftercare.escalations import create_db_engine
from aftercare.triage.protocol import load_protocol
from aftercare.settings import load_settings
from aftercare.sms.models import EnrolmentError, SmsStore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("phone", help="E.164, e.g. +15551234567")
    parser.add_argument("--procedure-date", required=True, help="YYYY-MM-DD")
    parser.add_argument("--language", default=None, help="preferred language if known, e.g. en, es")
    args = parser.parse_args(argv)
    settings = load_settings()
    protocol = load_protocol(settings.protocol_path)
    if protocol.followup is None:
        print(f"{protocol.path} has no followup section: nothing to schedule.", file=sys.stderr)
        return 2
    try:
        when = date.fromisoformat(args.procedure_date)
    except ValueError:
        print(f"Not enrolled: {args.procedure_date!r} is not a date like 2026-11-18.", file=sys.stderr)
        return 2
    store = SmsStore(create_db_engine(settings.database_url))
    store.create_schema()
    try:
        plan = store.enrol(args.phone, when, protocol.followup, settings.clinic_timezone,
                           today=settings.today(), language=args.language)
    except EnrolmentError as exc:
        print(f"Not enrolled: {exc}.", file=sys.stderr)
        return 2
    days = ", ".join(f"day {d} ({due:%Y-%m-%d %H:%M} UTC)" for d, due in plan) or "none left"
    print(f"Enrolled {args.phone.strip()}: check-ins {days}.")
    if not settings.sms_enabled:
        print("Note: SMS is disabled until the Twilio settings are set (see README).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
