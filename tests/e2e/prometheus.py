"""A real Prometheus server (Debian's `prometheus`) for the end-to-end tests, and the dashboard's queries."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from tests.support.paths import REPO_ROOT

GRAFANA = REPO_ROOT / "deploy" / "grafana" / "tapcompare.json"
RULES = sorted((REPO_ROOT / "deploy" / "prometheus").glob("*.yml"))
# Grafana's variables as a dashboard with "All" selected would send them.
VARIABLES = {"$path": ".*", "$endpoint": ".*", "$__rate_interval": "1m", "$__range": "10m", "$__interval": "15s"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def panel_queries() -> list[tuple[str, str]]:
    """(panel title, expression with the dashboard variables filled in) of every panel target."""
    board = json.loads(GRAFANA.read_text())
    out = []
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for name, value in VARIABLES.items():
                expr = expr.replace(name, value)
            out.append((panel.get("title", "?"), expr))
    return out


def rule_series() -> list[tuple[str, str]]:
    """(rule name, series name) for every series an alert or recording rule reads."""
    out = []
    for path in RULES:
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in group["rules"]:
                for name in sorted(set(re.findall(r"\b(tapcompare_[a-z0-9_]+)", rule["expr"]))):
                    out.append((rule.get("alert") or rule.get("record"), name))
    return out


class Prometheus:
    """Scrapes `targets` (host:port) every second from a temporary directory; stopped by `stop()`."""

    def __init__(self, workdir: Path, targets: list[str]) -> None:
        binary = shutil.which("prometheus") or "/usr/bin/prometheus"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(p) for p in RULES],
            "scrape_configs": [{"job_name": "tapcompare", "static_configs": [{"targets": targets}]}],
        }))
        self.log = (workdir / "prometheus.log").open("w")
        self.proc = subprocess.Popen(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}"], stdout=self.log, stderr=subprocess.STDOUT)
        self._wait(lambda: self._get("/-/ready") is not None, 30, "Prometheus did not become ready")

    def _get(self, path: str) -> bytes | None:
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as resp:
                return resp.read()
        except OSError:
            return None

    def query(self, expr: str) -> list[dict[str, Any]]:
        body = self._get("/api/v1/query?" + urllib.parse.urlencode({"query": expr}))
        assert body is not None, f"Prometheus did not answer {expr!r}"
        answer = json.loads(body)
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def targets_up(self) -> dict[str, bool]:
        body = self._get("/api/v1/targets")
        active = json.loads(body or b'{"data": {"activeTargets": []}}')["data"]["activeTargets"]
        return {t["labels"]["instance"]: t["health"] == "up" for t in active}

    def wait_all_up(self, timeout: float = 30.0) -> None:
        """Until the latest scrape of every target succeeded. One scrape may miss its 1 s timeout on
        a loaded machine; a target that never answers fails here, with Prometheus's own error."""
        def errors() -> dict[str, str]:
            body = self._get("/api/v1/targets")
            active = json.loads(body or b'{"data": {"activeTargets": []}}')["data"]["activeTargets"]
            return {t["labels"]["instance"]: t.get("lastError") or t["health"] for t in active if t["health"] != "up"}
        deadline = time.monotonic() + timeout
        while not (self.targets_up() and not errors()):
            assert self.proc.poll() is None, f"Prometheus exited: see {self.log.name}"
            assert time.monotonic() < deadline, f"targets not up within {timeout}s: {errors()}"
            time.sleep(0.2)

    def _wait(self, condition: Any, timeout: float, message: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert self.proc.poll() is None, f"Prometheus exited: see {self.log.name}"
            assert time.monotonic() < deadline, message
            time.sleep(0.2)

    def wait_for(self, expr: str, timeout: float = 30.0) -> None:
        """Until `expr` returns a series."""
        self._wait(lambda: bool(self.query(expr)), timeout, f"no series for {expr!r} within {timeout}s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
