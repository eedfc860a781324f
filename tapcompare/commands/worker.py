"""`tapcompare worker`: consume comparison jobs from the Redis Stream (proxy.compare_mode = "stream").

Register with `from tapcompare.commands.worker import worker; main.add_command(worker)`.
Addresses: jobs stream on `proxy.jobs_redis` (else the control-plane Redis), results in the
`[reports]` results database, write validation against the production and sister store sets.
"""

from __future__ import annotations

import asyncio
import os
import socket

import click

from shadow_proxy.jobs.service import WorkerAddresses, WorkerService, serve_worker
from shadow_proxy.protocols import NoWriteValidation, WriteValidator
from shadow_proxy.wiring import WiringError, default_comparator, ramp_redis_url
from tapcompare.commands.report import results_dsn
from tapcompare.context import settings_from_click
from telemetry.logs import configure_logging


@click.command()
@click.option("--consumer", default=None, help="Consumer name in the group (default: HOSTNAME-pid). Others claim a dead "
              "consumer's pending jobs after proxy.jobs_claim_idle_s either way.")
@click.option("--host", default="0.0.0.0", show_default=True, help="Listen address of /health, /ready, /metrics.")
@click.option("--port", type=int, default=8104, show_default=True)
@click.option("--batch", type=int, default=32, show_default=True, help="Jobs per XREADGROUP (one results transaction).")
@click.option("--compare-threads", type=int, default=2, show_default=True)
@click.option("--version", "new_version", default=None, help="The new service's version, stored with every verdict.")
@click.option("--no-validate", is_flag=True, help="Response comparison only (no 18-path store validation).")
@click.option("--log-level", default="INFO", show_default=True)
@click.pass_context
def worker(ctx: click.Context, consumer: str | None, host: str, port: int, batch: int, compare_threads: int,
           new_version: str | None, no_validate: bool, log_level: str) -> None:
    """Judge comparison jobs from the jobs stream and store the verdicts (idempotent by job id)."""
    settings = settings_from_click(ctx)
    configure_logging(log_level)
    try:
        comparator = default_comparator(settings)
        ramp = ramp_redis_url(settings)
        validator: WriteValidator = NoWriteValidation()
        if not no_validate:
            from shadow_proxy.validation.store_validator import StoreValidator
            from sister_stores.resolve import resolve_store_sets

            production, sister = resolve_store_sets(settings)
            validator = StoreValidator(production, sister, comparator.compare, stream=settings.stores.cdc_stream,
                                       tz_offset=settings.legacy.tz_offset_seconds,
                                       readonly_role=settings.new_service.readonly_role)
        addresses = WorkerAddresses(
            jobs_redis=settings.proxy.jobs_redis or ramp, results_dsn=results_dsn(settings), ramp_redis=ramp,
            legacy_url=f"http://{settings.legacy.host}:{settings.legacy.port}")
    except (WiringError, RuntimeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    service = WorkerService(settings.proxy, addresses, comparator, validator,
                            consumer=consumer or f"{os.environ.get('HOSTNAME') or socket.gethostname()}-{os.getpid()}",
                            batch=batch, version=new_version, compare_threads=compare_threads)
    try:
        asyncio.run(serve_worker(service, host, port))
    except OSError as exc:
        raise click.ClickException(f"worker could not start: {exc}") from None
