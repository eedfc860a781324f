"""`tapcompare ramp` against the real Redis, as an operator would use it."""

from __future__ import annotations

import json

from click.testing import CliRunner

from tapcompare.commands.ramp import ramp


def test_ramp_cli_set_show_kill(stores) -> None:
    runner = CliRunner()
    env = {"TAPCOMPARE_PROXY__RAMP_REDIS": stores.sister.redis}
    result = runner.invoke(ramp, ["set", "comments", "2.5", "--why", "first threads"], env=env, obj={})
    assert result.exit_code == 0, result.output
    assert "comments: 0% -> 2.5%" in result.output
    assert runner.invoke(ramp, ["set", "comments", "101"], env=env, obj={}).exit_code != 0
    assert runner.invoke(ramp, ["set", "nope", "1"], env=env, obj={}).exit_code != 0
    result = runner.invoke(ramp, ["kill", "--why", "incident"], env=env, obj={})
    assert result.exit_code == 0 and "comments (was 2.5%)" in result.output
    shown = json.loads(runner.invoke(ramp, ["show", "--json"], env=env, obj={}).output)
    assert shown["ramp"]["comments"] == 0
    assert [(a["endpoint"], a["to_pct"], a["why"]) for a in shown["audit"]] == \
        [("comments", 0.0, "incident"), ("comments", 2.5, "first threads")]
    assert shown["audit"][0]["who"].startswith("cli:")
    assert runner.invoke(ramp, ["show"], env=env, obj={}).exit_code == 0
