"""The CDC stream: events the legacy XADDs after each commit, and their typed decoding."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

from legacy_adapter.codec import changes_json, ts6

DEFAULT_STREAM = "comments:cdc"
MAXLEN = 100000
EVENT_TYPES = ("comment_created", "comment_edited", "comment_voted")
FIELDS = ("event_id", "type", "fullname", "link", "parent", "version", "ts", "request_id", "changes")


class BadEvent(ValueError):
    """A stream entry that is not a well-formed legacy CDC event."""


@dataclass(frozen=True)
class CdcEvent:
    type: str
    fullname: str
    link: str
    parent: str
    version: int
    ts: str
    request_id: str
    changes: dict[str, list[Any]]
    entry_id: str = field(default="", compare=False)

    @property
    def event_id(self) -> str:
        return f"{self.fullname}:{self.version}"

    def fields(self) -> dict[str, str]:
        """The stream entry's fields, all strings, in the spec's order."""
        return {
            "event_id": self.event_id, "type": self.type, "fullname": self.fullname, "link": self.link,
            "parent": self.parent, "version": str(self.version), "ts": self.ts,
            "request_id": self.request_id, "changes": json.dumps(self.changes, sort_keys=True, separators=(",", ":")),
        }


def make_event(type_name: str, fullname: str, link: str, parent: str, version: int, when: datetime,
               request_id: str, changes: dict[str, list[Any]]) -> CdcEvent:
    """Build an event; `changes` values may hold datetimes (encoded as epoch floats)."""
    return CdcEvent(type_name, fullname, link, parent, version, ts6(when), request_id,
                    json.loads(changes_json(changes)))


async def publish(redis: aioredis.Redis, stream: str, event: CdcEvent) -> str:
    # xadd takes an invariant dict[FieldT, EncodableT]; a dict[str, str] is one in all but name.
    entry = await redis.xadd(stream, cast("dict[FieldT, EncodableT]", event.fields()), maxlen=MAXLEN, approximate=True)
    return entry.decode() if isinstance(entry, bytes) else str(entry)


def _s(v: Any) -> str:
    return v.decode("utf-8") if isinstance(v, bytes) else str(v)


def decode_entry(entry_id: Any, fields: dict[Any, Any]) -> CdcEvent:
    """A raw stream entry (bytes or str keys) -> CdcEvent; raises BadEvent when malformed."""
    f = {_s(k): _s(v) for k, v in fields.items()}
    missing = [k for k in FIELDS if k not in f]
    if missing:
        raise BadEvent(f"entry {_s(entry_id)} lacks {missing}")
    if f["type"] not in EVENT_TYPES:
        raise BadEvent(f"entry {_s(entry_id)} has unknown type {f['type']!r}")
    try:
        version = int(f["version"])
        changes = json.loads(f["changes"])
    except ValueError as exc:
        raise BadEvent(f"entry {_s(entry_id)}: {exc}") from None
    if not isinstance(changes, dict) or f["event_id"] != f"{f['fullname']}:{version}":
        raise BadEvent(f"entry {_s(entry_id)}: inconsistent event_id or changes")
    return CdcEvent(f["type"], f["fullname"], f["link"], f["parent"], version, f["ts"], f["request_id"],
                    changes, _s(entry_id))
