"""One replay from start to finish: stores, seed, stack, drive, settle, report, gate."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from config import Settings
from results.store.report import export_report
from results.store.queries import Filters, Thresholds
from legacy_adapter.dataset_seed import DatasetSeedReport
from replay.dataset import ReplayDataset, load_dataset
from replay.driver import Driver, DriveStats
from replay.coverage import attach_to_reports
from replay.gate import GateResult, apply_trust, decide, load_baseline, write_baseline
from replay.stack import ReplayStack, SettleTimeout, replay_settings
from replay.stores import ReplayStores, prepare, seed_both

REPORT_FILES = {"html": "report.html", "json": "report.json", "md": "report.md", "junit": "junit.xml"}


class ReplayTimings(TypedDict, total=False):
    """Seconds each phase of a replay took."""

    prepare_and_seed_s: float
    drive_s: float
    settle_s: float
    total_s: float


@dataclass
class ReplayOptions:
    dataset: Path
    rate: float | None = None
    concurrency: int = 8
    fail_on: str = "new-groups"
    baseline: Path | None = None
    write_baseline: Path | None = None
    out: Path = Path("replay-out")
    fresh: bool = True
    lockstep: bool = True
    settle_timeout_s: float | None = None  # default: 60 s + 0.2 s per request
    progress: bool = True
    keep_running: bool = False  # leave the stack serving after the run (the demo); the caller stops it
    thresholds: Thresholds = field(default_factory=Thresholds)  # when a path is inconclusive
    processes: bool = True  # legacy and rewrite each in a process of their own (replay/stack.py)
    workers: int = 0  # > 0: judged by this many stream-mode worker processes instead of in the proxy
    inconclusive: str = "fail"            # fail | warn: what an inconclusive path does to the gate
    require_coverage: list[str] = field(default_factory=list)  # behaviour branches the gate demands


@dataclass
class ReplayResult:
    dataset: ReplayDataset
    seed: DatasetSeedReport | None
    drive: DriveStats
    stack: ReplayStack
    gate: GateResult
    incomplete: list[str]
    reports: dict[str, Path] = field(default_factory=dict)
    timings: ReplayTimings = field(default_factory=lambda: ReplayTimings())

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        return self.stack.sink.by_path()


def incompleteness(stack: ReplayStack, drive: DriveStats) -> list[str]:
    """Why this run's verdicts cannot be trusted to be all of them (empty when complete)."""
    out = []
    runtime = stack.runtime
    if runtime.queue.dropped:
        out.append(f"the proxy's shadow queue dropped {runtime.queue.dropped} exchange(s)")
    missing = drive.expected_verdicts - stack.sink.total
    if missing > 0:
        out.append(f"{missing} verdict(s) missing: expected {drive.expected_verdicts}, recorded {stack.sink.total}")
    if drive.unresolved:
        out.append(f"requests not sent, naming a create the legacy did not return: {dict(drive.unresolved)}")
    if drive.transport_errors:
        out.append(f"requests that failed in transport: {dict(drive.transport_errors)}")
    if stack.stored is not None and stack.stored.error is not None:
        out.append(f"following the workers' stored verdicts stopped: {stack.stored.error}")
    if stack.raised:
        out.append(f"exceptions on the shadow side: {dict(stack.raised)}")
    writer = stack.writer
    if writer is not None and (writer.stats.dropped or writer.stats.failed):
        out.append(f"results store: {writer.stats.dropped} dropped, {writer.stats.failed} failed to write")
    return out


async def export_all(stack: ReplayStack, out: Path, since: dt.datetime,
                     thresholds: Thresholds = Thresholds()) -> dict[str, Path]:
    assert stack.results is not None
    written = {}
    for fmt, name in REPORT_FILES.items():
        await export_report(stack.results.pool, fmt, out / name, Filters(since=since), thresholds=thresholds)
        written[fmt] = out / name
    return written


def _progress(console: Console, enabled: bool) -> Progress:
    return Progress(TextColumn("[bold]replay[/bold]"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[rate]}"),
                    TimeElapsedColumn(), console=console, disable=not enabled, transient=False)


async def run_replay(settings: Settings, stores: ReplayStores, options: ReplayOptions, *,
                     console: Console | None = None) -> ReplayResult:
    """Replay `options.dataset` on `stores` (already up); the stack is stopped before returning
    unless `options.keep_running` (then `result.stack.stop()` is the caller's)."""
    console = console or Console(stderr=True)
    timings: ReplayTimings = {}
    t0 = time.perf_counter()
    dataset = load_dataset(options.dataset)
    baseline = load_baseline(options.baseline)
    settings = replay_settings(settings, queue_size=len(dataset.requests) + 1, workers=options.workers)
    await prepare(stores, settings, fresh=options.fresh)
    seed = await seed_both(stores, settings, dataset.seed)
    timings["prepare_and_seed_s"] = time.perf_counter() - t0
    since = dt.datetime.now(dt.timezone.utc)
    stack = ReplayStack(settings, stores, processes=options.processes, workers=options.workers)
    await stack.start()
    try:
        t1 = time.perf_counter()
        with _progress(console, options.progress) as progress:
            task = progress.add_task("requests", total=len(dataset.requests), rate="")
            started = time.monotonic()

            def sent() -> None:
                done = progress.tasks[task].completed + 1
                elapsed = max(time.monotonic() - started, 1e-6)
                progress.update(task, advance=1, rate=f"{done / elapsed:.0f} req/s")

            driver = Driver(dataset, stack.proxy_url, stack.sink, rate=options.rate, concurrency=options.concurrency,
                            lockstep=options.lockstep, verdict_timeout_s=settings.proxy.validate_timeout_s + 30,
                            on_sent=sent)
            drive = await driver.run()
        timings["drive_s"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        unsettled = None
        try:
            await stack.settle(drive.sent, options.settle_timeout_s or 60 + 0.2 * len(dataset.requests))
        except SettleTimeout as exc:
            unsettled = str(exc)  # what did not arrive is reported as missing below, with where it stuck
        if stack.stored is not None:
            await stack.stored.fill_examples()
        timings["settle_s"] = time.perf_counter() - t2
        incomplete = incompleteness(stack, drive) + ([unsettled] if unsettled else [])
        gate = decide(options.fail_on, stack.sink.groups, baseline, incomplete)
        rows = drive.coverage.rows()
        apply_trust(gate, stack.sink.by_path(), thresholds=options.thresholds, lockstep=options.lockstep,
                    inconclusive=options.inconclusive, coverage=rows, require_coverage=options.require_coverage)
        reports = await export_all(stack, options.out, since, options.thresholds)
        attach_to_reports(reports, rows, options.require_coverage, options.thresholds)
        if options.write_baseline is not None:
            write_baseline(options.write_baseline, stack.sink.groups)
    except BaseException:
        await stack.stop()
        raise
    if not options.keep_running:
        await stack.stop()
    timings["total_s"] = time.perf_counter() - t0
    return ReplayResult(dataset, seed, drive, stack, gate, incomplete, reports, timings)
