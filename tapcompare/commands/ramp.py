"""`tapcompare ramp show|set ENDPOINT PCT|kill|advise [ENDPOINT]|export|plan ...`: the per-endpoint shadow percentages.

Changes go straight to the ramp state in Redis (audited, published); running proxies pick them up
within milliseconds, without a restart. `advise` reads the live verdicts from the results store
since each endpoint's percentage was set (the audit trail) and says go, hold or roll back.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from datetime import datetime, timezone

import asyncpg
import click
import redis.asyncio as aioredis
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from results.advice.decision import Advice, duration, pct
from results.advice.gather import advise_all
from results.ui.ramp_handlers import RampContext, export_html, ramp_view
from shadow_proxy.audit import RampKeys, recent_audit
from shadow_proxy.ramp import ENDPOINTS, RampControl, RampError
from wiring.parts import ramp_redis_url, results_dsn
from wiring.ramp_trail import RedisRampTrail
from tapcompare.commands.ramp_plan import plan
from tapcompare.context import console, settings_from_click


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli:unknown"


def _run(ctx: click.Context, action):
    settings = settings_from_click(ctx)
    try:
        url = ramp_redis_url(settings)
    except Exception as exc:
        raise click.ClickException(f"cannot find the ramp Redis: {exc}") from None

    async def go():
        redis = aioredis.from_url(url, decode_responses=True)
        try:
            return await action(RampControl(redis, RampKeys(settings.proxy.ramp_key_prefix)), redis,
                                RampKeys(settings.proxy.ramp_key_prefix))
        finally:
            await redis.aclose()

    try:
        return asyncio.run(go())
    except RampError as exc:
        raise click.ClickException(str(exc)) from None
    except (OSError, aioredis.ConnectionError) as exc:
        raise click.ClickException(f"ramp Redis at {url} unreachable: {exc}") from None


@click.group()
def ramp() -> None:
    """Show and change the per-endpoint shadow percentages (sticky by thread)."""


ramp.add_command(plan)  # `ramp plan start|pause|resume|abort|status|run` (tapcompare/commands/ramp_plan.py)


@ramp.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--audit", "audit_count", default=10, show_default=True, help="Recent audit entries to show.")
@click.pass_context
def show(ctx: click.Context, as_json: bool, audit_count: int) -> None:
    """Current percentages and the latest changes (who, when, from, to, why)."""
    async def action(control, redis, keys):
        return await control.read(), await recent_audit(redis, keys, audit_count)

    pcts, audit = _run(ctx, action)
    if as_json:
        click.echo(json.dumps({"ramp": pcts, "audit": [a.to_dict() for a in audit]}, indent=2))
        return
    table = Table("endpoint", "pct")
    for endpoint in ENDPOINTS:
        table.add_row(endpoint, f"{pcts[endpoint]:g}")
    console().print(table)
    if audit:
        log = Table("when (UTC)", "who", "endpoint", "from", "to", "why")
        for a in audit:
            when = datetime.fromtimestamp(a.at, timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
            log.add_row(when, a.who, a.endpoint, f"{a.from_pct:g}", f"{a.to_pct:g}", a.why)
        console().print(log)


@ramp.command("set")
@click.argument("endpoint", type=click.Choice(ENDPOINTS))
@click.argument("pct", type=click.FloatRange(0, 100))
@click.option("--why", default="", help="Reason, kept in the audit trail.")
@click.pass_context
def set_(ctx: click.Context, endpoint: str, pct: float, why: str) -> None:
    """Set ENDPOINT to PCT percent (0-100, two decimals)."""
    async def action(control, redis, keys):
        return await control.set(endpoint, pct, who=_who(), why=why)

    change = _run(ctx, action)
    click.echo(f"{endpoint}: {change.from_pct:g}% -> {change.to_pct:g}%")


@ramp.command()
@click.option("--why", default="kill switch (CLI)", help="Reason, kept in the audit trail.")
@click.pass_context
def kill(ctx: click.Context, why: str) -> None:
    """Every endpoint to 0%."""
    async def action(control, redis, keys):
        return await control.kill(who=_who(), why=why)

    changes = _run(ctx, action)
    click.echo("killed: " + (", ".join(f"{c.endpoint} (was {c.from_pct:g}%)" for c in changes) or "nothing was on"))


DECISION_STYLE = {"go": "green", "hold": "yellow", "roll back": "red"}
STATUS_TEXT = {"ok": "[green]ok[/green]", "few": "[yellow]too few samples[/yellow]",
               "unexercised": "[yellow]not exercised[/yellow]", "uncertain": "[yellow]bound too high[/yellow]",
               "inconclusive": "[yellow]inconclusive[/yellow]", "too_high": "[red]rate too high[/red]"}


def print_advice(advice: Advice, out: Console) -> None:
    """One endpoint's table (a row per path) and its decision lines."""
    step = advice.step
    title = advice.endpoint
    if step is not None:
        title += f" at {step.pct:g}%"
        if advice.seconds_at_step is not None:
            title += f" for {duration(advice.seconds_at_step)}"
    conf = f"{advice.policy.get('confidence', 0.95) * 100:g}%"
    table = Table("path", "verdicts", "samples", "mismatches", f"{conf} upper bound", "inconclusive", "status",
                  title=title, title_justify="left")
    for r in advice.paths:
        table.add_row(r.path, f"{r.total:,}", f"{r.samples:,}", f"{r.failures:,}",
                      pct(r.upper) if r.samples else "–", f"{r.inconclusive:,}", STATUS_TEXT.get(r.status, r.status))
    out.print(table)
    lat = advice.latency
    lat_row = (f"latency p50/p99 ms: legacy {_ms(lat.legacy_p50)}/{_ms(lat.legacy_p99)}, "
               f"rewrite {_ms(lat.new_p50)}/{_ms(lat.new_p99)}"
               + (f", Mann-Whitney p = {lat.test.p:.2g}" if lat.test is not None else "")
               + f"; groups open {advice.open_groups}, regressed {advice.regressed_groups}")
    out.print(escape(lat_row))
    style = DECISION_STYLE[advice.decision]
    for reason in advice.reasons:
        out.print(f"[{style}]{escape(reason)}[/{style}]")
    for note in advice.notes:
        out.print(f"[dim]  {escape(note)}[/dim]")


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}"


def _with_results(ctx: click.Context, action):
    """Run `action(pool, trail)` on the results database and the ramp trail; errors as one line."""
    settings = settings_from_click(ctx)
    try:
        dsn, url = results_dsn(settings), ramp_redis_url(settings)
    except Exception as exc:
        raise click.ClickException(f"cannot find the results database or the ramp Redis: {exc}") from None

    async def go():
        redis = aioredis.from_url(url, decode_responses=True)
        try:
            pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
        except BaseException:
            await redis.aclose()
            raise
        try:
            return await action(pool, RedisRampTrail(redis, RampKeys(settings.proxy.ramp_key_prefix)))
        finally:
            await pool.close()
            await redis.aclose()

    try:
        return asyncio.run(go())
    except (asyncpg.InvalidCatalogNameError, asyncpg.UndefinedTableError):
        raise click.ClickException(f"no results database at {dsn}; run `tapcompare stores prepare`") from None
    except (aioredis.ConnectionError, aioredis.TimeoutError) as exc:
        raise click.ClickException(f"ramp Redis at {url} unreachable: {exc}") from None
    except OSError as exc:
        raise click.ClickException(f"cannot reach the results database {dsn}: {exc}") from None


@ramp.command("export")
@click.option("--out", "out", type=click.Path(dir_okay=False), required=True, help="HTML file to write.")
@click.argument("endpoint", required=False, type=click.Choice(ENDPOINTS))
@click.pass_context
def export(ctx: click.Context, out: str, endpoint: str | None) -> None:
    """Write the ramp pages (advice and plots per endpoint) as one self-contained HTML file."""
    policy = settings_from_click(ctx).ramp.policy

    async def action(pool, trail):
        return [await ramp_view(pool, RampContext(trail, policy), e) for e in ([endpoint] if endpoint else ENDPOINTS)]

    views = _with_results(ctx, action)
    from pathlib import Path

    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(export_html(views), encoding="utf-8")
    click.echo(f"wrote {out}: " + ", ".join(f"{v['endpoint']} {v['advice'].decision}" for v in views))


@ramp.command()
@click.argument("endpoint", required=False, type=click.Choice(ENDPOINTS))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--fail-unless-go", is_flag=True, help="Exit 1 unless every endpoint advised is go (CI).")
@click.pass_context
def advise(ctx: click.Context, endpoint: str | None, as_json: bool, fail_unless_go: bool) -> None:
    """Go, hold or roll back per endpoint, from the verdicts since its percentage was set
    (thresholds: [ramp.policy])."""
    policy = settings_from_click(ctx).ramp.policy
    endpoints = [endpoint] if endpoint else list(ENDPOINTS)

    async def action(pool, trail) -> list[Advice]:
        return await advise_all(pool, policy, trail, endpoints)

    advices = _with_results(ctx, action)
    if as_json:
        click.echo(json.dumps({"advice": [a.to_dict() for a in advices]}, indent=2, default=str))
    else:
        out = console()
        for advice in advices:
            print_advice(advice, out)
            out.print()
    if fail_unless_go and any(a.decision != "go" for a in advices):
        raise SystemExit(1)
