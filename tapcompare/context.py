"""What every command receives: validated settings, loaded once from --config and the environment."""

from __future__ import annotations

import sys

import click
from rich.console import Console

from config import ConfigError, Settings, load_settings


def settings_from_click(ctx: click.Context) -> Settings:
    """Load settings lazily so `--help` works even with a broken config file."""
    obj = ctx.ensure_object(dict)
    if "settings" not in obj:
        try:
            obj["settings"] = load_settings(obj.get("config_path"))
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
    return obj["settings"]


pass_settings = click.make_pass_decorator(dict, ensure=True)


def console() -> Console:
    """Where a command prints tables and summaries: built when called (no Console at import time),
    on today's stdout; 140 columns when it is not a terminal (logs, CI)."""
    return Console(width=None if sys.stdout.isatty() else 140)
