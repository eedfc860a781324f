"""Benchmark the comparison workers: comparisons/s with 1 and with 2 `tapcompare worker`-style
processes on one Redis Stream consumer group, and the bounded stream's backlog when workers fall behind.

Everything is real: local Redis and PostgreSQL servers (sister_stores.local_servers, in a temp dir),
worker subprocesses running wiring.worker.serve_worker with the comparison core from
default settings, verdicts stored idempotently in a results database.

Jobs are reads built from ../shared/datasets/reddit/threads (as benchmarks/compare_engine.py does):
per 10 jobs, 7 `/api/info` single comments (equal), 2 `/comments` listings of t3_fjn0j9 (114
comments, equal) and 1 such listing with one score changed (DeepDiff runs, a mismatch group).

Throughput = jobs acknowledged per second between 10% and 90% of a prefilled stream (process
start-up excluded). Backlog phase: one worker, a publisher at 2x its measured rate for
`--backlog-seconds`, MAXLEN ~`--maxlen`, alert threshold `--threshold`; sampled every 0.5 s.

    .venv/bin/python benchmarks/scale_workers.py            # writes benchmarks/results/scale_workers.{json,md}
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import redis.asyncio as aioredis  # noqa: E402
from prometheus_client import CollectorRegistry  # noqa: E402

from config import ProxySettings, Settings  # noqa: E402
from diff_reports.types import Observation  # noqa: E402
from judge.codec import encode  # noqa: E402
from traffic.shadowed import CapturedRequest, ComparisonJob  # noqa: E402
from judge.metrics import BacklogMetrics  # noqa: E402
from judge.publisher import JOB_FIELD, BacklogMonitor  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
THREAD = "t3_fjn0j9"


# -- jobs -----------------------------------------------------------------------------------------
def templates(mix: str = "mixed") -> list[tuple[str, str, dict, dict]]:
    from compare_engine import info_response, last_score_path, load_thread, thread_response  # same payloads

    comments = load_thread(THREAD)
    thread = thread_response(comments, THREAD)
    changed = copy.deepcopy(thread)
    last_score_path(changed)["score"] += 1
    out = [("info", "read.info.response", info_response(comments[i]), info_response(comments[i])) for i in range(7)]
    out += [("comments", "read.comments.response", thread, thread)] * 2
    out.append(("comments", "read.comments.response", thread, changed if mix == "mixed" else thread))
    return out


def make_jobs(n: int, tag: str, mix: str = "mixed") -> list[bytes]:
    base = templates(mix)
    out = []
    for i in range(n):
        endpoint, path, legacy, new = base[i % len(base)]
        req = CapturedRequest("GET", f"/bench/{i}", (("X-Request-Id", f"{tag}-{i}"),), None)
        out.append(encode(ComparisonJob(
            job_id=f"{tag}-{i}:{endpoint}", kind="read", endpoint=endpoint, request_id=f"{tag}-{i}", path=path,
            entity=THREAD, link=THREAD, request=req, legacy=Observation("legacy", legacy, duration_s=0.01),
            new=Observation("new", new, duration_s=0.012), legacy_status=200, published_at=time.time())))
    return out


# -- worker processes -----------------------------------------------------------------------------
def run_worker(args: argparse.Namespace) -> None:
    from wiring.worker import serve_worker
    from wiring.parts import Parts

    proxy = ProxySettings(compare_mode="stream", jobs_stream=args.stream, jobs_group=args.group, jobs_redis=args.redis,
                          ramp_redis=args.redis, guard_enabled=False, admin_token="bench-admin-token")
    # The worker `tapcompare worker --responses-only` runs, from the composition root.
    parts = Parts(Settings(proxy=proxy), results_dsn=args.dsn, responses_only=True)
    service = parts.worker_service(consumer=args.consumer, batch=args.batch, compare_threads=1)
    asyncio.run(serve_worker(service, "127.0.0.1", 0))


def spawn(n: int, redis_url: str, dsn: str, stream: str, group: str, batch: int) -> list[subprocess.Popen]:
    return [subprocess.Popen([sys.executable, __file__, "worker", "--redis", redis_url, "--dsn", dsn,
                              "--stream", stream, "--group", group, "--consumer", f"bench-{i}",
                              "--batch", str(batch)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for i in range(n)]


def stop(procs: list[subprocess.Popen]) -> float:
    """SIGTERM (the batch in hand is finished), reap; returns the workers' CPU seconds (user + sys)."""
    for p in procs:
        p.send_signal(signal.SIGTERM)
    cpu = 0.0
    for p in procs:
        _, _, usage = os.wait4(p.pid, 0)
        p.returncode = 0
        cpu += usage.ru_utime + usage.ru_stime
    return cpu


async def acked(r: aioredis.Redis, stream: str, group: str) -> int:
    for g in await r.xinfo_groups(stream):
        info = {(k.decode() if isinstance(k, bytes) else k): v for k, v in g.items()}
        if (info["name"].decode() if isinstance(info["name"], bytes) else info["name"]) == group:
            return int(info.get("entries-read") or 0) - int(info["pending"])
    return 0


async def fresh_db(admin_dsn: str, name: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(admin_dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin_dsn.rsplit("/", 1)[0] + f"/{name}"


async def throughput(redis_url: str, admin_dsn: str, workers: int, n: int, batch: int, mix: str) -> dict:
    tag = uuid.uuid4().hex[:8]
    stream, group = f"bench:{tag}", f"g{tag}"
    dsn = await fresh_db(admin_dsn, f"bench_{tag}")
    r = aioredis.from_url(redis_url)
    jobs = make_jobs(n, tag, mix)
    async with r.pipeline(transaction=False) as pipe:
        for data in jobs:
            pipe.xadd(stream, {JOB_FIELD: data})
        await pipe.execute()
    await r.xgroup_create(stream, group, id="0")
    procs = spawn(workers, redis_url, dsn, stream, group, batch)
    samples: list[tuple[float, int]] = []
    load = os.getloadavg()[0]
    cpu = 0.0
    try:
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            done = await acked(r, stream, group)
            samples.append((time.monotonic(), done))
            if done >= n:
                break
            await asyncio.sleep(0.05)
    finally:
        cpu = stop(procs)
        await r.delete(stream)
        await r.aclose()
    lo = next(s for s in samples if s[1] >= n * 0.1)
    hi = next(s for s in samples if s[1] >= n * 0.9)
    rate = (hi[1] - lo[1]) / (hi[0] - lo[0])
    return {"mix": mix, "workers": workers, "jobs": n, "batch": batch, "comparisons_per_s": round(rate, 1),
            "total_s": round(samples[-1][0] - samples[0][0], 2), "worker_cpu_s": round(cpu, 2),
            "per_worker_cpu_s": round(n / cpu, 1) if cpu else None, "load_1m_before": round(load, 2)}


async def backlog(redis_url: str, admin_dsn: str, rate: float, seconds: float, maxlen: int, threshold: int,
                  batch: int) -> dict:
    tag = uuid.uuid4().hex[:8]
    stream, group = f"bench:{tag}", f"g{tag}"
    dsn = await fresh_db(admin_dsn, f"bench_{tag}")
    r = aioredis.from_url(redis_url)
    await r.xgroup_create(stream, group, id="0", mkstream=True)
    registry = CollectorRegistry()
    monitor = BacklogMonitor(r, stream, group, threshold, BacklogMetrics(registry, threshold))
    jobs = make_jobs(int(rate * seconds) + 1, tag)
    procs = spawn(1, redis_url, dsn, stream, group, batch)
    series = []
    published = 0
    started = time.monotonic()
    next_sample = started
    try:
        while published < len(jobs):  # publish at `rate`, in 10 ms slices
            due = min(len(jobs), int((time.monotonic() - started) * rate))
            if due > published:
                async with r.pipeline(transaction=False) as pipe:
                    for data in jobs[published:due]:
                        pipe.xadd(stream, {JOB_FIELD: data}, maxlen=maxlen, approximate=True)
                    await pipe.execute()
                published = due
            if time.monotonic() >= next_sample:
                b = await monitor.sample()
                series.append({"t": round(time.monotonic() - started, 1), "published": published, "length": b.length,
                               "lag": b.lag, "pending": b.pending, "over": monitor.over})
                next_sample += 0.5
            await asyncio.sleep(0.01)
        publish_s = time.monotonic() - started
        while (b := await monitor.sample()).total > 0 and time.monotonic() - started < publish_s + 120:
            series.append({"t": round(time.monotonic() - started, 1), "published": published, "length": b.length,
                           "lag": b.lag, "pending": b.pending, "over": monitor.over})
            await asyncio.sleep(0.5)
        drained_s = time.monotonic() - started - publish_s
    finally:
        stop(procs)
        await r.delete(stream)
        await r.aclose()
    import asyncpg

    conn = await asyncpg.connect(dsn)
    stored = await conn.fetchval("SELECT count(*) FROM processed_jobs")
    await conn.close()
    return {"publish_rate_per_s": round(rate, 1), "publish_s": round(publish_s, 1), "maxlen": maxlen,
            "threshold": threshold, "published": published, "stored": stored, "shed_by_maxlen": published - stored,
            "max_length": max(s["length"] for s in series), "max_backlog": max(s["lag"] + s["pending"] for s in series),
            "exceeded_samples": int(registry.get_sample_value("tapcompare_jobs_backlog_exceeded_total") or 0),
            "drain_s": round(drained_s, 1), "series": series}


def markdown(report: dict) -> str:
    b = report["backlog"]
    lines = [
        "# Comparison workers benchmark", "",
        f"{report['env']}. Local Redis {report['redis']} and PostgreSQL (one of each); "
        f"{report['cpus']} CPUs shared by the workers, Redis, PostgreSQL and the driver.", "",
        "Read jobs judged by the default comparison core and stored idempotently (one results transaction per "
        "XREADGROUP batch). Per 10 jobs: 7 single-comment `/api/info`, 3 114-comment `/comments` listings; in the "
        "`mixed` mix one of those listings has a changed score (10% mismatches, each a DeepDiff and a stored "
        "example), in `equal` none. Rate = acknowledged jobs/s between 10% and 90% of a prefilled stream.", "",
        "`jobs/CPU-s` = jobs / the workers' CPU seconds (user + sys, start-up included): the rate one worker "
        "(one CPU) sustains when it has its CPU to itself. The box was shared with other workloads; the "
        "1-minute load average before each run is shown.", "",
        "| mix | workers | jobs | comparisons/s | wall s | worker CPU s | jobs/CPU-s | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *[f"| {t['mix']} | {t['workers']} | {t['jobs']} | {t['comparisons_per_s']:,} | {t['total_s']} | "
          f"{t['worker_cpu_s']} | {t['per_worker_cpu_s']} | {t['load_1m_before']} |" for t in report["throughput"]],
        "", "Medians: " + ", ".join(f"{k} workers {v['comparisons_per_s']:,}/s" for k, v in report["median"].items()),
        "", "**2 workers / 1 worker (medians): " + ", ".join(f"{m} {r:.2f}x" for m, r in report["ratio"].items()) + "**", "",
        "## Backlog when workers fall behind", "",
        f"One worker; a publisher at {b['publish_rate_per_s']:,}/s (2x the measured one-worker rate) for "
        f"{b['publish_s']} s; `XADD MAXLEN ~{b['maxlen']}`; alert threshold (`proxy.jobs_backlog_alert`) "
        f"{b['threshold']}.", "",
        f"- stream length stayed bounded: max {b['max_length']:,} (MAXLEN ~{b['maxlen']:,} trims whole stream nodes)",
        f"- backlog (lag + pending) max {b['max_backlog']:,}; samples over the threshold (counted in "
        f"`tapcompare_jobs_backlog_exceeded_total`, logged as `jobs_backlog_high`): {b['exceeded_samples']}",
        f"- published {b['published']:,}, stored {b['stored']:,}; shed by the bound: {b['shed_by_maxlen']:,} "
        "(the oldest undelivered jobs, as the in-process queue sheds when full)",
        f"- drained {b['drain_s']} s after publishing stopped", "",
        "| t (s) | published | length | lag | pending | over threshold |", "|---:|---:|---:|---:|---:|:---:|",
        *[f"| {s['t']} | {s['published']:,} | {s['length']:,} | {s['lag']:,} | {s['pending']:,} | "
          f"{'yes' if s['over'] else ''} |" for s in b["series"][::2]],
    ]
    return "\n".join(lines) + "\n"


async def bench(args: argparse.Namespace) -> dict:
    from sister_stores.local_servers import LocalStores

    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        local = LocalStores(tmp, database="bench")
        servers = local.up(("sister",))
        try:
            s = servers["sister"]
            admin_dsn = s.with_database("postgres").postgres
            r = aioredis.from_url(s.redis)
            redis_version = (await r.info("server"))["redis_version"]
            await r.aclose()
            runs = [await throughput(s.redis, admin_dsn, w, args.jobs, args.batch, mix)
                    for _ in range(args.reps) for mix in ("mixed", "equal") for w in (1, 2)]
            one = _median(runs, "mixed", 1)
            back = await backlog(s.redis, admin_dsn, one["comparisons_per_s"] * 2, args.backlog_seconds,
                                 args.maxlen, args.threshold, args.batch)
        finally:
            local.down()
    return {"env": f"Python {platform.python_version()}, {platform.platform()}", "cpus": os.cpu_count(),
            "redis": redis_version, "throughput": runs,
            "median": {f"{m}/{w}": _median(runs, m, w) for m in ("mixed", "equal") for w in (1, 2)},
            "ratio": {m: round(_median(runs, m, 2)["comparisons_per_s"] / _median(runs, m, 1)["comparisons_per_s"], 2)
                      for m in ("mixed", "equal")}, "backlog": back}


async def smoke(args: argparse.Namespace) -> dict:
    """The set-up's bounded check (tests/benchmarks): one worker process, one prefilled stream, its verdicts stored."""
    import asyncpg

    from sister_stores.local_servers import LocalStores

    with tempfile.TemporaryDirectory(prefix="bench-workers-") as tmp:
        local = LocalStores(tmp, database="bench")
        s = local.up(("sister",))["sister"]
        try:
            admin_dsn = s.with_database("postgres").postgres
            run = await throughput(s.redis, admin_dsn, 1, args.jobs, args.batch, "mixed")
            conn = await asyncpg.connect(admin_dsn)
            try:
                dbs = [r["datname"] for r in await conn.fetch("SELECT datname FROM pg_database WHERE datname LIKE 'bench_%'")]
            finally:
                await conn.close()
            conn = await asyncpg.connect(admin_dsn.rsplit("/", 1)[0] + f"/{dbs[0]}")
            try:
                run["stored"] = await conn.fetchval("SELECT count(*) FROM processed_jobs")
            finally:
                await conn.close()
        finally:
            local.down()
    return run


def _median(runs: list[dict], mix: str, workers: int) -> dict:
    mine = sorted((r for r in runs if r["mix"] == mix and r["workers"] == workers), key=lambda r: r["comparisons_per_s"])
    return mine[len(mine) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd")
    w = sub.add_parser("worker")
    for name in ("--redis", "--dsn", "--stream", "--group", "--consumer"):
        w.add_argument(name, required=True)
    w.add_argument("--batch", type=int, default=32)
    parser.add_argument("--jobs", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--backlog-seconds", type=float, default=10.0)
    parser.add_argument("--maxlen", type=int, default=2000)
    parser.add_argument("--threshold", type=int, default=1000)
    parser.add_argument("--smoke", action="store_true", help="set-up check only: one worker judges --jobs jobs, "
                        "print JSON; writes no results")
    args = parser.parse_args()
    if args.cmd == "worker":
        run_worker(args)
        return
    if args.smoke:
        print(json.dumps(asyncio.run(smoke(args))))
        return
    report = asyncio.run(bench(args))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "scale_workers.json").write_text(json.dumps(report, indent=2) + "\n")
    (RESULTS / "scale_workers.md").write_text(markdown(report))
    print(markdown(report))


if __name__ == "__main__":
    main()
