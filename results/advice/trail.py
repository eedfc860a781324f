"""The ramp's audit trail as the advisor reads it: when each endpoint's percentage changed.

The trail lives in Redis (shadow_proxy.audit); results never import the proxy, so the composition
root hands the advisor a `RampTrail` (wiring/ramp_trail.py reads the audit stream). Pure here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from results.advice.decision import Step


@dataclass(frozen=True)
class RampChange:
    at: float           # epoch seconds
    endpoint: str
    from_pct: float
    to_pct: float
    who: str
    why: str


class RampTrail(Protocol):
    async def current(self) -> Mapping[str, float]:
        """Every endpoint's percentage now."""
        ...

    async def changes(self, endpoint: str, since: float | None = None) -> list[RampChange]:
        """The endpoint's changes, oldest first: all at or after `since`, plus the last one before
        it (what the percentage was at `since`); with `since=None` only the latest change."""
        ...


def current_step(endpoint: str, pct: float, changes: Sequence[RampChange]) -> Step:
    """The step the endpoint is at: its percentage and when the latest change set it."""
    mine = [c for c in changes if c.endpoint == endpoint]
    return Step(pct=pct, since=max(c.at for c in mine) if mine else None)


def pct_at(changes: Sequence[RampChange], at: float, default: float = 0.0) -> float:
    """The percentage at time `at` from the changes (oldest first): the last change at or before it."""
    pct = default
    for c in changes:
        if c.at <= at:
            pct = c.to_pct
        else:
            break
    return pct


def steps_between(changes: Sequence[RampChange], start: float, end: float) -> list[tuple[float, float, float]]:
    """(from, to, pct) intervals covering [start, end], one per step (a step function for plots)."""
    edges = [start] + [c.at for c in changes if start < c.at < end] + [end]
    return [(a, b, pct_at(changes, a)) for a, b in zip(edges, edges[1:]) if b > a]


class StaticTrail:
    """A trail held in memory (tests, and places with no ramp Redis)."""

    def __init__(self, pcts: Mapping[str, float], changes: Sequence[RampChange] = ()) -> None:
        self._pcts = dict(pcts)
        self._changes = sorted(changes, key=lambda c: c.at)

    async def current(self) -> Mapping[str, float]:
        return dict(self._pcts)

    async def changes(self, endpoint: str, since: float | None = None) -> list[RampChange]:
        mine = [c for c in self._changes if c.endpoint == endpoint]
        if since is None:
            return mine[-1:]
        before = [c for c in mine if c.at < since][-1:]
        return before + [c for c in mine if c.at >= since]
