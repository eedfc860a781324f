"""Reviewer actions on groups: accept as noise (an ignore rule), mark fixed at a version, reopen.

Regression (fixed -> regressed) happens on write, in ResultsStore.write_batch.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import asyncpg

from diff_reports.grouping import rule_name_for, version_key


class LifecycleError(Exception):
    """A lifecycle action that cannot apply (unknown group, bad input)."""


async def _require(conn: asyncpg.Connection, group_id: str) -> asyncpg.Record:
    row = await conn.fetchrow("SELECT id, status FROM mismatch_groups WHERE id = $1 FOR UPDATE", group_id)
    if row is None:
        raise LifecycleError(f"no mismatch group {group_id!r}")
    return row


async def accept_group(pool: asyncpg.Pool, group_id: str, *, reason: str, by: str,
                       rule_name: str | None = None) -> str:
    """Accept a group as noise; it becomes an ignore rule. Returns the rule name."""
    if not reason.strip() or not by.strip():
        raise LifecycleError("accepting a group needs a reason and who accepts it")
    name = rule_name_for(group_id, rule_name)
    async with pool.acquire() as conn, conn.transaction():
        await _require(conn, group_id)
        await conn.execute("UPDATE mismatch_groups SET status = 'accepted', rule_name = $2, reason = $3, "
                           "accepted_by = $4, accepted_at = now() WHERE id = $1", group_id, name, reason.strip(), by.strip())
        await conn.execute("INSERT INTO group_events (group_id, action, actor, detail) VALUES ($1, 'accepted', $2, $3)",
                           group_id, by.strip(), f"rule {name}: {reason.strip()}")
    return name


async def fix_group(pool: asyncpg.Pool, group_id: str, *, version: str, by: str = "") -> None:
    """Mark a group fixed at new-service `version`. Refused when it was already seen on that
    version or a later one (then it is not fixed)."""
    key = version_key(version)
    if key is None:
        raise LifecycleError("marking a group fixed needs the new-service version that fixes it")
    async with pool.acquire() as conn, conn.transaction():
        await _require(conn, group_id)
        seen = [r["version"] for r in await conn.fetch(
            "SELECT DISTINCT version FROM results WHERE group_id = $1 AND version IS NOT NULL", group_id)]
        later = sorted((v for v in seen if (version_key(v) or "") >= key), key=cast("Callable[[str], str]", version_key))  # every kept v has a key
        if later:
            raise LifecycleError(f"group {group_id} was seen on version {later[-1]}, at or after {version}: not fixed")
        await conn.execute("UPDATE mismatch_groups SET status = 'fixed', fixed_version = $2, fixed_version_key = $3, "
                           "fixed_by = $4, fixed_at = now(), regressed_at = NULL, regressed_version = NULL "
                           "WHERE id = $1", group_id, version, key, by or None)
        await conn.execute("INSERT INTO group_events (group_id, action, actor, detail) VALUES ($1, 'fixed', $2, $3)",
                           group_id, by or None, f"fixed at version {version}")


async def reopen_group(pool: asyncpg.Pool, group_id: str, *, by: str = "") -> None:
    """Back to open (an accepted rule is withdrawn)."""
    async with pool.acquire() as conn, conn.transaction():
        await _require(conn, group_id)
        await conn.execute("UPDATE mismatch_groups SET status = 'open' WHERE id = $1", group_id)
        await conn.execute("INSERT INTO group_events (group_id, action, actor) VALUES ($1, 'reopened', $2)",
                           group_id, by or None)
