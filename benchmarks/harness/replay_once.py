"""One `tapcompare replay DATASET` run, in this process, with its figures as JSON.

`python replay_once.py DATASET STORES_DIR OUT_DIR RESULT.json`. It calls what `tapcompare replay`
calls (replay: open_stores, run_replay with --fail-on none, no progress bar), so the
proxy, validation and results run in this process and its peak RSS (VmHWM) is the replay's
memory; the legacy and the rewrite serve from its child processes (not counted: a spawned
child's ru_maxrss includes the parent's pages at fork); the store servers are separate processes, stopped at the end.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))


def vmhwm_kb() -> int | None:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return None


def main() -> None:
    dataset, stores_dir, out_dir, result_path = (Path(a) for a in sys.argv[1:5])
    from config import load_settings
    from replay.run import ReplayOptions, run_replay
    from replay.stores import open_stores

    settings = load_settings(None)
    t0 = time.perf_counter()
    stores = open_stores(settings, str(stores_dir))
    try:
        options = ReplayOptions(dataset, fail_on="none", out=out_dir, progress=False)
        result = asyncio.run(run_replay(settings, stores, options))
    finally:
        stores.down()
    wall = time.perf_counter() - t0
    counts = result.counts
    verdicts = sum(n for per in counts.values() for n in per.values())
    out = {
        "requests": len(result.dataset.requests), "ops": result.dataset.ops(), "sent": result.drive.sent,
        "drive_s": result.drive.seconds, "timings": result.timings, "wall_s": wall, "verdicts": verdicts,
        "verdicts_by_kind": {}, "incomplete": result.incomplete, "gate_passed": result.gate.passed,
        "peak_rss_kb": vmhwm_kb(),
        "seed": {"comments": getattr(result.seed, "comments", None), "links": getattr(result.seed, "links", None)},
    }
    for per in counts.values():
        for verdict, n in per.items():
            out["verdicts_by_kind"][verdict] = out["verdicts_by_kind"].get(verdict, 0) + n
    result_path.write_text(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
