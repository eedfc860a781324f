"""For each of the 18 paths, one mutant of the rewrite: the harness flags that path, and no path
the mutant does not touch."""

from __future__ import annotations

import pytest

from diff_reports.types import ALL_WRITE_PATHS
from write_validation.path_checks import PATH_CHECKS
from tests.validation.mutants import MUTANTS, Mutant
from tests.validation.scenario import create_edit_vote
from tests.validation.stack import running_stack


def test_one_mutant_per_path_check() -> None:
    """The table holds one check per path, and each mutant targets one entry of it."""
    assert sorted(p.name for p in PATH_CHECKS) == sorted(p.name for p in ALL_WRITE_PATHS)
    assert sorted(m.path for m in MUTANTS) == sorted(p.name for p in PATH_CHECKS)


def test_each_path_check_reads_its_own_store() -> None:
    capture_of = {"postgres": "postgres", "memcached": "cache", "redis_cdc": "events"}
    for path, check in PATH_CHECKS.items():
        assert check.path is path and check.store == capture_of[path.store]
        assert (check.reader is None) == (path.check == "parity"), path.name


@pytest.mark.parametrize("mutant", MUTANTS, ids=[m.path for m in MUTANTS])
async def test_mutant_is_flagged_on_its_path_only(stores, monkeypatch: pytest.MonkeyPatch, mutant: Mutant) -> None:
    mutant.apply(monkeypatch)
    async with running_stack(stores) as stack:
        await create_edit_vote(stack, edit_after_s=mutant.edit_after_s)
    flagged = stack.flagged()
    details = {r.path: (r.reason, [(d.path, d.kind) for d in r.differences]) for r in stack.sink.records
               if r.path in flagged | {mutant.path}}
    assert mutant.path in flagged, (mutant.what, details)
    assert flagged <= mutant.touched, (mutant.what, flagged - mutant.touched, details)
    # every store path was judged: a mutant must not make the harness go quiet elsewhere
    judged = {r.path for r in stack.sink.records}
    assert {p.name for p in ALL_WRITE_PATHS} <= judged
