"""`tapcompare stores up|down|status|prepare`: the local production and sister sets, and readying
any configured sets (local or remote) for the live path."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import click
from rich.table import Table

from config import Settings
from results.store.migrations import MIGRATIONS, current_version, migrate
from legacy_adapter.schema import schema_sql
from sister_stores.guard import SameStoreError
from sister_stores.local_servers import SET_NAMES, LocalStoreError
from sister_stores.prepare import FIX, MISSING, Piece, PrepareFailed, PreparePlan, ResultsSchema, prepare_stores
from sister_stores.resolve import check_results_distinct, local_stores, resolve_store_sets, results_address, store_keys
from tapcompare.context import console, settings_from_click
from tapcompare.preflight import same_store_line



@click.group()
def stores() -> None:
    """Start, stop and inspect the local store sets; ready any configured sets (prepare)."""


@stores.command()
@click.option("--set", "names", type=click.Choice(SET_NAMES), multiple=True, help="Only these sets (default: both).")
@click.pass_context
def up(ctx: click.Context, names: tuple[str, ...]) -> None:
    """Start ephemeral PostgreSQL, Memcached and Redis servers for each set, ready them as `stores prepare`
    does (when both sets are local), and print their addresses."""
    settings = settings_from_click(ctx)
    local = local_stores(settings)
    wanted = names or tuple(n for n in SET_NAMES if getattr(settings.stores, n).local)
    if not wanted:
        console().print("both sets point at existing servers (stores.*.local = false); nothing to start")
        return
    try:
        addresses = local.up(wanted)
    except LocalStoreError as exc:
        raise click.ClickException(str(exc)) from None
    for name, addrs in addresses.items():
        for kind, address in addrs.as_dict().items():
            click.echo(f"{name}.{kind} = {address}")
    # Ready the local sets at once (schema, read-only role, results database), so the live path
    # needs no hand-written SQL. Progress goes to stderr: stdout stays the addresses.
    s = settings.stores
    if not (s.production.local and s.sister.local and not settings.reports.results_dsn):
        click.echo(f"some stores are not local ones: run `{FIX}` to ready them", err=True)
        return
    if set(local.load_state()) >= set(SET_NAMES):
        _prepare_or_fail(settings, check_only=False, echo=lambda line: click.echo(line, err=True))


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
        console().print("no local store servers recorded (run 'tapcompare stores up')")
        return
    table = Table("set", "store", "running", "pid", "address")
    for name, servers in state.items():
        for kind, info in servers.items():
            table.add_row(name, kind, "yes" if info["running"] else "[red]NO[/red]", str(info["pid"]), str(info["address"]))
    console().print(table)


def plan_for(settings: Settings) -> PreparePlan:
    """What `stores prepare` works on: the resolved sets (through the prod-vs-sister guard), the
    legacy schema, the read-only role and the results database with its migrations."""
    production, sister = resolve_store_sets(settings)
    dsn, key = results_address(settings, sister)
    check_results_distinct(production, sister, dsn, key)
    results = ResultsSchema(migrate=migrate, current_version=current_version, latest=max(v for v, _, _ in MIGRATIONS))
    return PreparePlan(production, sister, schema_sql(), settings.new_service.readonly_role, dsn, key, results,
                       keys=store_keys(settings))


def _prepare_or_fail(settings: Settings, *, check_only: bool, echo: Callable[[str], None]) -> list[Piece]:
    try:
        plan = plan_for(settings)
        pieces = asyncio.run(prepare_stores(plan, check_only=check_only, report=lambda piece: echo(piece.line())))
    except SameStoreError as exc:
        raise click.ClickException(same_store_line(exc)) from None
    except LocalStoreError as exc:
        raise click.ClickException(str(exc)) from None
    except PrepareFailed as exc:
        for line in exc.lines:
            click.echo(line, err=True)
        raise click.ClickException(f"{len(exc.lines)} store address(es) do not answer; nothing was changed") from None
    missing = [p.name for p in pieces if p.state == MISSING]
    failed = [p.name for p in pieces if not p.ok and p.state != MISSING]
    if missing or failed:
        parts = []
        if missing:
            parts.append(f"missing: {', '.join(missing)} (run `{FIX}`)")
        if failed:
            parts.append(f"failed: {', '.join(failed)} (see above)")
        raise click.ClickException("the stores are not ready; " + "; ".join(parts))
    return pieces


@stores.command()
@click.option("--check", "check_only", is_flag=True,
              help="Only verify, changing nothing; exit 1 naming each missing piece.")
@click.pass_context
def prepare(ctx: click.Context, check_only: bool) -> None:
    """Ready the configured store sets, local or remote; safe to run again.

    After the prod-vs-sister guard: the legacy schema on production when tables are missing (CREATE
    ... IF NOT EXISTS: existing tables and rows are left alone), the rewrite's SELECT-only role on
    production, the sister schema mirrored from production (into a sister database without tables),
    the results database and its migrations. Prints one line per piece: already there, done, missing.
    """
    settings = settings_from_click(ctx)
    pieces = _prepare_or_fail(settings, check_only=check_only, echo=click.echo)
    done = sum(p.state == "done" for p in pieces)
    click.echo(f"stores ready ({done} piece(s) prepared now)" if not check_only else "stores ready")
