"""The rendered help of every `ampere` command, walked from the root: no `<bool>` metavar on flags, no
raw double backticks, help text on every option and argument, and one meaning per option name."""

from __future__ import annotations

from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from tooling.cli import app

runner = CliRunner()


def _walk(cmd: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    out = [(path, cmd)]
    if getattr(cmd, "commands", None):
        for name, sub in sorted(cmd.commands.items()):
            out += _walk(sub, (*path, name))
    return out


COMMANDS = _walk(typer.main.get_command(app))


def test_the_walk_reaches_nested_commands() -> None:
    paths = {p for p, _ in COMMANDS}
    assert ("infra", "kafka-tool") in paths and ("ingest", "video") in paths and ("search",) in paths


@pytest.mark.parametrize(("path", "cmd"), COMMANDS, ids=lambda v: " ".join(v) if isinstance(v, tuple) else "")
def test_rendered_help_is_clean(path: tuple[str, ...], cmd: Any) -> None:
    res = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "<bool>" not in res.output
    assert "``" not in res.output
    for p in cmd.params:
        if p.param_type_name in ("option", "argument"):
            assert (getattr(p, "help", None) or "").strip(), f"{' '.join(path)}: {p.name} has no help"


def test_streams_means_stream_ids_wherever_it_is_a_list_and_demo_says_it_counts() -> None:
    """`--streams` was a count in `demo` and a list of ids in `publish`."""
    cmds = dict(COMMANDS)
    demo = {p.name: p for p in cmds[("demo",)].params}
    assert "stream_count" in demo and "--stream-count" in demo["stream_count"].opts
    res = runner.invoke(app, ["demo", "--help"], env={"COLUMNS": "200"})
    assert "--stream-count" in res.output
    for path, cmd in COMMANDS:  # wherever --streams counts, --stream-count says so (benchmarks: concurrency levels)
        if path[:1] == ("bench",):
            continue
        for p in cmd.params:
            if "--streams" in getattr(p, "opts", []) and p.bare_type() == "int":
                assert "--stream-count" in p.opts, f"{' '.join(path)}: --streams N without --stream-count"
