"""Nurse accounts: the command (accounts.py) and no default account."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from aftercare.console.models import ConsoleStore
from aftercare.settings import ROOT

from .support import PASSWORD


def test_accounts_command(tmp_path: Path):
    env = {"AFTERCARE_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}", "PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"}
    run = lambda args, password: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "aftercare.console.accounts", "create", *args, "--password-stdin"],
        input=password + "\n", capture_output=True, text=True, env=env, timeout=60,
    )
    assert run(["cara", "--name", "Cara Diaz, RN"], PASSWORD).returncode == 0
    taken = run(["cara"], PASSWORD)
    assert taken.returncode == 2 and "taken" in taken.stderr
    short = run(["dan"], "short")
    assert short.returncode == 2 and "12 characters" in short.stderr
    engine = sa.create_engine(env["AFTERCARE_DATABASE_URL"])
    with engine.connect() as conn:
        hashes = [r[0] for r in conn.execute(sa.text("select password_hash from nurses"))]
    assert len(hashes) == 1 and hashes[0].startswith("$argon2id$")


def test_no_default_account(tmp_path: Path):
    store = ConsoleStore(sa.create_engine(f"sqlite:///{tmp_path / 'fresh.db'}"))
    store.create_schema()
    for username in ("admin", "nurse", "root", "test"):
        assert store.authenticate(username, "admin", "127.0.0.1") is None
