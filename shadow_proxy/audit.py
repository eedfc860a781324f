"""The ramp audit trail: one Redis stream entry per change (who, when, endpoint, from, to, why)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, cast

import redis.asyncio as aioredis

AUDIT_MAXLEN = 100_000  # approximate trim; ramp changes are rare, so this is years of history


@dataclass(frozen=True)
class RampKeys:
    """Redis names, all under one prefix so several harnesses can share a server."""

    prefix: str = "tapcompare"

    @property
    def ramp(self) -> str:
        return f"{self.prefix}:ramp"

    @property
    def channel(self) -> str:
        return f"{self.prefix}:ramp:changed"

    @property
    def audit(self) -> str:
        return f"{self.prefix}:ramp:audit"

    def link(self, fullname: str) -> str:
        return f"{self.prefix}:link:{fullname}"


@dataclass(frozen=True)
class AuditEntry:
    id: str
    who: str
    at: float
    endpoint: str
    from_pct: float
    to_pct: float
    why: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


async def recent_audit(redis: aioredis.Redis, keys: RampKeys, count: int = 20) -> list[AuditEntry]:
    """The newest `count` entries, newest first."""
    # XREVRANGE entries always carry their fields (only pending-entry replies hold None).
    rows = cast("list[tuple[bytes | str, dict[bytes | str, bytes | str]]]", await redis.xrevrange(keys.audit, count=count))
    out = []
    for entry_id, fields in rows:
        f = {_text(k): _text(v) for k, v in fields.items()}
        out.append(AuditEntry(_text(entry_id), f.get("who", "?"), float(f.get("at", 0)), f.get("endpoint", "?"),
                              float(f.get("from", 0)), float(f.get("to", 0)), f.get("why", "")))
    return out
