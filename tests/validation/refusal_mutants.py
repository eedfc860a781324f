"""Mutants of the rewrite that forget one refusal or count one repeat: the bugs a harness that only
shadows accepted writes never sees.

Each patches the rewrite's own modules (in-process, or in a `tapcompare` process started through
`python -m tests.support.planted NAME ...`). A refusal mutant makes the rewrite accept one kind of
write the legacy refuses; a repeat mutant makes it apply a repeated write a second time.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from new_comments_service import queries, write_handlers, writes

_in: contextvars.ContextVar[str] = contextvars.ContextVar("planted_in", default="")


@dataclass(frozen=True)
class PlantedBug:
    name: str
    what: str
    apply: Callable[[pytest.MonkeyPatch], None]


def _during(mp: pytest.MonkeyPatch, name: str) -> None:
    """Mark while writes.<name> runs, so a patched query bends only that write."""
    original = getattr(writes, name)

    async def marked(*args: Any, **kw: Any) -> Any:
        token = _in.set(name)
        try:
            return await original(*args, **kw)
        finally:
            _in.reset(token)
    mp.setattr(writes, name, marked)


def _bend_locked_comment(mp: pytest.MonkeyPatch, during: str, bend: Callable[[Any, str | None, int], str | None]) -> None:
    """queries.comment_for_update, with the row (and the voter's stored vote) bent inside `during`."""
    original = queries.comment_for_update
    _during(mp, during)

    async def comment_for_update(tx: Any, comment_id: int, voter_id: int) -> tuple[Any, str | None]:
        comment, stored = await original(tx, comment_id, voter_id)
        if comment is not None and _in.get() == during:
            stored = bend(comment, stored, voter_id)
        return comment, stored
    mp.setattr(queries, "comment_for_update", comment_for_update)


def _not_author_edit(mp: pytest.MonkeyPatch) -> None:
    original = writes.edit_comment

    async def edit_comment(b: Any, ident: Any, user_id: int, user_name: str, comment_id: int, text: str) -> Any:
        # the authorship check forgotten: the edit goes through as if its author had sent it
        found, _ = await queries.comments_by_ids(b.read_db, [comment_id])
        author = found[0].author_id if found else user_id
        return await original(b, ident, author, user_name, comment_id, text)
    mp.setattr(writes, "edit_comment", edit_comment)


def _undelete(comment: Any, stored: str | None, voter: int) -> str | None:
    comment.deleted = False
    return stored


def _deleted_edit(mp: pytest.MonkeyPatch) -> None:
    _bend_locked_comment(mp, "edit_comment", _undelete)


def _deleted_vote(mp: pytest.MonkeyPatch) -> None:
    _bend_locked_comment(mp, "vote", _undelete)


def _reply_to_deleted(mp: pytest.MonkeyPatch) -> None:
    original = queries.comments_by_ids
    _during(mp, "create_comment")

    async def comments_by_ids(db: Any, ids: list[int]) -> Any:
        found, names = await original(db, ids)
        if _in.get() == "create_comment":
            for comment in found:
                comment.deleted = False
        return found, names
    mp.setattr(queries, "comments_by_ids", comments_by_ids)


Forgets = Callable[[str | None, Any], Awaitable[bool]]  # (X-Auth-User or None when absent, backend)


def _no_user_as_first_account(forgets: Forgets) -> Callable[[pytest.MonkeyPatch], None]:
    """A rewrite that takes the writes `forgets` picks as the first account's instead of refusing
    them USER_REQUIRED."""
    def apply(mp: pytest.MonkeyPatch) -> None:
        original = write_handlers._user

        async def user(request: Any, b: Any) -> tuple[int, str]:
            if not await forgets(request.headers.get(write_handlers.AUTH_HEADER), b):
                return await original(request, b)
            first = await b.read_db.fetchval("SELECT min(thing_id) FROM reddit_thing_account")
            return int(first), ""
        mp.setattr(write_handlers, "_user", user)
    return apply


async def _absent(name: str | None, b: Any) -> bool:
    return name is None


async def _empty(name: str | None, b: Any) -> bool:
    return name == ""


async def _no_such_account(name: str | None, b: Any) -> bool:
    return bool(name) and await queries.account_id(b.read_db, name) is None


def _malformed_id(mp: pytest.MonkeyPatch) -> None:
    original = write_handlers._thing

    def thing(params: dict[str, str], field: str, kinds: tuple[str, ...]) -> Any:
        # fullnames parsed case-insensitively: T1_ABC is taken for t1_abc
        return original({**params, field: params.get(field, "").lower()}, field, kinds)
    mp.setattr(write_handlers, "_thing", thing)


def _unknown_id(mp: pytest.MonkeyPatch) -> None:
    original = writes.vote

    async def vote(b: Any, ident: Any, user_id: int, comment_id: int, direction: int) -> Any:
        if await b.read_db.fetchval("SELECT 1 FROM reddit_thing_comment WHERE thing_id = $1", comment_id) is None:
            return None  # a vote on nothing answered as if it were counted
        return await original(b, ident, user_id, comment_id, direction)
    mp.setattr(writes, "vote", vote)


def _vote_twice(mp: pytest.MonkeyPatch) -> None:
    # the voter's stored vote is not looked at: the same vote again is counted again
    _bend_locked_comment(mp, "vote", lambda comment, stored, voter: None)


def _edit_twice(mp: pytest.MonkeyPatch) -> None:
    # an edit to the text the comment already has still writes: a new version, a cache write, an event
    original, lock = writes.edit_comment, queries.comment_for_update
    text_of: contextvars.ContextVar[str | None] = contextvars.ContextVar("planted_text", default=None)

    async def edit_comment(b: Any, ident: Any, user_id: int, user_name: str, comment_id: int, text: str) -> Any:
        token = text_of.set(text)
        try:
            return await original(b, ident, user_id, user_name, comment_id, text)
        finally:
            text_of.reset(token)

    async def comment_for_update(tx: Any, comment_id: int, voter_id: int) -> tuple[Any, str | None]:
        comment, stored = await lock(tx, comment_id, voter_id)
        if comment is not None and text_of.get() is not None and comment.attrs.get("body") == text_of.get():
            comment.attrs = {**comment.attrs, "body": None}  # taken as changed
        return comment, stored
    mp.setattr(writes, "edit_comment", edit_comment)
    mp.setattr(queries, "comment_for_update", comment_for_update)


def _create_twice(mp: pytest.MonkeyPatch) -> None:
    original = writes.create_comment
    seen: dict[tuple[int, Any, str], Any] = {}

    async def create_comment(b: Any, ident: Any, user_id: int, user_name: str, parent: Any, text: str) -> Any:
        # a double-submitted create is "deduplicated": the second answers with the first comment
        key = (user_id, (parent.kind, parent.thing_id), text)
        if key in seen:
            return seen[key]
        seen[key] = out = await original(b, ident, user_id, user_name, parent, text)
        return out
    mp.setattr(writes, "create_comment", create_comment)


PLANTED: dict[str, PlantedBug] = {bug.name: bug for bug in (
    PlantedBug("refusal.edit.not_author", "edits by someone other than the author accepted", _not_author_edit),
    PlantedBug("refusal.edit.deleted", "edits of a deleted comment accepted", _deleted_edit),
    PlantedBug("refusal.vote.deleted", "votes on a deleted comment accepted", _deleted_vote),
    PlantedBug("refusal.create.reply_to_deleted", "replies to a deleted comment accepted", _reply_to_deleted),
    PlantedBug("refusal.missing_auth", "a write with no auth header taken as the first account's",
               _no_user_as_first_account(_absent)),
    PlantedBug("refusal.empty_auth", "a write with an empty auth header taken as the first account's",
               _no_user_as_first_account(_empty)),
    PlantedBug("refusal.unknown_user", "a write by a name no account has taken as the first account's",
               _no_user_as_first_account(_no_such_account)),
    PlantedBug("refusal.malformed_id", "upper-case fullnames accepted", _malformed_id),
    PlantedBug("refusal.vote.unknown_id", "a vote on an unknown id answered as counted", _unknown_id),
    PlantedBug("repeat.vote_twice", "the same vote twice counted twice", _vote_twice),
    PlantedBug("repeat.edit_twice", "the same edit twice written twice", _edit_twice),
    PlantedBug("repeat.create_twice", "a double-submitted create answered with the first comment", _create_twice),
)}
