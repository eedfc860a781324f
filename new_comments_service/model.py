"""Things as loaded from PostgreSQL: the thing row plus the decoded data attributes."""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from typing import Any

from new_comments_service.eav import decode_rows, ordered_attrs

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
CACHE_FLAGS = 1
CACHE_TTL = 43200


@dataclass(frozen=True)
class RequestTime:
    """The time a write happened, kept as whole microseconds so every store sees the same instant."""

    micros: int

    @classmethod
    def from_clock(cls, seconds: float) -> "RequestTime":
        return cls(round(seconds * 1_000_000))

    @classmethod
    def parse(cls, text: str) -> "RequestTime | None":
        try:
            value = Decimal(text.strip())
        except InvalidOperation:
            return None
        if not value.is_finite() or value < 0:
            return None
        return cls(int((value * 1_000_000).to_integral_value()))

    @property
    def dt(self) -> datetime:
        return _EPOCH + timedelta(microseconds=self.micros)

    @property
    def seconds(self) -> float:
        return self.micros / 1_000_000

    @property
    def text(self) -> str:
        """Epoch seconds with 6 decimals (X-Request-Time, CDC `ts`)."""
        whole, frac = divmod(self.micros, 1_000_000)
        return f"{whole}.{frac:06d}"


@dataclass
class Thing:
    thing_id: int
    ups: int
    downs: int
    deleted: bool
    spam: bool
    date: datetime
    version: int
    attrs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_record(cls, rec: Any) -> "Thing":
        """From a row with the thing columns plus `keys`, `vals`, `kinds` arrays of its data rows."""
        return cls(rec["thing_id"], rec["ups"], rec["downs"], rec["deleted"], rec["spam"], rec["date"],
                   rec["version"], ordered_attrs(decode_rows(rec["keys"], rec["vals"], rec["kinds"])))

    # Comment and link attributes that are always stored.
    @property
    def author_id(self) -> int:
        return self.attrs["author_id"]

    @property
    def sr_id(self) -> int:
        return self.attrs["sr_id"]

    @property
    def link_id(self) -> int:
        return self.attrs["link_id"]

    @property
    def parent_id(self) -> int | None:
        return self.attrs.get("parent_id")

    @property
    def score(self) -> int:
        return self.ups - self.downs


def epoch_float(dt: datetime) -> float:
    """A datetime as epoch seconds (naive values are UTC, as the legacy stores them)."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.timestamp()


def utc(dt: datetime) -> datetime:
    """asyncpg returns timestamptz in UTC already; normalise the tzinfo object to timezone.utc."""
    return dt.astimezone(timezone.utc) if dt.tzinfo is not None else dt.replace(tzinfo=timezone.utc)


def cache_object(thing: Thing) -> dict[str, Any]:
    """The whole-object cache entry, as a plain dict (the spec's format, no legacy classes)."""
    return {
        "_id": thing.thing_id,
        "_ups": thing.ups,
        "_downs": thing.downs,
        "_deleted": thing.deleted,
        "_spam": thing.spam,
        "_date": utc(thing.date),
        "_version": thing.version,
        "_t": {k: (utc(v) if isinstance(v, datetime) else v) for k, v in thing.attrs.items()},
    }


def cache_bytes(thing: Thing) -> bytes:
    return pickle.dumps(cache_object(thing), protocol=2)


def cached_version(raw: bytes) -> int | None:
    """The `_version` of a cache entry's bytes (None when they are not a comment object)."""
    try:
        obj = pickle.loads(raw)
    except Exception:  # noqa: BLE001 - anything unreadable is simply replaced
        return None
    version = obj.get("_version") if isinstance(obj, dict) else None
    return version if isinstance(version, int) else None


def cache_key(thing_id: int) -> str:
    return f"comment:{thing_id}"
