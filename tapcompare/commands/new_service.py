"""`tapcompare new serve`: run the rewritten comments service."""

from __future__ import annotations

import click
import uvloop
from aiohttp import web

from sister_stores.guard import SameStoreError
from sister_stores.local_servers import LocalStoreError
from sister_stores.resolve import resolve_store_sets
from tapcompare.context import settings_from_click
from tapcompare.preflight import require_ready
from telemetry.logs import configure_logging


@click.group("new")
def new() -> None:
    """The rewritten comments service (new_comments_service)."""


@new.command()
@click.option("--host", default=None, help="Listen address (default: new_service.host).")
@click.option("--port", type=int, default=None, help="Listen port (default: new_service.port).")
@click.option("--mode", type=click.Choice(["tap", "primary"]), default=None,
              help="tap: read production read-only, write sister; primary: production (default: new_service.mode).")
@click.option("--log-level", default="INFO", show_default=True)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, mode: str | None, log_level: str) -> None:
    """Serve the comments API; refuses to start when a sister store is a production store."""
    from new_comments_service.app import create_app  # keep `--help` fast

    settings = settings_from_click(ctx)
    if mode is not None:
        settings = settings.model_copy(update={"new_service": settings.new_service.model_copy(update={"mode": mode})})
    ns = settings.new_service
    host = host if host is not None else ns.host
    require_ready(settings, f"new-{ns.mode}", host)
    try:
        production, sister = resolve_store_sets(settings)
    except (SameStoreError, LocalStoreError) as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(log_level)
    port = port if port is not None else ns.port
    app = create_app(settings, production, sister if ns.mode == "tap" else None)
    click.echo(f"new comments service ({ns.mode} mode) on http://{host}:{port}")
    web.run_app(app, host=host, port=port, print=None, access_log=None, loop=uvloop.new_event_loop())
