"""`ampere schema export`: JSON Schema of every record type into docs/schemas/v<version>/."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

schema_app = typer.Typer(help="Published record schemas.", no_args_is_help=True)


@schema_app.command("export")
def export(
    out: Annotated[
        Path | None,
        typer.Option(help="Root folder; files go to <out>/v<schema version>/ (default: docs/schemas of this checkout)."),
    ] = None,
    check: Annotated[bool, typer.Option("--check", help="Write nothing; exit 1 when the files are stale.")] = False,
) -> None:
    """Write (or --check) the JSON Schema of every record type."""
    from tooling.schema_export import export as write
    from tooling.schema_export import stale

    out = out or _checkout_schemas()
    if check:
        bad = stale(out)
        for name in bad:
            typer.echo(f"stale: {name}")
        raise typer.Exit(1 if bad else 0)
    for p in write(out):
        typer.echo(str(p))


def _checkout_schemas() -> Path:
    """docs/schemas of the source checkout this command runs from (never a folder made in the cwd)."""
    docs = Path(__file__).resolve().parents[2] / "docs"
    if not docs.is_dir():
        raise typer.BadParameter("not running from a source checkout: give the folder with --out", param_hint="--out")
    return docs / "schemas"


def register(app: typer.Typer) -> None:
    """Add the `schema` group."""
    app.add_typer(schema_app, name="schema")
