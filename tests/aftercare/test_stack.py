"""The launcher's environment for the servers (starting them is tested end to end in tests/e2e)."""
from __future__ import annotations

from pathlib import Path

import pytest

from aftercare.stack import Stack


def test_the_action_server_binds_loopback_whatever_the_parent_environment_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SANIC_HOST", "0.0.0.0")
    env = Stack(var_dir=tmp_path, rasa_port=5905, action_port=5955, console_port=5906).env()
    assert env["SANIC_HOST"] == "127.0.0.1"


def test_extra_environment_reaches_the_servers(tmp_path: Path) -> None:
    stack = Stack(var_dir=tmp_path, rasa_port=5905, action_port=5955, console_port=5906,
                  extra_env={"AFTERCARE_FIXED_TODAY": "2026-11-19"})
    env = stack.env()
    assert env["AFTERCARE_FIXED_TODAY"] == "2026-11-19"
    assert env["AFTERCARE_ACTION_URL"] == "http://127.0.0.1:5955/webhook"


def test_servers_create_files_for_their_user_only(tmp_path: Path) -> None:
    import stat
    import sys

    from aftercare.stack import Server, make_private_dir

    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    make_private_dir(var)
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    target = var / "made-by-a-server.db"
    server = Server("t", [sys.executable, "-c", f"open({str(target)!r}, 'w').write('x')"], None, var / "logs" / "t.log")
    server.start({})
    server.process.wait(timeout=30)
    assert stat.S_IMODE(target.stat().st_mode) & 0o077 == 0
    assert stat.S_IMODE((var / "logs" / "t.log").stat().st_mode) & 0o077 == 0


def test_no_secret_is_on_any_server_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AFTERCARE_RASA_API_TOKEN", "api-secret-123")
    monkeypatch.setenv("AFTERCARE_REST_TOKEN", "rest-secret-456")
    stack = Stack(var_dir=tmp_path, rasa_port=5905, action_port=5955, console_port=5906)
    for name in ("actions", "rasa", "console", "worker"):
        command = " ".join(stack._server(name).command)
        assert "api-secret-123" not in command and "rest-secret-456" not in command
    assert stack.env()["AFTERCARE_RASA_API_TOKEN"] == "api-secret-123"
