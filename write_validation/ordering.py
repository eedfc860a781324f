"""Per-entity bookkeeping that tells a race from a bug, using only the legacy's own CDC log.

Production's events give the commit order of writes to a comment. The shadow applies writes in
the order it receives them. A write is comparable when every production write between the sister's
starting point (where the entity was hydrated) and this one has already been applied on the
shadow side; otherwise the two sides hold different histories and the write is `raced`.
This uses no sister-side facts, so a rewrite's bug (say, a lost version bump or a renamed CDC
field) can never be mistaken for a race.

Two books with one (async) interface: `OrderBook` in one process (inline mode), and
`RedisOrderBook` shared by every proxy and stream-mode worker through Redis. With several workers
a write's predecessor is often validated by another worker, so a per-process book would call it
unapplied: the shared book (marked when the proxy publishes a job, i.e. once the rewrite has
applied the write) keeps the raced share independent of the number of workers.

Below the books: what production's own log says about a write (its version, the log behind its
commits, creates on a link, an earlier write that was lost rather than in flight), and `settle`,
which waits, bounded, for the log to catch up with a commit.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal, InvalidOperation
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast

import redis.asyncio as aioredis
from cachetools import LRUCache
from tenacity import AsyncRetrying, retry_if_result, stop_after_delay, wait_exponential

from traffic.shadowed import ComparisonJob
from write_validation.store_reads import CdcEvent

if TYPE_CHECKING:
    from write_validation.store_reads import SideState

T = TypeVar("T")


@dataclass
class EntityHistory:
    first_version: Any = None  # production position (version, or stream id for a link's creates) first seen
    # request ids the shadow side has applied, each with its place in the order it applied them
    applied: dict[str, int] = field(default_factory=dict)
    evicted_at: float = 0.0    # wall time the sister's copy was last evicted (re-synchronised)


class Book(Protocol):
    async def history(self, entity: str) -> EntityHistory: ...

    async def start_at(self, entity: str, version: Any) -> None: ...

    async def mark_applied(self, entity: str, request_id: str) -> None: ...

    async def forget(self, entity: str, at: float) -> None: ...


def missing(hist: EntityHistory, before: list[tuple[Any, str]]) -> list[tuple[Any, str]]:
    """Production writes (position, request id) before this one that the shadow has not applied."""
    if hist.first_version is None:
        return []
    return [(v, rid) for v, rid in before if v >= hist.first_version and rid not in hist.applied]


def overtaken(hist: EntityHistory, request_id: str, after: list[tuple[Any, str]]) -> list[tuple[Any, str]]:
    """Production writes (position, request id) committed after this one that the shadow side
    applied before it. This write's own place: where it was marked (stream mode marks at publish),
    else after everything marked so far (inline mode marks once it has been judged)."""
    own = hist.applied.get(request_id, len(hist.applied))
    return [(v, rid) for v, rid in after if hist.applied.get(rid, own) < own]


def overtaken_reason(entity: str, hist: EntityHistory, request_id: str, after: list[tuple[Any, str]]) -> str | None:
    """Why a write the shadow applied out of production's order cannot be compared, or None. The
    legacy can answer two writes to one comment in the other order than it committed them (the
    second commits and answers while the first is still on its way out); the rewrite then applies
    them the other way round, and the sister's copy holds a history production never had."""
    ahead = overtaken(hist, request_id, after)
    if not ahead:
        return None
    names = ", ".join(rid or f"v{v}" for v, rid in ahead[:3])
    return (f"the shadow side applied {len(ahead)} write(s) to {entity} that production committed after this "
            f"one ({names}) before it: the sides applied them in different orders")


def race_reason(entity: str, hist: EntityHistory, own_version: Any, before: list[tuple[Any, str]]) -> str | None:
    """Why this write cannot be compared, or None. `before`: production (position, request id)
    of this entity's events older than the write's own event (all of them, for a write with no
    event of its own: a vote that changed nothing is comparable only once nothing is pending)."""
    pending = missing(hist, before)
    if not pending:
        return None
    names = ", ".join(rid or f"v{v}" for v, rid in pending[:3])
    if own_version is None:
        return (f"a write that changed nothing, while production holds {len(pending)} write(s) to "
                f"{entity} the shadow side has not applied yet ({names})")
    return (f"production applied {len(pending)} earlier write(s) to {entity} that the shadow side "
            f"has not applied yet ({names}): the sides hold different histories")


async def classify(book: Book, entity: str, own_version: Any, before: list[tuple[Any, str]],
                   hist: EntityHistory | None = None) -> str | None:
    """`race_reason`, starting the entity's history at `own_version` when it has none. `hist`: the
    snapshot to judge by, read *before* the sister was read (a write marked applied after that
    read is not in the state read, so it must not count as applied)."""
    if hist is None:
        hist = await book.history(entity)
    if hist.first_version is None:
        if own_version is not None:
            await book.start_at(entity, own_version)
        return None
    return race_reason(entity, hist, own_version, before)


class OrderBook:
    """Bounded LRU of entity histories in this process."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._entities: LRUCache[str, EntityHistory] = LRUCache(maxsize=capacity)

    def _get(self, entity: str) -> EntityHistory:
        hist = self._entities.get(entity)
        if hist is None:
            hist = self._entities[entity] = EntityHistory()
        return hist

    async def history(self, entity: str) -> EntityHistory:
        return self._get(entity)

    async def start_at(self, entity: str, version: Any) -> None:
        hist = self._get(entity)
        if hist.first_version is None:
            hist.first_version = version

    async def mark_applied(self, entity: str, request_id: str) -> None:
        applied = self._get(entity).applied
        applied.setdefault(request_id, len(applied))

    async def forget(self, entity: str, at: float) -> None:
        """The sister's copy was evicted: the next write starts a new history (after re-hydration)."""
        self._entities[entity] = EntityHistory(evicted_at=at)


def _encode(version: Any) -> str:
    return json.dumps(list(version) if isinstance(version, tuple) else version)


def _decode(raw: bytes | str | None) -> Any:
    if raw is None:
        return None
    value = json.loads(raw)
    return tuple(value) if isinstance(value, list) else value  # stream positions are (ms, seq)


class RedisOrderBook:
    """The same book in Redis, shared by proxies and workers: `<prefix>:<entity>:first|applied_order|evicted`,
    each expiring `ttl_s` after its last change (the bound the local LRU's capacity gives). The
    applied ids are a list, so Redis itself orders marks from several processes; a write marked
    twice (by the publisher, then by the worker) keeps its first place."""

    def __init__(self, redis: aioredis.Redis, prefix: str, ttl_s: int = 86_400) -> None:
        self._redis = redis
        self._prefix = prefix
        self._ttl = ttl_s

    def _keys(self, entity: str) -> tuple[str, str, str]:
        base = f"{self._prefix}:{entity}"
        return f"{base}:first", f"{base}:applied_order", f"{base}:evicted"

    async def history(self, entity: str) -> EntityHistory:
        first, applied, evicted = self._keys(entity)
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.get(first)
            pipe.lrange(applied, 0, -1)
            pipe.get(evicted)
            got_first, got_applied, got_evicted = await pipe.execute()
        order: dict[str, int] = {}
        for member in got_applied:
            order.setdefault(member.decode() if isinstance(member, bytes) else member, len(order))
        return EntityHistory(_decode(got_first), order, float(got_evicted or 0.0))

    async def start_at(self, entity: str, version: Any) -> None:
        await self._redis.set(self._keys(entity)[0], _encode(version), nx=True, ex=self._ttl)

    async def mark_applied(self, entity: str, request_id: str) -> None:
        applied = self._keys(entity)[1]
        async with self._redis.pipeline(transaction=False) as pipe:
            pipe.rpush(applied, request_id)
            pipe.expire(applied, self._ttl)
            await pipe.execute()

    async def forget(self, entity: str, at: float) -> None:
        first, applied, evicted = self._keys(entity)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.delete(first, applied)
            pipe.set(evicted, repr(at), ex=self._ttl)
            await pipe.execute()


def order_book_prefix(jobs_stream: str) -> str:
    """Where the proxies' publishers and the workers of one jobs stream keep their shared book."""
    return f"{jobs_stream}:order"


def version_gap(versions: list[int], upto: int | None) -> list[int]:
    """Versions missing between the oldest event seen and `upto` (exclusive): writes the legacy
    committed without publishing their event, which the shadow side can never have received."""
    seen = sorted(v for v in versions if upto is None or v < upto)
    if not seen:
        return []
    top = upto if upto is not None else seen[-1] + 1
    return sorted(set(range(seen[0], top)) - set(seen))


# -- what production's log says about a write ----------------------------------------------
def stream_pos(stream_id: str) -> tuple[int, int]:
    ms, _, seq = stream_id.partition("-")
    return int(ms), int(seq or 0)


def log_behind(prod: SideState, mine: list[CdcEvent], entity: str) -> str | None:
    """Why production's state is ahead of its published log for this comment, or None."""
    if isinstance(prod.postgres, BaseException) or prod.postgres.version is None:
        return None
    published = max((v for e in mine if (v := version_of(e)) is not None), default=0)
    if prod.postgres.version > published:
        return (f"production committed version {prod.postgres.version} of {entity} but its CDC log shows "
                f"{published}: a write is between commit and publish (or was never published)")
    return None


def link_creates(events: list[CdcEvent], link: str) -> list[CdcEvent]:
    """The legacy's comment_created events on one link, in stream order."""
    return [e for e in events if e.fields.get("type") == "comment_created" and e.fields.get("link") == link]


def created_after(events: list[CdcEvent], link: str, own: CdcEvent) -> bool:
    """Whether the log holds a create on `link` later than `own`."""
    return any(stream_pos(e.stream_id) > stream_pos(own.stream_id) for e in link_creates(events, link))


def split_at(events: list[CdcEvent], request_time: str | None) -> tuple[list[CdcEvent], list[CdcEvent]]:
    """Production's events of an entity begun no later than a write with no event of its own (refused,
    or one that changed nothing), and those begun after it, by the legacy's own request times. The
    later ones may not have reached the shadow side yet, and that is no race: their fields are out
    of the write's scope. Without the write's time, every event counts as before."""
    at = _seconds(request_time)
    if at is None:
        return events, []
    before: list[CdcEvent] = []
    after: list[CdcEvent] = []
    for event in events:
        ts = _seconds(event.fields.get("ts"))
        (after if ts is not None and ts > at else before).append(event)
    return before, after


def aged_out(window: list[CdcEvent], request_time: str | None, scan: int, stream: str) -> str | None:
    """Why a write's own event cannot be in `window` (the newest `scan` events validation reads):
    the window is full and every event in it began after the write, so the write's event, if
    published, was pushed out by later traffic. None when it could still be there (not yet
    published: `log_behind`'s race)."""
    at = _seconds(request_time)
    if at is None or len(window) < scan or not window:
        return None
    oldest = min((t for e in window if (t := _seconds(e.fields.get("ts"))) is not None), default=None)
    if oldest is None or oldest <= at:
        return None
    return (f"this write's CDC events are older than the newest {scan} events of {stream} that validation reads "
            f"(the oldest of them began at {oldest}, the write at {at}): the judge ran more than {scan} events "
            "behind the traffic, so its stores cannot be judged")


def _seconds(text: str | None) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None


def version_of(event: CdcEvent) -> int | None:
    try:
        return int(event.fields["version"])
    except (KeyError, ValueError):
        return None


async def link_race(book: Book, write: ComparisonJob, events: list[CdcEvent], own: CdcEvent | None,
                    link_hist: EntityHistory | None) -> str | None:
    """A create's race on its link: an earlier create on the same link not yet applied."""
    if write.endpoint != "create" or own is None:
        return None
    link = own.fields.get("link", write.link)
    before = [(stream_pos(e.stream_id), e.fields.get("request_id", "")) for e in link_creates(events, link)
              if stream_pos(e.stream_id) < stream_pos(own.stream_id)]
    snapshot = link_hist if link == write.link else None
    return await classify(book, f"link:{link}", stream_pos(own.stream_id), before, snapshot)

def lost_earlier_write(write: ComparisonJob, mine: list[CdcEvent], events: list[CdcEvent], own: CdcEvent | None,
                   hist: EntityHistory, link_hist: EntityHistory | None, lost_after_s: float) -> bool:
    """Whether a pending earlier write is older than `lost_after_s` (by its stream time): the
    shadow would have applied it by now, so it was lost (dropped, refused, failed), not in flight."""
    now_ms = stream_pos(own.stream_id)[0] if own else int(time.time() * 1000)
    horizon = now_ms - int(lost_after_s * 1000)
    applied, first = hist.applied, hist.first_version or 0
    stale = [e for e in mine if e is not own and (version_of(e) or 0) >= first
             and e.fields.get("request_id") not in applied and stream_pos(e.stream_id)[0] < horizon]
    link = own.fields.get("link", write.link) if own is not None else None
    if write.endpoint == "create" and link_hist is not None and link == write.link:
        stale += [e for e in link_creates(events, link) if e is not own
                  and e.fields.get("request_id") not in link_hist.applied
                  and stream_pos(e.stream_id)[0] < horizon]
    return bool(stale)


async def settle(probe: Callable[[], Awaitable[T]], done: Callable[[T], bool], within_s: float) -> T:
    """`probe()` again until `done` holds of its answer or `within_s` has passed; the last answer
    either way (an exception from `probe` is raised). The legacy commits, then publishes: its log
    catches up within moments, so the pauses start at 10 ms and double up to 200 ms."""
    retrying = AsyncRetrying(stop=stop_after_delay(within_s), wait=wait_exponential(multiplier=0.01, max=0.2),
                             retry=retry_if_result(lambda got: not done(got)),
                             retry_error_callback=lambda state: state.outcome.result() if state.outcome else None)
    return cast(T, await retrying(probe))
