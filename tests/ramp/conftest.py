"""Fixtures for the ramp advisor: the results database of tests/reports (a fresh one per test on
the sister PostgreSQL server), and the real CLI as a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.reports.conftest import artifacts, browser, results_dsn, results_store  # noqa: F401

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(stores, results_dsn: str, tmp_path: Path):  # noqa: F811
    """Run `tapcompare ARGS` with the test's ramp Redis and results database, and a [ramp.policy]."""
    config = tmp_path / "tapcompare.toml"
    config.write_text("[ramp.policy]\nmin_step_minutes = 0\nmin_samples = 100\n", encoding="utf-8")
    env = {**os.environ, "TAPCOMPARE_PROXY__RAMP_REDIS": stores.sister.redis,
           "TAPCOMPARE_REPORTS__RESULTS_DSN": results_dsn, "COLUMNS": "160"}
    env.pop("TAPCOMPARE_CONFIG", None)

    def run(*args: str, config_file: Path | None = config) -> subprocess.CompletedProcess[str]:
        head = ["--config", str(config_file)] if config_file is not None else []
        return subprocess.run([sys.executable, "-m", "tapcompare", *head, *args], cwd=REPO, env=env,
                              capture_output=True, text=True, timeout=120)

    return run
