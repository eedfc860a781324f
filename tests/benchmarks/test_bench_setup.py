"""A quick smoke of every benchmark's set-up, so a change of the live path cannot break `make bench` unseen.

Each benchmark script is run as `make bench` runs it (its own process, the venv's Python) in its bounded
`--smoke` mode: it starts its real servers (store sets, legacy, rewrite, proxy, nginx, workers), sends a
few requests and prints what it measured as JSON; nothing is written to benchmarks/results/.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "benchmarks"
sys.path.insert(0, str(BENCH))


def smoke(script: str, *args: str, timeout: float = 120) -> dict[str, Any]:
    proc = subprocess.run([sys.executable, str(BENCH / script), "--smoke", *args], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)
    assert proc.returncode == 0, f"{script} --smoke exit {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not shutil.which("nginx") and not Path("/usr/sbin/nginx").exists(),
                    reason="nginx not installed (make bench installs it: scripts/install-system-deps.sh nginx)")
def test_proxy_overhead_setup_serves_and_judges() -> None:
    out = smoke("proxy_overhead.py")
    assert out["measured"] > 0 and out["ok"] == out["measured"], out
    assert out["verdicts"]["match"] > 0, out
    assert out["overhead_count"] > 0, out
    stream = out["stream"]  # the write mix through the out-of-process layout: proxy (stream) + `tapcompare worker`
    assert stream["measured"] > 0 and stream["ok"] == stream["measured"], out
    assert {"create", "edit", "vote"} <= set(stream["by_label"]), out
    assert stream["worker_jobs"] > 0, out
    down = out["sister_down"]  # the sister Redis killed under the write mix: every primary still answered 200
    assert down["measured"] > 0 and down["ok"] == down["measured"], out


def test_legacy_vs_new_setup_writes_on_both_sides() -> None:
    out = smoke("legacy_vs_new.py")
    for side in ("legacy", "new"):
        assert out[side]["measured"] > 0 and out[side]["ok"] == out[side]["measured"], out
        assert out[side]["created"] > 0, out


def test_scale_workers_setup_stores_verdicts() -> None:
    out = smoke("scale_workers.py", "--jobs", "40")
    assert out["stored"] == 40, out
    assert out["comparisons_per_s"] > 0, out


def test_compare_engine_payloads_compare() -> None:
    import compare_engine

    from diff_reports.comparator import Comparator
    from diff_reports.types import Observation

    payloads = compare_engine.payloads()
    assert payloads
    name, (a, b) = next(iter(payloads.items()))
    record = Comparator([]).compare("read.comments.response", Observation("legacy", a), Observation("new", b))
    assert record.verdict.value == "match", record


def test_replay_throughput_setup_replays_copies_and_the_legacy_alone() -> None:
    out = smoke("replay_throughput.py", timeout=300)
    assert out["available"], out
    one, two = out["rows"]
    assert (one["k"], two["k"]) == (1, 2), out
    for row in (one, two):
        assert row["incomplete"] == [] and row["verdicts"] > row["requests"], row  # every verdict, 7 per write
    assert two["requests"] > 1.5 * one["requests"], out  # the copies are threads of their own
    legacy = out["legacy_alone"]
    assert legacy["sent"] == one["requests"] and legacy["transport_errors"] == 0, legacy
    targets = out["analysis"]["targets"]
    assert {"efficiency", "untrimmed_drive_s", "growth", "peak_rss_mib"} == set(targets), targets
    assert targets["efficiency"]["value"] > 0 and set(targets["growth"]["value"]) == {"1", "2"}, targets
