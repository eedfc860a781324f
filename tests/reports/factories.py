"""Verdict records for tests, shaped like the comparator's."""

from __future__ import annotations

import time
from typing import Any

from diff_reports.types import Difference, VerdictKind, VerdictRecord


def body_mismatch(request_id: str, *, path: str = "update.postgres.parity", at: float | None = None,
                  index: int = 0, timings: dict[str, float] | None = None) -> VerdictRecord:
    """The new service forgot the misspelt `editted` key and renders the score differently."""
    legacy = {"data": {"body": "hello", "editted": 1700000000.0, "children": [{"score": 3}, {"score": 5}]}}
    new = {"data": {"body": "hello", "children": [{"score": 3}, {"score": 4}]}}
    return VerdictRecord(path=path, verdict=VerdictKind.MISMATCH, entity="t1_abc", request_id=request_id,
                         legacy_value=legacy, new_value=new,
                         differences=(Difference("data.editted", "removed", 1700000000.0, None),
                                      Difference(f"data.children[{index}].score", "changed", 5, 4)),
                         timings=timings or {}, created_at=at if at is not None else time.time())


def ttl_mismatch(request_id: str, *, at: float | None = None) -> VerdictRecord:
    return VerdictRecord(path="create.memcached.parity", verdict=VerdictKind.MISMATCH, entity="t1_x",
                         request_id=request_id, legacy_value={"ttl": 43200}, new_value={"ttl": 3600},
                         differences=(Difference("ttl", "changed", 43200, 3600),),
                         created_at=at if at is not None else time.time())


def simple(path: str, verdict: VerdictKind, request_id: str, *, at: float | None = None,
           reason: str | None = None, timings: dict[str, Any] | None = None) -> VerdictRecord:
    return VerdictRecord(path=path, verdict=verdict, request_id=request_id, reason=reason,
                         timings=timings or {}, created_at=at if at is not None else time.time())
