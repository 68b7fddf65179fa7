"""Loopback port helpers."""

from __future__ import annotations

import errno
import socket
from contextlib import ExitStack

LOOPBACK = "127.0.0.1"


def free_ports(count: int) -> list[int]:
    """``count`` distinct ports free right now on every local address, IPv4 and IPv6 (some servers bind
    their internal ports beyond loopback); all are held until every port is chosen."""
    with ExitStack() as stack:
        ports: list[int] = []
        while len(ports) < count:
            ipv4 = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
            ipv4.bind(("", 0))
            port = ipv4.getsockname()[1]
            if socket.has_ipv6 and not _bindable_ipv6(port, stack):
                continue
            ports.append(port)
        return ports


def _bindable_ipv6(port: int, stack: ExitStack) -> bool:
    try:
        ipv6 = stack.enter_context(socket.socket(socket.AF_INET6, socket.SOCK_STREAM))
        ipv6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        ipv6.bind(("::", port))
    except OSError as error:
        return error.errno in (errno.EAFNOSUPPORT, errno.EADDRNOTAVAIL)  # no IPv6 here: nothing to clash
    return True


def free_port() -> int:
    """One port that is free right now on every local address."""
    return free_ports(1)[0]


def port_is_open(port: int, host: str = LOOPBACK, timeout_s: float = 0.5) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout_s):
            return True
    except OSError:
        return False
