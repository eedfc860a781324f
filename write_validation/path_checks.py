"""The 18 path checks as a table: one `PathCheck` per `ValidationPath`, keyed by it.

A check says what it reads (the same store on both sides), how it brings both sides to one
form (the raw stored form for `parity`, a legacy reader's rendering for `legacy_read`), and which
of the legacy's readers it runs. Before comparing, a store's `absent` rule answers the cases where
there is nothing to compare: a row, entry or event the rewrite did not store at all is one
`missing_*` difference (not "every field changed"); an entry gone on both sides is `skipped`.

The validator (store_validator.py) decides whether a write can be judged at all (races, store reads
that failed, scope) and then runs `PATH_CHECKS[path]` for each of the endpoint's six paths.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal, cast

import asyncpg

from diff_reports.stored_forms import decode_cache_entry, decode_cdc_fields
from diff_reports.types import (ALL_WRITE_PATHS, MISSING_CACHE_ENTRY, MISSING_EVENT, MISSING_ROW, Difference,
                                Observation, ValidationPath, VerdictKind, VerdictRecord)
from diff_reports.write_scope import WriteScope, api_view, cache_view, postgres_view
from legacy_adapter.codec import r2_dumps
from legacy_adapter.readers import comment_from_rows, read_cache_value, render_obj
from traffic.shadowed import ComparisonJob
from write_validation.projections import ScratchProjections
from write_validation.store_reads import CacheEntry, CdcEvent, PostgresState, SideState

Compare = Callable[..., VerdictRecord]
StoreField = Literal["postgres", "cache", "events"]


@dataclass(frozen=True)
class Judging:
    """What the checks run with: the comparator, production's pool (the legacy's readers look names
    up there: the sister holds no accounts), the legacy's time zone and the scratch CDC consumer."""

    compare: Compare
    production: asyncpg.Pool
    tz_offset: int
    scratch: ScratchProjections

    def pair(self, path: ValidationPath, write: ComparisonJob, legacy: Any, new: Any) -> VerdictRecord:
        return self.compare(path.name, Observation("legacy", legacy), Observation("new", new),
                            entity=write.entity, request_id=write.request_id)


@dataclass(frozen=True)
class WriteState:
    """One write's inputs to its six checks: both sides' store state, its scope, its own legacy event."""

    write: ComparisonJob
    scope: WriteScope
    prod: SideState
    sis: SideState
    own: CdcEvent | None          # the legacy's CDC event for this request (None: it changed nothing)
    legacy_lag: float             # seconds between the legacy's write and this read

    def pg(self) -> tuple[PostgresState, PostgresState]:
        a, b = self.prod.postgres, self.sis.postgres
        assert not isinstance(a, BaseException) and not isinstance(b, BaseException)  # answered before
        return a, b

    def cache(self) -> tuple[CacheEntry, CacheEntry]:
        a, b = self.prod.cache, self.sis.cache
        assert not isinstance(a, BaseException) and not isinstance(b, BaseException)
        return a, b

    def events(self) -> tuple[list[CdcEvent], list[CdcEvent]]:
        a, b = self.prod.events, self.sis.events
        assert not isinstance(a, BaseException) and not isinstance(b, BaseException)
        return a, b

    def sister_event(self) -> CdcEvent | None:
        """The rewrite's event for this request; else (request id renamed or lost) the event at the
        legacy's version that names no other request. Never another write's event."""
        mine = events_of(self.events()[1], self.write.entity)
        match = next((e for e in mine if e.fields.get("request_id") == self.write.request_id), None)
        if match is None and self.own is not None:
            match = next((e for e in mine if e.fields.get("version") == self.own.fields.get("version")
                          and e.fields.get("request_id") in (None, "", self.write.request_id)), None)
        return match


Absent = Callable[[ValidationPath, WriteState], VerdictRecord | None]
Check = Callable[[ValidationPath, WriteState, Judging], Awaitable[VerdictRecord]]


@dataclass(frozen=True)
class PathCheck:
    path: ValidationPath
    store: StoreField           # the field of SideState both sides are read into
    reads: str                    # what is compared
    reader: str | None            # the legacy reader run over both sides (None: raw stored forms)
    absent: Absent                # nothing to compare: a missing_* mismatch or a skip, else None
    check: Check

    async def run(self, cap: WriteState, judging: Judging) -> VerdictRecord:
        return self.absent(self.path, cap) or await self.check(self.path, cap, judging)


def direct(path: ValidationPath, verdict: VerdictKind, write: ComparisonJob, reason: str) -> VerdictRecord:
    return VerdictRecord(path=path.name, verdict=verdict, entity=write.entity, request_id=write.request_id,
                         reason=reason)


def missing(path: ValidationPath, write: ComparisonJob, kind: str, legacy: dict[str, Any], reason: str) -> VerdictRecord:
    """One difference naming what the rewrite did not store at all."""
    return VerdictRecord(path=path.name, verdict=VerdictKind.MISMATCH, entity=write.entity,
                         request_id=write.request_id, reason=reason, differences=(Difference("$", kind, legacy, None),))


def events_of(events: list[CdcEvent], fullname: str) -> list[CdcEvent]:
    return [e for e in events if e.fields.get("fullname") == fullname]


def _served(rendered: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the legacy would put on the wire for a rendered object (its own JSON encoder, parsed
    back): a value the legacy cannot serve raises here, as it would in production."""
    return None if rendered is None else cast(dict[str, Any], json.loads(r2_dumps(rendered)))


def _ttl_at_write(ttl: int | None, elapsed: float) -> int | None:
    return ttl + round(elapsed) if ttl is not None and ttl > 0 else ttl


# -- PostgreSQL ---------------------------------------------------------------------------------
def _row_absent(path: ValidationPath, cap: WriteState) -> VerdictRecord | None:
    prod, sis = cap.pg()
    if prod.thing is not None and sis.thing is None:
        return missing(path, cap.write, MISSING_ROW, {"thing_id": prod.thing.get("thing_id")},
                       f"the sister has no row for {cap.write.entity}; production has")
    return None


async def _rows_parity(path: ValidationPath, cap: WriteState, judging: Judging) -> VerdictRecord:
    views = [postgres_view(c.thing, c.data, c.votes, c.link_data, cap.scope) for c in cap.pg()]
    return judging.pair(path, cap.write, *views)


async def _rows_legacy_read(path: ValidationPath, cap: WriteState, judging: Judging) -> VerdictRecord:
    """The legacy's row loader over the rows read from each side (the snapshot parity judged)."""
    prod, sis = cap.pg()
    async with judging.production.acquire() as conn:
        async def render(state: PostgresState) -> dict[str, Any] | None:
            if state.thing is None:
                return None
            return _served(await render_obj(conn, comment_from_rows(state.thing, list(state.data)), judging.tz_offset))

        legacy = await render(prod)
        try:
            new = await render(sis)
        except Exception as exc:
            return direct(path, VerdictKind.MISMATCH, cap.write, f"legacy row loader failed on sister data: {exc!r}")
    return judging.pair(path, cap.write, api_view(legacy, cap.scope), api_view(new, cap.scope))


# -- Memcached ----------------------------------------------------------------------------------
def _entry_absent(path: ValidationPath, cap: WriteState) -> VerdictRecord | None:
    prod, sis = cap.cache()
    if cap.own is None and not sis.present:
        return direct(path, VerdictKind.SKIPPED, cap.write,
                      "the sister's cache entry is gone (evicted or restarted) and this write changed nothing")
    if prod.present and not sis.present:
        return missing(path, cap.write, MISSING_CACHE_ENTRY, {"key": prod.key},
                       f"the new service left no cache entry {prod.key}; production has one")
    return None


async def _entry_parity(path: ValidationPath, cap: WriteState, judging: Judging) -> VerdictRecord:
    # TTLs as of each side's write: the legacy wrote when its answer reached the proxy, the rewrite
    # just before this read; a TTL counts down in between.
    prod, sis = cap.cache()
    views = [cache_view(decode_cache_entry(c.present, c.value, c.flags, _ttl_at_write(c.ttl, elapsed)), cap.scope)
             for c, elapsed in ((prod, cap.legacy_lag), (sis, 0.0))]
    return judging.pair(path, cap.write, *views)


async def _entry_legacy_read(path: ValidationPath, cap: WriteState, judging: Judging) -> VerdictRecord:
    prod, sis = cap.cache()
    if not prod.present:
        return direct(path, VerdictKind.SKIPPED, cap.write, "the legacy's cache entry is gone (evicted)")
    # Both entries are present here (_entry_absent answered an absent sister entry), and a present
    # entry's flags are always read; the casts pass them on unchanged.
    async with judging.production.acquire() as conn:
        legacy = _served(await render_obj(conn, read_cache_value(prod.value, cast(int, prod.flags)), judging.tz_offset))
        try:
            new = _served(await render_obj(conn, read_cache_value(sis.value, cast(int, sis.flags)), judging.tz_offset))
        except Exception as exc:
            return direct(path, VerdictKind.MISMATCH, cap.write, f"legacy cache reader failed on sister entry: {exc!r}")
    return judging.pair(path, cap.write, api_view(legacy, cap.scope), api_view(new, cap.scope))


# -- Redis CDC ----------------------------------------------------------------------------------
def _event_absent(path: ValidationPath, cap: WriteState) -> VerdictRecord | None:
    own = cap.own
    if own is not None and cap.sister_event() is None:
        return missing(path, cap.write, MISSING_EVENT,
                       {k: own.fields.get(k) for k in ("type", "fullname", "version", "request_id")},
                       f"the legacy published {own.fields.get('type')} v{own.fields.get('version')} for "
                       f"{cap.write.entity}; the rewrite published no event for this write")
    return None


async def _event_parity(path: ValidationPath, cap: WriteState, judging: Judging) -> VerdictRecord:
    sister = cap.sister_event()
    legacy = decode_cdc_fields(cap.own.fields) if cap.own else None
    new = decode_cdc_fields(sister.fields) if sister else None
    return judging.pair(path, cap.write, legacy, new)


async def _event_legacy_read(path: ValidationPath, cap: WriteState, judging: Judging) -> VerdictRecord:
    """The legacy consumer over the legacy's history up to this write, versus the same history
    with this write's event taken from the sister instead: only this write's event differs, so
    an earlier bad sister event is judged with its own write, never again here."""
    own, sister = cap.own, cap.sister_event()
    source = own or sister
    if source is None:
        return judging.pair(path, cap.write, None, None)  # a vote that changed nothing, on both sides
    mine = events_of(cap.events()[0], cap.write.entity)
    history = mine[:mine.index(own)] if own in mine else mine
    legacy_events = [e.fields for e in history] + ([own.fields] if own else [])
    new_events = [e.fields for e in history] + ([sister.fields] if sister else [])
    link36 = source.fields.get("link", "t3_0").split("_", 1)[-1]
    legacy, new = await judging.scratch.project(legacy_events, new_events, link36, cap.write.entity)
    if isinstance(new, BaseException):
        return direct(path, VerdictKind.MISMATCH, cap.write, f"legacy CDC consumer failed on sister events: {new!r}")
    return judging.pair(path, cap.write, legacy, new)


# (store, check) -> (SideState field, what is compared, the legacy reader, absent rule, check)
_BY_KIND: dict[tuple[str, str], tuple[StoreField, str, str | None, Absent, Check]] = {
    ("postgres", "parity"): ("postgres", "thing row, data rows (value + kind), vote row, the link's num_comments",
                             None, _row_absent, _rows_parity),
    ("postgres", "legacy_read"): ("postgres", "the comment as the legacy serves it from each side's rows",
                                  "legacy_adapter.readers.comment_from_rows + render_obj", _row_absent,
                                  _rows_legacy_read),
    ("memcached", "parity"): ("cache", "cache entry: pickle protocol, globals, fields, flags, TTL at write time",
                              None, _entry_absent, _entry_parity),
    ("memcached", "legacy_read"): ("cache", "the comment as the legacy serves it from each side's cache entry",
                                   "legacy_adapter.readers.read_cache_value + render_obj", _entry_absent,
                                   _entry_legacy_read),
    ("redis_cdc", "parity"): ("events", "this write's CDC event fields, decoded", None, _event_absent, _event_parity),
    ("redis_cdc", "legacy_read"): ("events", "the legacy consumer's projection of the history ending in each "
                                             "side's event", "write_validation.projections (the legacy consumer)",
                                   _event_absent, _event_legacy_read),
}

PATH_CHECKS: dict[ValidationPath, PathCheck] = {
    p: PathCheck(p, *_BY_KIND[(p.store, p.check)]) for p in ALL_WRITE_PATHS
}
