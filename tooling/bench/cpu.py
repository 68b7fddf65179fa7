"""CPU seconds per process role over a benchmark run, read from ``/proc`` (Linux).

On a 2-core box the worker shares the cores with the broker, Weaviate and the replay itself, so
"where does the CPU go" has to be answered per process before it is answered per function: a
worker profile cannot show a bound that sits in the broker. :func:`snapshot` reads every process's
user + system time; :func:`by_role` subtracts two snapshots and sums the difference by role.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
#: (role, substring of the command line), first match wins.
ROLES: tuple[tuple[str, str], ...] = (
    ("worker", "-m streams worker"),
    ("worker", "streams.worker"),
    ("worker", "ampere worker"),
    ("kafka", "kafka.Kafka"),
    ("weaviate", "weaviate-server"),
)
BENCH = "bench (replay + subscriber)"
OTHER = "other"


@dataclass(frozen=True)
class ProcCpu:
    """One process: its command line and its user + system CPU seconds so far."""

    cmdline: str
    cpu_s: float


def parse_stat(stat: str, ticks_per_s: float, children: bool = False) -> float:
    """User + system seconds from the text of ``/proc/<pid>/stat`` (the command may hold spaces and
    parentheses, so fields are counted after the last ``)``); with ``children``, plus those of the
    children it waited for."""
    fields = stat[stat.rindex(")") + 2:].split()
    # utime, stime (fields 14 and 15 of stat), then cutime, cstime (16 and 17)
    return sum(int(x) for x in fields[11:15 if children else 13]) / ticks_per_s


def process_cpu_s(pid: int, children: bool = False) -> float:
    """CPU seconds of one process so far (0 once it is gone)."""
    try:
        return parse_stat((PROC / str(pid) / "stat").read_text(), os.sysconf("SC_CLK_TCK"), children)
    except (OSError, ValueError, IndexError):
        return 0.0


def snapshot(proc: Path = PROC) -> dict[int, ProcCpu]:
    """Every readable process now; processes that exit while being read are left out."""
    ticks = os.sysconf("SC_CLK_TCK")
    out = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cpu = parse_stat((entry / "stat").read_text(), ticks)
            cmd = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace").strip()
        except (OSError, ValueError, IndexError):
            continue
        out[int(entry.name)] = ProcCpu(cmd, cpu)
    return out


def role_of(cmdline: str, pid: int, own_pid: int) -> str:
    """The role of a process by its command line; the benchmark's own process is the bench."""
    if pid == own_pid:
        return BENCH
    for role, needle in ROLES:
        if needle in cmdline:
            return role
    return OTHER


def by_role(before: dict[int, ProcCpu], after: dict[int, ProcCpu], own_pid: int | None = None) -> dict[str, float]:
    """CPU seconds spent between two snapshots, summed by role (a process started in between counts
    from zero; one that exited in between is not seen: take ``after`` before stopping what you measure)."""
    own = os.getpid() if own_pid is None else own_pid
    out: dict[str, float] = {}
    for pid, now in after.items():
        then = before.get(pid)
        spent = now.cpu_s - (then.cpu_s if then is not None and then.cmdline == now.cmdline else 0.0)
        if spent > 0:
            role = role_of(now.cmdline, pid, own)
            out[role] = round(out.get(role, 0.0) + spent, 2)
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))
