"""`tapcompare stores up|down|status`: the local production and sister sets."""

from __future__ import annotations

import json

import click
from rich.console import Console
from rich.table import Table

from sister_stores.local_servers import SET_NAMES, LocalStoreError
from sister_stores.resolve import local_stores
from tapcompare.context import settings_from_click

console = Console()


@click.group()
def stores() -> None:
    """Start, stop and inspect the local production and sister store sets."""


@stores.command()
@click.option("--set", "names", type=click.Choice(SET_NAMES), multiple=True, help="Only these sets (default: both).")
@click.pass_context
def up(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Start ephemeral PostgreSQL, Memcached and Redis servers for each set; print their addresses."""
    settings = settings_from_click(ctx)
    local = local_stores(settings)
    wanted = names or tuple(n for n in SET_NAMES if getattr(settings.stores, n).local)
    if not wanted:
        console.print("both sets point at existing servers (stores.*.local = false); nothing to start")
        return
    try:
        addresses = local.up(wanted)
    except LocalStoreError as exc:
        raise click.ClickException(str(exc)) from None
    for name, addrs in addresses.items():
        for kind, address in addrs.as_dict().items():
            click.echo(f"{name}.{kind} = {address}")


@stores.command()
@click.pass_context
def down(ctx: click.Context) -> None:
    """Stop every local server; fails if a process or port is left behind."""
    local = local_stores(settings_from_click(ctx))
    try:
        stopped = local.down()
    except LocalStoreError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"stopped {len(stopped)} servers" + (": " + ", ".join(stopped) if stopped else ""))


@stores.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """Say which local servers run, with pid, port and address."""
    state = local_stores(settings_from_click(ctx)).status()
    if as_json:
        click.echo(json.dumps(state, indent=2))
        return
    if not state:
        console.print("no local store servers recorded (run 'tapcompare stores up')")
        return
    table = Table("set", "store", "running", "pid", "address")
    for name, servers in state.items():
        for kind, info in servers.items():
            table.add_row(name, kind, "yes" if info["running"] else "[red]NO[/red]", str(info["pid"]), str(info["address"]))
    console.print(table)
