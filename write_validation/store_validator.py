"""The WriteValidator: six verdicts per shadowed write (its endpoint x 3 stores x 2 checks).

For each write: read both sides' stores (store_reads.py; production read-only), find the legacy's
own CDC event for the request, decide whether the write can be judged at all (the legacy's log
behind its commits, a version gap, a race by the legacy's commit order: ordering.py), scope the
write to what it changed (diff_reports.write_scope), then run the endpoint's six entries of the
path-check table (path_checks.py). A write that mismatched re-synchronises its sister copy
(resync.py), so each bug counts once.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from typing import Any

from diff_reports.stored_forms import decode_cdc_fields
from diff_reports.types import ALL_WRITE_PATHS, ValidationPath, VerdictKind, VerdictRecord
from diff_reports.write_scope import scope_for
from sister_stores.addresses import StoreAddresses
from sister_stores.databases import readonly_dsn
from traffic.shadowed import ComparisonJob
from write_validation.ordering import (Book, OrderBook, aged_out, classify, created_after, link_race, log_behind, lost_earlier_write,
                                       overtaken_reason, settle, split_at, version_gap, version_of)
from write_validation.path_checks import PATH_CHECKS, Compare, Judging, WriteState, direct, events_of
from write_validation.projection_lag import projection_backlog
from write_validation.projections import ScratchProjections
from write_validation.refusals import RefusalSides, comment_id_of, judge_refusal
from write_validation.resync import as_first_diverging, evict_entity, mismatched_paths
from write_validation.store_reads import (CdcEvent, SideState, SideConnections, account_id, read_events,
                                          read_side, link_of_comment)


def _id36(fullname: str) -> int:
    return int(fullname.split("_", 1)[1], 36)


def _link_count(state: Any) -> str | None:
    """The link's num_comments data row in a postgres read (None: absent or unreadable)."""
    data = getattr(state, "link_data", ()) or ()
    return next((value for key, value, _ in data if key == "num_comments"), None)


class StoreValidator:
    """Implements judge.protocols.WriteValidator over a production and a sister store set."""

    def __init__(self, production: StoreAddresses, sister: StoreAddresses, compare: Compare, *,
                 stream: str = "comments:cdc", tz_offset: int = -28800, readonly_role: str | None = "tapcompare_ro",
                 scan: int = 2000, settle_s: float = 2.0, lost_after_s: float = 30.0,
                 order_book: Book | None = None) -> None:
        self._addresses = (production, sister)
        self._compare = compare
        self._stream = stream
        self._tz = tz_offset
        self._role = readonly_role
        self._scan = scan
        self._settle_s = settle_s  # how long to wait for the legacy's log to catch up with its commits
        self._lost_after_s = lost_after_s  # a pending earlier write older than this was lost, not in flight
        # The ordering book: this process's own, unless a shared one (ordering.RedisOrderBook) is given
        # here or later through `share_order_book` (stream-mode workers share the proxies' book).
        self.order: Book = order_book or OrderBook()
        self._locks: defaultdict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        self._prod: SideConnections | None = None
        self._sis: SideConnections | None = None
        self._scratch: ScratchProjections | None = None

    def share_order_book(self, book: Book) -> None:
        """Use `book` (shared with the proxies and the other workers) instead of this process's own."""
        self.order = book

    async def start(self) -> None:
        production, sister = self._addresses
        prod_dsn = readonly_dsn(production.postgres, self._role) if self._role else production.postgres
        self._prod = await SideConnections.open(production, prod_dsn)
        self._sis = await SideConnections.open(sister, sister.postgres)
        self._scratch = ScratchProjections(sister.redis)

    async def close(self) -> None:
        for part in (self._prod, self._sis, self._scratch):
            if part is not None:
                await part.close()

    async def projection_backlog(self) -> int:
        """CDC events the legacy's thread projections have not applied yet (projection_lag.py)."""
        assert self._prod is not None, "start() first"
        return await projection_backlog(self._prod.redis, self._stream)

    # -- the hook ------------------------------------------------------------------------------
    async def validate(self, write: ComparisonJob) -> list[VerdictRecord]:
        paths = [p for p in ALL_WRITE_PATHS if p.endpoint == write.endpoint]
        new = write.new
        assert new is not None, "a write job carries the rewrite's answer"
        status = (new.value or {}).get("status") if not new.raised else None
        if 400 <= write.legacy_status < 500:
            return await self._refused(write, paths, new.error if new.raised else None)
        if new.raised or not isinstance(status, int) or not 200 <= status < 300:
            reason = new.error or f"new service answered {status} to a write the legacy accepted"
            await self._evict(write, "the rewrite missed this write")
            return [direct(p, VerdictKind.SHADOW_ERROR, write, reason) for p in paths]
        async with self._locks[write.entity]:
            try:
                return await self._validate(write, paths)
            finally:
                await self.order.mark_applied(write.entity, write.request_id)

    async def _refused(self, write: ComparisonJob, paths: list[ValidationPath], error: str | None) -> list[VerdictRecord]:
        """A write the legacy refused (refusals.py): nothing may have changed on either side. A
        rewrite that gave no answer may have stored something before failing: its copy is
        re-synchronised, and the paths are `shadow_error`."""
        if error is not None:
            if comment_id_of(write.entity) is not None:
                await self._evict(write, "the rewrite failed on a refused write")
            return [direct(p, VerdictKind.SHADOW_ERROR, write, error) for p in paths]
        assert self._prod and self._sis
        async with self._locks[write.entity]:
            try:
                sides = RefusalSides(self._prod, self._sis, self._stream, self._scan, self._settle_s)
                return await judge_refusal(write, paths, sides, self.order, self._judging(),
                                           await self._account_id(write.auth_user), self._evict)
            finally:
                await self.order.mark_applied(write.entity, write.request_id)

    async def _validate(self, write: ComparisonJob, paths: list[ValidationPath]) -> list[VerdictRecord]:
        assert self._prod and self._sis
        # The book as of before the reads: what it calls applied is in the sister state read.
        hist = await self.order.history(write.entity)
        link_hist = await self.order.history(f"link:{write.link}") if write.endpoint == "create" else None
        began = write.legacy_at or write.published_at
        if began and hist.evicted_at > began:
            # The sister's copy was evicted (re-synchronised) after this write began (an earlier
            # write's mismatch, judged while this one was already on its way to the rewrite), so
            # what the rewrite stored for it may be gone; the next write re-hydrates it.
            reason = (f"the sister copy of {write.entity} was re-synchronised from production while this write "
                      "was in flight: nothing of it is left there to compare")
            return [direct(p, VerdictKind.RACED, write, reason) for p in paths]
        comment_id = _id36(write.entity)
        link_id = await self._link_id(write, comment_id)
        production, sister = self._prod, self._sis

        async def read_both() -> tuple[SideState, SideState, float]:
            read_at = time.time()
            # The sister first, then production: the rewrite only ever applies writes the legacy has
            # already committed and answered, so production's later snapshot holds everything the
            # sister's does (a stream-mode worker validates while the proxy keeps applying later
            # writes; read the other way round, the sister could be ahead of production's snapshot).
            sis = await read_side(sister, self._stream, comment_id, link_id, self._scan)
            prod = await read_side(production, self._stream, comment_id, link_id, self._scan)
            return sis, prod, read_at

        def judgeable(got: tuple[SideState, SideState, float]) -> bool:
            sis, prod, _ = got
            if isinstance(prod.events, BaseException) or isinstance(prod.postgres, BaseException) \
                    or isinstance(sis.postgres, BaseException):
                return True  # answered below: nothing to wait for
            return log_behind(prod, events_of(prod.events, write.entity), write.entity) is None

        # The legacy commits, sets the cache, then publishes: poll until its log shows the commit.
        sis, prod, read_at = await settle(read_both, judgeable, self._settle_s)
        if isinstance(prod.events, BaseException) or isinstance(prod.postgres, BaseException):
            err = prod.events if isinstance(prod.events, BaseException) else prod.postgres
            return [direct(p, VerdictKind.UNAVAILABLE, write, f"production stores unreadable: {err!r}") for p in paths]
        if isinstance(sis.postgres, BaseException):
            # The rewrite's own database is unreadable: nothing it did for this write can be judged.
            return [direct(p, VerdictKind.UNAVAILABLE, write, f"sister postgres unreadable: {sis.postgres!r}")
                    for p in paths]
        mine = events_of(prod.events, write.entity)
        behind = log_behind(prod, mine, write.entity)
        if behind:
            # past the window validation reads, the stores cannot be judged; otherwise a race
            aged = aged_out(prod.events, write.request_time, self._scan, self._stream)
            await self._evict(write, aged or behind)
            verdict = VerdictKind.UNAVAILABLE if aged else VerdictKind.RACED
            return [direct(p, verdict, write, aged or behind) for p in paths]
        own = next((e for e in mine if e.fields.get("request_id") == write.request_id), None)
        own_v = version_of(own) if own else None
        first = hist.first_version
        gap = version_gap([v for e in mine if (v := version_of(e)) is not None and (first is None or v >= first)], own_v)
        if gap and first is not None:
            reason = (f"production versions {gap[:5]} of {write.entity} have no CDC event (committed without "
                      "publishing): the sister cannot hold them, so it is re-hydrated on the next write")
            await self._evict(write, reason)
            return [direct(p, VerdictKind.RACED, write, reason) for p in paths]
        # A write that changed nothing has no place in production's log: what began after it (by
        # the legacy's request times) is later, as for a write with an event of its own.
        earlier, later_events = (split_at(mine, write.request_time) if own_v is None else
                                 ([e for e in mine if (version_of(e) or 0) < own_v],
                                  [e for e in mine if (version_of(e) or 0) > own_v]))
        before = [(version_of(e) or 0, e.fields.get("request_id", "")) for e in earlier]
        race = (await classify(self.order, write.entity, own_v, before, hist)
                or await link_race(self.order, write, prod.events, own, link_hist))
        if race:
            if lost_earlier_write(write, mine, prod.events, own, hist, link_hist, self._lost_after_s):
                await self._evict(write, race)  # a write that never arrived: re-hydrate, start afresh
            return [direct(p, VerdictKind.RACED, write, race) for p in paths]
        after = [(version_of(e) or 0, e.fields.get("request_id", "")) for e in mine
                 if own_v is not None and (version_of(e) or 0) > own_v]
        swapped = overtaken_reason(write.entity, hist, write.request_id, after)
        if swapped:
            await self._evict(write, swapped)  # the copy's history is not production's: re-hydrate it
            return [direct(p, VerdictKind.RACED, write, swapped) for p in paths]
        later = [decode_cdc_fields(e.fields).get("changes", {}) for e in later_events]
        own_changes = decode_cdc_fields(own.fields).get("changes", {}) if own else {}
        account_id = await self._account_id(write.auth_user)
        link_quiet = False
        if write.endpoint == "create" and own is not None:
            link = own.fields.get("link", write.link)
            await self.order.mark_applied(f"link:{link}", write.request_id)
            link_quiet = not created_after(prod.events, link, own)
            if link_quiet and _link_count(prod.postgres) != _link_count(sis.postgres):
                link_quiet = await self._link_settles_quiet(link, own)
        scope = scope_for(write.endpoint, own_changes if isinstance(own_changes, dict) else {}, later,
                          account_id=account_id, link_quiet=link_quiet)
        # How long the legacy's cache entry had been counting down when it was read.
        legacy_lag = max(0.0, read_at - (write.legacy_at or read_at))
        cap = WriteState(write, scope, prod, sis, own, legacy_lag)
        out: list[VerdictRecord] = []
        for path in paths:
            check = PATH_CHECKS[path]
            broken = [(side, err) for side, c in (("production", prod), ("sister", sis))
                      if isinstance(err := getattr(c, check.store), BaseException)]
            if broken:
                side, err = broken[0]
                out.append(direct(path, VerdictKind.UNAVAILABLE, write, f"{side} {path.store} unreadable: {err!r}"))
                continue
            out.append(await check.run(cap, self._judging()))
        return await self._resync_after_mismatch(write, out)

    async def _resync_after_mismatch(self, write: ComparisonJob, out: list[VerdictRecord]) -> list[VerdictRecord]:
        """Each bug counts once: a write that mismatched is the entity's first diverging write; its
        sister copy is re-synchronised from production (resync.py), so later writes are judged from
        a correct start."""
        flagged = mismatched_paths(out)
        if not flagged:
            return out
        await self._evict(write, f"write {write.request_id} mismatched on {', '.join(flagged)}")
        return as_first_diverging(write, out)

    # -- helpers -------------------------------------------------------------------------------
    async def _evict(self, write: ComparisonJob, why: str) -> None:
        assert self._sis
        await evict_entity(self._sis, self.order, write, why)

    async def _link_settles_quiet(self, link: str, own: CdcEvent) -> bool:
        """The link's counters differ although its log shows no later create: a later create may be
        committed and not yet published (the legacy commits, then publishes). Poll production's log
        until one shows up (not quiet: the counter is out of this write's scope) or the settle time
        ends (quiet: the counter is compared, and a rewrite that missed it is a mismatch)."""
        assert self._prod is not None
        prod = self._prod

        async def later_create() -> bool:
            return created_after(await read_events(prod, self._stream, self._scan), link, own)

        return not await settle(later_create, bool, self._settle_s)

    async def _link_id(self, write: ComparisonJob, comment_id: int) -> int | None:
        if write.link.startswith("t3_"):
            return _id36(write.link)
        assert self._prod
        return await link_of_comment(self._prod, comment_id)

    async def _account_id(self, name: str | None) -> int | None:
        assert self._prod
        return await account_id(self._prod, name) if name else None

    def _judging(self) -> Judging:
        assert self._prod and self._scratch
        return Judging(self._compare, self._prod.pool, self._tz, self._scratch)
