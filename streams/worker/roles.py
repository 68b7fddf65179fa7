"""Worker roles: which agents one worker process runs, its consumer group, and the CPU share of a
refine-role process (the LLM refinement kept off the provisional path's cores).

- ``all``: the window stage and every agent (the demo's one process).
- ``provisional``: everything but the LLM refinement; revision 1 from the extractive summary.
- ``refine``: only the LLM refinement (revision 2), in its own Faust app id and consumer group, so it
  reads every window independently of the provisional workers, in its own (bounded) process.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Literal

from streams.kafka.topics import agents_group

Role = Literal["all", "provisional", "refine"]
ROLES: tuple[Role, ...] = ("all", "provisional", "refine")

#: Agents of the Faust app (the window stage is a task: ``window``).
AGENTS = ("window", "summarize", "refine", "embed", "catalog", "tag", "segment")

log = logging.getLogger("ampere.worker")


class RoleMismatch(ValueError):
    """A role the other settings cannot serve (e.g. a refine role without two-phase indexing)."""


def app_id(topic_prefix: str, role: Role) -> str:
    """The Faust app id, which is also the agents' consumer group: the refine role has its own."""
    return agents_group(topic_prefix, role)


def agents_for(role: Role, two_phase: bool) -> tuple[str, ...]:
    """The agents (and the window task) a worker of ``role`` runs; ``two_phase``: revision 1 is
    extractive and an LLM refines it (``AgentContext.two_phase``)."""
    if role != "all" and not two_phase:
        raise RoleMismatch(
            f"worker role {role!r} splits the two phases: it needs AMPERE_TWO_PHASE=true and an LLM summarizer "
            "(AMPERE_SUMMARIZER other than extractive); run role 'all' otherwise"
        )
    if role == "refine":
        return ("refine",)
    names = [a for a in AGENTS if a != "refine" or two_phase]
    if role == "provisional":
        names.remove("refine")
    return tuple(names)


def loads_llm(role: Role, two_phase: bool) -> bool:
    """Whether a worker of ``role`` calls the configured (LLM) summarizer at all."""
    return role != "provisional" or not two_phase


def parse_cpus(spec: str) -> set[int]:
    """``'0,2-3'`` → ``{0, 2, 3}``; empty → empty (no bound)."""
    out: set[int] = set()
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        lo, sep, hi = part.partition("-")
        if not lo.strip().isdigit() or (sep and not hi.strip().isdigit()):
            raise ValueError(f"bad CPU list {spec!r}: use numbers and ranges like '1' or '0,2-3'")
        a, b = int(lo), int(hi) if sep else int(lo)
        if b < a:
            raise ValueError(f"bad CPU range {part!r} in {spec!r}")
        out.update(range(a, b + 1))
    return out


@dataclass(frozen=True)
class CpuShare:
    """What a refine-role process applied to itself: the CPUs it may run on (None = unbounded),
    its niceness increment, and the llama.cpp thread counts that fit them."""

    cpus: frozenset[int] | None
    nice: int
    threads: int
    decode_threads: int


def plan_cpu_share(cpus: str, nice: int, threads: int, decode_threads: int, available: set[int]) -> CpuShare:
    """The share to apply: the asked CPUs (which must exist in ``available``), with the llama.cpp
    prefill and decode threads capped at their count (more threads than cores only contend)."""
    want = parse_cpus(cpus)
    if want and not want <= available:
        raise ValueError(f"AMPERE_REFINE_CPUS={cpus!r} names CPUs this process cannot use (it may use {sorted(available)})")
    n = len(want) if want else len(available)
    return CpuShare(frozenset(want) if want else None, nice, max(1, min(threads, n)), max(1, min(decode_threads, n)))


def apply_cpu_share(share: CpuShare) -> None:
    """Bind this process (and the threads it starts later) to ``share.cpus`` and lower its priority."""
    if share.cpus is not None:
        os.sched_setaffinity(0, share.cpus)
    if share.nice:
        os.nice(share.nice)
    log.info("refine role: cpus=%s nice=+%d llama.cpp threads=%d/%d",
             sorted(share.cpus) if share.cpus else "all", share.nice, share.threads, share.decode_threads)
