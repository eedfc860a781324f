"""Read side of the results store: SQL aggregation for the overview, latency, group lists.

Everything is aggregated in PostgreSQL over indexed columns and paginated, so the UI stays fast
with hundreds of thousands of results. Filters are whitelisted and passed as parameters.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from typing import Any

import asyncpg
import orjson

from diff_reports.grouping import REVIEW_VERDICTS, STATUSES, UNRESOLVED, accepted_rule
from diff_reports.types import (
    ALL_WRITE_PATHS,
    READ_ENDPOINTS,
    WRITE_ENDPOINTS,
    VerdictKind,
    read_response_path,
    write_response_path,
)

VERDICTS = tuple(v.value for v in VerdictKind)
# Conclusive verdicts: the match rate is (match + ignored) / these. Raced, unavailable and skipped
# say nothing about parity and are only counted.
CONCLUSIVE = ("match", "ignored", "mismatch", "shadow_error")
GROUP_SORTS = {"occurrences": "n", "last_seen": "last_at", "first_seen": "first_at", "path": "g.path",
               "status": "g.status", "verdict": "g.verdict", "title": "g.title"}


INCONCLUSIVE = ("raced", "unavailable", "skipped")


@dataclass(frozen=True)
class Thresholds:
    """Largest share (percent of a path's verdicts) of each inconclusive verdict a path may have
    and still be judged; None switches that check off. Skipped is off by default: a write the
    legacy failed on (5xx) is skipped by design (there is no reference answer). Settings: `[reports]
    inconclusive_*_pct`."""

    raced_pct: float | None = 1.0
    unavailable_pct: float | None = 1.0
    skipped_pct: float | None = None

    @classmethod
    def from_settings(cls, reports: Any) -> "Thresholds":
        return cls(reports.inconclusive_raced_pct, reports.inconclusive_unavailable_pct,
                   reports.inconclusive_skipped_pct)

    def as_dict(self) -> dict[str, float | None]:
        return {"raced_pct": self.raced_pct, "unavailable_pct": self.unavailable_pct, "skipped_pct": self.skipped_pct}


def inconclusive_reason(counts: dict[str, int], thresholds: Thresholds = Thresholds()) -> str | None:
    """Why a path with these verdict counts is inconclusive (a share above its threshold, or no
    conclusive verdict at all), or None when it can be judged."""
    total = sum(counts.values())
    if not total:
        return None
    why = []
    for verdict in INCONCLUSIVE:
        limit, n = getattr(thresholds, f"{verdict}_pct"), counts.get(verdict, 0)
        if n and limit is not None and 100.0 * n / total > limit:
            why.append(f"{n} of {total} {verdict} ({100.0 * n / total:.1f}% > {limit:g}%)")
    if not why and not any(counts.get(v, 0) for v in CONCLUSIVE):
        why.append(f"none of {total} verdicts conclusive")
    return "; ".join(why) or None


def known_paths() -> list[str]:
    """The 18 write paths, then the write and read response paths."""
    return ([p.name for p in ALL_WRITE_PATHS] + [write_response_path(e) for e in WRITE_ENDPOINTS]
            + [read_response_path(e) for e in READ_ENDPOINTS])


@dataclass(frozen=True)
class Filters:
    path: str | None = None
    verdict: str | None = None
    status: str | None = None          # group status (group lists only)
    since: dt.datetime | None = None
    until: dt.datetime | None = None

    def __post_init__(self) -> None:
        if self.verdict is not None and self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r} (expected one of {', '.join(VERDICTS)})")
        if self.status is not None and self.status not in STATUSES:
            raise ValueError(f"unknown status {self.status!r} (expected one of {', '.join(STATUSES)})")

    @property
    def timed(self) -> bool:
        return self.since is not None or self.until is not None

    def without(self, **names: None) -> "Filters":
        return replace(self, **names)


def _where(f: Filters, args: list[Any], alias: str = "") -> str:
    """SQL conditions on the results table for `f` (appends parameters to `args`)."""
    a = f"{alias}." if alias else ""
    conds = ["TRUE"]
    for column, value, op in ((f"{a}path", f.path, "="), (f"{a}verdict", f.verdict, "="),
                              (f"{a}at", f.since, ">="), (f"{a}at", f.until, "<")):
        if value is not None:
            args.append(value)
            conds.append(f"{column} {op} ${len(args)}")
    return " AND ".join(conds)


async def overview(pool: asyncpg.Pool, f: Filters) -> dict[str, Any]:
    """Per path: counts per verdict, match rate, groups per status, and results needing review
    (mismatches and shadow errors in open or regressed groups)."""
    args: list[Any] = []
    where = _where(f, args)
    counts = await pool.fetch(f"SELECT path, verdict, count(*) AS n FROM results WHERE {where} GROUP BY 1, 2", *args)
    gargs: list[Any] = []
    gwhere = _where(f.without(verdict=None), gargs, "r")
    unresolved = await pool.fetch(
        f"SELECT r.path, count(*) AS n FROM results r JOIN mismatch_groups g ON g.id = r.group_id "
        f"WHERE {gwhere} AND g.status = ANY(${len(gargs) + 1}::text[]) AND g.verdict = ANY(${len(gargs) + 2}::text[]) "
        f"GROUP BY 1", *gargs, list(UNRESOLVED), list(REVIEW_VERDICTS))
    group_rows = await pool.fetch("SELECT path, status, count(*) AS n FROM mismatch_groups GROUP BY 1, 2")
    paths: dict[str, dict[str, Any]] = {}

    def row(path: str) -> dict[str, Any]:
        return paths.setdefault(path, {"path": path, "counts": {v: 0 for v in VERDICTS},
                                       "groups": {s: 0 for s in STATUSES}, "unresolved_results": 0})

    for p in known_paths():
        if f.path is None or f.path == p:
            row(p)
    for r in counts:
        row(r["path"])["counts"][r["verdict"]] = r["n"]
    for r in unresolved:
        row(r["path"])["unresolved_results"] = r["n"]
    for r in group_rows:
        if f.path is None or f.path == r["path"]:
            row(r["path"])["groups"][r["status"]] = r["n"]
    for item in paths.values():
        c = item["counts"]
        item["total"] = sum(c.values())
        conclusive = sum(c[v] for v in CONCLUSIVE)
        item["match_rate"] = (c["match"] + c["ignored"]) / conclusive if conclusive else None
        item["endpoint"] = item["path"].split(".")[1] if item["path"].startswith("read.") else item["path"].split(".")[0]
    order = {p: i for i, p in enumerate(known_paths())}
    rows = sorted(paths.values(), key=lambda r: (order.get(r["path"], len(order)), r["path"]))
    totals = {v: sum(r["counts"][v] for r in rows) for v in VERDICTS}
    return {"paths": rows, "totals": totals, "total": sum(totals.values()),
            "unresolved_results": sum(r["unresolved_results"] for r in rows)}


async def latency(pool: asyncpg.Pool, f: Filters) -> list[dict[str, Any]]:
    """Legacy vs new latency (p50/p95/p99, ms) and mean SQL statements per request, per endpoint,
    over response comparisons (the only records that time an HTTP exchange: store paths carry none)."""
    args: list[Any] = []
    where = _where(f, args)
    rows = await pool.fetch(f"""
        SELECT endpoint, count(*) AS n,
               percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY legacy_ms) AS legacy,
               percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY new_ms) AS new,
               avg(legacy_sql) AS legacy_sql, avg(new_sql) AS new_sql
        FROM results WHERE {where} AND path LIKE '%.response' AND (legacy_ms IS NOT NULL OR new_ms IS NOT NULL)
        GROUP BY endpoint ORDER BY endpoint""", *args)
    out = []
    for r in rows:
        legacy, new = r["legacy"] or [None] * 3, r["new"] or [None] * 3
        out.append({"endpoint": r["endpoint"], "samples": r["n"],
                    "legacy": dict(zip(("p50", "p95", "p99"), legacy)), "new": dict(zip(("p50", "p95", "p99"), new)),
                    "legacy_sql": float(r["legacy_sql"]) if r["legacy_sql"] is not None else None,
                    "new_sql": float(r["new_sql"]) if r["new_sql"] is not None else None})
    return out


def _group(r: asyncpg.Record) -> dict[str, Any]:
    g = dict(r)
    g["fields"] = [tuple(x) for x in orjson.loads(g["fields"])] if isinstance(g.get("fields"), str) else g.get("fields")
    g.pop("total", None)
    return g


async def list_groups(pool: asyncpg.Pool, f: Filters, *, sort: str = "occurrences", descending: bool = True,
                      page: int = 1, per_page: int = 50) -> tuple[list[dict[str, Any]], int]:
    """One page of groups and the number of groups matching. With a time filter, occurrences and
    first/last seen are counted from results inside the window; otherwise they are all-time."""
    order = GROUP_SORTS.get(sort, "n")
    direction = "DESC" if descending else "ASC"
    args: list[Any] = []
    if f.timed:
        where = _where(f, args)
        source = (f"(SELECT group_id, count(*) AS n, min(at) AS first_at, max(at) AS last_at FROM results "
                  f"WHERE group_id IS NOT NULL AND {where} GROUP BY group_id) h JOIN mismatch_groups g ON g.id = h.group_id")
        cols = "h.n, h.first_at, h.last_at"
        conds = ["TRUE"]
    else:
        source = "mismatch_groups g"
        cols = "g.occurrences AS n, g.first_seen AS first_at, g.last_seen AS last_at"
        conds = ["TRUE"]
        for column, value in (("g.path", f.path), ("g.verdict", f.verdict)):
            if value is not None:
                args.append(value)
                conds.append(f"{column} = ${len(args)}")
    if f.status is not None:
        args.append(f.status)
        conds.append(f"g.status = ${len(args)}")
    args += [per_page, (max(page, 1) - 1) * per_page]
    rows = await pool.fetch(f"""
        SELECT g.id, g.path, g.verdict, g.title, g.fields, g.status, g.last_version, g.rule_name, g.reason,
               g.accepted_by, g.fixed_version, g.regressed_version, {cols}, count(*) OVER () AS total
        FROM {source} WHERE {' AND '.join(conds)}
        ORDER BY {order} {direction}, g.id LIMIT ${len(args) - 1} OFFSET ${len(args)}""", *args)
    total = rows[0]["total"] if rows else 0
    return [_group(r) for r in rows], total


async def get_group(pool: asyncpg.Pool, group_id: str) -> dict[str, Any] | None:
    r = await pool.fetchrow("SELECT * FROM mismatch_groups WHERE id = $1", group_id)
    return _group(r) if r else None


async def group_examples(pool: asyncpg.Pool, group_id: str, limit: int = 20) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT at, request_id, version, record FROM examples WHERE group_id = $1 "
                            "ORDER BY at DESC LIMIT $2", group_id, limit)
    return [{"at": r["at"], "request_id": r["request_id"], "version": r["version"],
             "record": orjson.loads(r["record"])} for r in rows]


async def group_events(pool: asyncpg.Pool, group_id: str) -> list[dict[str, Any]]:
    rows = await pool.fetch("SELECT at, action, actor, detail FROM group_events WHERE group_id = $1 ORDER BY at, id",
                            group_id)
    return [dict(r) for r in rows]


async def all_groups(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    """Every group (exports), most frequent first."""
    rows = await pool.fetch("SELECT * FROM mismatch_groups ORDER BY occurrences DESC, id")
    return [_group(r) for r in rows]


async def accepted_rules(pool: asyncpg.Pool) -> list[dict[str, Any]]:
    """Accepted groups as ignore-rule dicts for the comparator."""
    rows = await pool.fetch("SELECT id, path, fields, rule_name, reason FROM mismatch_groups "
                            "WHERE status = 'accepted' ORDER BY accepted_at, id")
    return [accepted_rule(_group(r)) for r in rows]
