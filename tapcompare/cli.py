"""Entry point of the `tapcompare` console script."""

from __future__ import annotations

import click

from tapcompare.commands.config_check import check_config
from tapcompare.commands.dataset import dataset
from tapcompare.commands.legacy import legacy
from tapcompare.commands.new_service import new
from tapcompare.commands.proxy import proxy
from tapcompare.commands.ramp import ramp
from tapcompare.commands.replay import demo, replay
from tapcompare.commands.report import report
from tapcompare.commands.worker import worker
from tapcompare.commands.stores import stores


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", envvar="TAPCOMPARE_CONFIG", type=click.Path(dir_okay=False),
              help="TOML settings file (default: built-in defaults; env TAPCOMPARE_CONFIG).")
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """tapcompare: shadow live traffic to a rewrite and compare responses and datastore side effects."""
    ctx.ensure_object(dict)["config_path"] = config_path


main.add_command(stores)
main.add_command(check_config)
main.add_command(dataset)
main.add_command(legacy)
main.add_command(new)
main.add_command(proxy)
main.add_command(ramp)
main.add_command(replay)
main.add_command(demo)
main.add_command(report)
main.add_command(worker)

if __name__ == "__main__":
    main()
