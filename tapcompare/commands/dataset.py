"""`tapcompare dataset build|validate`: production-derived datasets from real threads."""

from __future__ import annotations

import os
from pathlib import Path

import click

from datasets.build import BuildOptions, build_dataset
from datasets.format import DatasetError, write_dataset
from datasets.validate import validate_dataset
from tapcompare.commands.dataset_import import import_cmd

REPO_ROOT = Path(__file__).resolve().parents[2]


def default_threads_dir() -> Path:
    """$TAPCOMPARE_THREADS_DIR, else the shared real threads beside the clone."""
    env = os.environ.get("TAPCOMPARE_THREADS_DIR")
    return Path(env) if env else REPO_ROOT.parent / "shared" / "datasets" / "reddit" / "threads"


@click.group()
def dataset() -> None:
    """Build and validate replayable datasets (seed snapshot + request log)."""


@dataset.command()
@click.option("--threads", "threads_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Directory of <link>.ndjson threads (default: ../shared/datasets/reddit/threads).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Output file; .gz compresses.")
@click.option("--seed", default=7, show_default=True, help="Same seed, same file.")
@click.option("--cutoff", default=0.6, show_default=True, type=click.FloatRange(0.0, 1.0),
              help="Share of each thread's comments in the seed snapshot.")
@click.option("--max-votes", default=8, show_default=True, type=click.IntRange(1, 1000))
@click.option("--max-comments-per-thread", default=None, type=click.IntRange(1), help="Trim big threads.")
def build(threads_dir: Path | None, out: Path, seed: int, cutoff: float, max_votes: int,
          max_comments_per_thread: int | None) -> None:
    """Turn real threads into a dataset file."""
    threads_dir = threads_dir or default_threads_dir()
    if not threads_dir.is_dir():
        raise click.ClickException(f"threads directory {threads_dir} not found (expected <link>.ndjson files)")
    options = BuildOptions(seed=seed, cutoff=cutoff, max_votes=max_votes, max_comments_per_thread=max_comments_per_thread)
    try:
        records = build_dataset(threads_dir, options)
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from None
    lines = write_dataset(out, records)
    header = records[0]
    click.echo(f"wrote {out}: {lines} lines from {len(header['threads'])} threads; requests {header['requests']}")


@dataset.command()
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def validate(path: Path) -> None:
    """Check a dataset file; a bad one is rejected with the line and the reason."""
    try:
        summary = validate_dataset(path)
    except DatasetError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"{path}: ok (version {summary.header['version']}); seed {summary.seed}; requests {summary.requests}")


dataset.add_command(import_cmd)
