"""`tapcompare ramp plan start|pause|resume|abort|status|run`: declared ramp plans ([[ramp.plan]]).

`start` sets the plan's first step (audited) and marks the plan running in the control-plane Redis;
an executor (`run`, one per fleet at a time: the Redis lease decides) waits at each step for its
minimum time and samples, asks the advisor, and goes to the next step, pauses or ramps down, each
change audited with the advisor's reasons. `pause`, `resume` and `abort` act on the plan's state
wherever the executor runs; `status` shows each plan, its step's progress and who holds the lease.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import signal
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import click
import redis.asyncio as aioredis
from rich.markup import escape
from rich.table import Table

from config import Settings
from results.advice.decision import duration
from results.advice.plan import PlanError
from shadow_proxy.audit import RampKeys
from shadow_proxy.ramp import ENDPOINTS
from tapcompare.context import console, settings_from_click
from telemetry.logs import configure_logging
from wiring.parts import ramp_redis_url, results_dsn
from wiring.ramp_plan import PlanControl, PlanRunner, PlanStatusView

T = TypeVar("T")
STATUS_STYLE = {"running": "green", "paused": "yellow", "rolled_back": "red", "done": "blue", "aborted": "dim"}


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:
        return "cli:unknown"


def _redis_url(settings: Settings) -> str:
    try:
        return ramp_redis_url(settings)
    except Exception as exc:
        raise click.ClickException(f"cannot find the ramp Redis: {exc}") from None


def _with_control(ctx: click.Context, action: Callable[[PlanControl], Awaitable[T]]) -> T:
    settings = settings_from_click(ctx)
    configure_logging("WARNING")  # stdout is for the answer; the audit trail has the change
    url = _redis_url(settings)

    async def go() -> T:
        redis = aioredis.from_url(url)
        try:
            return await action(PlanControl(redis, RampKeys(settings.proxy.ramp_key_prefix)))
        finally:
            await redis.aclose()

    try:
        return asyncio.run(go())
    except PlanError as exc:
        raise click.ClickException(str(exc)) from None
    except (OSError, aioredis.ConnectionError, aioredis.TimeoutError) as exc:
        raise click.ClickException(f"ramp Redis at {url} unreachable: {exc}") from None


@click.group()
def plan() -> None:
    """Declared ramp plans ([[ramp.plan]]): steps, a minimum time and samples per step, the advisor between."""


@plan.command()
@click.argument("endpoint", type=click.Choice(ENDPOINTS))
@click.option("--why", default="", help="Reason, kept in the audit trail.")
@click.pass_context
def start(ctx: click.Context, endpoint: str, why: str) -> None:
    """Start ENDPOINT's plan from the configuration: its first step now."""
    declared = settings_from_click(ctx).ramp.plan_for(endpoint)
    if declared is None:
        raise click.ClickException(f"no [[ramp.plan]] with endpoint = {endpoint!r} in the configuration; declare "
                                   "one (README, Ramping traffic) or pass --config FILE")
    state = _with_control(ctx, lambda c: c.start(declared, who=_who(), why=why))
    click.echo(f"{endpoint}: plan running at {state.where()}; steps " + ", ".join(f"{s:g}%" for s in state.steps))


def _simple(name: str, verb: str, help_text: str) -> None:
    @plan.command(name, help=help_text)
    @click.argument("endpoint", type=click.Choice(ENDPOINTS))
    @click.option("--why", default="", help="Reason, kept in the audit trail.")
    @click.pass_context
    def command(ctx: click.Context, endpoint: str, why: str) -> None:
        state = _with_control(ctx, lambda c: getattr(c, name)(endpoint, who=_who(), why=why))
        click.echo(f"{endpoint}: plan {verb} at {state.where()}")


_simple("pause", "paused", "Pause ENDPOINT's plan: its percentage stays; the executor changes nothing until resumed.")
_simple("resume", "running",
        "Resume a paused or rolled-back plan at its current step (set again; the step's clock restarts).")
_simple("abort", "aborted", "End ENDPOINT's plan; its percentage stays where it is.")


@plan.command()
@click.argument("endpoint", required=False, type=click.Choice(ENDPOINTS))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def status(ctx: click.Context, endpoint: str | None, as_json: bool) -> None:
    """Each plan: status, step, the step's progress, the last reason; who holds the executor's lease."""
    async def action(c: PlanControl) -> tuple[list[PlanStatusView], str | None]:
        return await c.status([endpoint] if endpoint else ENDPOINTS), await c.store.lease_holder()

    views, holder = _with_control(ctx, action)
    if as_json:
        click.echo(json.dumps({"plans": [v.to_dict() for v in views], "lease_holder": holder}, indent=2))
        return
    table = Table("endpoint", "plan", "step", "now", "progress", "reason")
    for v in views:
        if v.state is None:
            if endpoint:
                table.add_row(v.endpoint, "none", "", f"{v.pct_now:g}%", "", "")
            continue
        s = v.state
        style = STATUS_STYLE.get(s.status, "")
        table.add_row(v.endpoint, f"[{style}]{s.status}[/{style}]", s.where(), f"{v.pct_now:g}%",
                      _progress_text(v.progress, s.step) if s.status == "running" else "", escape(s.reason))
    out = console()
    if table.row_count:
        out.print(table)
    else:
        out.print("no ramp plan started (`tapcompare ramp plan start ENDPOINT`)")
    out.print(f"executor lease: {escape(holder) if holder else 'nobody (start `tapcompare ramp plan run`)'}")


def _progress_text(progress: dict[str, Any] | None, step: int) -> str:
    if not progress or progress.get("step") != step:
        return "not looked at yet"
    age = duration(time.time() - float(progress["at"]))
    return f"{progress['sentence']} ({age} ago)"


@plan.command()
@click.option("--log-level", default="INFO", show_default=True)
@click.pass_context
def run(ctx: click.Context, log_level: str) -> None:
    """The executor: advance running plans until Ctrl-C or SIGTERM. Any number may run; the one
    holding the Redis lease acts, another takes over when its lease lapses (ramp.plan_lease_s)."""
    settings = settings_from_click(ctx)
    configure_logging(log_level)
    url = _redis_url(settings)
    try:
        dsn = results_dsn(settings)
    except Exception as exc:
        raise click.ClickException(f"cannot find the results database: {exc}") from None
    runner = PlanRunner.from_settings(settings, ramp_redis=url, results_dsn=dsn)

    async def go() -> None:
        await runner.start()
        assert runner.executor is not None
        click.echo(f"ramp plan executor {runner.executor.holder}: every {settings.ramp.plan_tick_s:g} s, "
                   f"lease {settings.ramp.plan_lease_s:g} s", err=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            waiting = asyncio.ensure_future(runner.wait())
            await asyncio.wait([waiting, asyncio.ensure_future(stop.wait())], return_when=asyncio.FIRST_COMPLETED)
        finally:
            await runner.close()

    try:
        asyncio.run(go())
    except asyncpg.PostgresError as exc:
        raise click.ClickException(f"results database {dsn}: {exc}; run `tapcompare stores prepare`") from None
    except OSError as exc:
        raise click.ClickException(f"cannot reach the results database {dsn} or the ramp Redis {url}: {exc}") from None
