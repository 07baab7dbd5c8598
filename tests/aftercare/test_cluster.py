"""The nginx configuration aftercare/cluster.py writes (the running cluster: tests/e2e/test_several_servers.py)."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from aftercare.cluster import NGINX, PUBLIC_LOCATIONS, Cluster, nginx_config


def config(tmp_path: Path, **kw: object) -> str:
    return nginx_config(tmp_path, public_port=8080, internal_port=5005, actions_port=5055,
                        rasa_ports=[7001, 7002], action_ports=[7101, 7102], **kw)


def server_blocks(text: str) -> dict[int, str]:
    """Each listener's block, by port."""
    blocks = re.split(r"\n  server \{", text)[1:]
    return {int(re.search(r"listen 127\.0\.0\.1:(\d+);", b).group(1)): b for b in blocks}


def test_the_public_listener_proxies_only_twilio_and_the_web_chat(tmp_path: Path) -> None:
    public = server_blocks(config(tmp_path))[8080]
    assert re.findall(r"location ([^{]+?) \{", public) == [*PUBLIC_LOCATIONS, "/"]
    assert "location / { return 404; }" in public
    assert public.count("proxy_pass http://rasa;") == len(PUBLIC_LOCATIONS)


def test_every_server_of_each_kind_is_upstream_and_failed_posts_are_not_replayed(tmp_path: Path) -> None:
    text = config(tmp_path)
    assert re.search(r"upstream rasa \{\s+server 127.0.0.1:7001[^}]+server 127.0.0.1:7002", text)
    assert re.search(r"upstream actions \{\s+server 127.0.0.1:7101[^}]+server 127.0.0.1:7102", text)
    assert "proxy_next_upstream off;" in text
    blocks = server_blocks(text)
    assert "proxy_pass http://rasa;" in blocks[5005] and "proxy_pass http://actions;" in blocks[5055]


def test_no_access_log_and_bodies_limited(tmp_path: Path) -> None:
    text = config(tmp_path)
    assert "access_log off;" in text  # API URLs hold phone numbers and tokens
    assert "client_max_body_size 128k;" in server_blocks(text)[8080]
    assert "X-Served-By" not in text
    assert "X-Served-By" in config(tmp_path, served_by_header=True)


@pytest.mark.skipif(not NGINX.exists(), reason="nginx is not installed (make test installs it)")
def test_nginx_accepts_the_configuration(tmp_path: Path) -> None:
    conf = tmp_path / "nginx.conf"
    conf.write_text(config(tmp_path))
    checked = subprocess.run([str(NGINX), "-t", "-p", str(tmp_path), "-c", str(conf), "-e", str(tmp_path / "error.log")],
                             capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr


def test_a_cluster_needs_its_ports(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="ports"):
        Cluster([1, 2, 3, 4, 5], nodes=2, var_dir=tmp_path).start()


def test_a_database_is_created_once_and_dropped() -> None:
    import uuid

    import sqlalchemy as sa

    from aftercare.cluster import drop_database, ensure_database
    from tests.pg import PG_URL, _unreachable

    name = f"aftercare_unit_{uuid.uuid4().hex[:8]}"
    url = str(sa.engine.make_url(PG_URL).set(database=name))
    admin = sa.create_engine(PG_URL, future=True)

    def exists() -> bool:
        with admin.connect() as conn:
            return conn.execute(sa.text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": name}).first() is not None

    try:
        ensure_database(url)
    except sa.exc.OperationalError as exc:
        _unreachable(exc)
    try:
        ensure_database(url)  # a second time: nothing to do, no error
        assert exists()
        drop_database(url)
        assert not exists()
        drop_database(url)  # already gone: no error
    finally:
        drop_database(url)
        admin.dispose()
