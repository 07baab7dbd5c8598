"""Settings (aftercare/settings.py): defaults, every variable, clear errors, the tracker store URL, and
that no other module reads the environment for a setting."""
from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

import pytest

from aftercare.settings import ROOT, Settings, SettingsError, env_name, load_settings


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No AFTERCARE_* variable from the machine running the tests."""
    for name in list(os.environ):
        if name.upper().startswith("AFTERCARE_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_defaults(clean_env):
    s = load_settings()
    assert s.protocol_path == ROOT / "protocols" / "ductogram.yml"
    assert s.database_url == f"sqlite:///{ROOT / 'var' / 'aftercare.db'}"
    assert s.tracker_store_url == f"sqlite:///{ROOT / 'var' / 'tracker.db'}"
    assert s.journal_path == ROOT / "var" / "escalations-journal.jsonl"
    assert s.classifier_path == ROOT / "models" / "redflag.joblib"
    assert (s.clinic_timezone, s.max_message_chars, s.action_timeout_seconds) == ("America/Chicago", 2000, 10.0)
    assert s.fixed_today is None and not s.sms_enabled
    assert (s.twilio_account_sid, s.twilio_auth_token, s.twilio_number, s.twilio_webhook_url, s.twilio_api_base) == ("",) * 5
    assert (s.clinic_name, s.care_team_contact) == ("your imaging clinic", "the phone number on your appointment letter")
    assert (s.rasa_url, s.rasa_api_token, s.rest_token) == ("http://127.0.0.1:5005", "", "")
    assert (s.web_secret, s.web_secret_file, s.web_origins) == ("", ROOT / "var" / "web-secret", ())
    assert (s.console_host, s.console_port, s.console_secure_cookies) == ("127.0.0.1", 5006, False)


@pytest.mark.parametrize("variable, raw, field, expected", [
    ("AFTERCARE_PROTOCOL", "/p/other.yml", "protocol_path", Path("/p/other.yml")),
    ("AFTERCARE_DATABASE_URL", "postgresql://u@h/db", "database_url", "postgresql://u@h/db"),
    ("AFTERCARE_DATABASE_URL", "", "database_url", f"sqlite:///{ROOT / 'var' / 'aftercare.db'}"),
    ("AFTERCARE_JOURNAL", "/j/journal.jsonl", "journal_path", Path("/j/journal.jsonl")),
    ("AFTERCARE_CLINIC_TIMEZONE", "Europe/Madrid", "clinic_timezone", "Europe/Madrid"),
    ("AFTERCARE_MAX_MESSAGE_CHARS", "500", "max_message_chars", 500),
    ("AFTERCARE_ACTION_TIMEOUT", "2.5", "action_timeout_seconds", 2.5),
    ("AFTERCARE_CLASSIFIER", "/m/c.joblib", "classifier_path", Path("/m/c.joblib")),
    ("AFTERCARE_FIXED_TODAY", "2026-11-22", "fixed_today", date(2026, 11, 22)),
    ("AFTERCARE_FIXED_TODAY", "", "fixed_today", None),
    ("AFTERCARE_TRACKER_STORE_URL", "sqlite:///elsewhere.db", "tracker_store_url", "sqlite:///elsewhere.db"),
    ("AFTERCARE_TWILIO_ACCOUNT_SID", "AC1", "twilio_account_sid", "AC1"),
    ("AFTERCARE_TWILIO_AUTH_TOKEN", "tw-secret", "twilio_auth_token", "tw-secret"),
    ("AFTERCARE_TWILIO_NUMBER", "+15550000000", "twilio_number", "+15550000000"),
    ("AFTERCARE_TWILIO_WEBHOOK_URL", "https://c.example/hook", "twilio_webhook_url", "https://c.example/hook"),
    ("AFTERCARE_TWILIO_API_BASE", "http://127.0.0.1:9", "twilio_api_base", "http://127.0.0.1:9"),
    ("AFTERCARE_CLINIC_NAME", "Clinic", "clinic_name", "Clinic"),
    ("AFTERCARE_CARE_TEAM_CONTACT", "555-0100", "care_team_contact", "555-0100"),
    ("AFTERCARE_RASA_URL", "http://127.0.0.1:6005", "rasa_url", "http://127.0.0.1:6005"),
    ("AFTERCARE_RASA_API_TOKEN", "api-tok", "rasa_api_token", "api-tok"),
    ("AFTERCARE_REST_TOKEN", "rest-tok", "rest_token", "rest-tok"),
    ("AFTERCARE_WEB_SECRET", "web-key", "web_secret", "web-key"),
    ("AFTERCARE_WEB_SECRET_FILE", "/s/web-secret", "web_secret_file", Path("/s/web-secret")),
    ("AFTERCARE_WEB_ORIGINS", " https://a.example/ ,,https://b.example", "web_origins", ("https://a.example", "https://b.example")),
    ("AFTERCARE_CONSOLE_HOST", "0.0.0.0", "console_host", "0.0.0.0"),
    ("AFTERCARE_CONSOLE_PORT", "7006", "console_port", 7006),
    ("AFTERCARE_CONSOLE_SECURE_COOKIES", "TRUE", "console_secure_cookies", True),
    ("AFTERCARE_CONSOLE_SECURE_COOKIES", "false", "console_secure_cookies", False),
])
def test_each_variable_is_read(clean_env, variable, raw, field, expected):
    clean_env.setenv(variable, raw)
    assert getattr(load_settings(), field) == expected
    assert env_name(field) == variable


@pytest.mark.parametrize("variable, raw", [
    ("AFTERCARE_MAX_MESSAGE_CHARS", "lots"),
    ("AFTERCARE_ACTION_TIMEOUT", "ten"),
    ("AFTERCARE_FIXED_TODAY", "22/11/2026"),
    ("AFTERCARE_FIXED_TODAY", "2026-13-01"),
    ("AFTERCARE_CLINIC_TIMEZONE", "Mars/Olympus_Mons"),
    ("AFTERCARE_CONSOLE_PORT", "http"),
    ("AFTERCARE_CONSOLE_SECURE_COOKIES", "maybe"),
    ("AFTERCARE_PG_PORT", "five"),
])
def test_a_bad_value_names_its_variable(clean_env, variable, raw):
    clean_env.setenv(variable, raw)
    with pytest.raises(SettingsError, match=variable):
        load_settings()


def test_tracker_store_url_from_the_postgresql_pieces_or_the_sqlite_file(clean_env):
    clean_env.setenv("AFTERCARE_TRACKER_DB", "/data/tracker.db")
    assert load_settings().tracker_store_url == "sqlite:////data/tracker.db"
    clean_env.setenv("AFTERCARE_PG_HOST", "db.internal")
    assert load_settings().tracker_store_url == "postgresql://postgres@db.internal:5432/rasa"
    for name, value in (("PG_PORT", "6543"), ("PG_DB", "aftercare"), ("PG_USER", "rasa"), ("PG_PASSWORD", "pw")):
        clean_env.setenv(f"AFTERCARE_{name}", value)
    assert load_settings().tracker_store_url == "postgresql://rasa:pw@db.internal:6543/aftercare"
    clean_env.setenv("AFTERCARE_TRACKER_STORE_URL", "postgresql://other/db")
    assert load_settings().tracker_store_url == "postgresql://other/db"


def test_settings_are_immutable_and_changed_copies_are_validated(clean_env):
    s = load_settings()
    with pytest.raises(TypeError):
        s.database_url = "sqlite:///other.db"  # type: ignore[misc]
    changed = s.with_changes(database_url="sqlite:///other.db", fixed_today=date(2026, 11, 22))
    assert (changed.database_url, changed.today()) == ("sqlite:///other.db", date(2026, 11, 22))
    assert s.database_url != changed.database_url and s.tracker_store_url == changed.tracker_store_url
    with pytest.raises(SettingsError, match="AFTERCARE_MAX_MESSAGE_CHARS"):
        s.with_changes(max_message_chars="many")
    with pytest.raises(SettingsError, match="no_such_setting"):
        s.with_changes(no_such_setting=1)


def test_sms_needs_all_four_twilio_settings(clean_env):
    four = {"twilio_account_sid": "AC1", "twilio_auth_token": "t", "twilio_number": "+15550000000",
            "twilio_webhook_url": "https://c.example/hook"}
    s = load_settings()
    assert s.with_changes(**four).sms_enabled
    for missing in four:
        assert not s.with_changes(**{**four, missing: ""}).sms_enabled, missing


def test_secrets_stay_out_of_the_repr(clean_env):
    for variable in ("AFTERCARE_RASA_API_TOKEN", "AFTERCARE_REST_TOKEN", "AFTERCARE_WEB_SECRET",
                     "AFTERCARE_TWILIO_AUTH_TOKEN", "AFTERCARE_PG_PASSWORD"):
        clean_env.setenv(variable, f"secret-of-{variable.lower()}")
    assert "secret-of" not in repr(load_settings())


# ----------------------------------------------------------------------------- one place reads the environment
ENV_READ = re.compile(r"\bos\.environ\b|\bos\.getenv\b|\bgetenv\(|\bfrom os import[^\n]*\b(environ|getenv)\b")
ALLOWED = {"aftercare/settings.py", "aftercare/stack.py"}  # stack.py passes variables on to the servers it starts


def test_only_settings_reads_the_environment():
    files = [*(ROOT / "aftercare").rglob("*.py"), *(ROOT / "actions").rglob("*.py"), ROOT / "scripts" / "chat.py"]
    readers = sorted(
        str(path.relative_to(ROOT)) for path in files
        if ENV_READ.search(path.read_text(encoding="utf-8")) and str(path.relative_to(ROOT)) not in ALLOWED
    )
    assert readers == [], f"read the environment through aftercare.settings.load_settings(): {readers}"
    assert all(name.startswith("AFTERCARE_") for field in Settings.__fields__ for name in [env_name(field)])
