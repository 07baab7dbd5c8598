"""Start and stop the assistant's servers: the action server and the Rasa server, on 127.0.0.1.

``python -m aftercare.stack`` is what ``make run`` runs: it checks the protocol file, starts both
servers, waits until they answer, prints where to talk to them, and stops them all on Ctrl-C.
The end-to-end tests, the evaluation and the benchmark use :class:`Stack` the same way.
"""
from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from aftercare.triage.protocol import ProtocolError, load_protocol
from aftercare.settings import ROOT, load_settings

BIN = Path(sys.executable).parent
#: The largest request body the Rasa server and the console accept (Sanic's own default is 100 MB);
#: the channels' own checks give a clear answer below it (a message over 64 KB gets 413 with a reason).
PUBLIC_REQUEST_MAX_BYTES = 128 * 1024
#: The action server gets the whole tracker from Rasa on 127.0.0.1: a long conversation is larger.
ACTION_REQUEST_MAX_BYTES = 16 * 1024 * 1024


#: Sanic workers of the Rasa server by default: one per core of this machine's two. Several workers need a
#: shared lock store (endpoints.yml's FileLockStore or Redis); SANIC_WORKERS in the environment overrides it.
DEFAULT_RASA_WORKERS = 2


#: Files the servers create hold health information (databases, logs) or secrets (tokens).
PRIVATE_UMASK = 0o077


def make_private_dir(path: Path) -> None:
    """Create ``path`` (and its log folder) readable by this user only; tighten it if it exists."""
    path.mkdir(parents=True, exist_ok=True)
    path.chmod(0o700)
    logs = path / "logs"
    logs.mkdir(exist_ok=True)
    logs.chmod(0o700)


@dataclass
class Server:
    """One child process and the URL that tells it is ready."""

    name: str
    command: list[str]
    ready_url: str | None  # None: ready once it has run for a second without exiting
    log_path: Path
    process: subprocess.Popen | None = None
    started: float = 0.0
    env: dict[str, str] = field(default_factory=dict)  # this server's own settings, over the stack's

    def start(self, env: dict[str, str]) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = os.fdopen(os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
        self.process = subprocess.Popen(
            self.command, cwd=ROOT, env={**env, **self.env}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            umask=PRIVATE_UMASK,  # databases, logs and tokens readable by the service user only
        )
        log.close()
        self.started = time.monotonic()

    def is_ready(self) -> bool:
        if self.ready_url is None:
            return self.alive() and time.monotonic() - self.started > 1
        try:
            with urllib.request.urlopen(self.ready_url, timeout=2) as answer:
                return answer.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15) -> None:
        if not self.alive():
            return
        assert self.process is not None
        try:
            os.killpg(self.process.pid, sig)
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=timeout)
        except ProcessLookupError:
            pass


@dataclass
class Stack:
    """The action server and the Rasa server, configured by ports and environment."""

    model: Path = ROOT / "models" / "aftercare.tar.gz"
    rasa_port: int = 5005
    action_port: int = 5055
    console_port: int = 5006
    endpoints: str = "endpoints.yml"
    var_dir: Path = ROOT / "var"
    extra_env: dict[str, str] = field(default_factory=dict)
    servers: dict[str, Server] = field(default_factory=dict)

    def api_token(self) -> str:
        """The Rasa HTTP API token: AFTERCARE_RASA_API_TOKEN, or one made once in var/rasa-api-token."""
        return self._token("AFTERCARE_RASA_API_TOKEN", "rasa-api-token")

    def rest_token(self) -> str:
        """The REST channel's bearer token: AFTERCARE_REST_TOKEN, or one made once in var/rest-token."""
        return self._token("AFTERCARE_REST_TOKEN", "rest-token")

    def _token(self, variable: str, file_name: str) -> str:
        configured = self.extra_env.get(variable) or os.environ.get(variable)
        if configured:
            return configured
        path = self.var_dir / file_name
        if not path.exists():
            make_private_dir(self.var_dir)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
        return path.read_text().strip()

    def rasa_workers(self) -> int:
        """Sanic workers of the Rasa server: SANIC_WORKERS, else DEFAULT_RASA_WORKERS."""
        return int(self.extra_env.get("SANIC_WORKERS") or os.environ.get("SANIC_WORKERS") or DEFAULT_RASA_WORKERS)

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.setdefault("RASA_TELEMETRY_ENABLED", "false")
        env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        env.setdefault("AFTERCARE_DATABASE_URL", f"sqlite:///{self.var_dir / 'aftercare.db'}")
        env.setdefault("AFTERCARE_JOURNAL", str(self.var_dir / "escalations-journal.jsonl"))
        env.setdefault("AFTERCARE_TRACKER_DB", str(self.var_dir / "tracker.db"))
        env.setdefault("AFTERCARE_LOCK_DIR", str(self.var_dir / "locks"))
        env["AFTERCARE_ACTION_URL"] = f"http://127.0.0.1:{self.action_port}/webhook"
        env["AFTERCARE_RASA_URL"] = f"http://127.0.0.1:{self.rasa_port}"
        env["AFTERCARE_RASA_API_TOKEN"] = self.api_token()
        env["AFTERCARE_REST_TOKEN"] = self.rest_token()
        # The action server has no authentication; rasa-sdk binds 0.0.0.0 unless SANIC_HOST says otherwise.
        env["SANIC_HOST"] = "127.0.0.1"  # whatever the parent environment had: the action server has no login
        env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
        env.update(self.extra_env)
        return env

    def _server(self, name: str) -> Server:
        logs = self.var_dir / "logs"
        if name == "worker":
            return Server("worker", [str(BIN / "python"), "-m", "aftercare.sms.worker"], None, logs / "worker.log")
        if name == "console":
            return Server(
                "console",
                [str(BIN / "python"), "-m", "aftercare.console", "--port", str(self.console_port)],
                f"http://127.0.0.1:{self.console_port}/health",
                logs / "console.log",
                env={"SANIC_REQUEST_MAX_SIZE": str(PUBLIC_REQUEST_MAX_BYTES)},
            )
        if name == "actions":
            return Server(
                "actions",
                [str(BIN / "rasa"), "run", "actions", "--actions", "actions", "--port", str(self.action_port)],
                f"http://127.0.0.1:{self.action_port}/health",
                logs / "actions.log",
                env={"SANIC_REQUEST_MAX_SIZE": str(ACTION_REQUEST_MAX_BYTES)},
            )
        return Server(
            "rasa",
            [
                # The HTTP API (used by the SMS check-in worker) always requires a token; the wrapper reads
                # it from the environment so that it never appears in the process list.
                str(BIN / "python"), "-m", "aftercare.rasa_server", "--model", str(self.model),
                "--endpoints", self.endpoints, "--credentials", "credentials.yml",
                "--interface", "127.0.0.1", "--port", str(self.rasa_port),
            ],
            f"http://127.0.0.1:{self.rasa_port}/webhooks/rest/",
            logs / "rasa.log",
            env={"SANIC_REQUEST_MAX_SIZE": str(PUBLIC_REQUEST_MAX_BYTES),
                 "SANIC_WORKERS": str(self.rasa_workers())},
        )

    def start(self, names: tuple[str, ...] = ("actions", "rasa", "console"), timeout: float = 180) -> float:
        """Start the named servers and wait until all answer; returns the seconds it took."""
        make_private_dir(self.var_dir)
        env = self.env()
        began = time.monotonic()
        for name in names:
            server = self._server(name)
            server.start(env)
            self.servers[name] = server
        try:
            for name in names:
                self.wait_ready(name, timeout - (time.monotonic() - began))
        except BaseException:
            self.stop()  # never leave the servers that did start running without an owner
            raise
        return time.monotonic() - began

    def wait_ready(self, name: str, timeout: float) -> None:
        server = self.servers[name]
        deadline = time.monotonic() + max(timeout, 1)
        while time.monotonic() < deadline:
            if server.is_ready():
                return
            if not server.alive():
                raise RuntimeError(f"{name} server exited; see {server.log_path}")
            time.sleep(0.25)
        raise RuntimeError(f"{name} server not ready after {timeout:.0f}s; see {server.log_path}")

    def restart(self, name: str, timeout: float = 120) -> None:
        """Start a server that was stopped (or killed) again."""
        self.servers[name].stop()
        server = self._server(name)
        server.start(self.env())
        self.servers[name] = server
        self.wait_ready(name, timeout)

    def stop(self) -> None:
        for server in reversed(list(self.servers.values())):
            server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run the ductogram aftercare assistant on 127.0.0.1.")
    parser.add_argument("--rasa-port", type=int, default=5005)
    parser.add_argument("--action-port", type=int, default=5055)
    parser.add_argument("--console-port", type=int, default=5006)
    parser.add_argument("--endpoints", default=os.environ.get("AFTERCARE_ENDPOINTS", "endpoints.yml"))
    parser.add_argument("--var-dir", type=Path, default=ROOT / "var", help="databases and logs")
    parser.add_argument(
        "--then", nargs=argparse.REMAINDER,
        help="run this command once the servers are ready ({rasa_url} is replaced), then stop them",
    )
    args = parser.parse_args(argv)
    settings = load_settings()
    try:
        protocol = load_protocol(settings.protocol_path)
    except ProtocolError as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        return 2
    stack = Stack(
        rasa_port=args.rasa_port, action_port=args.action_port, console_port=args.console_port,
        endpoints=args.endpoints, var_dir=args.var_dir,
    )
    print(f"Protocol {protocol.id} version {protocol.version}. Starting servers (about 30 s)...", flush=True)
    names = ("actions", "rasa", "console") + (("worker",) if settings.sms_enabled else ())
    if not settings.sms_enabled:
        print("SMS disabled: set the AFTERCARE_TWILIO_* settings to text patients (see README).", flush=True)

    def ready(took: float) -> int | None:
        if args.then:
            url = f"http://127.0.0.1:{args.rasa_port}"
            print(f"Ready in {took:.0f} s; running {args.then[0]}", flush=True)
            return subprocess.call([a.replace("{rasa_url}", url) for a in args.then], cwd=ROOT)
        print(
            f"\nReady in {took:.0f} s.\n"
            f"  REST channel:  POST http://127.0.0.1:{args.rasa_port}/webhooks/rest/webhook\n"
            f"                 body {{\"sender\": \"<conversation id>\", \"message\": \"<text>\"}}\n"
            f"  Web chat demo: http://127.0.0.1:{args.rasa_port}/webhooks/web/demo\n"
            f"  Terminal chat: make chat   (in another terminal)\n"
            f"  Nurse console: http://127.0.0.1:{args.console_port}/   (first account: make nurse NURSE=<name>)\n"
            f"  Logs:          {stack.var_dir / 'logs'}\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )
        return None

    return serve(lambda: stack.start(names), ready, lambda: list(stack.servers.values()), stack.stop)


def serve(start: Callable[[], float], ready: Callable[[float], int | None],
          servers: Callable[[], list[Server]], stop: Callable[[], None]) -> int:
    """Start the servers, tell ``ready`` how long it took (a code it returns ends the run at once), then
    run until Ctrl-C, SIGTERM or a server that stops by itself (exit 1). The servers are always stopped."""
    stopping = False

    def on_signal(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    try:
        code = ready(start())
        if code is not None:
            return code
        while not stopping:
            for server in servers():
                if not server.alive():
                    print(f"{server.name} server stopped unexpectedly; see {server.log_path}", file=sys.stderr)
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        return 1
    finally:
        print("\nStopping...", flush=True)
        stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
