"""Stable fingerprints: dynamic dict keys (account ids, fullnames, ids) fold like list indices, so
one bug is one group across entities and voters, and an accepted group's rule covers them all."""

from __future__ import annotations

import pytest

from diff_reports.grouping import accepted_rule, generalise_path, signature
from diff_reports.paths import glob_matches
from diff_reports.types import Difference, VerdictKind, VerdictRecord


@pytest.mark.parametrize(("path", "folded"), [
    ("votes.4711.dir", "votes.*.dir"),
    ("tree.t1_2ab", "tree.*"),
    ("applied.t3_x9", "applied.*"),
    ("4711.dir", "*.dir"),
    ("data.children[3].data.score", "data.children[*].data.score"),
    ("top[3][0]", "top[*][*]"),
    ('x["t1_a"]', "x.*"),
    ("session.0f3c9a7e5b21d4c8", "session.*"),
    # names stay names, base36-looking words included
    ("thing.version", "thing.version"),
    ("data.body", "data.body"),
    ("object._ups", "object._ups"),
    ("changes.editted[1]", "changes.editted[*]"),
])
def test_dynamic_keys_fold(path: str, folded: str) -> None:
    assert generalise_path(path) == folded


def _record(entity: str, *paths: str) -> VerdictRecord:
    return VerdictRecord("increment.postgres.parity", VerdictKind.MISMATCH, entity,
                         differences=tuple(Difference(p, "changed", "1", "-1") for p in paths))


def test_one_bug_on_many_voters_and_comments_is_one_group() -> None:
    records = [_record(f"t1_{c}", f"votes.{voter}.dir", "thing.ups") for c in ("a", "b2", "zz") for voter in (7, 1234, 99999)]
    assert len({signature(r).fingerprint for r in records}) == 1
    projection = [VerdictRecord("create.redis_cdc.legacy_read", VerdictKind.MISMATCH, f"t1_{c}",
                                differences=(Difference(f"tree.t1_{c}", "changed"), Difference(f"applied.t1_{c}", "changed")))
                  for c in ("a", "b2", "q9x")]
    assert len({signature(r).fingerprint for r in projection}) == 1


def test_different_bugs_stay_apart() -> None:
    assert signature(_record("t1_a", "votes.7.dir")).fingerprint != signature(_record("t1_a", "thing.ups")).fingerprint


def test_an_accepted_group_covers_the_next_voter() -> None:
    sig = signature(_record("t1_a", "votes.7.dir"))
    rule = accepted_rule({"id": sig.fingerprint, "path": sig.path, "fields": list(sig.fields)})
    assert rule["paths"] == ["votes.*.dir"]
    assert glob_matches(rule["paths"][0], "votes.123456.dir")
