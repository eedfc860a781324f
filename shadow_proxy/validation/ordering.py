"""Per-entity bookkeeping that tells a race from a bug, using only the legacy's own CDC log.

Production's events give the commit order of writes to a comment. The shadow applies writes in
the order it receives them. A write is comparable when every production write between the sister's
starting point (where the entity was hydrated) and this one has already been applied on the
shadow side; otherwise the two sides hold different histories and the write is `raced`.
This uses no sister-side facts, so a rewrite's bug (say, a lost version bump or a renamed CDC
field) can never be mistaken for a race.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class EntityHistory:
    first_version: Any = None  # production position (version, or stream id for a link's creates) first seen
    applied: set[str] = field(default_factory=set)  # request ids the shadow side has applied


class OrderBook:
    """Bounded LRU of entity histories (one process; the scale-out issue moves it to Redis)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._entities: OrderedDict[str, EntityHistory] = OrderedDict()
        self._capacity = capacity

    def history(self, entity: str) -> EntityHistory:
        hist = self._entities.pop(entity, None) or EntityHistory()
        self._entities[entity] = hist
        while len(self._entities) > self._capacity:
            self._entities.popitem(last=False)
        return hist

    def missing(self, entity: str, own_version: Any, before: list[tuple[Any, str]]) -> list[tuple[Any, str]]:
        """Production writes (position, request id) before this one that the shadow has not applied."""
        hist = self.history(entity)
        if hist.first_version is None:
            if own_version is not None:
                hist.first_version = own_version
            return []
        return [(v, rid) for v, rid in before if v >= hist.first_version and rid not in hist.applied]

    def race_reason(self, entity: str, own_version: Any, before: list[tuple[Any, str]]) -> str | None:
        """Why this write cannot be compared, or None. `before`: production (position, request id)
        of this entity's events older than the write's own event (all of them, for a write with no
        event of its own: a vote that changed nothing is comparable only once nothing is pending)."""
        missing = self.missing(entity, own_version, before)
        if not missing:
            return None
        names = ", ".join(rid or f"v{v}" for v, rid in missing[:3])
        if own_version is None:
            return (f"a write that changed nothing, while production holds {len(missing)} write(s) to "
                    f"{entity} the shadow side has not applied yet ({names})")
        return (f"production applied {len(missing)} earlier write(s) to {entity} that the shadow side "
                f"has not applied yet ({names}): the sides hold different histories")

    def mark_applied(self, entity: str, request_id: str) -> None:
        self.history(entity).applied.add(request_id)

    def forget(self, entity: str) -> None:
        """The sister's copy was evicted: the next write starts a new history (after re-hydration)."""
        self._entities.pop(entity, None)


def version_gap(versions: list[int], upto: int | None) -> list[int]:
    """Versions missing between the oldest event seen and `upto` (exclusive): writes the legacy
    committed without publishing their event, which the shadow side can never have received."""
    seen = sorted(v for v in versions if upto is None or v < upto)
    if not seen:
        return []
    top = upto if upto is not None else seen[-1] + 1
    return sorted(set(range(seen[0], top)) - set(seen))
