"""Replay throughput: the bundled real threads replayed end to end, and how it grows from 1x to 4x.

Run: `python benchmarks/replay_throughput.py [--quick]` (make bench runs it). Not part of the test suite.

Datasets are built with `tapcompare dataset build --max-comments-per-thread N` from the bundled threads
(../shared/datasets/reddit/threads) for N = base, 2 x base, 4 x base (every bundled thread has at least
50 comments, so the dataset scales linearly up to N = 50). Each is replayed by `harness/replay_once.py`,
which runs what `tapcompare replay DATASET --fail-on none` runs (replay) in its own process,
on local store servers in a temp dir: requests/s (sent / drive time), comparisons/s (verdicts /
(drive + settle time)), peak RSS of the replay process. When replay is missing or a run
fails, the section says "not measured: replay not available" and why.
Writes results/replay_throughput.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.common import HARNESS, ROOT, TAPCOMPARE, install_cleanup, machine, on_cleanup, cleanup, write_result  # noqa: E402


def available() -> str | None:
    """None when the replay can run, else why not."""
    if not (ROOT / "shadow_proxy" / "replay").is_dir():
        return "replay/ does not exist"
    try:
        from replay.run import ReplayOptions, run_replay  # noqa: F401
        from replay.stores import open_stores  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import problem means: not available
        return f"replay does not import ({type(exc).__name__}: {exc})"
    return None


def cli_has_replay() -> bool:
    out = subprocess.run([TAPCOMPARE, "replay", "--help"], capture_output=True, text=True, timeout=60)
    return out.returncode == 0


def run(quick: bool) -> dict[str, Any]:
    why = available()
    if why:
        return {"available": False, "reason": why}
    base = 2 if quick else 3
    tmp = Path(tempfile.mkdtemp(prefix="tapcompare-replay-bench-"))
    tmp.chmod(0o755)
    stores_dir = tmp / "stores"

    def down() -> None:
        from sister_stores.local_servers import LocalStores

        try:
            if (stores_dir / "state.json").exists():
                LocalStores(stores_dir).down()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    on_cleanup(down)
    rows = []
    for scale in (1, 2, 4):
        n = base * scale
        dataset = tmp / f"dataset-{n}.jsonl"
        built = subprocess.run([TAPCOMPARE, "dataset", "build", "--out", str(dataset), "--max-comments-per-thread", str(n)],
                               capture_output=True, text=True, timeout=120, cwd=ROOT)
        if built.returncode != 0:
            return {"available": False, "reason": f"dataset build failed: {built.stderr[-500:]}"}
        out_json = tmp / f"result-{n}.json"
        t0 = time.perf_counter()
        try:
            proc = subprocess.run([sys.executable, str(HARNESS / "replay_once.py"), str(dataset), str(stores_dir),
                                   str(tmp / f"out-{n}"), str(out_json)],
                                  capture_output=True, text=True, timeout=240, cwd=ROOT)
        except subprocess.TimeoutExpired:
            return {"available": False, "reason": f"replay at {n} comments/thread ran past 240 s", "rows": rows}
        wall = time.perf_counter() - t0
        if proc.returncode != 0 or not out_json.exists():
            return {"available": False, "reason": f"replay failed (exit {proc.returncode}): {proc.stderr[-800:]}", "rows": rows}
        r = json.loads(out_json.read_text())
        t = r["timings"]
        compare_s = t.get("drive_s", r["drive_s"]) + t.get("settle_s", 0.0)
        row = {
            "scale": scale, "max_comments_per_thread": n, "requests": r["requests"], "ops": r["ops"],
            "seed_comments": r["seed"]["comments"], "verdicts": r["verdicts"], "verdicts_by_kind": r["verdicts_by_kind"],
            "drive_s": r["drive_s"], "settle_s": t.get("settle_s"), "prepare_and_seed_s": t.get("prepare_and_seed_s"),
            "total_s": t.get("total_s"), "process_wall_s": wall,
            "requests_per_s": r["sent"] / r["drive_s"] if r["drive_s"] else None,
            "comparisons_per_s": r["verdicts"] / compare_s if compare_s else None,
            "peak_rss_mib": (r["peak_rss_kb"] or 0) / 1024, "incomplete": r["incomplete"], "gate_passed": r["gate_passed"],
        }
        rows.append(row)
        print(f"  {n:3d} comments/thread: {row['requests']} requests, {row['verdicts']} verdicts, drive {row['drive_s']:.1f} s, "
              f"{row['requests_per_s']:.1f} req/s, {row['comparisons_per_s']:.1f} comparisons/s, peak RSS "
              f"{row['peak_rss_mib']:.0f} MiB, wall {wall:.1f} s", flush=True)
    return {"available": True, "base_comments_per_thread": base, "cli_registers_replay": cli_has_replay(), "rows": rows}


def markdown(result: dict[str, Any]) -> str:
    lines = ["# Replay throughput", ""]
    r = result["replay"]
    if not r.get("available"):
        lines += [f"**Not measured: replay not available** ({r.get('reason')}).", ""]
        return "\n".join(lines)
    m = result["machine"]
    rows = r["rows"]
    one = rows[0]
    lines += [
        f"{m['nproc']} CPUs ({m['cpu']}), {m['date_utc']}. Datasets from the bundled real threads (7 threads) via "
        "`tapcompare dataset build --max-comments-per-thread N`, replayed end to end through local stores, legacy, "
        "proxy (100% shadowing), rewrite and store validation, as `tapcompare replay DATASET --fail-on none` does "
        "(default concurrency 8, lockstep). req/s = requests sent / drive time; comparisons/s = verdicts (responses + "
        "18 store paths) / (drive + settle time); peak RSS = the replay process (legacy, rewrite and proxy run in it; "
        "store servers excluded).",
        "",
        "| scale | comments/thread | requests | verdicts | drive (s) | total (s) | req/s | comparisons/s | peak RSS (MiB) | requests vs 1x | time vs 1x | RSS vs 1x | verdicts by kind | complete |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row['scale']}x | {row['max_comments_per_thread']} | {row['requests']} | {row['verdicts']} | {row['drive_s']:.1f} | "
            f"{row['total_s']:.1f} | {row['requests_per_s']:.1f} | {row['comparisons_per_s']:.1f} | {row['peak_rss_mib']:.0f} | "
            f"{row['requests'] / one['requests']:.2f}x | {row['total_s'] / one['total_s']:.2f}x | {row['peak_rss_mib'] / one['peak_rss_mib']:.2f}x | "
            f"{', '.join(f'{k} {v}' for k, v in sorted(row['verdicts_by_kind'].items()))} | "
            f"{'yes' if not row['incomplete'] else 'no: ' + '; '.join(row['incomplete'])} |"
        )
    full = None
    if rows:
        last = rows[-1]
        per_comment_s = last["drive_s"] / max(last["max_comments_per_thread"] * 7, 1)
        full = per_comment_s * 2549
    lines += [
        "",
        f"The untrimmed bundled dataset (2,549 comments) was not replayed: even at the 4x run's rate per comment (and "
        f"that rate falls as threads grow) it would take at least {full / 60:.0f} min of driving, beyond the "
        "10-minute `make bench` budget." if full else "",
        "" if r.get("cli_registers_replay") else
        "Note: `tapcompare replay` is not registered in tapcompare/cli.py yet; the benchmark calls replay "
        "(what the command runs) directly.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    install_cleanup()
    started = machine()
    try:
        print("replay throughput", flush=True)
        replay = run(args.quick)
    finally:
        cleanup()
    if not replay.get("available"):
        print(f"  not measured: replay not available ({replay.get('reason')})", flush=True)
    result = {"machine": started, "replay": replay}
    write_result("replay_throughput", result, markdown(result))


if __name__ == "__main__":
    main()
