"""Judging a write the legacy refused: the rewrite must refuse it too and neither side may change
any store.

Production changed nothing (the legacy refused), so each store's state of the entity *is* its
state before the write; the sister's copy, in sync since its last judged write (or re-synchronised
after a mismatch), must still equal it on what the write would have changed (the scope of an
accepted write of that endpoint: body and edit time, scores and the voter's row, a whole comment
for a create), or hold nothing at all. A refused create is sent with an id production never
assigns (traffic.identity), so any row, cache entry or event under it is the rewrite's. Each
side's CDC stream must carry no event of the request. A change on one side is a mismatch whose
first difference is `unexpected_write` naming the side; the entity is then re-synchronised, so
the next write is judged from production's state again.

Races: a production write to the entity begun before this one (by the legacy's request times)
that the shadow side has not applied yet makes the row and cache paths `raced` (the rule of a vote
that changed nothing: ordering.classify); a write begun after it is no race, its fields are judged
with it and left out of this one's scope. A later write that production committed but has not
published yet cannot be told from this one's change until its event shows when it began: its
version is above both production's log and the sister's copy (a seed without events has neither
gap), so the reads wait for the log to catch up as for an accepted write (`raced` if it never
does). The CDC paths look only at the request's own events,
which no other write can carry.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from diff_reports.stored_forms import decode_cdc_fields
from diff_reports.types import UNEXPECTED_WRITE, Difference, ValidationPath, VerdictKind, VerdictRecord
from diff_reports.write_scope import scope_for
from traffic.routes import parse_fullname
from traffic.shadowed import ComparisonJob
from write_validation.ordering import Book, classify, log_behind, settle, split_at, version_of
from write_validation.path_checks import PATH_CHECKS, Judging, WriteState, direct, events_of
from write_validation.store_reads import CdcEvent, SideConnections, SideState, read_events, read_side

Evict = Callable[[ComparisonJob, str], Awaitable[None]]


def comment_id_of(entity: str, prefix: str = "t1") -> int | None:
    """The decimal id of a well-formed fullname of that type (t1: comment, t3: link), else None."""
    parsed = parse_fullname(entity)
    return int(parsed[1], 36) if parsed and parsed[0] == prefix else None


@dataclass(frozen=True)
class RefusalSides:
    production: SideConnections
    sister: SideConnections
    stream: str
    scan: int
    settle_s: float = 2.0


def unexpected(record: VerdictRecord, side: str, what: str) -> VerdictRecord:
    """A mismatch of a refused write, named as the change `side` made."""
    if record.verdict is not VerdictKind.MISMATCH:
        return record
    first = Difference("$", UNEXPECTED_WRITE, None, side)
    return replace(record, differences=(first, *record.differences),
                   reason=f"the legacy refused this write ({what}); the {side} changed {record.path.split('.')[1]}",
                   context={**record.context, "unexpected_write": side})


def _refusal(write: ComparisonJob) -> str:
    return f"{write.legacy_status}"


def _request_events(events: list[CdcEvent] | BaseException, request_id: str) -> list[CdcEvent] | BaseException:
    if isinstance(events, BaseException):
        return events
    return [e for e in events if e.fields.get("request_id") == request_id]


async def judge_refusal(write: ComparisonJob, paths: list[ValidationPath], sides: RefusalSides, order: Book,
                        judging: Judging, account: int | None, evict: Evict) -> list[VerdictRecord]:
    """The six store verdicts of a write the legacy refused."""
    comment_id = comment_id_of(write.entity)
    link_id = comment_id_of(write.link, "t3")
    hist = await order.history(write.entity)
    sis: SideState | None = None
    prod: SideState | None = None
    if comment_id is not None:
        cid = comment_id

        async def read_both() -> tuple[SideState, SideState]:
            # The sister first, then production (as for accepted writes: production's later
            # snapshot holds everything the sister's does).
            first = await read_side(sides.sister, sides.stream, cid, link_id, sides.scan)
            return first, await read_side(sides.production, sides.stream, cid, link_id, sides.scan)

        read_sis, read_prod = await settle(read_both, lambda got: _unpublished(write.entity, *got) is None,
                                           sides.settle_s)
        sis, prod = read_sis, read_prod
        prod_events, sis_events = read_prod.events, read_sis.events
    else:
        sis_events = await _guarded(read_events(sides.sister, sides.stream, sides.scan))
        prod_events = await _guarded(read_events(sides.production, sides.stream, sides.scan))
    own_prod = _request_events(prod_events, write.request_id)
    own_sis = _request_events(sis_events, write.request_id)
    race = None
    later: list[dict[str, object]] = []
    if prod is not None and sis is not None and (unpublished := _unpublished(write.entity, sis, prod)):
        race = unpublished
    elif prod is not None and not isinstance(prod.events, BaseException):
        before, after = split_at(events_of(prod.events, write.entity), write.request_time)
        race = await classify(order, write.entity, None, [(version_of(e) or 0, e.fields.get("request_id", ""))
                                                          for e in before], hist)
        later = [c for e in after if isinstance(c := decode_cdc_fields(e.fields).get("changes", {}), dict)]
    # What a write begun after this one changed is judged with that write, as for an accepted one.
    scope = replace(scope_for(write.endpoint, {}, later, account_id=account, link_quiet=False), last_writer=False)
    out: list[VerdictRecord] = []
    for path in paths:
        if path.store == "redis_cdc":
            out.append(await _events(path, write, own_prod, own_sis, prod_events, judging))
        elif comment_id is None or prod is None or sis is None:
            out.append(_no_entity(path, write, own_sis))
        elif race:
            out.append(direct(path, VerdictKind.RACED, write, race))
        else:
            out.append(await _stored(path, WriteState(write, scope, prod, sis, None, 0.0), judging))
    if any(r.verdict is VerdictKind.MISMATCH for r in out):
        # Re-synchronise what the rewrite wrote: the entity, and whatever its events name (a
        # target it parsed differently, say), so each bug counts once.
        # A create's event names its link: the counter the rewrite bumped is re-synchronised too.
        named = {write.entity: write.link}
        for event in own_sis if isinstance(own_sis, list) else []:
            name = event.fields.get("fullname", "")
            named[name] = event.fields.get("link") or named.get(name, write.link)
        for name, link in sorted(named.items()):
            if comment_id_of(name) is not None:
                await evict(replace(write, entity=name, link=link),
                            f"refused write {write.request_id} changed the sister")
    return out


def _unpublished(entity: str, sis: SideState, prod: SideState) -> str | None:
    """Why production holds a version of the entity that neither its log nor the sister's copy
    has (a write between commit and publish), or None. A seeded comment has no events, but its
    sister copy (hydrated from production) holds its version, so it is never taken for one; with
    no sister copy there is nothing to take a later change for."""
    if isinstance(prod.events, BaseException) or isinstance(sis.postgres, BaseException) \
            or sis.postgres.version is None:
        return None  # unreadable (answered on the paths), or no sister copy to take a change for
    behind = log_behind(prod, events_of(prod.events, entity), entity)  # production ahead of its log
    if behind is None:
        return None
    assert not isinstance(prod.postgres, BaseException) and prod.postgres.version is not None  # log_behind read it
    held = sis.postgres.version
    return f"{behind}; the sister's copy holds version {held}" if prod.postgres.version > held else None


def _fullnames(events: list[CdcEvent]) -> list[str]:
    return sorted({e.fields.get("fullname", "?") for e in events})


async def _guarded(awaitable: Awaitable[list[CdcEvent]]) -> list[CdcEvent] | BaseException:
    try:
        return await awaitable
    except Exception as exc:
        return exc


def _no_entity(path: ValidationPath, write: ComparisonJob, own_sis: list[CdcEvent] | BaseException) -> VerdictRecord:
    """A target that names no comment: the rewrite had nothing of it to store; an event of the
    request on the sister (checked on the CDC paths too) shows it stored something all the same."""
    if isinstance(own_sis, BaseException):
        return direct(path, VerdictKind.UNAVAILABLE, write, f"sister redis_cdc unreadable: {own_sis!r}")
    if own_sis:
        names = _fullnames(own_sis)
        record = VerdictRecord(path.name, VerdictKind.MISMATCH, write.entity, write.request_id,
                               differences=(Difference("$", "added", None, names),))
        return unexpected(record, "rewrite", _refusal(write))
    return direct(path, VerdictKind.MATCH, write,
                  f"the request names no comment ({write.entity!r}) and the rewrite published nothing for it")


async def _stored(path: ValidationPath, cap: WriteState, judging: Judging) -> VerdictRecord:
    """Row and cache paths: nothing on the sister, or the same as production on the write's scope."""
    check = PATH_CHECKS[path]
    broken = [(side, err) for side, c in (("production", cap.prod), ("sister", cap.sis))
              if isinstance(err := getattr(c, check.store), BaseException)]
    if broken:
        side, err = broken[0]
        return direct(path, VerdictKind.UNAVAILABLE, cap.write, f"{side} {path.store} unreadable: {err!r}")
    if check.store == "postgres":
        prod_has, sis_has = cap.pg()[0].thing is not None, cap.pg()[1].thing is not None
        what = "row"
    else:
        prod_has, sis_has = cap.cache()[0].present, cap.cache()[1].present
        what = "cache entry"
    if not sis_has:
        return direct(path, VerdictKind.MATCH, cap.write,
                      f"the sister holds no {what} for {cap.write.entity}: nothing was stored for this refused write")
    if not prod_has:
        record = VerdictRecord(path.name, VerdictKind.MISMATCH, cap.write.entity, cap.write.request_id,
                               differences=(Difference("$", "added", None, f"a {what} for {cap.write.entity}"),))
        return unexpected(record, "rewrite", _refusal(cap.write))
    return unexpected(await check.check(path, cap, judging), "rewrite", _refusal(cap.write))


async def _events(path: ValidationPath, write: ComparisonJob, own_prod: list[CdcEvent] | BaseException,
                  own_sis: list[CdcEvent] | BaseException, prod_all: list[CdcEvent] | BaseException,
                  judging: Judging) -> VerdictRecord:
    """No event of this request on either side (parity), and so the same projection (legacy_read)."""
    for side, got in (("production", own_prod), ("sister", own_sis)):
        if isinstance(got, BaseException):
            return direct(path, VerdictKind.UNAVAILABLE, write, f"{side} redis_cdc unreadable: {got!r}")
    assert not isinstance(own_prod, BaseException) and not isinstance(own_sis, BaseException)
    side = "legacy" if own_prod else "rewrite"
    if path.check == "parity":
        record = judging.pair(path, write, [decode_cdc_fields(e.fields) for e in own_prod],
                              [decode_cdc_fields(e.fields) for e in own_sis])
        return unexpected(record, side, _refusal(write))
    if not own_prod and not own_sis:
        return judging.pair(path, write, None, None)
    history = [] if isinstance(prod_all, BaseException) else [
        e.fields for e in events_of(prod_all, write.entity) if e not in own_prod]
    link = next((e.fields.get("link") for e in (*own_prod, *own_sis) if e.fields.get("link")), write.link)
    legacy_events: list[dict[str, str]] = history + [e.fields for e in own_prod]
    new_events: list[dict[str, str]] = history + [e.fields for e in own_sis]
    legacy, new = await judging.scratch.project(legacy_events, new_events, str(link).split("_", 1)[-1], write.entity)
    if isinstance(new, BaseException):
        return direct(path, VerdictKind.MISMATCH, write, f"legacy CDC consumer failed on sister events: {new!r}")
    record = judging.pair(path, write, legacy, new)
    if record.verdict is VerdictKind.MATCH and bool(own_prod) != bool(own_sis):
        # The consumer's projection can hide an event (an edit changes no score), but a refused
        # write may publish none: the event itself is the unexpected write.
        names = _fullnames([*own_prod, *own_sis])
        diff = Difference("$", "added", None, names) if own_sis else Difference("$", "removed", names, None)
        record = VerdictRecord(path.name, VerdictKind.MISMATCH, write.entity, write.request_id, differences=(diff,))
    return unexpected(record, side, _refusal(write))
