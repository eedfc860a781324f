"""`tapcompare replay DATASET` (CI's gate) and `tapcompare demo` (the whole thing on bundled threads).

Register in tapcompare/cli.py with `main.add_command(replay)` and `main.add_command(demo)`.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import click
import uvloop

from config import Settings
from datasets.build import BuildOptions, build_dataset
from datasets.from_capture import read_records
from datasets.format import DatasetError, write_dataset
from results.store.queries import Thresholds
from replay.coverage import BRANCHES
from replay.gate import POLICIES, BaselineError
from replay.run import ReplayOptions, ReplayResult, run_replay
from replay.stack import serve
from replay.stores import DEFAULT_STORES_DIR, ReplayStores, ReplayStoresError, open_stores
from replay.summary import print_summary
from sister_stores.guard import SameStoreError
from sister_stores.local_servers import LocalStoreError
from tapcompare.commands.dataset import default_threads_dir
from tapcompare.context import console, settings_from_click
from telemetry.logs import configure_logging

DEMO_DIR = Path(".tapcompare/demo")
T = TypeVar("T")
DEMO_MAX_COMMENTS = 50  # about 3,300 requests, under 2 minutes on 2 cores (README)


async def _until_signalled(main: Coroutine[Any, Any, T]) -> T:
    """Run `main`; SIGTERM (a supervisor, `kill`) cancels it as Ctrl-C does, so every `finally`
    runs and the local servers are stopped. The handler lives only as long as this run."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(main)
    loop.add_signal_handler(signal.SIGTERM, task.cancel)
    try:
        return await task
    finally:
        loop.remove_signal_handler(signal.SIGTERM)


def _run(main: Coroutine[Any, Any, T]) -> T:
    """asyncio.run with SIGTERM treated like Ctrl-C (both end as KeyboardInterrupt here)."""
    try:
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(_until_signalled(main))
    except asyncio.CancelledError:
        raise KeyboardInterrupt from None


def _replay(settings: Settings, options: ReplayOptions, stores_dir: str, keep_stores: bool) -> ReplayResult:
    try:
        stores = open_stores(settings, stores_dir)
    except (LocalStoreError, SameStoreError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        return _run(run_replay(settings, stores, options, console=console()))
    except (DatasetError, BaselineError, ReplayStoresError) as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        if not keep_stores:
            stores.down()


@click.command()
@click.argument("dataset_path", metavar="DATASET", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--rate", type=click.FloatRange(min=0.1), default=None, help="Requests per second (default: as fast as it goes).")
@click.option("--concurrency", type=click.IntRange(1, 1000), default=8, show_default=True,
              help="Requests in flight at most (each thread's requests stay in order).")
@click.option("--fail-on", type=click.Choice(POLICIES), default="new-groups", show_default=True,
              help="new-groups: a mismatch/shadow_error group not in --baseline fails; any: any such verdict fails.")
@click.option("--baseline", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None,
              help="JSON list of accepted group fingerprints.")
@click.option("--write-baseline", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write this run's mismatch/shadow_error group fingerprints here.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("replay-out"), show_default=True,
              help="Directory for report.html, report.json, report.md and junit.xml.")
@click.option("--fresh/--no-fresh", default=True, show_default=True,
              help="Recreate databases, caches and results first (--no-fresh reuses kept stores; seeds what is missing).")
@click.option("--lockstep/--overlap", default=True, show_default=True,
              help="Wait for a request's verdicts before its thread's next request (--overlap: primaries only).")
@click.option("--processes/--one-process", default=True, show_default=True,
              help="Legacy and rewrite each serve from a process of their own (--one-process: all in one loop).")
@click.option("--workers", type=click.IntRange(0, 64), default=0, show_default=True,
              help="Judge in this many stream-mode worker processes (the proxy only publishes jobs, as with "
                   "proxy.compare_mode = \"stream\"); 0: in the proxy (inline).")
@click.option("--stores-dir", default=DEFAULT_STORES_DIR, show_default=True, help="Where the local servers live.")
@click.option("--keep-stores", is_flag=True, help="Leave the local servers running (stop: TAPCOMPARE_STORES__LOCAL_DIR=<dir> tapcompare stores down).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--inconclusive", "inconclusive", type=click.Choice(("fail", "warn")), default="fail", show_default=True,
              help="A path whose raced/unavailable/skipped share passes its threshold is inconclusive: fail the gate, "
                   "or only report it.")
@click.option("--max-raced-pct", type=click.FloatRange(0, 100), default=None,
              help="Raced share (percent of a path's verdicts) above which the path is inconclusive "
                   "(default: [reports] inconclusive_raced_pct, 1).")
@click.option("--require-coverage", "require_coverage", multiple=True, metavar="BRANCH[,BRANCH...]|all",
              help="Fail the gate unless each named behaviour branch (or every one: all) was exercised; "
                   "the branches are the rows of the behaviour-coverage table.")
@click.pass_context
def replay(ctx: click.Context, dataset_path: Path, rate: float | None, concurrency: int, fail_on: str,
           baseline: Path | None, write_baseline: Path | None, out: Path, fresh: bool, lockstep: bool,
           processes: bool, workers: int, stores_dir: str, keep_stores: bool, no_progress: bool, inconclusive: str, max_raced_pct: float | None,
           require_coverage: tuple[str, ...]) -> None:
    """Replay DATASET through legacy, proxy and rewrite; write the report; exit by the gate.

    Exit codes: 0 pass, 1 the gate failed (a mismatch group, an inconclusive path, a race in a
    lockstep replay, a required behaviour not exercised), 3 the run is incomplete (verdicts missing
    or dropped)."""
    settings = settings_from_click(ctx)
    configure_logging("WARNING", json=False)
    required = [b.strip() for item in require_coverage for b in item.split(",") if b.strip()]
    unknown = [b for b in required if b != "all" and b not in BRANCHES]
    if unknown:
        raise click.BadParameter(f"unknown behaviour branch(es) {', '.join(unknown)} (expected 'all' or some of "
                                 f"{', '.join(BRANCHES)})", param_hint="--require-coverage")
    thresholds = Thresholds.from_settings(settings.reports)
    if max_raced_pct is not None:
        thresholds = replace(thresholds, raced_pct=max_raced_pct)
    options = ReplayOptions(dataset_path, rate, concurrency, fail_on, baseline, write_baseline, out, fresh, lockstep,
                            progress=not no_progress, thresholds=thresholds, inconclusive=inconclusive,
                            require_coverage=required, processes=processes, workers=workers)
    result = _replay(settings, options, stores_dir, keep_stores)
    print_summary(result, console())
    ctx.exit(result.gate.exit_code)


def build_demo_dataset(max_comments: int | None, seed: int = 7) -> tuple[Path, dict]:
    threads = default_threads_dir()
    if not threads.is_dir():
        raise click.ClickException(f"bundled threads not found at {threads} (expected a directory of <link>.ndjson "
                                   "threads); set TAPCOMPARE_THREADS_DIR to where they are")
    records = build_dataset(threads, BuildOptions(seed=seed, max_comments_per_thread=max_comments))
    path = DEMO_DIR / "dataset.jsonl"
    write_dataset(path, records)
    header = dict(records[0])
    header["comments_used"] = sum(1 for r in records if r["kind"] == "comment" or r.get("op") == "create")
    header["comments_available"] = sum(sum(1 for line in f.open(encoding="utf-8") if line.strip())
                                       for f in threads.glob("*.ndjson"))
    return path, header


def _example_targets(path: Path) -> tuple[str, str, str]:
    """(link id36, a comment fullname, an account name) from the dataset, for the printed curl lines."""
    link = comment = account = ""
    for record in read_records(path):
        kind = record.get("kind")
        if kind == "link" and not link:
            link = record["fullname"].split("_", 1)[1]
        elif kind == "comment" and not comment and not record.get("deleted"):
            comment = record["fullname"]
        elif kind == "account" and not account:
            account = record["name"]
        if link and comment and account:
            break
    return link, comment, account


async def _demo(settings: Settings, stores: ReplayStores, options: ReplayOptions, serve_after: bool,
                started: float) -> ReplayResult:
    """The replay; then, unless told not to, the whole stack and the reviewer UI keep serving until
    Ctrl-C or SIGTERM, for a person to send their own requests."""
    result = await run_replay(settings, stores, options, console=console())
    print_summary(result, console())
    console().print(f"[bold]demo took {time.perf_counter() - started:.1f}s[/bold]")
    if not serve_after:
        return result
    stack = result.stack
    assert stack.parts is not None
    try:
        rs = settings.reports
        ui = stack.parts.ui_app()
        try:
            runner, ui_url = await serve(ui, rs.host, rs.port)
        except OSError:
            runner, ui_url = await serve(ui, rs.host, 0)  # the configured port is taken: any free one
        try:
            link, comment, account = _example_targets(options.dataset)
            proxy = stack.proxy_url
            console().print(f"""
[bold]The stack keeps running[/bold] (proxy at 100% on every endpoint; every request you send is shadowed,
judged on its paths and stored). Ctrl-C stops everything.
  proxy:       {proxy}   (what clients call; /metrics, /ready)
  legacy:      {stack.legacy_url}
  rewrite:     {stack.new_url}
  reviewer UI: {ui_url}/   token: {rs.token}
Try:
  curl -s '{proxy}/comments/{link}?limit=3&sort=top'
  curl -s -X POST -H 'X-Auth-User: {account}' -d 'id={comment}&dir=1' {proxy}/api/vote
  curl -s {proxy}/metrics | grep tapcompare_verdicts_total
""", highlight=False, soft_wrap=True)
            await asyncio.Event().wait()
        finally:
            await runner.cleanup()
    finally:
        await stack.stop()
    return result


@click.command()
@click.option("--no-serve", is_flag=True,
              help="Exit after the replay instead of keeping the proxy, legacy, rewrite and reviewer UI serving.")
@click.option("--max-comments-per-thread", type=click.IntRange(1), default=DEMO_MAX_COMMENTS, show_default=True,
              help="Trim each bundled thread to its first N comments (1000: the whole threads, much slower).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=DEMO_DIR / "report", show_default=True)
@click.pass_context
def demo(ctx: click.Context, no_serve: bool, max_comments_per_thread: int, out: Path) -> None:
    """Local stores, legacy, rewrite and proxy; a dataset from the bundled real threads, replayed; then the
    whole stack and the reviewer UI keep serving so you can send your own requests (Ctrl-C stops it all)."""
    started = time.perf_counter()
    settings = settings_from_click(ctx)
    configure_logging("WARNING", json=False)
    path, header = build_demo_dataset(max_comments_per_thread)
    console().print(f"dataset {path}: {len(header['threads'])} real threads, each trimmed to its first "
                  f"{max_comments_per_thread} comments ({header['comments_used']} of the "
                  f"{header['comments_available']} bundled comments; --max-comments-per-thread to change); "
                  f"requests {header['requests']}")
    options = ReplayOptions(path, concurrency=8, fail_on="none", out=out, keep_running=not no_serve,
                            thresholds=Thresholds.from_settings(settings.reports))
    try:
        stores = open_stores(settings, DEFAULT_STORES_DIR)
    except (LocalStoreError, SameStoreError) as exc:
        raise click.ClickException(str(exc)) from None
    try:
        _run(_demo(settings, stores, options, serve_after=not no_serve, started=started))
    except KeyboardInterrupt:
        console().print("stopped")
    finally:
        stores.down()
