"""Loopback port helpers."""

from __future__ import annotations

import errno
import random
import socket
from collections.abc import Collection
from contextlib import ExitStack

LOOPBACK = "127.0.0.1"


class PortRangeError(ValueError):
    """A port range is malformed, or holds no free block of the size asked for."""


def parse_port_range(text: str) -> range:
    """``"17000-17999"`` -> ``range(17000, 18000)`` (both ends included in the text)."""
    try:
        low, high = (int(part) for part in text.split("-", 1))
    except ValueError as error:
        raise PortRangeError(f"port range {text!r} is not LOW-HIGH") from error
    if not 1024 <= low <= high <= 65535:
        raise PortRangeError(f"port range {text!r} must lie within 1024-65535, low end first")
    return range(low, high + 1)


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


def _bindable_everywhere(port: int, stack: ExitStack) -> bool:
    """Hold ``port`` on the IPv4 and IPv6 wildcard addresses; False if either is taken."""
    try:
        ipv4 = stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM))
        ipv4.bind(("", port))
    except OSError:
        return False
    return not socket.has_ipv6 or _bindable_ipv6(port, stack)


def free_port_block(size: int, ports: range, avoid: Collection[int] = ()) -> list[int]:
    """``size`` consecutive ports in ``ports``, free on every local address and not in ``avoid`` (ports
    handed out but not bound yet); the search starts at a random block, so that two processes picking
    at once seldom pick the same one."""
    starts = range(ports.start, ports.stop - size + 1)
    if not starts:
        raise PortRangeError(f"no {size} consecutive ports in {ports.start}-{ports.stop - 1}")
    first = random.randrange(len(starts))
    for start in (*starts[first:], *starts[:first]):
        block = list(range(start, start + size))
        if any(port in avoid for port in block):
            continue
        with ExitStack() as stack:
            if all(_bindable_everywhere(port, stack) for port in block):
                return block
    raise PortRangeError(f"no {size} consecutive free ports in {ports.start}-{ports.stop - 1}")
