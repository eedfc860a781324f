"""Run every benchmark and assemble benchmarks/results/REPORT.md. `make bench` runs this.

Run: `python benchmarks/run_all.py [--quick] [--only NAME ...]`. Never part of the test suite.
Each benchmark runs as its own process with a time limit, writes results/<name>.{json,md}, and starts and
stops its own servers on 127.0.0.1 (store servers in temp dirs, the legacy, the rewrite, the proxy, nginx);
a benchmark that fails or runs out of time is reported as such and the others still run. REPORT.md
holds the machine (nproc, memory, CPU model, date), a summary of targets and every section.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.common import BENCH, RESULTS, ROOT, machine  # noqa: E402

# (name, script, time limit in seconds, extra args in full mode, extra args in quick mode)
BENCHMARKS = [
    ("proxy_overhead", "proxy_overhead.py", 720, [], ["--quick"]),
    ("legacy_vs_new", "legacy_vs_new.py", 180, [], ["--quick"]),
    ("replay_throughput", "replay_throughput.py", 1500, [], ["--quick"]),
    ("compare_engine", "compare_engine.py", 180, ["--quick"], ["--quick"]),
    ("scale_workers", "scale_workers.py", 240, [], ["--jobs", "600", "--reps", "1", "--backlog-seconds", "4"]),
]
SECTIONS = [  # result file -> title in the report, in order
    ("proxy_overhead", "1. Proxy overhead"),
    ("isolation", "2. Isolation"),
    ("compare_engine", "3. Comparison engine"),
    ("replay_throughput", "4. Replay throughput"),
    ("legacy_vs_new", "5. Legacy vs new (writes)"),
    ("scale_workers", "6. Comparison workers"),
]
PRODUCES = {"proxy_overhead": ["proxy_overhead", "isolation"], "legacy_vs_new": ["legacy_vs_new"],
            "replay_throughput": ["replay_throughput"], "compare_engine": ["compare_engine"],
            "scale_workers": ["scale_workers"]}


def demote(md: str) -> str:
    """Headings one level down, the first H1 dropped (the report gives the section its own title)."""
    lines = md.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join(("#" + line) if re.match(r"#{1,5} ", line) else line for line in lines).strip() + "\n"


def targets_summary() -> list[str]:
    out = []
    po = RESULTS / "proxy_overhead.json"
    if po.exists():
        data = json.loads(po.read_text())
        for t in data.get("analysis", {}).get("targets", []):
            out.append(f"| {t['target']} | {t['measured']} | {'met' if t['met'] else '**not met**'} |")
    lvn = RESULTS / "legacy_vs_new.json"
    if lvn.exists():
        run = json.loads(lvn.read_text())["run"]
        for ep in ("create", "edit", "vote"):
            a, b = run["legacy"][ep]["overall"]["p99_ms"], run["new"][ep]["overall"]["p99_ms"]
            out.append(f"| anchor: rewrite halves p99 write latency ({ep}) | legacy {a:.2f} ms, new {b:.2f} ms "
                       f"({b / a:.2f}x) | {'met' if b <= 0.5 * a else '**not met**'} |")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (a smoke test of the benchmarks)")
    parser.add_argument("--report-only", action="store_true", help="re-assemble REPORT.md from results/ (no run)")
    parser.add_argument("--only", action="append", choices=[b[0] for b in BENCHMARKS], help="run only these (repeatable)")
    args = parser.parse_args()
    if args.report_only:
        saved = json.loads((RESULTS / "run_all.json").read_text())
        write_report(saved["machine"], saved["status"], set(saved["fresh"]), saved["seconds"], saved["quick"])
        return
    started_at = time.perf_counter()
    host = machine()
    status: dict[str, str] = {}
    fresh: set[str] = set()
    for name, script, limit, full_args, quick_args in BENCHMARKS:
        if args.only and name not in args.only:
            continue
        print(f"== {name}", flush=True)
        t0 = time.perf_counter()
        argv = [sys.executable, str(BENCH / script), *(quick_args if args.quick else full_args)]
        proc = subprocess.Popen(argv, cwd=ROOT)
        try:
            code = proc.wait(limit)
            ok = code == 0
            status[name] = f"ok ({time.perf_counter() - t0:.0f} s)" if ok else f"failed (exit {code})"
        except subprocess.TimeoutExpired:
            # SIGTERM: the benchmark's handler stops every server it started (harness.common.cleanup).
            proc.terminate()
            try:
                proc.wait(90)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            ok = False
            status[name] = f"timed out after {limit} s"
        if ok:
            fresh.update(PRODUCES[name])
        print(f"== {name}: {status[name]}", flush=True)
    seconds = time.perf_counter() - started_at
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "run_all.json").write_text(json.dumps({"machine": host, "status": status, "fresh": sorted(fresh),
                                                      "seconds": seconds, "quick": args.quick}, indent=1) + "\n")
    write_report(host, status, fresh, seconds, args.quick)
    sys.exit(0 if all(s.startswith("ok") for s in status.values()) else 1)


def write_report(host: dict, status: dict[str, str], fresh: set[str], seconds: float, quick: bool) -> None:
    lines = [
        "# tapcompare benchmarks",
        "",
        f"Machine: {host['nproc']} CPUs, {host['memory_gib']} GiB memory, CPU model: {host['cpu']}; {host['platform']}, "
        f"Python {host['python']}. Date: {host['date_utc']}. Load average at start: "
        f"{', '.join(f'{x:.2f}' for x in host['loadavg'])}. Whole run: {seconds / 60:.1f} min"
        + (" (--quick)" if quick else "") + ".",
        "",
        "Everything runs on this one machine over loopback, and the machine is shared: absolute figures move with "
        "whatever else runs, so each benchmark compares set-ups measured in the same run (ratios and differences), "
        "interleaved where it matters. Re-run: `make bench` (or `python benchmarks/run_all.py [--quick] [--only NAME]`).",
        "",
        "| benchmark | this run |",
        "|---|---|",
    ]
    for name, _, _, _, _ in BENCHMARKS:
        lines.append(f"| {name} | {status.get(name, 'not run')} |")
    summary = targets_summary()
    if summary:
        lines += ["", "## Targets", "", "| target | measured | met |", "|---|---|---|", *summary]
    for key, title in SECTIONS:
        md = RESULTS / f"{key}.md"
        lines += ["", f"## {title}", ""]
        if key == "replay_throughput" and not md.exists():
            lines.append("**Not measured: replay not available.**")
            continue
        if not md.exists():
            lines.append("_No result: the benchmark did not produce one._")
            continue
        if key not in fresh:
            lines.append(f"_Not produced by this run ({status.get(next(n for n, p in PRODUCES.items() if key in p), 'not run')}); "
                         "the figures below are from an earlier run._\n")
        lines.append(demote(md.read_text(encoding="utf-8")))
    mine = {f"{k}.md" for k, _ in SECTIONS} | {"REPORT.md"}
    others = sorted(p.name for p in RESULTS.glob("*.md") if p.name not in mine)
    if others:
        lines += ["", "## Other result files", "",
                  "Present in benchmarks/results/ but not run by `make bench`: " + ", ".join(others) + "."]
    (RESULTS / "REPORT.md").write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    print(f"wrote {RESULTS / 'REPORT.md'}", flush=True)


if __name__ == "__main__":
    main()
