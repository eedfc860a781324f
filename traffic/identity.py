"""Identities the proxy gives the rewrite where the legacy assigned none.

A create the legacy refused has no id of its own, yet the rewrite must be sent it like any other
write (a rewrite that accepts it is the bug to catch) and, in tap mode, every create carries the
id it must store. The id comes from a range production's bigserial never reaches (2**62 and up,
below the 2**63 - 1 a bigint holds), derived from the request id so a redelivered job names the
same thing; the write validation then reads that id on both sides and finds nothing on either.
"""

from __future__ import annotations

import hashlib

REFUSED_ID_FLOOR = 2**62
_SPAN = 2**63 - 1 - REFUSED_ID_FLOOR


def refused_create_id(request_id: str) -> int:
    """The thing id a refused create is shadowed with: >= 2**62, < 2**63 - 1, stable per request."""
    digest = hashlib.sha256(request_id.encode("utf-8", "surrogateescape")).digest()
    return REFUSED_ID_FLOOR + int.from_bytes(digest[:8], "big") % _SPAN


def is_refusal_id(thing_id: int) -> bool:
    """True for an id only the proxy hands out (never one production assigned)."""
    return thing_id >= REFUSED_ID_FLOOR
