"""`tapcompare legacy serve|consume|seed`: the legacy monolith over the production store set."""

from __future__ import annotations

import asyncio
from typing import Any
import signal
from dataclasses import asdict

import click
import redis.asyncio as aioredis
import uvloop
from aiohttp import web

from legacy_adapter.app import create_app
from legacy_adapter.consumer import Consumer
from legacy_adapter.schema import schema_sql
from legacy_adapter.dataset_seed import seed_dataset
from legacy_adapter.seeding import seed as seed_threads
from datasets.from_capture import read_records, seed_of
from legacy_adapter.store import LegacyStores
from sister_stores.resolve import resolve_store_sets
from tapcompare.context import settings_from_click
from tapcompare.preflight import require_ready
from telemetry.logs import configure_logging

DEFAULT_THREADS = "../shared/datasets/reddit/threads"


def _production(ctx: click.Context):
    settings = settings_from_click(ctx)
    production, _ = resolve_store_sets(settings)
    return settings, production


@click.group()
def legacy() -> None:
    """The legacy comment backend (reference monolith) on the production stores."""


@legacy.command()
@click.option("--host", default=None, help="Bind address (default: legacy.host).")
@click.option("--port", type=int, default=None, help="Port (default: legacy.port).")
@click.option("--consume/--no-consume", default=False, help="Also run the CDC consumer in-process.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, consume: bool) -> None:
    """Serve the legacy API (reads, writes, /health, /metrics)."""
    settings = settings_from_click(ctx)
    host = host or settings.legacy.host
    require_ready(settings, "legacy", host)
    _, production = _production(ctx)
    configure_logging()
    app = create_app(production, settings, consume=consume)
    web.run_app(app, host=host, port=port or settings.legacy.port, print=click.echo, loop=uvloop.new_event_loop())


@legacy.command()
@click.option("--name", default="legacy-1", help="Consumer name inside the group legacy-projections.")
@click.pass_context
def consume(ctx: click.Context, name: str) -> None:
    """Run the CDC consumer that builds the read projections (recovers its pending entries first)."""
    require_ready(settings_from_click(ctx), "consume")
    settings, production = _production(ctx)
    configure_logging()

    async def main() -> None:
        redis = aioredis.from_url(production.redis)
        consumer = Consumer(redis, settings.stores.cdc_stream, name=name)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, consumer.stop)
        try:
            await consumer.run()
        finally:
            click.echo(f"applied {consumer.applied}, skipped {consumer.skipped}, bad {consumer.bad}")
            await redis.aclose()

    asyncio.run(main())


@legacy.command()
@click.option("--threads", "threads_dir", default=DEFAULT_THREADS, type=click.Path(file_okay=False, exists=True),
              show_default=True, help="Directory of <link fullname>.ndjson (+ .post.json) files.")
@click.option("--only", multiple=True, help="Only this thread (link fullname, e.g. t3_haucpf); repeatable.")
@click.option("--account", "accounts", multiple=True, help="Also create this account (for writes); repeatable.")
@click.option("--dataset", "dataset_path", default=None, type=click.Path(dir_okay=False, exists=True),
              help="Seed the seed snapshot of this dataset (`tapcompare dataset build`) instead of thread files, "
                   "so traffic captured on top of it can later be replayed from the same start.")
@click.pass_context
def seed(ctx: click.Context, threads_dir: str, only: tuple[str, ...], accounts: tuple[str, ...],
         dataset_path: str | None) -> None:
    """Load Reddit threads (or a dataset's seed snapshot) into the production stores through the legacy
    model, build projections.

    Applies the legacy schema first when it is missing; threads already present are skipped."""
    settings, production = _production(ctx)

    async def main() -> None:
        host, _, port = production.memcached.rpartition(":")
        st = await LegacyStores.open(production.postgres, (host, int(port)), production.redis,
                                     settings.stores.cdc_stream)
        try:
            async with st.pg.acquire() as conn:  # idempotent (IF NOT EXISTS): a fresh `stores up` has no tables
                await conn.execute(schema_sql())
            if dataset_path is None:
                report: Any = await seed_threads(st, threads_dir, list(only) or None, accounts)
            else:
                records = [{"kind": "account", "name": name} for name in accounts]
                records += seed_of(read_records(dataset_path))
                report = await seed_dataset(st, records)
        finally:
            await st.close()
        for key, value in asdict(report).items():
            click.echo(f"{key}: {value}")

    asyncio.run(main())
