"""`ampere infra install|up|down|status|env`: the real local Kafka and Weaviate, one node each or clusters."""

from __future__ import annotations

import shlex
import time

import typer
from rich.console import Console
from rich.table import Table

from streams.settings import get_settings
from tooling.infra import stack
from tooling.infra.build import BuildError
from tooling.infra.service import ServiceError

infra_app = typer.Typer(help="Local real services: Kafka (KRaft) and Weaviate.", no_args_is_help=True)
console = Console()

ServicesArg = typer.Argument(None, help="Services to act on (kafka, weaviate); default: all.")


def _names(services: list[str] | None) -> list[str]:
    return list(services) if services else list(stack.SERVICE_NAMES)


def _fail(error: Exception) -> None:
    console.print(f"[red]✗ {error}[/]")
    raise typer.Exit(1)


@infra_app.command()
def install(services: list[str] | None = ServicesArg) -> None:
    """Fetch/build the services into the cache (Kafka jars via Maven, weaviate-server via go install)."""
    try:
        stack.install(stack.build_services(get_settings(), _names(services), brokers=1, weaviate_nodes=1), console)
    except (ServiceError, BuildError) as error:
        _fail(error)


@infra_app.command()
def up(
    services: list[str] | None = ServicesArg,
    timeout: float = typer.Option(120.0, help="Seconds to wait until every service is ready."),
    brokers: int | None = typer.Option(
        None, "--brokers", min=1, max=9, help="Kafka nodes (default AMPERE_KAFKA_BROKERS, 1)."
    ),
    weaviate_nodes: int | None = typer.Option(
        None, "--weaviate-nodes", min=1, max=9, help="Weaviate nodes (default AMPERE_WEAVIATE_NODES, 1)."
    ),
) -> None:
    """Start the services (installing them first if needed); already running ones are left alone.

    With more than one node the settings that clients need are printed (also: `ampere infra env`).
    """
    settings = get_settings()
    started = time.monotonic()
    try:
        built = stack.build_services(settings, _names(services), brokers=brokers, weaviate_nodes=weaviate_nodes)
        stack.up(settings, built, console, timeout)
    except (ServiceError, BuildError) as error:
        _fail(error)
    console.print(f"infra up done in {time.monotonic() - started:.1f}s")
    env = stack.client_env(settings)
    if int(env.get("AMPERE_KAFKA_BROKERS", 1)) > 1 or int(env.get("AMPERE_WEAVIATE_NODES", 1)) > 1:
        console.print('Clusters run: point Ampere at them with  eval "$(ampere infra env)"  or:')
        console.print("\n".join(f"  export {key}={value}" for key, value in env.items()), highlight=False)


@infra_app.command()
def env() -> None:
    """Print `export AMPERE_...=...` lines for what `ampere infra up` started (all brokers, the first
    Weaviate node, replication for the node counts); use as  eval "$(ampere infra env)"."""
    for key, value in stack.client_env(get_settings()).items():
        typer.echo(f"export {key}={shlex.quote(value)}")


@infra_app.command()
def down(services: list[str] | None = ServicesArg) -> None:
    """Stop the services started by `ampere infra up`."""
    try:
        stack.down(get_settings(), _names(services), console)
    except ServiceError as error:
        _fail(error)


@infra_app.command()
def status() -> None:
    """Show each service: pid, ports, data folder, readiness."""
    table = Table(title="Ampere local services")
    for column in ("service", "pid", "ports", "data dir", "installed", "ready"):
        table.add_column(column, overflow="fold")
    for row in stack.status(get_settings()):
        ports = ", ".join(f"{name}={port}" for name, port in row.ports.items())
        ready = "[green]yes[/]" if row.ready else ("[yellow]starting[/]" if row.running else "[red]no[/]")
        table.add_row(
            row.service, str(row.pid or "-"), ports, row.data_dir, "yes" if row.installed else "no", ready
        )
    console.print(table)


@infra_app.command(
    "kafka-tool", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def kafka_tool(
    ctx: typer.Context,
    tool: str = typer.Argument(..., help="consumer-groups | console-consumer | console-producer | topics | get-offsets"),
) -> None:
    """Run one of Kafka's own tools against the configured broker; the rest of the line goes to the tool.

    --bootstrap-server is added from AMPERE_KAFKA_BOOTSTRAP unless given.
    """
    import subprocess

    from tooling.infra.kafka import KafkaService

    settings = get_settings()
    kafka = KafkaService(settings.home, settings.kafka_broker_port, settings.kafka_controller_port,
                         version=settings.kafka_version)
    try:
        if not kafka.is_installed():
            raise ServiceError("Kafka is not installed; run `ampere infra install kafka` first")
        kafka.ensure_tools(console)
        args = list(ctx.args)
        if "--bootstrap-server" not in args:
            args = ["--bootstrap-server", settings.kafka_bootstrap, *args]
        raise typer.Exit(subprocess.call(kafka.tool_command(tool, *args)))
    except (ServiceError, BuildError) as error:
        _fail(error)


def register(app: typer.Typer) -> None:
    """Add the `infra` group to the app."""
    app.add_typer(infra_app, name="infra")
