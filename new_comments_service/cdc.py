"""Change events on the Redis stream, exactly the spec's fields, XADDed after commit."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import redis.asyncio as aioredis
from redis.typing import EncodableT, FieldT

from new_comments_service.ids import comment_fullname, link_fullname
from new_comments_service.jsonfmt import cdc_text
from new_comments_service.model import RequestTime, Thing, epoch_float

STREAM_MAXLEN = 100_000
CREATED, EDITED, VOTED = "comment_created", "comment_edited", "comment_voted"


def change_value(value: Any) -> Any:
    """JSON form of an attribute value in `changes`: datetimes as epoch floats."""
    return epoch_float(value) if isinstance(value, datetime) else value


def event_fields(kind: str, comment: Thing, when: RequestTime, request_id: str,
                 changes: dict[str, list[Any]]) -> dict[str, str]:
    fullname = comment_fullname(comment.thing_id)
    link = link_fullname(comment.link_id)
    parent = comment_fullname(comment.parent_id) if comment.parent_id is not None else link
    return {
        "event_id": f"{fullname}:{comment.version}",
        "type": kind,
        "fullname": fullname,
        "link": link,
        "parent": parent,
        "version": str(comment.version),
        "ts": when.text,
        "request_id": request_id,
        "changes": cdc_text({k: [change_value(old), change_value(new)] for k, (old, new) in changes.items()}),
    }


async def publish(redis: aioredis.Redis, stream: str, fields: dict[str, str]) -> str:
    """XADD <stream> MAXLEN ~ 100000 * field value ... (pipelined: one round trip)."""
    async with redis.pipeline(transaction=False) as pipe:
        # xadd takes an invariant dict[FieldT, EncodableT]; a dict[str, str] is one in all but name.
        pipe.xadd(stream, cast("dict[FieldT, EncodableT]", fields), maxlen=STREAM_MAXLEN, approximate=True)
        (entry_id,) = await pipe.execute()
    return entry_id.decode() if isinstance(entry_id, bytes) else entry_id
