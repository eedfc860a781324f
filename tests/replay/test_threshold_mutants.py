"""Every side of every legacy threshold is judged, not only reached: each mutant of
threshold_mutants.py (wrong at exactly one side) fails the replay gate on the small dataset, with a
mismatch on a request whose answer that mutant, and no other planted with it, changed.

Mutants that never change the same request's answer share a replay (they are planted together),
so the 43 need 11 replays; a batch is checked per mutant, so one that hides behind another fails.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import pytest

from datasets import thresholds as th
from diff_reports.types import VerdictKind, VerdictRecord
from replay.gate import EXIT_GATE, apply_trust
from replay.sink import CountingSink
from tests.replay import threshold_mutants as tm
from tests.replay.conftest import replay

pytestmark = pytest.mark.timeout(300)


def _rows(*thresholds: str) -> list[str]:
    return [row for name in thresholds for row in th.BY_NAME[name].rows()]


# Planted together only where no request can put states of two of them in one answer (a listing
# renders every comment: score hiding and the default depth touch almost every read).
BATCHES: dict[str, list[str]] = {
    "params": [*_rows("depth_param_min", "limit_max", "limit_min", "info_ids", "morechildren_cap"),
               "threshold.depth_param_max.below", "threshold.depth_param_max.above"],
    "default-depth": ["threshold.depth_param_max.at"],
    # a listing at the depth limit shows leaves at depths 8 and 9 at once: its sides go apart
    "floor-and-depth-limit-below": [*_rows("controversy_floor"), "threshold.depth_limit.below"],
    "share-low-and-depth-limit-at": [*_rows("controversy_share_low"), "threshold.depth_limit.at"],
    "share-high-and-depth-limit-above": [*_rows("controversy_share_high"), "threshold.depth_limit.above"],
    "hide-below": ["threshold.score_hide.below"],
    "hide-above": ["threshold.score_hide.above"],
    "edit-votes-and-create-length": _rows("edit_votes", "body_length_create"),
    "window-below": ["threshold.edit_window.below"],
    "window-above": ["threshold.edit_window.above"],
    "edit-length": _rows("body_length_edit"),
}


def test_one_mutant_per_side_of_every_threshold_each_in_one_batch() -> None:
    planted = [name for batch in BATCHES.values() for name in batch]
    assert sorted(planted) == sorted(th.rows()) == sorted(tm.MUTANTS)  # every side, once


@pytest.mark.parametrize("batch", list(BATCHES))
async def test_each_threshold_side_mutant_fails_the_gate(batch: str, replay_settings, replay_stores, small_dataset,
                                                         tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    tm.FIRED.clear()
    tm.track_requests(monkeypatch)
    for name in BATCHES[batch]:
        tm.MUTANTS[name].apply(monkeypatch)
    mismatched: dict[str, set[str]] = defaultdict(set)  # request id -> mismatched paths
    counted = CountingSink._count

    def keep(self: CountingSink, record: VerdictRecord, *args: Any) -> None:
        if VerdictKind(record.verdict) is VerdictKind.MISMATCH and record.request_id:
            mismatched[record.request_id].add(record.path)
        counted(self, record, *args)
    monkeypatch.setattr(CountingSink, "_count", keep)
    # The mutants are patched into this process, so the rewrite serves from it (`--one-process`).
    result = await replay(replay_settings, replay_stores, small_dataset, tmp_path / "out", fail_on="any",
                          processes=False)
    gate = apply_trust(result.gate, result.counts, lockstep=True, coverage=result.drive.coverage.rows())
    assert not result.incomplete, result.incomplete
    assert not gate.passed and gate.exit_code == EXIT_GATE, gate.reasons
    assert not gate.harness_defects and not gate.inconclusive, (gate.harness_defects, gate.inconclusive)
    fired: dict[str, set[str]] = defaultdict(set)
    for name, request_id in tm.FIRED:
        fired[name].add(request_id)
    by_request: dict[str, set[str]] = defaultdict(set)
    for name, ids in fired.items():
        for request_id in ids:
            by_request[request_id].add(name)
    for name in BATCHES[batch]:
        assert fired[name], f"{name}: no request of the dataset put a state on this side ({tm.MUTANTS[name].what})"
        own = {r for r in fired[name] if by_request[r] == {name}}
        caught = {r: sorted(mismatched[r]) for r in own if r in mismatched}
        assert caught, (f"{name} ({tm.MUTANTS[name].what}) changed {len(fired[name])} answers, "
                        f"{len(own)} of them alone, and none mismatched", sorted(fired[name])[:5])
