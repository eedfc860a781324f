"""`tapcompare ramp show|set ENDPOINT PCT|kill`: the per-endpoint shadow percentages.

Changes go straight to the ramp state in Redis (audited, published); running proxies pick them up
within milliseconds, without a restart.
"""

from __future__ import annotations

import asyncio
import getpass
import json
from datetime import datetime, timezone

import click
import redis.asyncio as aioredis
from rich.table import Table

from shadow_proxy.audit import RampKeys, recent_audit
from shadow_proxy.ramp import ENDPOINTS, RampControl, RampError
from wiring.parts import ramp_redis_url
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
