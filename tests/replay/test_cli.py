"""`tapcompare replay` as CI runs it: its own local stores, the report files, the exit code, stores down."""

from __future__ import annotations

import json

from click.testing import CliRunner

from sister_stores.local_servers import LocalStores
from tapcompare.commands.replay import replay


def test_replay_command_writes_reports_and_exits_by_the_gate(small_dataset, tmp_path) -> None:
    stores_dir, out = tmp_path / "stores", tmp_path / "out"
    baseline = tmp_path / "baseline.json"
    result = CliRunner().invoke(replay, [str(small_dataset), "--fail-on", "any", "--out", str(out), "--stores-dir",
                                         str(stores_dir), "--write-baseline", str(baseline), "--no-progress"],
                                obj={}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "coverage: 18/18 write validation paths, 3/3 read endpoints" in result.output
    assert "gate --fail-on any: pass" in result.output
    assert {p.name for p in out.iterdir()} >= {"report.html", "report.json", "report.md", "junit.xml"}
    assert json.loads(baseline.read_text()) == []
    assert LocalStores(stores_dir).status() == {}  # the replay stopped the servers it started
