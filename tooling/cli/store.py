"""`ampere store expire | backup | restore`: the store's data lifecycle (docs/DEPLOY.md "Data lifecycle")."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console

from streams.settings import get_settings

console = Console()
store_app = typer.Typer(help="The Weaviate store: expiry of old moments, backups, restores.", no_args_is_help=True)


def _store():
    from streams.worker.wiring import build_store_from

    return build_store_from(get_settings())


def _fail(exc: Exception) -> None:
    console.print(f"[red]{exc}[/red]")
    raise typer.Exit(1) from None


@store_app.command("expire")
def expire(
    max_age_s: Annotated[int | None, typer.Option(help="Delete moments closed longer ago (default AMPERE_MOMENT_MAX_AGE_S).")] = None,
) -> None:
    """Delete live and video moments older than the max age; products stay."""
    from engines.store.lifecycle import MOMENT_KINDS, expire_moments

    age = get_settings().moment_max_age_s if max_age_s is None else max_age_s  # 0 is refused, not the default
    store = _store()
    try:
        for kind in MOMENT_KINDS:
            try:
                done = expire_moments(store, kind, age)
            except ValueError as exc:
                _fail(exc)
            console.print(f"{store.name(kind)}: {done.deleted} deleted ({done.failed} failed) closed before "
                          f"{time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(done.cutoff))} UTC, {done.seconds:.1f} s")
            if done.failed:
                raise typer.Exit(1)
    finally:
        store.close()


@store_app.command("backup")
def backup(
    backup_id: Annotated[str | None, typer.Option("--id", help="Backup id (default: ampere-<UTC time>).")] = None,
) -> None:
    """Back up the moments and the products with the server's backup module (AMPERE_BACKUP_BACKEND)."""
    from engines.store.lifecycle import BackupFailed, create_backup

    backup_id = backup_id or time.strftime("ampere-%Y%m%dt%H%M%Sz", time.gmtime())
    store = _store()
    try:
        collections = create_backup(store, backup_id, get_settings().backup_backend)
    except BackupFailed as exc:
        _fail(exc)
    finally:
        store.close()
    console.print(f"backup {backup_id} ({get_settings().backup_backend}): {', '.join(collections)}")


@store_app.command("restore")
def restore(
    backup_id: Annotated[str, typer.Argument(help="The id `ampere store backup` printed.")],
    replace: Annotated[bool, typer.Option(help="Delete the collections that exist first (else they are refused).")] = False,
) -> None:
    """Restore the moments and the products from a backup."""
    from engines.store.lifecycle import BackupFailed, restore_backup
    from streams.worker.wiring import connect_store

    settings = get_settings()
    store = connect_store(settings)
    try:
        collections = restore_backup(store, backup_id, settings.backup_backend, replace=replace)
    except BackupFailed as exc:
        _fail(exc)
    finally:
        store.close()
    console.print(f"restored {backup_id}: {', '.join(collections)}")


def register(app: typer.Typer) -> None:
    """Add the `store` group."""
    app.add_typer(store_app, name="store")
