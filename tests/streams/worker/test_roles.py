"""Worker roles: which agents each role runs, its consumer group, and the refine role's CPU share."""

from __future__ import annotations

import os

import pytest

from streams.settings import Settings
from streams.worker.app import create_app
from streams.worker.main import bound_refine_share
from streams.worker.roles import (
    RoleMismatch,
    agents_for,
    app_id,
    loads_llm,
    parse_cpus,
    plan_cpu_share,
)


def _never():
    raise AssertionError("engines are built on first use only")


@pytest.mark.parametrize(
    ("role", "tasks", "agents", "group"),
    [
        ("all", {"window"}, {"summarize", "refine", "embed", "catalog", "tag", "segment"}, "t-worker"),
        ("provisional", {"window"}, {"summarize", "embed", "catalog", "tag", "segment"}, "t-worker"),
        ("refine", set(), {"refine"}, "t-refine"),
    ],
)
def test_each_role_registers_only_its_agents_in_its_group(tmp_path, role, tasks, agents, group) -> None:
    s = Settings(home=tmp_path, topic_prefix="t", summarizer="llamacpp", two_phase=True, worker_role=role, metrics_port=0)
    app = create_app(s, _never)
    names = {a.split(".")[-1] for a in app.agents}
    assert names == agents
    assert {t.__name__ for t in app._app_tasks if t.__name__ == "window"} == tasks
    assert app.conf.id == group


def test_one_phase_runs_no_refine_agent_and_no_split_role(tmp_path) -> None:
    s = Settings(home=tmp_path, topic_prefix="t", summarizer="extractive", metrics_port=0)
    assert {a.split(".")[-1] for a in create_app(s, _never).agents} == {"summarize", "embed", "catalog", "tag", "segment"}
    for role in ("provisional", "refine"):
        with pytest.raises(RoleMismatch, match="AMPERE_TWO_PHASE"):
            agents_for(role, two_phase=False)  # type: ignore[arg-type]


def test_only_the_provisional_role_keeps_the_llm_unloaded() -> None:
    assert loads_llm("all", True) and loads_llm("refine", True) and not loads_llm("provisional", True)
    assert app_id("p", "refine") == "p-refine" and app_id("p", "provisional") == app_id("p", "all") == "p-worker"


def test_cpu_lists_parse_and_bad_ones_are_refused() -> None:
    assert parse_cpus("") == set()
    assert parse_cpus("0, 2-3") == {0, 2, 3}
    for bad in ("a", "3-1", "1-", "-2"):
        with pytest.raises(ValueError, match="bad CPU"):
            parse_cpus(bad)


def test_the_llama_threads_are_capped_at_the_cpus_given() -> None:
    share = plan_cpu_share("1", 10, threads=2, decode_threads=2, available={0, 1})
    assert (share.cpus, share.nice, share.threads, share.decode_threads) == (frozenset({1}), 10, 1, 1)
    assert plan_cpu_share("", 0, 2, 1, {0, 1}).cpus is None
    with pytest.raises(ValueError, match="cannot use"):
        plan_cpu_share("7", 0, 2, 1, {0, 1})


def test_a_refine_worker_binds_itself_and_others_do_not(tmp_path) -> None:
    cpu = min(os.sched_getaffinity(0))
    code = (
        "import os, sys\n"
        "from streams.settings import Settings\n"
        "from streams.worker.main import bound_refine_share\n"
        f"s = bound_refine_share(Settings(home=sys.argv[1], worker_role='refine', refine_cpus='{cpu}', refine_nice=5, llm_threads=4))\n"
        "print(sorted(os.sched_getaffinity(0)), os.nice(0), s.llm_threads)\n"
    )
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=True).stdout
    assert out.split() == [f"[{cpu}]", str(os.nice(0) + 5), "1"]
    s = Settings(home=tmp_path, worker_role="provisional", refine_cpus=str(cpu), llm_threads=4)
    assert bound_refine_share(s) is s
