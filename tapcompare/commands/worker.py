"""`tapcompare worker`: consume comparison jobs from the Redis Stream (proxy.compare_mode = "stream").

Addresses: jobs stream on `proxy.jobs_redis` (else the control-plane Redis), results in the
`[reports]` results database, write validation against the production and sister store sets;
all of it built by the composition root (`wiring.parts.Parts`), as in the inline proxy.
"""

from __future__ import annotations

import os
import socket

import click
import uvloop

from wiring.worker import serve_worker
from wiring.parts import Parts, WiringError
from sister_stores.guard import SameStoreError
from sister_stores.local_servers import LocalStoreError
from tapcompare.context import settings_from_click
from tapcompare.preflight import require_ready
from telemetry.logs import configure_logging


@click.command()
@click.option("--consumer", default=None, help="Consumer name in the group (default: HOSTNAME-pid). Others claim a dead "
              "consumer's pending jobs after proxy.jobs_claim_idle_s either way.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Listen address of /health, /ready, /metrics.")
@click.option("--port", type=int, default=8104, show_default=True)
@click.option("--batch", type=int, default=32, show_default=True, help="Jobs per XREADGROUP (one results transaction).")
@click.option("--compare-threads", type=int, default=2, show_default=True)
@click.option("--version", "new_version", default=None, help="The new service's version, stored with every verdict.")
@click.option("--responses-only", "--no-validate", "responses_only", is_flag=True,
              help="Response comparison only (no 18-path store validation).")
@click.option("--log-level", default="INFO", show_default=True)
@click.pass_context
def worker(ctx: click.Context, consumer: str | None, host: str, port: int, batch: int, compare_threads: int,
           new_version: str | None, responses_only: bool, log_level: str) -> None:
    """Judge comparison jobs from the jobs stream and store the verdicts (idempotent by job id)."""
    settings = settings_from_click(ctx)
    configure_logging(log_level)
    require_ready(settings, "worker", host, validate=not responses_only)
    try:
        parts = Parts(settings, responses_only=responses_only, version=new_version)
        service = parts.worker_service(
            consumer=consumer or f"{os.environ.get('HOSTNAME') or socket.gethostname()}-{os.getpid()}",
            batch=batch, compare_threads=compare_threads)
    except (WiringError, SameStoreError, LocalStoreError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"worker {service.config.consumer} on http://{host}:{port} (jobs {parts.jobs_redis}, "
               f"results {parts.results_dsn})", err=True)
    try:
        uvloop.run(serve_worker(service, host, port))
    except OSError as exc:
        raise click.ClickException(f"worker could not start: {exc}") from None
