import sys
import time
from pathlib import Path

from tooling.infra.process import pid_alive, spawn, stop_all, stop_pid, tail

SLEEPER = "import time; print('up', flush=True); time.sleep(60)"
STUBBORN = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('up', flush=True); time.sleep(60)"
)


def _wait_for_output(path: Path, text: str) -> None:
    deadline = time.monotonic() + 10
    while text not in tail(path) and time.monotonic() < deadline:
        time.sleep(0.05)


def test_spawn_logs_and_stop_terminates(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "sleeper.out"
    proc = spawn([sys.executable, "-c", SLEEPER, "ampere-test-sleeper"], log)
    _wait_for_output(log, "up")
    assert pid_alive(proc.pid, marker="ampere-test-sleeper")
    assert not pid_alive(proc.pid, marker="something-else")
    stop_pid(proc.pid, timeout_s=5)
    assert not pid_alive(proc.pid)
    assert tail(log) == "up"


def test_stop_kills_a_process_that_ignores_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "stubborn.out"
    proc = spawn([sys.executable, "-c", STUBBORN], log)
    _wait_for_output(log, "up")
    started = time.monotonic()
    stop_pid(proc.pid, timeout_s=0.5)
    assert not pid_alive(proc.pid)
    assert time.monotonic() - started < 5


def test_stop_all_terminates_children_and_kills_the_stubborn(tmp_path: Path) -> None:
    procs = [spawn([sys.executable, "-c", code], tmp_path / f"{i}.out") for i, code in enumerate((SLEEPER, STUBBORN))]
    for i in range(2):
        _wait_for_output(tmp_path / f"{i}.out", "up")
    started = time.monotonic()
    stop_all(procs, wait_s=0.5)
    assert [p.poll() for p in procs] == [-15, -9]  # SIGTERM ended one, SIGKILL the other
    assert time.monotonic() - started < 5


def test_missing_pid_is_not_alive(tmp_path: Path) -> None:
    assert not pid_alive(None)
    assert not pid_alive(2**22 + 12345)
    assert tail(tmp_path / "missing.log") == ""


def test_marker_mismatch_is_not_alive_but_an_unreadable_cmdline_is_not_proof_of_death(
    tmp_path: Path, monkeypatch
) -> None:
    from tooling.infra import process

    proc = spawn([sys.executable, "-c", SLEEPER], tmp_path / "s.out")
    try:
        _wait_for_output(tmp_path / "s.out", "up")
        assert not pid_alive(proc.pid, marker="not-in-the-command-line")
        monkeypatch.setattr(process, "_cmdline", lambda pid: "")
        assert pid_alive(proc.pid, marker="not-in-the-command-line")
    finally:
        stop_pid(proc.pid, timeout_s=5)
