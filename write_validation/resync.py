"""Re-synchronising the sister's copy of an entity with production, so one problem counts once.

A copy that missed a write (shadow error, lost or unpublished write) or that a rewrite bug made
diverge would mismatch on every later write. It is evicted from the sister (rows and cache entry;
for a create, the link too) and its history in the ordering book restarts: the rewrite's next
write to it re-hydrates it from production as it was before that write
(new_comments_service/hydration.py). Only ever pointed at the sister set.
"""

from __future__ import annotations

import time
from dataclasses import replace

from diff_reports.types import VerdictKind, VerdictRecord
from traffic.shadowed import ComparisonJob
from write_validation.ordering import Book
from write_validation.store_reads import SideConnections
from sister_stores.eviction import evict_comment, evict_link
from telemetry.logs import get_logger

log = get_logger("write_validation")


def _id36(fullname: str) -> int:
    return int(fullname.split("_", 1)[1], 36)


async def evict_entity(sister: SideConnections, order: Book, write: ComparisonJob, why: str) -> None:
    """Forget the entity (and for a create, its link) in the sister and in the ordering book."""
    try:
        await evict_comment(sister.pool, sister.addresses.memcached_host_port, _id36(write.entity))
        await order.forget(write.entity, time.time())
        if write.endpoint == "create" and write.link.startswith("t3_"):
            await evict_link(sister.pool, _id36(write.link))
            await order.forget(f"link:{write.link}", time.time())
        log.info("sister_entity_evicted", entity=write.entity, endpoint=write.endpoint, why=why)
    except Exception as exc:  # the verdicts already say what happened; the next write shows the rest
        log.warning("sister_eviction_failed", entity=write.entity, error=repr(exc))


def mismatched_paths(records: list[VerdictRecord]) -> list[str]:
    return [r.path for r in records if r.verdict is VerdictKind.MISMATCH]


def as_first_diverging(write: ComparisonJob, records: list[VerdictRecord]) -> list[VerdictRecord]:
    """The mismatch records of `write`, naming it the entity's first diverging write since its copy
    was last in sync (the copy is re-synchronised right after)."""
    note = {"first_diverging_write": write.request_id, "resynchronised": True}
    suffix = (f"; first diverging write to {write.entity} since its sister copy was in sync: the copy is "
              "re-synchronised from production")
    return [replace(r, reason=((r.reason or "mismatch") + suffix)[:1000], context={**r.context, **note})
            if r.verdict is VerdictKind.MISMATCH else r for r in records]
