"""All 18 paths on a correct rewrite: every path is compared and matches."""

from __future__ import annotations

from diff_reports.types import ALL_WRITE_PATHS
from tests.validation.scenario import create_edit_vote
from tests.validation.stack import running_stack


async def test_correct_rewrite_matches_on_all_18_paths(stores) -> None:
    async with running_stack(stores) as stack:
        await create_edit_vote(stack)
        verdicts = stack.verdicts()
    for path in ALL_WRITE_PATHS:
        assert verdicts.get(path.name) == {"match": 1}, (path.name, verdicts.get(path.name),
                                                         [r.to_dict() for r in stack.sink.records if r.path == path.name])
    for endpoint in ("create", "update", "increment"):
        assert verdicts[f"{endpoint}.response"] == {"match": 1}
