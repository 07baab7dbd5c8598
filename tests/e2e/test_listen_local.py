"""Every server of the stack (action server, Rasa server, nurse console) listens on 127.0.0.1 only."""
from __future__ import annotations

import fcntl
import os
import socket
import struct
from pathlib import Path

import pytest

from scripts.bench import process_tree

pytestmark = pytest.mark.e2e

LISTEN = "0A"


def _address(hex_addr: str) -> str:
    """'0100007F:1F90' (or the 32-hex-digit IPv6 form) -> '127.0.0.1' / '::1'."""
    host = hex_addr.split(":")[0]
    if len(host) == 8:
        return socket.inet_ntop(socket.AF_INET, struct.pack("<I", int(host, 16)))
    words = [struct.pack("<I", int(host[i:i + 8], 16)) for i in range(0, 32, 8)]
    return socket.inet_ntop(socket.AF_INET6, b"".join(words))


def listening_sockets() -> dict[str, tuple[str, int]]:
    """inode -> (address, port) of every listening TCP socket on the machine."""
    out = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == LISTEN:
                out[fields[9]] = (_address(fields[1]), int(fields[1].split(":")[1], 16))
    return out


def socket_inodes(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    return inodes


def machine_addresses() -> list[str]:
    """The machine's non-loopback IPv4 addresses (from its network interfaces)."""
    found = []
    for _, name in socket.if_nameindex():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            try:
                packed = fcntl.ioctl(s.fileno(), 0x8915, struct.pack("256s", name[:15].encode()))  # SIOCGIFADDR
            except OSError:
                continue
        address = socket.inet_ntoa(packed[20:24])
        if not address.startswith("127."):
            found.append(address)
    return found


def test_every_server_listens_on_loopback_only(stack):
    ports = {"actions": stack.action_port, "rasa": stack.rasa_port, "console": stack.console_port}
    sockets = listening_sockets()
    for name, server in stack.servers.items():
        assert server.alive(), f"{name} server is not running"
        pids = process_tree(server.process.pid)
        mine = [sockets[i] for pid in pids for i in socket_inodes(pid) if i in sockets]
        if name in ports:
            assert ("127.0.0.1", ports[name]) in mine, f"{name} does not listen on 127.0.0.1:{ports[name]}: {mine}"
        others = [(a, p) for a, p in mine if a != "127.0.0.1"]
        assert not others, f"{name} server listens on {others}"
    # Nothing else on the machine listens on the stack's ports on another address.
    for address, port in sockets.values():
        if port in ports.values():
            assert address == "127.0.0.1", f"port {port} is open on {address}"


def test_servers_refuse_connections_on_the_machine_addresses(stack):
    addresses = machine_addresses()
    if not addresses:
        pytest.skip("this machine has no non-loopback IPv4 address")
    for address in addresses:
        for port in (stack.action_port, stack.rasa_port, stack.console_port):
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
                s.settimeout(3)
                code = s.connect_ex((address, port))
            assert code != 0, f"{address}:{port} accepted a connection"
