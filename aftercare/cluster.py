"""Several Rasa servers and action servers behind nginx, sharing PostgreSQL and Redis: Rasa scaled out.

``python -m aftercare.cluster`` (``make cluster``) starts, on this machine, what a production deployment
spreads over several: ``--nodes`` nodes, each with an action server and a Rasa server (and an SMS
check-in worker when SMS is configured), one nurse console, and nginx in front::

    patients' phones (Twilio) / web chat          trusted callers (REST, check-in workers)
                  |                                              |
        nginx public listener (--public-port)      nginx internal listener (--internal-port)
        only /webhooks/twilio/webhook, /webhooks/web/*      everything Rasa serves
                  \\______________________  ____________________/
                                         \\/
                    Rasa server 1 ... Rasa server N   (round robin; Redis lock store)
                                         |
                     nginx actions listener (--actions-port) -> action server 1 ... N
                                         |
              PostgreSQL: Rasa's tracker store, escalations, check-ins, console accounts

Every Rasa server reads and writes the same tracker store and takes the same Redis lock per
conversation, so consecutive turns of one conversation may land on different servers and stay in
order. The settings come from the environment as for endpoints.postgresql.yml (``AFTERCARE_PG_*``,
``AFTERCARE_REDIS_*``, ``AFTERCARE_DATABASE_URL``; see README, "Several servers").
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from aftercare.settings import ROOT, Settings, load_settings
from aftercare.stack import ACTION_REQUEST_MAX_BYTES, PUBLIC_REQUEST_MAX_BYTES, Server, Stack, make_private_dir, serve

NGINX = Path(shutil.which("nginx") or "/usr/sbin/nginx")
#: Routes of the Rasa server that patients' devices and Twilio must reach; nothing else is public.
PUBLIC_LOCATIONS = ("= /webhooks/twilio/webhook", "/webhooks/web/")


def nginx_config(prefix: Path, *, public_port: int, internal_port: int, actions_port: int,
                 rasa_ports: list[int], action_ports: list[int], served_by_header: bool = False) -> str:
    """nginx's configuration: three listeners on 127.0.0.1 over two round-robin upstreams.

    ``served_by_header`` adds the upstream's address to each answer (tests use it to see the spread).
    """
    def upstream(name: str, ports: list[int]) -> str:
        servers = "".join(f"    server 127.0.0.1:{p} max_fails=0;\n" for p in ports)
        return f"  upstream {name} {{\n{servers}    keepalive 16;\n  }}\n"

    proxy = (
        "      proxy_http_version 1.1;\n"
        '      proxy_set_header Connection "";\n'
        "      proxy_set_header Host $host;\n"
        "      proxy_set_header X-Forwarded-For $remote_addr;\n"
        "      proxy_set_header X-Forwarded-Proto $scheme;\n"
        "      proxy_read_timeout 120s;\n"
        # a POST that fails on one server is not replayed on another: it may have been handled there
        "      proxy_next_upstream off;\n"
        + ("      add_header X-Served-By $upstream_addr always;\n" if served_by_header else "")
    )
    public = "".join(
        f"    location {loc} {{\n{proxy}      proxy_pass http://rasa;\n    }}\n" for loc in PUBLIC_LOCATIONS
    )
    return (
        "# Written by aftercare/cluster.py for this run; not edited by hand.\n"
        + ("user root;\n" if os.geteuid() == 0 else "")  # else nginx, started as root, works as nobody
        + "worker_processes 1;\n"
        f"pid {prefix}/nginx.pid;\n"
        f"error_log {prefix}/error.log warn;\n"
        "daemon off;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        # URLs of the HTTP API hold conversation ids (phone numbers) and tokens: no access log.
        "  access_log off;\n"
        "  server_tokens off;\n"
        f"  client_body_temp_path {prefix}/client_body;\n"
        f"  proxy_temp_path {prefix}/proxy;\n"
        f"  fastcgi_temp_path {prefix}/fastcgi;\n"
        f"  uwsgi_temp_path {prefix}/uwsgi;\n"
        f"  scgi_temp_path {prefix}/scgi;\n"
        + upstream("rasa", rasa_ports)
        + upstream("actions", action_ports)
        + f"  server {{\n    listen 127.0.0.1:{public_port};\n"
        f"    client_max_body_size {PUBLIC_REQUEST_MAX_BYTES // 1024}k;\n"
        + public
        + "    location / { return 404; }\n  }\n"
        f"  server {{\n    listen 127.0.0.1:{internal_port};\n"
        f"    client_max_body_size {PUBLIC_REQUEST_MAX_BYTES // 1024}k;\n"
        f"    location / {{\n{proxy}      proxy_pass http://rasa;\n    }}\n  }}\n"
        f"  server {{\n    listen 127.0.0.1:{actions_port};\n"
        f"    client_max_body_size {ACTION_REQUEST_MAX_BYTES // (1024 * 1024)}m;\n"
        f"    location / {{\n{proxy}      proxy_pass http://actions;\n    }}\n  }}\n"
        "}\n"
    )


@dataclass
class Cluster:
    """``nodes`` action + Rasa servers (and SMS workers), one console, nginx in front; all on 127.0.0.1."""

    ports: list[int]  # public, internal, actions listeners, console, then a Rasa and an action port per node
    nodes: int = 2
    var_dir: Path = ROOT / "var" / "cluster"
    extra_env: dict[str, str] = field(default_factory=dict)
    sms_workers: bool = False
    served_by_header: bool = False
    stacks: list[Stack] = field(default_factory=list)
    nginx: Server | None = None

    @property
    def public_url(self) -> str:
        return f"http://127.0.0.1:{self.ports[0]}"

    @property
    def internal_url(self) -> str:
        return f"http://127.0.0.1:{self.ports[1]}"

    def _shared(self) -> Stack:
        """Tokens are made once for the whole cluster (every node must accept the same ones)."""
        return Stack(var_dir=self.var_dir, extra_env=self.extra_env)

    def start(self, timeout: float = 300) -> float:
        """Start nginx, every node and the console; wait until all answer. Returns the seconds it took."""
        if len(self.ports) < 4 + 2 * self.nodes:
            raise ValueError("a cluster needs 4 ports plus 2 per node")
        make_private_dir(self.var_dir)
        shared = self._shared()
        env = {
            "SANIC_WORKERS": "1",  # scaled by nodes here; each node's Rasa server is one process
            **self.extra_env,
            "AFTERCARE_REST_TOKEN": shared.rest_token(),
            "AFTERCARE_RASA_API_TOKEN": shared.api_token(),
            "AFTERCARE_ACTION_URL": f"http://127.0.0.1:{self.ports[2]}/webhook",
            "AFTERCARE_RASA_URL": self.internal_url,  # check-in workers go through the balancer too
            "AFTERCARE_JOURNAL": str(self.var_dir / "escalations-journal.jsonl"),
        }
        rasa_ports = self.ports[4::2][: self.nodes]
        action_ports = self.ports[5::2][: self.nodes]
        began = time.monotonic()
        try:
            self._start_nginx(rasa_ports, action_ports)
            for i in range(self.nodes):
                node = Stack(rasa_port=rasa_ports[i], action_port=action_ports[i], console_port=self.ports[3],
                             endpoints="endpoints.postgresql.yml", var_dir=self.var_dir / f"node-{i + 1}",
                             extra_env=dict(env))
                names = ("actions", "rasa") + (("console",) if i == 0 else ()) + (("worker",) if self.sms_workers else ())
                self.stacks.append(node)
                node.start(names, timeout=max(timeout - (time.monotonic() - began), 1))
        except BaseException:
            self.stop()
            raise
        return time.monotonic() - began

    def _start_nginx(self, rasa_ports: list[int], action_ports: list[int]) -> None:
        prefix = self.var_dir / "nginx"
        prefix.mkdir(parents=True, exist_ok=True)
        conf = prefix / "nginx.conf"
        conf.write_text(nginx_config(prefix, public_port=self.ports[0], internal_port=self.ports[1],
                                     actions_port=self.ports[2], rasa_ports=rasa_ports, action_ports=action_ports,
                                     served_by_header=self.served_by_header))
        self.nginx = Server("nginx", [str(NGINX), "-p", str(prefix), "-c", str(conf), "-e", str(prefix / "error.log")],
                            None, self.var_dir / "logs" / "nginx.log")
        self.nginx.start({})
        deadline = time.monotonic() + 10
        while not self.nginx.is_ready():
            if not self.nginx.alive() or time.monotonic() > deadline:
                raise RuntimeError(f"nginx did not start; see {prefix / 'error.log'}")
            time.sleep(0.2)

    def servers(self) -> list[Server]:
        """Every running process of the cluster."""
        return [s for stack in self.stacks for s in stack.servers.values()] + ([self.nginx] if self.nginx else [])

    def stop(self) -> None:
        for stack in reversed(self.stacks):
            stack.stop()
        if self.nginx is not None:
            self.nginx.stop(signal.SIGQUIT)


def production_env(settings: Settings) -> dict[str, str]:
    """What endpoints.postgresql.yml and the stores read, from the settings, with this machine's
    PostgreSQL (database ``aftercare``) and Redis on 127.0.0.1 where nothing is set."""
    host = settings.pg_host or "127.0.0.1"
    auth = settings.pg_user + (f":{settings.pg_password}" if settings.pg_password else "")
    db = settings.pg_db if settings.pg_host else "aftercare"
    database_url = settings.database_url
    if database_url.startswith("sqlite"):
        database_url = f"postgresql://{auth}@{host}:{settings.pg_port}/{db}"
    return {
        "AFTERCARE_PG_HOST": host, "AFTERCARE_PG_PORT": str(settings.pg_port), "AFTERCARE_PG_DB": db,
        "AFTERCARE_PG_USER": settings.pg_user, "AFTERCARE_PG_PASSWORD": settings.pg_password,
        "AFTERCARE_REDIS_HOST": settings.redis_host or "127.0.0.1", "AFTERCARE_REDIS_PORT": str(settings.redis_port),
        "AFTERCARE_DATABASE_URL": database_url,
    }


def ensure_database(url: str) -> None:
    """Create the PostgreSQL database of ``url`` when it does not exist yet (Rasa needs it to exist)."""
    import sqlalchemy as sa  # noqa: PLC0415

    target = sa.engine.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT", future=True)
    try:
        with admin.connect() as conn:
            found = conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": target.database}).first()
            if not found:
                conn.execute(sa.text(f'CREATE DATABASE "{target.database}"'))
    finally:
        admin.dispose()


def drop_database(url: str) -> None:
    """Drop the PostgreSQL database of ``url`` if it exists, closing its connections (for throwaway
    databases: the benchmark's and the tests')."""
    import sqlalchemy as sa  # noqa: PLC0415

    target = sa.engine.make_url(url)
    admin = sa.create_engine(target.set(database="postgres"), isolation_level="AUTOCOMMIT", future=True)
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{target.database}" WITH (FORCE)'))
    finally:
        admin.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run several Rasa and action servers behind nginx on this machine.")
    parser.add_argument("--nodes", type=int, default=2)
    parser.add_argument("--public-port", type=int, default=8080, help="what Twilio and the web chat reach")
    parser.add_argument("--internal-port", type=int, default=5005, help="REST channel and HTTP API (trusted callers)")
    parser.add_argument("--actions-port", type=int, default=5055)
    parser.add_argument("--console-port", type=int, default=5006)
    parser.add_argument("--first-node-port", type=int, default=7001, help="nodes use ports from here up, two each")
    parser.add_argument("--var-dir", type=Path, default=ROOT / "var" / "cluster")
    args = parser.parse_args(argv)
    if not NGINX.exists():
        print("nginx is not installed (make cluster installs Debian's package)", file=sys.stderr)
        return 2
    settings = load_settings()
    env = production_env(settings)
    try:
        ensure_database(env["AFTERCARE_DATABASE_URL"])
    except Exception as exc:  # noqa: BLE001 (any driver error: say what to fix)
        print(f"Cannot reach PostgreSQL ({type(exc).__name__}); set AFTERCARE_PG_* (README, \"Several servers\")",
              file=sys.stderr)
        return 2
    ports = [args.public_port, args.internal_port, args.actions_port, args.console_port]
    ports += list(range(args.first_node_port, args.first_node_port + 2 * args.nodes))
    cluster = Cluster(ports, nodes=args.nodes, var_dir=args.var_dir, extra_env=env, sms_workers=settings.sms_enabled)

    def ready(took: float) -> None:
        print(
            f"\n{args.nodes} nodes ready in {took:.0f} s.\n"
            f"  Public (Twilio, web chat): {cluster.public_url}/webhooks/twilio/webhook, {cluster.public_url}/webhooks/web/demo\n"
            f"  Internal (REST, API):      {cluster.internal_url}/webhooks/rest/webhook (token: {cluster.var_dir}/rest-token)\n"
            f"  Nurse console:             http://127.0.0.1:{args.console_port}/\n"
            f"  Logs:                      {cluster.var_dir}/node-*/logs, {cluster.var_dir}/nginx\n"
            "Press Ctrl-C to stop.",
            flush=True,
        )

    return serve(cluster.start, ready, cluster.servers, cluster.stop)


if __name__ == "__main__":
    sys.exit(main())
