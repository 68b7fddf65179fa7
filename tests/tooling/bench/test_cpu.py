import os
from pathlib import Path

from tooling.bench.cpu import BENCH, OTHER, ProcCpu, by_role, parse_stat, role_of, snapshot


def test_parse_stat_counts_fields_after_the_last_parenthesis() -> None:
    # a command name with a space and a ')' inside: naive splitting would shift every field
    stat = "42 (weird) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 1 0 1000 0 0"
    assert parse_stat(stat, 100.0) == 3.0
    assert parse_stat(stat, 100.0, children=True) == 3.0  # cutime, cstime 0 here
    waited = "42 (w) S 1 42 42 0 -1 4194560 100 0 0 0 250 50 30 20 20 0 1 0 1000 0 0"
    assert parse_stat(waited, 100.0) == 3.0 and parse_stat(waited, 100.0, children=True) == 3.5


def test_roles_by_command_line() -> None:
    assert role_of("/venv/bin/python -m streams worker", 10, 1) == "worker"
    assert role_of("java -Xmx512m -cp libs/* kafka.Kafka server.properties", 11, 1) == "kafka"
    assert role_of("/bin/weaviate-server-v1.39.3 --host 127.0.0.1", 12, 1) == "weaviate"
    assert role_of("/venv/bin/python -m streams worker", 1, 1) == BENCH  # own pid wins
    assert role_of("sshd", 13, 1) == OTHER


def test_by_role_subtracts_and_counts_new_processes_from_zero() -> None:
    before = {10: ProcCpu("python -m streams worker", 5.0), 11: ProcCpu("java kafka.Kafka", 1.0),
              12: ProcCpu("gone", 3.0)}
    after = {10: ProcCpu("python -m streams worker", 9.5), 11: ProcCpu("java kafka.Kafka", 3.0),
             14: ProcCpu("python -m streams worker", 1.0),  # a second worker started in between
             15: ProcCpu("python -m streams worker", 2.0)}
    assert by_role(before, after, own_pid=1) == {"worker": 7.5, "kafka": 2.0}


def test_a_reused_pid_counts_from_zero() -> None:
    before = {10: ProcCpu("old thing", 50.0)}
    after = {10: ProcCpu("java kafka.Kafka", 2.0)}
    assert by_role(before, after, own_pid=1) == {"kafka": 2.0}


def test_snapshot_sees_this_process_spend_cpu() -> None:
    if not Path("/proc/self/stat").exists():
        import pytest
        pytest.skip("no /proc on this system")
    before = snapshot()
    x = 0
    for i in range(3_000_000):
        x += i * i
    after = snapshot()
    assert before[os.getpid()].cpu_s < after[os.getpid()].cpu_s
    assert by_role(before, after).get(BENCH, 0.0) > 0.0
