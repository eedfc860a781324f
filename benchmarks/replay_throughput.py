"""Replay throughput (issue 23): efficiency against the legacy alone, the untrimmed bundled dataset,
and growth from 1x to 8x copies of the same threads.

Run: `python benchmarks/replay_throughput.py [--quick]` (make bench runs it). Not part of the test suite.

Each replay runs what `tapcompare replay DATASET --fail-on none` runs (`harness/replay_once.py`, its
own process; legacy and rewrite in their child processes) on local store servers in a temp dir.
- **growth**: datasets built with `tapcompare dataset build --threads DIR --max-comments-per-thread B`
  from k = 1, 2, 4, 8 copies of the bundled threads under distinct link and comment ids
  (`harness/thread_copies.py`); `growth[k]` = drive time at k / drive time at 1 (target <= 1.1 k);
  peak RSS of the replay process at the largest k (target < 400 MiB).
- **untrimmed**: the bundled threads uncut (`dataset build --seed 7`), drive time (target <= 180 s)
  with every verdict present.
- **efficiency**: the same dataset's request log served by the legacy alone, no proxy and no
  shadowing (`harness/legacy_once.py`, same driver, concurrency and per-thread order), in the same
  run: replay requests/s / legacy requests/s (target >= 0.25). On the untrimmed dataset; with
  --quick (no untrimmed run) on the 1x dataset.
Writes results/replay_throughput.{json,md}: `efficiency`, `untrimmed_drive_s`, `growth`,
`peak_rss_mib` at the top level and `analysis.targets` with `met` per target.
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
from harness.thread_copies import copy_threads  # noqa: E402

THREADS = ROOT.parent / "shared" / "datasets" / "reddit" / "threads"
TARGETS = {"efficiency": 0.25, "untrimmed_drive_s": 180.0, "growth_factor": 1.1, "peak_rss_mib": 400.0}


def available() -> str | None:
    """None when the replay can run, else why not."""
    if not (ROOT / "replay").is_dir():
        return "replay/ does not exist"
    if not THREADS.is_dir():
        return f"the bundled threads are missing ({THREADS})"
    try:
        from replay.run import ReplayOptions, run_replay  # noqa: F401
        from replay.stores import open_stores  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any import problem means: not available
        return f"replay does not import ({type(exc).__name__}: {exc})"
    return None


class Failed(Exception):
    pass


def build(out: Path, threads: Path, max_comments: int | None) -> None:
    args = [TAPCOMPARE, "dataset", "build", "--seed", "7", "--threads", str(threads), "--out", str(out)]
    if max_comments:
        args += ["--max-comments-per-thread", str(max_comments)]
    built = subprocess.run(args, capture_output=True, text=True, timeout=300, cwd=ROOT)
    if built.returncode != 0:
        raise Failed(f"dataset build failed: {built.stderr[-500:]}")


def replay_row(dataset: Path, tmp: Path, label: str, timeout: float) -> dict[str, Any]:
    out_json = tmp / f"result-{label}.json"
    t0 = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, str(HARNESS / "replay_once.py"), str(dataset), str(tmp / "stores"),
                               str(tmp / f"out-{label}"), str(out_json)],
                              capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired as exc:
        raise Failed(f"replay of {label} ran past {timeout:.0f} s") from exc
    wall = time.perf_counter() - t0
    if proc.returncode != 0 or not out_json.exists():
        raise Failed(f"replay of {label} failed (exit {proc.returncode}): {proc.stderr[-800:]}")
    r = json.loads(out_json.read_text())
    t = r["timings"]
    compare_s = r["drive_s"] + t.get("settle_s", 0.0)
    row = {
        "label": label, "requests": r["requests"], "ops": r["ops"], "seed_comments": r["seed"]["comments"],
        "verdicts": r["verdicts"], "verdicts_by_kind": r["verdicts_by_kind"], "drive_s": r["drive_s"],
        "settle_s": t.get("settle_s"), "prepare_and_seed_s": t.get("prepare_and_seed_s"), "total_s": t.get("total_s"),
        "process_wall_s": wall, "requests_per_s": r["sent"] / r["drive_s"] if r["drive_s"] else None,
        "comparisons_per_s": r["verdicts"] / compare_s if compare_s else None,
        "peak_rss_mib": (r["peak_rss_kb"] or 0) / 1024,
        "incomplete": r["incomplete"],
    }
    print(f"  {label}: {row['requests']} requests, {row['verdicts']} verdicts, drive {row['drive_s']:.1f} s, "
          f"{row['requests_per_s']:.1f} req/s, peak RSS {row['peak_rss_mib']:.0f} MiB, "
          f"{'complete' if not row['incomplete'] else row['incomplete']}",
          flush=True)
    return row


def legacy_row(dataset: Path, tmp: Path, label: str, timeout: float) -> dict[str, Any]:
    out_json = tmp / f"legacy-{label}.json"
    try:
        proc = subprocess.run([sys.executable, str(HARNESS / "legacy_once.py"), str(dataset), str(tmp / "stores"),
                               str(out_json)], capture_output=True, text=True, timeout=timeout, cwd=ROOT)
    except subprocess.TimeoutExpired as exc:
        raise Failed(f"the legacy alone on {label} ran past {timeout:.0f} s") from exc
    if proc.returncode != 0 or not out_json.exists():
        raise Failed(f"the legacy alone on {label} failed (exit {proc.returncode}): {proc.stderr[-800:]}")
    r = json.loads(out_json.read_text())
    r["requests_per_s"] = r["sent"] / r["drive_s"] if r["drive_s"] else None
    print(f"  legacy alone, {label}: {r['sent']} requests, drive {r['drive_s']:.1f} s, {r['requests_per_s']:.1f} req/s",
          flush=True)
    return r


def analyse(growth_rows: list[dict[str, Any]], untrimmed: dict[str, Any] | None, eff_replay: dict[str, Any],
            legacy: dict[str, Any]) -> dict[str, Any]:
    one = growth_rows[0]
    growth = {str(row["k"]): row["drive_s"] / one["drive_s"] for row in growth_rows}
    per_request = {str(row["k"]): (row["drive_s"] / row["requests"]) / (one["drive_s"] / one["requests"])
                   for row in growth_rows}
    biggest = growth_rows[-1]
    efficiency = eff_replay["requests_per_s"] / legacy["requests_per_s"] if legacy["requests_per_s"] else None
    factor = TARGETS["growth_factor"]
    targets = {
        "efficiency": {"value": efficiency, "target": f">= {TARGETS['efficiency']}", "on": eff_replay["label"],
                       "met": efficiency is not None and efficiency >= TARGETS["efficiency"]},
        "untrimmed_drive_s": {"value": untrimmed["drive_s"] if untrimmed else None,
                              "target": f"<= {TARGETS['untrimmed_drive_s']:.0f} s with every verdict present",
                              "met": bool(untrimmed and not untrimmed["incomplete"]
                                          and untrimmed["drive_s"] <= TARGETS["untrimmed_drive_s"]),
                              **({} if untrimmed else {"not_measured": "--quick skips the untrimmed replay"})},
        "growth": {"value": growth, "target": f"growth[k] <= {factor} k", "met": all(
            g <= factor * int(k) for k, g in growth.items())},
        "peak_rss_mib": {"value": biggest["peak_rss_mib"], "at_k": biggest["k"], "target": f"< {TARGETS['peak_rss_mib']:.0f} MiB",
                         "met": biggest["peak_rss_mib"] < TARGETS["peak_rss_mib"]},
    }
    return {"efficiency": efficiency, "untrimmed_drive_s": targets["untrimmed_drive_s"]["value"], "growth": growth,
            "growth_per_request": per_request, "peak_rss_mib": biggest["peak_rss_mib"], "targets": targets}


def run(quick: bool, smoke: bool = False) -> dict[str, Any]:
    why = available()
    if why:
        return {"available": False, "reason": why}
    base, ks = (1, (1, 2)) if smoke else (3, (1, 2, 4)) if quick else (5, (1, 2, 4, 8))
    quick = quick or smoke
    tmp = Path(tempfile.mkdtemp(prefix="tapcompare-replay-bench-"))
    tmp.chmod(0o755)

    def down() -> None:
        from sister_stores.local_servers import LocalStores

        try:
            if (tmp / "stores" / "state.json").exists():
                LocalStores(tmp / "stores").down()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    on_cleanup(down)
    rows: list[dict[str, Any]] = []
    try:
        for k in ks:
            threads = tmp / f"threads-{k}"
            copy_threads(THREADS, threads, k)
            dataset = tmp / f"dataset-{k}x.jsonl"
            build(dataset, threads, base)
            row = replay_row(dataset, tmp, f"{k}x", timeout=120 + 90 * k)
            rows.append({"k": k, "max_comments_per_thread": base, **row})
        untrimmed = None
        eff_dataset, eff_replay = tmp / "dataset-1x.jsonl", rows[0]
        if not quick:
            eff_dataset = tmp / "dataset-untrimmed.jsonl"
            build(eff_dataset, THREADS, None)
            untrimmed = eff_replay = replay_row(eff_dataset, tmp, "untrimmed", timeout=1200)
        legacy = legacy_row(eff_dataset, tmp, eff_replay["label"], timeout=600)
    except Failed as exc:
        return {"available": False, "reason": str(exc), "rows": rows}
    analysis = analyse(rows, untrimmed, eff_replay, legacy)
    return {"available": True, "base_comments_per_thread": base, "rows": rows, "untrimmed": untrimmed,
            "legacy_alone": legacy, "analysis": analysis}


def _met(t: dict[str, Any]) -> str:
    if t.get("not_measured"):
        return f"not measured ({t['not_measured']})"
    return "yes" if t["met"] else "**no**"


def markdown(result: dict[str, Any]) -> str:
    lines = ["# Replay throughput", ""]
    r = result["replay"]
    if not r.get("available"):
        lines += [f"**Not measured** ({r.get('reason')}).", ""]
        return "\n".join(lines)
    m, a = result["machine"], r["analysis"]
    t = a["targets"]
    legacy = r["legacy_alone"]
    untrimmed_s = "n/a" if a["untrimmed_drive_s"] is None else f"{a['untrimmed_drive_s']:.1f} s"
    eff_rps = r["rows"][0]["requests_per_s"] if t["efficiency"]["on"] == "1x" else r["untrimmed"]["requests_per_s"]
    lines += [
        f"{m['nproc']} CPUs ({m['cpu']}), {m['date_utc']}. Each replay is `tapcompare replay DATASET --fail-on none` "
        "(lockstep, concurrency 8) through local stores, legacy, proxy (100% shadowing, inline judging), rewrite and "
        "the 18-path store validation; the legacy and the rewrite serve from processes of their own. req/s = requests "
        "sent / drive time; peak RSS = the replay process (proxy, judging, results; VmHWM), the legacy's and the "
        "rewrite's processes not included.",
        "",
        "| target | value | target | met |",
        "|---|---|---|---|",
        f"| efficiency (replay req/s / legacy alone req/s, {t['efficiency']['on']} dataset) | "
        f"{a['efficiency']:.3f} ({eff_rps:.1f} "
        f"vs {legacy['requests_per_s']:.1f} req/s) | {t['efficiency']['target']} | {_met(t['efficiency'])} |",
        f"| untrimmed bundled dataset, drive | {untrimmed_s} | "
        f"{t['untrimmed_drive_s']['target']} | {_met(t['untrimmed_drive_s'])} |",
        f"| growth (drive time at k / at 1x) | {', '.join(f'{k}x {g:.2f}' for k, g in a['growth'].items())} | "
        f"{t['growth']['target']} | {_met(t['growth'])} |",
        f"| peak RSS at {t['peak_rss_mib']['at_k']}x | {a['peak_rss_mib']:.0f} MiB | {t['peak_rss_mib']['target']} | "
        f"{_met(t['peak_rss_mib'])} |",
        "",
        "| dataset | requests | verdicts | drive (s) | req/s | comparisons/s | time vs 1x | per request vs 1x | peak RSS (MiB) | complete |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    one = r["rows"][0]
    for row in [*r["rows"], *([r["untrimmed"]] if r["untrimmed"] else [])]:
        vs = row["drive_s"] / one["drive_s"]
        per = vs / (row["requests"] / one["requests"])
        lines.append(
            f"| {row['label']} | {row['requests']} | {row['verdicts']} | {row['drive_s']:.1f} | {row['requests_per_s']:.1f} | "
            f"{row['comparisons_per_s']:.1f} | {vs:.2f} | {per:.2f} | {row['peak_rss_mib']:.0f} | "
            f"{'yes' if not row['incomplete'] else 'no: ' + '; '.join(row['incomplete'])} |")
    lines += ["", f"Growth datasets: {r['base_comments_per_thread']} comments per thread of each copy (the threshold "
              "probe links are added once per dataset, so k copies hold slightly fewer than k times the requests; "
              "'per request vs 1x' corrects for that). Legacy alone: "
              f"{legacy['sent']} requests in {legacy['drive_s']:.1f} s, {legacy['transport_errors']} transport errors."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--smoke", action="store_true", help="set-up check only: 1 comment per thread at 1x and 2x "
                        "and the legacy alone, print JSON; writes no results")
    args = parser.parse_args()
    install_cleanup()
    started = machine()
    try:
        if not args.smoke:
            print("replay throughput", flush=True)
        replay = run(args.quick, smoke=args.smoke)
    finally:
        cleanup()
    if args.smoke:
        print(json.dumps(replay, default=str))
        return
    if not replay.get("available"):
        print(f"  not measured: replay not available ({replay.get('reason')})", flush=True)
    result: dict[str, Any] = {"machine": started, "replay": replay}
    if replay.get("available"):
        a = replay["analysis"]
        result.update({key: a[key] for key in ("efficiency", "untrimmed_drive_s", "growth", "peak_rss_mib")})
        result["analysis"] = {"targets": a["targets"]}
    write_result("replay_throughput", result, markdown(result))


if __name__ == "__main__":
    main()
