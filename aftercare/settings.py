"""Every environment setting, read in one place with safe defaults (each is listed in README).

``load_settings()`` reads the ``AFTERCARE_*`` variables into a frozen ``Settings`` (pydantic's
``BaseSettings``); a bad value is a ``SettingsError`` naming the variable. No other module reads the
environment for a setting (``stack.py`` only passes variables on to the servers it starts).
"""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any, Optional, Tuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseSettings, Field, ValidationError, validator

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "AFTERCARE_"


class SettingsError(ValueError):
    """A setting in the environment has a value that cannot be used (the message names the variable)."""


def _secret(default: str = "", env: str | None = None) -> Any:
    """A field kept out of the settings' repr (tokens and passwords)."""
    return Field(default, repr=False, **({"env": env} if env else {}))


class Settings(BaseSettings):
    """Runtime configuration: one field per ``AFTERCARE_*`` variable (the name, unless ``env`` says otherwise)."""

    protocol_path: Path = Field(ROOT / "protocols" / "ductogram.yml", env="AFTERCARE_PROTOCOL")
    database_url: str = f"sqlite:///{ROOT / 'var' / 'aftercare.db'}"  # escalation store; empty means the default
    journal_path: Path = Field(ROOT / "var" / "escalations-journal.jsonl", env="AFTERCARE_JOURNAL")
    clinic_timezone: str = "America/Chicago"
    max_message_chars: int = 2000
    action_timeout_seconds: float = Field(10.0, env="AFTERCARE_ACTION_TIMEOUT")
    # Patient messages after which action_respond starts a new Rasa session (state carried over), so that a
    # turn's cost does not grow with the conversation (README, "Performance").
    session_max_turns: int = Field(10, ge=1)
    classifier_path: Path = Field(ROOT / "models" / "redflag.joblib", env="AFTERCARE_CLASSIFIER")
    fixed_today: Optional[date] = None  # evaluation and tests only: the clinic's date, instead of the clock
    # Rasa's tracker store, where the console and the web chat read transcripts: AFTERCARE_TRACKER_STORE_URL,
    # else PostgreSQL from the AFTERCARE_PG_* pieces (as endpoints.postgresql.yml), else the SQLite file.
    tracker_db: Path = ROOT / "var" / "tracker.db"
    pg_host: str = ""
    pg_port: int = 5432
    pg_db: str = "rasa"
    pg_user: str = "postgres"
    pg_password: str = _secret()
    tracker_store_url: str = ""  # derived (see _tracker_store_url) when not set
    redis_host: str = ""  # Rasa's lock store on Redis (endpoints.postgresql.yml reads it; make cluster too)
    redis_port: int = 6379
    twilio_account_sid: str = ""
    twilio_auth_token: str = _secret()
    twilio_number: str = ""
    twilio_webhook_url: str = ""  # the public URL Twilio calls (signatures are computed over it)
    twilio_api_base: str = ""  # only to point the REST client at a test server
    clinic_name: str = "your imaging clinic"
    care_team_contact: str = "the phone number on your appointment letter"
    rasa_url: str = "http://127.0.0.1:5005"
    rasa_api_token: str = _secret()
    rest_token: str = _secret()  # callers of the REST channel send it as "Authorization: Bearer <token>"
    web_secret: str = _secret()  # binds web chat conversation ids to their visit; else made once in web_secret_file
    web_secret_file: Path = ROOT / "var" / "web-secret"
    web_origins: Tuple[str, ...] = ()  # comma-separated in the environment
    console_host: str = "127.0.0.1"
    console_port: int = 5006
    console_secure_cookies: bool = False  # "true" or "false" in the environment

    class Config:
        env_prefix = PREFIX
        frozen = True  # immutable (and hashable): use with_changes() for a changed copy

        @classmethod
        def parse_env_var(cls, field_name: str, raw_val: str) -> Any:
            if field_name == "web_origins":
                return tuple(o.strip().rstrip("/") for o in raw_val.split(",") if o.strip())
            return cls.json_loads(raw_val)

    @validator("database_url", pre=True)
    def _default_database(cls, value: Any) -> Any:
        return value or cls.__fields__["database_url"].default

    @validator("fixed_today", pre=True)
    def _iso_date(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        try:
            return date.fromisoformat(value) if value else None  # YYYY-MM-DD only, as before
        except ValueError as exc:
            raise ValueError(f"not a date (YYYY-MM-DD): {exc}") from None

    @validator("clinic_timezone")
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @validator("console_secure_cookies", pre=True)
    def _true_or_false(cls, value: Any) -> Any:
        if isinstance(value, str):
            if value.strip().lower() not in ("true", "false", ""):
                raise ValueError("must be 'true' or 'false'")
            return value.strip().lower() == "true"
        return value

    @validator("tracker_store_url", always=True)
    def _tracker_store_url(cls, value: str, values: dict[str, Any]) -> str:
        """Where Rasa keeps transcripts: the same settings endpoints.yml / endpoints.postgresql.yml use."""
        if value:
            return value
        if values.get("pg_host"):
            user, password = values.get("pg_user", ""), values.get("pg_password", "")
            auth = f"{user}:{password}" if password else user
            return f"postgresql://{auth}@{values['pg_host']}:{values.get('pg_port')}/{values.get('pg_db')}"
        return f"sqlite:///{values.get('tracker_db', ROOT / 'var' / 'tracker.db')}"

    @property
    def sms_enabled(self) -> bool:
        """SMS works only with all four Twilio settings."""
        return all((self.twilio_account_sid, self.twilio_auth_token, self.twilio_number, self.twilio_webhook_url))

    def today(self) -> date:
        """Today's date in the clinic's time zone (day counts are clinic days)."""
        if self.fixed_today is not None:
            return self.fixed_today
        return datetime.now(ZoneInfo(self.clinic_timezone)).date()

    def with_changes(self, **changes: Any) -> "Settings":
        """A validated copy with some fields changed (the environment is not read again; a derived
        tracker_store_url stays as it was unless it is among the changes)."""
        return _build({**self.dict(), **changes})


def env_name(field: str) -> str:
    """The environment variable a field is read from."""
    names = Settings.__fields__[field].field_info.extra["env_names"]
    return sorted(names)[0].upper()


def _build(values: dict[str, Any] | None = None) -> Settings:
    try:
        return Settings(**(values or {}))
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            field = str(error["loc"][0])
            name = env_name(field) if field in Settings.__fields__ else field
            problems.append(f"{name}: {error['msg']}")
        raise SettingsError("invalid setting(s): " + "; ".join(problems)) from None


def load_settings() -> Settings:
    """Read the settings from the environment (SettingsError names any variable with a bad value)."""
    return _build()
