"""`tapcompare proxy serve`: run the shadow proxy in front of the legacy."""

from __future__ import annotations

import click

from shadow_proxy.app import serve_forever
from wiring.parts import Parts, WiringError
from sister_stores.guard import SameStoreError
from sister_stores.local_servers import LocalStoreError
from tapcompare.context import settings_from_click
from tapcompare.preflight import require_ready
from telemetry.logs import configure_logging


@click.group()
def proxy() -> None:
    """The shadow proxy."""


@proxy.command()
@click.option("--host", default=None, help="Listen address (default: proxy.host).")
@click.option("--port", type=int, default=None, help="Listen port (default: proxy.port).")
@click.option("--responses-only", is_flag=True,
              help="Inline mode: compare responses only, no 18-path store validation (the verdicts are still stored).")
@click.option("--log-level", default="INFO", show_default=True)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, responses_only: bool, log_level: str) -> None:
    """Serve legacy responses, shadow the ramped share to the new service, judge and store the verdicts.

    proxy.compare_mode = "inline": this process compares responses, validates every shadowed write
    on its six store paths and stores the verdicts in the results database. "stream": it publishes
    comparison jobs for `tapcompare worker` processes and judges nothing itself."""
    settings = settings_from_click(ctx)
    configure_logging(log_level)
    host = host or settings.proxy.host
    port = port if port is not None else settings.proxy.port
    require_ready(settings, "proxy", host, validate=not responses_only)
    try:
        parts = Parts(settings, responses_only=responses_only)
        parts.store_sets  # the prod-vs-sister guard, before anything starts
        app = parts.proxy_app()
    except (WiringError, SameStoreError, LocalStoreError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    mode = settings.proxy.compare_mode
    judged = ("publishes comparison jobs to the stream for `tapcompare worker`" if mode == "stream" else
              "compares responses" + ("" if responses_only else " and validates writes on the 18 store paths")
              + f"; results in {parts.results_dsn}")
    click.echo(f"shadow proxy on http://{host}:{port} -> legacy {parts.legacy_url}, rewrite {parts.new_url} "
               f"({mode} mode: {judged})", err=True)
    serve_forever(app, host, port)
