"""Every environment setting, read in one place with safe defaults (each is listed in README)."""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Settings:
    """Runtime configuration."""

    protocol_path: Path
    database_url: str
    tracker_store_url: str
    clinic_timezone: str
    max_message_chars: int
    action_timeout_seconds: float
    journal_path: Path
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_number: str = ""
    twilio_webhook_url: str = ""  # the public URL Twilio calls (signatures are computed over it)
    twilio_api_base: str = ""  # only to point the REST client at a test server
    clinic_name: str = "your imaging clinic"
    care_team_contact: str = "the phone number on your appointment letter"
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_api_token: str = ""
    rest_token: str = ""  # callers of the REST channel send it as "Authorization: Bearer <token>"
    classifier_path: Path = ROOT / "models" / "redflag.joblib"
    fixed_today: date | None = None  # evaluation and tests only: the clinic's date, instead of the clock

    @property
    def sms_enabled(self) -> bool:
        """SMS works only with all four Twilio settings."""
        return all((self.twilio_account_sid, self.twilio_auth_token, self.twilio_number, self.twilio_webhook_url))

    def today(self) -> date:
        """Today's date in the clinic's time zone (day counts are clinic days)."""
        if self.fixed_today is not None:
            return self.fixed_today
        return datetime.now(ZoneInfo(self.clinic_timezone)).date()


def _default_sqlite(name: str) -> str:
    return f"sqlite:///{ROOT / 'var' / name}"


def _tracker_store_url() -> str:
    """Where Rasa keeps transcripts: the same settings endpoints.yml / endpoints.postgresql.yml use."""
    if os.environ.get("AFTERCARE_TRACKER_STORE_URL"):
        return os.environ["AFTERCARE_TRACKER_STORE_URL"]
    if os.environ.get("AFTERCARE_PG_HOST"):
        user = os.environ.get("AFTERCARE_PG_USER", "postgres")
        password = os.environ.get("AFTERCARE_PG_PASSWORD", "")
        auth = f"{user}:{password}" if password else user
        return (
            f"postgresql://{auth}@{os.environ['AFTERCARE_PG_HOST']}:{os.environ.get('AFTERCARE_PG_PORT', '5432')}"
            f"/{os.environ.get('AFTERCARE_PG_DB', 'rasa')}"
        )
    return f"sqlite:///{os.environ.get('AFTERCARE_TRACKER_DB', ROOT / 'var' / 'tracker.db')}"


def load_settings() -> Settings:
    """Read the settings from the environment."""
    database_url = os.environ.get("AFTERCARE_DATABASE_URL") or _default_sqlite("aftercare.db")
    return Settings(
        protocol_path=Path(os.environ.get("AFTERCARE_PROTOCOL", ROOT / "protocols" / "ductogram.yml")),
        database_url=database_url,
        tracker_store_url=_tracker_store_url(),
        clinic_timezone=os.environ.get("AFTERCARE_CLINIC_TIMEZONE", "America/Chicago"),
        max_message_chars=int(os.environ.get("AFTERCARE_MAX_MESSAGE_CHARS", "2000")),
        action_timeout_seconds=float(os.environ.get("AFTERCARE_ACTION_TIMEOUT", "10")),
        journal_path=Path(os.environ.get("AFTERCARE_JOURNAL", ROOT / "var" / "escalations-journal.jsonl")),
        twilio_account_sid=os.environ.get("AFTERCARE_TWILIO_ACCOUNT_SID", ""),
        twilio_auth_token=os.environ.get("AFTERCARE_TWILIO_AUTH_TOKEN", ""),
        twilio_number=os.environ.get("AFTERCARE_TWILIO_NUMBER", ""),
        twilio_webhook_url=os.environ.get("AFTERCARE_TWILIO_WEBHOOK_URL", ""),
        twilio_api_base=os.environ.get("AFTERCARE_TWILIO_API_BASE", ""),
        clinic_name=os.environ.get("AFTERCARE_CLINIC_NAME", "your imaging clinic"),
        care_team_contact=os.environ.get("AFTERCARE_CARE_TEAM_CONTACT", "the phone number on your appointment letter"),
        rasa_url=os.environ.get("AFTERCARE_RASA_URL", "http://127.0.0.1:5005"),
        rasa_api_token=os.environ.get("AFTERCARE_RASA_API_TOKEN", ""),
        rest_token=os.environ.get("AFTERCARE_REST_TOKEN", ""),
        classifier_path=Path(os.environ.get("AFTERCARE_CLASSIFIER", ROOT / "models" / "redflag.joblib")),
        fixed_today=date.fromisoformat(os.environ["AFTERCARE_FIXED_TODAY"]) if os.environ.get("AFTERCARE_FIXED_TODAY") else None,
    )
