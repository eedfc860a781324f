"""The live product end to end, driven only through the real CLI: README's walkthrough script.

`scripts/live-walkthrough.sh` runs `stores up`, `stores prepare --check`, the seed, `legacy serve` +
`legacy consume`, `new serve --mode tap`, `proxy serve` (and `worker` in stream mode), `ramp set`
100 on every endpoint, HTTP traffic through the proxy (the three reads, a create, an edit inside
and one outside the edit window, a vote, its change and its un-vote) and `report export`. A real
Prometheus scrapes the proxy (and the worker) meanwhile; every dashboard panel and every series an
alert rule reads must return data. In inline mode `[capture]` is on, and the captured traffic is
replayed through its gate afterwards.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from diff_reports.types import ALL_WRITE_PATHS, READ_ENDPOINTS, WRITE_ENDPOINTS, read_response_path, write_response_path
from tests.e2e.prometheus import Prometheus, free_port, panel_queries, rule_series
from tests.support.paths import REPO_ROOT

SCRIPT = REPO_ROOT / "scripts" / "live-walkthrough.sh"
BIN = Path(sys.executable).parent


def _config(tmp: Path, mode: str, ports: dict[str, int], proxy_extra: str = "") -> Path:
    path = tmp / "tapcompare.toml"
    path.write_text(f"""
[stores]
local_dir = "{tmp / 'stores'}"
[legacy]
port = {ports['legacy']}
[new_service]
port = {ports['new']}
[proxy]
port = {ports['proxy']}
compare_mode = "{mode}"
{proxy_extra}
[reports]
port = {ports['ui']}
[capture]
enabled = {'true' if mode == 'inline' else 'false'}
path = "{tmp / 'capture' / 'capture.jsonl'}"
""")
    return path


def _walk(env: dict[str, str], step: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["bash", str(SCRIPT), step], env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"walkthrough `{step}` failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    assert "Traceback" not in done.stderr, done.stderr[-4000:]
    return done


def _check_dashboard(prom: Prometheus, *, rules: bool, timeout: float = 60.0) -> None:
    """Every panel query (and, with `rules`, every series an alert rule reads) returns a series.
    A rate() needs two scrapes inside its window, so each query gets until `timeout` to answer."""
    queries = [(title, expr) for title, expr in panel_queries()]
    if rules:
        queries += [(f"rule {rule}", name) for rule, name in rule_series()]
    deadline = time.monotonic() + timeout
    missing = queries
    while missing and time.monotonic() < deadline:
        missing = [(title, expr) for title, expr in missing if not prom.query(expr)]
        if missing:
            time.sleep(1.0)  # the scrape interval: wait for the next sample, bounded by the deadline
    assert not missing, f"dashboard panels / alert-rule series that return no series: {missing}"


@pytest.mark.parametrize("mode", ["inline", "stream"])
def test_live_walkthrough_validates_every_write_path(tmp_path: Path, mode: str) -> None:
    ports = {name: free_port() for name in ("legacy", "new", "proxy", "ui", "worker")}
    walk = tmp_path / "walk"
    env = dict(os.environ, TAPCOMPARE_CONFIG=str(_config(tmp_path, mode, ports)), WALK_DIR=str(walk),
               WALK_WORKER_PORT=str(ports["worker"]), TAPCOMPARE=str(BIN / "tapcompare"), PYTHON=sys.executable)
    targets = [f"127.0.0.1:{ports['proxy']}"] + ([f"127.0.0.1:{ports['worker']}"] if mode == "stream" else [])
    prom = None
    try:
        _walk(env, "up")
        prom = Prometheus(tmp_path, targets)
        _walk(env, "traffic")
        _walk(env, "report")
        report = json.loads((walk / "report.json").read_text())
        # Every verdict scraped at least once before the dashboard is judged.
        prom.wait_for(f"sum(tapcompare_verdicts_total) >= {report['total']}", timeout=60)
        prom.wait_all_up()
        assert set(prom.targets_up()) == set(targets), prom.targets_up()
        # The alert rules watch the comparison-job stream: they read series of stream mode's parts.
        _check_dashboard(prom, rules=mode == "stream")
    finally:
        if prom is not None:
            prom.stop()
        subprocess.run(["bash", str(SCRIPT), "down"], env=env, capture_output=True, timeout=120)

    lines = [line.split("\t") for line in (walk / "sent.tsv").read_text().splitlines()]
    sent = Counter(endpoint for endpoint, status in lines if status.startswith("2"))
    assert sent == {"comments": 1, "info": 1, "morechildren": 1, "create": 1, "update": 3, "increment": 3}
    refused = Counter(endpoint for endpoint, status in lines if status.startswith("4"))
    assert refused == {"update": 1, "increment": 1}, lines  # not the author; no user
    judged = sent + refused
    edits = [json.loads(p.read_text()) for p in sorted((walk / "responses").glob("*-update.json"),
                                                                key=lambda p: int(p.name.split("-")[0]))]
    edited = [e["json"]["data"]["things"][0]["data"]["edited"] for e in edits if e["json"].get("data")]
    assert edited[0] is False and isinstance(edited[1], float), f"inside, then outside the window: {edited}"

    paths = {p["path"]: p for p in report["paths"]}
    expected = {read_response_path(e): sent[e] for e in READ_ENDPOINTS}
    expected |= {write_response_path(e): judged[e] for e in WRITE_ENDPOINTS}
    expected |= {p.name: judged[p.endpoint] for p in ALL_WRITE_PATHS}
    assert len(expected) == 24
    assert {path: paths.get(path, {}).get("total", 0) for path in expected} == expected
    assert report["total"] == sum(expected.values())
    assert report["totals"]["mismatch"] == 0, [g for g in report["groups"] if g["verdict"] == "mismatch"]
    assert report["totals"]["match"] + report["totals"]["ignored"] == report["total"], report["totals"]

    if mode == "inline":  # the proxy recorded the traffic; replayed from the same seed it passes its gate
        capture = tmp_path / "capture" / "capture.jsonl"
        assert capture.is_file() and sum(1 for _ in capture.open()) >= sum(sent.values())
        replayed = _walk(env, "replay-capture", timeout=600)
        assert "gate --fail-on any: pass" in replayed.stdout


def _readme_section() -> str:
    text = (REPO_ROOT / "README.md").read_text()
    start = text.index("## Run it in front of a legacy")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_readme_walkthrough_lists_exactly_the_scripts_commands() -> None:
    script = [line.split('"$TC" ', 1)[1].strip() for line in SCRIPT.read_text().splitlines()
              if '"$TC" ' in line and "not in README" not in line]
    script = [re.sub(r"\s+#.*$", "", "tapcompare " + cmd) for cmd in script]
    readme, fence = [], None
    for line in _readme_section().splitlines():
        if line.startswith("```"):
            fence = None if fence is not None else (line[3:].strip() or "sh")
        elif fence in ("sh", "bash") and line.strip().startswith("tapcompare "):
            readme.append(re.sub(r"(\s+&)?(\s+#.*)?$", "", line.strip()))
    assert readme == script
