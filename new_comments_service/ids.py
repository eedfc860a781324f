"""Ids and fullnames: lowercase base36, type prefixes, and what counts as malformed."""

from __future__ import annotations

from dataclasses import dataclass

_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
_ALLOWED = frozenset(_DIGITS)
MAX_ID = 2**63 - 1

PREFIX_COMMENT = "t1_"
PREFIX_ACCOUNT = "t2_"
PREFIX_LINK = "t3_"
PREFIX_SUBREDDIT = "t5_"
_PREFIXES = {"t1": "comment", "t2": "account", "t3": "link", "t5": "subreddit"}


def to36(n: int) -> str:
    if n < 0:
        raise ValueError("negative id")
    if n == 0:
        return "0"
    out = []
    while n:
        n, r = divmod(n, 36)
        out.append(_DIGITS[r])
    return "".join(reversed(out))


def from36(text: str) -> int | None:
    """The id `text` names, or None when it is malformed (empty, bad characters, 0, too large)."""
    if not text or len(text) > 13 or not _ALLOWED.issuperset(text):
        return None
    n = int(text, 36)
    if n == 0 or n > MAX_ID:
        return None
    return n


@dataclass(frozen=True)
class Fullname:
    kind: str  # "comment", "account", "link" or "subreddit"
    thing_id: int


def parse_fullname(text: str) -> Fullname | None:
    prefix, sep, rest = text.partition("_")
    kind = _PREFIXES.get(prefix)
    if not sep or kind is None:
        return None
    thing_id = from36(rest)
    return None if thing_id is None else Fullname(kind, thing_id)


def comment_fullname(thing_id: int) -> str:
    return PREFIX_COMMENT + to36(thing_id)


def link_fullname(thing_id: int) -> str:
    return PREFIX_LINK + to36(thing_id)


def subreddit_fullname(thing_id: int) -> str:
    return PREFIX_SUBREDDIT + to36(thing_id)
