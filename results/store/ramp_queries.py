"""Read-only queries the ramp advisor and the ramp page need: verdict counts of some paths in a
time window, the groups seen there, latency and SQL samples of a response path, and the same
bucketed over time. Parameters only, aggregated in PostgreSQL over the indexed (path, verdict, at)
and (group_id, at) columns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import asyncpg

from diff_reports.grouping import REVIEW_VERDICTS


def _window(args: list[Any], since: dt.datetime | None, until: dt.datetime | None, alias: str = "") -> str:
    a = f"{alias}." if alias else ""
    conds = []
    for value, op in ((since, ">="), (until, "<")):
        if value is not None:
            args.append(value)
            conds.append(f"{a}at {op} ${len(args)}")
    return " AND ".join(conds) or "TRUE"


async def path_counts(pool: asyncpg.Pool, paths: Sequence[str], since: dt.datetime | None = None,
                      until: dt.datetime | None = None) -> dict[str, dict[str, int]]:
    """path -> verdict -> count, for `paths` (each present, possibly empty) in [since, until)."""
    args: list[Any] = [list(paths)]
    rows = await pool.fetch(f"SELECT path, verdict, count(*) AS n FROM results WHERE path = ANY($1::text[]) "
                            f"AND {_window(args, since, until)} GROUP BY 1, 2", *args)
    out: dict[str, dict[str, int]] = {p: {} for p in paths}
    for r in rows:
        out[r["path"]][r["verdict"]] = r["n"]
    return out


async def groups_seen(pool: asyncpg.Pool, paths: Sequence[str], since: dt.datetime | None = None,
                      until: dt.datetime | None = None) -> list[dict[str, Any]]:
    """Review groups (mismatch, shadow_error) with results on `paths` in the window: id, path,
    verdict, status now, title, occurrences in the window, first and last time seen there."""
    args: list[Any] = [list(paths), list(REVIEW_VERDICTS)]
    rows = await pool.fetch(f"""
        SELECT g.id, g.path, g.verdict, g.status, g.title, count(*) AS seen, min(r.at) AS first_at, max(r.at) AS last_at
        FROM results r JOIN mismatch_groups g ON g.id = r.group_id
        WHERE r.path = ANY($1::text[]) AND g.verdict = ANY($2::text[]) AND {_window(args, since, until, 'r')}
        GROUP BY g.id ORDER BY seen DESC, g.id""", *args)
    return [dict(r) for r in rows]


async def group_status_events(pool: asyncpg.Pool, group_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Lifecycle events (accepted, fixed, reopened, regressed) of these groups, oldest first: what
    their status was at a past time."""
    rows = await pool.fetch("SELECT group_id, at, action FROM group_events WHERE group_id = ANY($1::text[]) "
                            "ORDER BY at, id", list(group_ids))
    return [dict(r) for r in rows]


async def latency_samples(pool: asyncpg.Pool, path: str, since: dt.datetime | None = None,
                          until: dt.datetime | None = None, limit: int = 5000
                          ) -> tuple[list[tuple[dt.datetime, float]], list[tuple[dt.datetime, float]]]:
    """The newest `limit` (at, ms) samples of each side on a response path in the window."""
    out = []
    for column in ("legacy_ms", "new_ms"):
        args: list[Any] = [path]
        where = _window(args, since, until)
        args.append(limit)
        rows = await pool.fetch(f"SELECT at, {column} AS ms FROM results WHERE path = $1 AND {column} IS NOT NULL "
                                f"AND {where} ORDER BY at DESC LIMIT ${len(args)}", *args)
        out.append([(r["at"], float(r["ms"])) for r in reversed(rows)])
    return out[0], out[1]


async def sql_means(pool: asyncpg.Pool, path: str, since: dt.datetime | None = None,
                    until: dt.datetime | None = None) -> tuple[float | None, float | None, int]:
    """Mean SQL statements per request of each side on a response path, over requests where both
    sides were counted; and how many those were."""
    args: list[Any] = [path]
    row = await pool.fetchrow(f"SELECT avg(legacy_sql) AS legacy, avg(new_sql) AS new, count(*) AS n FROM results "
                              f"WHERE path = $1 AND legacy_sql IS NOT NULL AND new_sql IS NOT NULL "
                              f"AND {_window(args, since, until)}", *args)
    if row is None or not row["n"]:
        return None, None, 0
    return float(row["legacy"]), float(row["new"]), int(row["n"])


async def time_span(pool: asyncpg.Pool, paths: Sequence[str]) -> tuple[dt.datetime | None, dt.datetime | None]:
    """First and last result on `paths`."""
    row = await pool.fetchrow("SELECT min(at) AS first, max(at) AS last FROM results WHERE path = ANY($1::text[])",
                              list(paths))
    return (row["first"], row["last"]) if row else (None, None)


async def bucketed_counts(pool: asyncpg.Pool, paths: Sequence[str], start: dt.datetime, end: dt.datetime,
                          width: dt.timedelta) -> list[dict[str, Any]]:
    """(bucket start, path, verdict, n) for buckets of `width` from `start` up to `end`."""
    rows = await pool.fetch("""
        SELECT date_bin($4::interval, at, $2) AS bucket, path, verdict, count(*) AS n FROM results
        WHERE path = ANY($1::text[]) AND at >= $2 AND at < $3 GROUP BY 1, 2, 3 ORDER BY 1""",
                            list(paths), start, end, width)
    return [dict(r) for r in rows]


async def bucketed_latency(pool: asyncpg.Pool, path: str, start: dt.datetime, end: dt.datetime,
                           width: dt.timedelta) -> list[dict[str, Any]]:
    """Per bucket of a response path: p50 and p99 of each side (ms) and mean SQL statements."""
    rows = await pool.fetch("""
        SELECT date_bin($4::interval, at, $2) AS bucket, count(*) AS n,
               percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY legacy_ms) AS legacy,
               percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY new_ms) AS new,
               avg(legacy_sql) AS legacy_sql, avg(new_sql) AS new_sql
        FROM results WHERE path = $1 AND at >= $2 AND at < $3 AND (legacy_ms IS NOT NULL OR new_ms IS NOT NULL)
        GROUP BY 1 ORDER BY 1""", path, start, end, width)
    out = []
    for r in rows:
        legacy, new = r["legacy"] or [None, None], r["new"] or [None, None]
        out.append({"bucket": r["bucket"], "n": r["n"], "legacy_p50": legacy[0], "legacy_p99": legacy[1],
                    "new_p50": new[0], "new_p99": new[1],
                    "legacy_sql": float(r["legacy_sql"]) if r["legacy_sql"] is not None else None,
                    "new_sql": float(r["new_sql"]) if r["new_sql"] is not None else None})
    return out
