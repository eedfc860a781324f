"""Bugs planted in the rewrite that only behaviour coverage reaches: each must fail the replay gate.

Real threads edit only comments years old and have no sibling scores whose confidence order
differs between float32 and float64, so "18/18 paths covered" passed both bugs. The dataset's
probe set (datasets/probes.py) reaches them; the replay runs the way the other
tests here do (the real stack, lockstep, `--fail-on any`), plus the CLI's trust checks.
"""

from __future__ import annotations


import pytest

from new_comments_service import sorts, writes
from replay.coverage import wilson_float64 as _wilson_float64  # what a rewrite gets when it drops r2's float32
from replay.gate import EXIT_GATE, apply_trust
from tests.replay.conftest import replay


def _edit_window_off_by_one(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(writes, "EDIT_SILENT_VOTES", 3)  # "more than 2 votes" read as "more than 3"


def _confidence_in_float64(mp: pytest.MonkeyPatch) -> None:
    mp.setattr(sorts, "confidence", _wilson_float64)


MUTANTS = {
    "edit-window": (_edit_window_off_by_one, {"update.response", "update.postgres.parity"}),
    "confidence-rounding": (_confidence_in_float64, {"read.comments.response"}),
}


@pytest.mark.parametrize("name", list(MUTANTS))
async def test_planted_bug_fails_the_replay_gate(name, replay_settings, replay_stores, small_dataset, tmp_path,
                                                 monkeypatch) -> None:
    plant, expected_paths = MUTANTS[name]
    plant(monkeypatch)
    # The bug is patched into this process, so the rewrite serves from it (`--one-process`).
    result = await replay(replay_settings, replay_stores, small_dataset, tmp_path / "out", fail_on="any",
                          processes=False)
    gate = apply_trust(result.gate, result.counts, lockstep=True, coverage=result.drive.coverage.rows())
    assert not result.incomplete, result.incomplete
    assert not gate.passed and gate.exit_code == EXIT_GATE, gate.reasons
    flagged = {g.signature.path for g in result.stack.sink.groups.values()}
    assert expected_paths <= flagged, (name, flagged)
    # Only a mismatch may fail it: the bug is not hidden as raced or inconclusive.
    assert not gate.harness_defects and not gate.inconclusive, (gate.harness_defects, gate.inconclusive)
    if name == "edit-window":
        diffs = {d.path for g in result.stack.sink.groups.values() for ex in g.examples for d in ex.differences}
        assert any("edit" in p for p in diffs), diffs
