"""`tapcompare proxy serve`: run the shadow proxy in front of the legacy."""

from __future__ import annotations

import click
from aiohttp import web

from shadow_proxy.app import RUNNER_OPTIONS
from shadow_proxy.wiring import WiringError, build_app
from tapcompare.context import settings_from_click
from telemetry.logs import configure_logging


@click.group()
def proxy() -> None:
    """The shadow proxy."""


@proxy.command()
@click.option("--host", default=None, help="Listen address (default: proxy.host).")
@click.option("--port", type=int, default=None, help="Listen port (default: proxy.port).")
@click.option("--log-level", default="INFO", show_default=True)
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, log_level: str) -> None:
    """Serve legacy responses, shadow the ramped share to the new service, compare."""
    settings = settings_from_click(ctx)
    configure_logging(log_level)
    try:
        app = build_app(settings)
    except (WiringError, RuntimeError) as exc:
        raise click.ClickException(str(exc)) from None
    web.run_app(app, host=host or settings.proxy.host, port=port or settings.proxy.port,
                access_log=None, print=lambda msg: click.echo(msg, err=True), handler_args=RUNNER_OPTIONS)
