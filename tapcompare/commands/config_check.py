"""`tapcompare check-config FILE`."""

from __future__ import annotations

import click

from config import ConfigError, load_settings


@click.command("check-config")
@click.argument("path", type=click.Path(dir_okay=False))
def check_config(path: str) -> None:
    """Validate a TOML config file (with TAPCOMPARE_* overrides) and say what is wrong."""
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    kinds = {n: ("local" if getattr(settings.stores, n).local else "external") for n in ("production", "sister")}
    click.echo(f"{path}: ok (production stores {kinds['production']}, sister stores {kinds['sister']})")
