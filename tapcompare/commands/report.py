"""`tapcompare report serve|export|groups|accept|fix|reopen|rules|purge`: results and reviews.

The results database is `[reports] results_dsn`, or else database `[reports] results_database`
on the sister set's PostgreSQL server (created on first use).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from aiohttp import web
from rich.table import Table

from results.export.write import FORMATS
from results.store.report import export_report
from results.store import queries
from results.store.lifecycle import LifecycleError, accept_group, fix_group, reopen_group
from results.store.queries import Filters, Thresholds
from results.store.store import ResultsStore, ensure_database
from wiring.parts import Parts, results_dsn
from tapcompare.context import console, settings_from_click
from tapcompare.preflight import require_ready

T = TypeVar("T")


def _with_store(ctx: click.Context, action: Callable[[ResultsStore], Awaitable[T]]) -> T:
    dsn = results_dsn(settings_from_click(ctx))

    async def run() -> T:
        await ensure_database(dsn)
        store = await ResultsStore.open(dsn)
        try:
            return await action(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except (LifecycleError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    except OSError as exc:
        raise click.ClickException(f"cannot reach the results database {dsn}: {exc}") from None


def _time(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    t = dt.datetime.fromisoformat(value)
    return t if t.tzinfo else t.replace(tzinfo=dt.timezone.utc)


filter_options = [
    click.option("--path", default=None, help="Only this validation/response path."),
    click.option("--verdict", default=None, help="Only this verdict."),
    click.option("--since", default=None, help="ISO time (UTC unless it says otherwise)."),
    click.option("--until", default=None, help="ISO time (exclusive)."),
]


def with_filters(fn: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(filter_options):
        fn = option(fn)
    return fn


@click.group()
def report() -> None:
    """Results store, mismatch groups, the reviewer UI and report exports."""


@report.command()
@click.option("--host", default=None, help="Default: [reports] host.")
@click.option("--port", type=int, default=None, help="Default: [reports] port.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None) -> None:
    """Serve the reviewer UI (token: [reports] token); purges results past retention hourly."""
    settings = settings_from_click(ctx)
    host, port = host or settings.reports.host, port if port is not None else settings.reports.port
    require_ready(settings, "report", host)
    parts = Parts(settings)
    dsn = parts.results_dsn
    app = parts.ui_app()
    click.echo(f"reviewer UI on http://{host}:{port}/ (results: {dsn})")
    web.run_app(app, host=host, port=port, print=None)


@report.command("export")
@click.option("--format", "fmt", type=click.Choice(FORMATS), required=True)
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True, help="File to write.")
@click.option("--fail-on-unresolved", is_flag=True, help="Exit 1 when a path has open/regressed groups (CI).")
@with_filters
@click.pass_context
def export(ctx: click.Context, fmt: str, out: str, fail_on_unresolved: bool, path: str | None, verdict: str | None,
           since: str | None, until: str | None) -> None:
    """Write an HTML, JSON, Markdown or JUnit XML report."""
    filters = Filters(path=path, verdict=verdict, since=_time(since), until=_time(until))
    thresholds = Thresholds.from_settings(settings_from_click(ctx).reports)
    data = _with_store(ctx, lambda s: export_report(s.pool, fmt, out, filters, thresholds=thresholds))
    failing = [p["path"] for p in data["paths"] if p["status"] == "fail"]
    # An inconclusive path (too many raced/unavailable verdicts) is not green either.
    inconclusive = [p["path"] for p in data["paths"] if p["status"] == "inconclusive"]
    click.echo(f"wrote {out} ({fmt}): {data['total']:,} results, {len(data['groups'])} groups, "
               f"{len(failing)} failing path(s), {len(inconclusive)} inconclusive")
    if fail_on_unresolved and (failing or inconclusive):
        raise SystemExit(1)


@report.command()
@click.option("--status", type=click.Choice(("open", "accepted", "fixed", "regressed")), default=None)
@click.option("--sort", type=click.Choice(tuple(queries.GROUP_SORTS)), default="occurrences")
@click.option("--limit", type=int, default=50)
@click.option("--json", "as_json", is_flag=True)
@with_filters
@click.pass_context
def groups(ctx: click.Context, status: str | None, sort: str, limit: int, as_json: bool, path: str | None,
           verdict: str | None, since: str | None, until: str | None) -> None:
    """List mismatch groups."""
    filters = Filters(path=path, verdict=verdict, status=status, since=_time(since), until=_time(until))
    rows, total = _with_store(ctx, lambda s: queries.list_groups(s.pool, filters, sort=sort, per_page=limit))
    if as_json:
        click.echo(json.dumps({"total": total, "groups": rows}, default=str, indent=2))
        return
    table = Table("id", "status", "path", "verdict", "occurrences", "last seen", "difference")
    for g in rows:
        table.add_row(g["id"], g["status"], g["path"], g["verdict"], f"{g['n']:,}",
                      g["last_at"].strftime("%Y-%m-%d %H:%M"), g["title"])
    console().print(table)
    console().print(f"{len(rows)} of {total} groups")


@report.command()
@click.argument("group")
@click.option("--reason", required=True, help="Why this difference is acceptable.")
@click.option("--by", "by", required=True, help="Who accepts it.")
@click.option("--rule-name", default=None, help="Name of the ignore rule (default accepted-<group>).")
@click.pass_context
def accept(ctx: click.Context, group: str, reason: str, by: str, rule_name: str | None) -> None:
    """Accept a group as noise: it becomes an ignore rule."""
    name = _with_store(ctx, lambda s: accept_group(s.pool, group, reason=reason, by=by, rule_name=rule_name))
    click.echo(f"accepted {group} as rule {name}")


@report.command()
@click.argument("group")
@click.option("--version", "version", required=True, help="The new-service version that fixes it.")
@click.option("--by", "by", default="", help="Who marks it fixed.")
@click.pass_context
def fix(ctx: click.Context, group: str, version: str, by: str) -> None:
    """Mark a group fixed at a new-service version; seen again at or after it, it regresses."""
    _with_store(ctx, lambda s: fix_group(s.pool, group, version=version, by=by))
    click.echo(f"marked {group} fixed at {version}")


@report.command()
@click.argument("group")
@click.option("--by", "by", default="")
@click.pass_context
def reopen(ctx: click.Context, group: str, by: str) -> None:
    """Reopen an accepted or fixed group."""
    _with_store(ctx, lambda s: reopen_group(s.pool, group, by=by))
    click.echo(f"reopened {group}")


@report.command()
@click.pass_context
def rules(ctx: click.Context) -> None:
    """Print accepted groups as ignore rules (JSON) for the comparator."""
    click.echo(json.dumps(_with_store(ctx, lambda s: queries.accepted_rules(s.pool)), indent=2))


@report.command()
@click.option("--days", type=float, default=None, help="Default: [reports] retention_days.")
@click.pass_context
def purge(ctx: click.Context, days: float | None) -> None:
    """Delete results and examples older than the retention period."""
    keep = days if days is not None else settings_from_click(ctx).reports.retention_days
    counts = _with_store(ctx, lambda s: s.purge_older_than(keep))
    click.echo("purged " + ", ".join(f"{v} {k}" for k, v in counts.items()))
