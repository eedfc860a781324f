"""Which stored fields a shadowed write is judged on, and the comparable views of each store.

A write is compared on what *it* changed, minus what a later write to the same entity changed
again before the capture (that field is judged with the later write). So a bug in votes never
shows up on the create path, and a create is still judged after the comment was voted on. The
facts come from the legacy's CDC events in production: each names the attributes it changed.
Pure functions over plain data: no store clients here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from diff_reports.stored_forms import decode_data_value

THING_COLUMNS = ("ups", "downs", "deleted", "spam", "date", "version")
# API fields of a rendered comment that depend on one stored attribute or column.
_API_FIELDS = {"ups": ("score", "ups", "controversiality"), "downs": ("score", "ups", "controversiality"),
               "body": ("body",), "editted": ("edited",), "version": ()}


@dataclass(frozen=True)
class WriteScope:
    endpoint: str
    data_keys: frozenset[str] | None        # None: every data row but `excluded_keys`
    excluded_keys: frozenset[str]
    thing_columns: frozenset[str]
    vote_accounts: frozenset[int]           # whose vote rows
    link_counter: bool                      # the link's num_comments
    last_writer: bool                       # no later write: whole-object facts (cache bytes, version) are this write's

    def keeps_key(self, key: str) -> bool:
        return key in self.data_keys if self.data_keys is not None else key not in self.excluded_keys

    def api_fields(self, all_fields: Iterable[str]) -> list[str]:
        """Rendered API fields this write is judged on."""
        if self.data_keys is None:  # a create: everything except what later writes changed
            dropped = {f for k in self.excluded_keys for f in _API_FIELDS.get(k, (k,))}
            dropped |= {f for c in ("ups", "downs") if c not in self.thing_columns for f in _API_FIELDS[c]}
            return [f for f in all_fields if f not in dropped]
        wanted = {f for k in self.data_keys for f in _API_FIELDS.get(k, (k,))}
        wanted |= {f for c in self.thing_columns for f in _API_FIELDS.get(c, ())}
        return [f for f in all_fields if f in wanted]


def scope_for(endpoint: str, own_changes: Mapping[str, Any], later_changes: Iterable[Mapping[str, Any]], *,
              account_id: int | None, later_accounts: set[int] | None = None, link_quiet: bool = True) -> WriteScope:
    """The scope of one write.

    `own_changes` is the `changes` of this write's production CDC event (empty for a vote that
    changed nothing); `later_changes` those of later production events for the same comment;
    `account_id` the writer (the voter, or the author whose self-vote a create records);
    `later_accounts` the writers of later votes when known (None: unknown, so a later vote is
    assumed to have touched this writer's vote row); `link_quiet` whether every create on the
    link has reached both sides (only then is the link's comment counter comparable).
    """
    later_list = list(later_changes)
    later = {k for changes in later_list for k in changes}
    if later & {"ups", "downs"}:
        later |= {"ups", "downs"}  # the score is judged on both together
    data_keys: frozenset[str] | None
    if endpoint == "create":
        data_keys, columns, link_counter = None, set(THING_COLUMNS), link_quiet
    elif endpoint == "update":
        # editted is always in scope: a rewrite that sets it when the legacy did not is the bug.
        data_keys = frozenset(({"body", "editted"} | set(own_changes)) - {"ups", "downs", "vote"} - later)
        columns, link_counter = {"version"}, False
    elif endpoint == "increment":
        data_keys, columns, link_counter = frozenset(), {"ups", "downs", "version"}, False
    else:
        raise ValueError(f"not a write endpoint: {endpoint!r} (expected create, update or increment)")
    columns -= later
    if later_list:
        columns.discard("version")
    vote_touched_later = "vote" in later and (later_accounts is None or account_id in later_accounts)
    votes = frozenset() if endpoint == "update" or account_id is None or vote_touched_later else frozenset({account_id})
    return WriteScope(endpoint, data_keys, frozenset(later), frozenset(columns), votes, link_counter, not later_list)


class PostgresView(TypedDict, total=False):
    """What `<endpoint>.postgres.parity` compares (raw stored forms, scoped to the write)."""

    present: bool
    thing: dict[str, Any]                      # scoped thing columns
    data: dict[str, Any]                       # data rows: key -> decoded value and kind
    votes: dict[str, dict[str, Any]]           # account id -> {"dir", "date"}
    link_num_comments: tuple[str | None, str | None] | None  # (value, kind) of the link's counter


class CacheView(TypedDict, total=False):
    """What `<endpoint>.memcached.parity` compares (whole-entry facts only for the last writer)."""

    present: bool
    error: str                                 # the entry could not be unpickled
    object: Any                                # scoped object fields (`_ups`, `_id`, ...)
    attributes: Any                            # scoped `_t` attributes
    protocol: int | None
    globals: list[str] | None
    flags: int | None
    ttl: int | None


def _jsonable(value: Any) -> Any:
    return value.isoformat() if hasattr(value, "isoformat") else value


def postgres_view(thing: Mapping[str, Any] | None, data: Iterable[tuple[str, str | None, str | None]],
                  votes: Iterable[tuple[int, str, Any]], link_data: Iterable[tuple[str, str | None, str | None]],
                  scope: WriteScope) -> PostgresView:
    """What `<endpoint>.postgres.parity` compares: scoped thing columns, data rows (value + kind),
    vote rows and the link counter, in their raw stored forms."""
    if thing is None:
        return {"present": False}
    view: PostgresView = {
        "present": True,
        "thing": {c: _jsonable(thing[c]) for c in THING_COLUMNS if c in scope.thing_columns},
        "data": {k: decode_data_value(v, kind) for k, v, kind in data if scope.keeps_key(k)},
    }
    view["votes"] = {str(a): {"dir": d, "date": _jsonable(when)} for a, d, when in votes if a in scope.vote_accounts}
    if scope.link_counter:
        view["link_num_comments"] = next(((v, kind) for k, v, kind in link_data if k == "num_comments"), None)
    return view


def cache_view(decoded: Mapping[str, Any], scope: WriteScope) -> CacheView:
    """What `<endpoint>.memcached.parity` compares, from `stored_forms.decode_cache_entry`.

    Whole-entry facts (pickle protocol, globals, flags, TTL) belong to the write that stored the
    entry last, so only the last writer is judged on them.
    """
    if not decoded.get("present"):
        return {"present": False}
    facts = decoded["pickle"]
    view: CacheView = {"present": True}
    if "error" in facts:
        view["error"] = facts["error"]
    obj = facts.get("object")
    if isinstance(obj, dict):
        columns = {"_" + c for c in scope.thing_columns}
        if scope.endpoint == "create":
            columns |= {"_id"}
        view["object"] = {k: v for k, v in obj.items() if k in columns}
        t = obj.get("_t")
        view["attributes"] = {k: v for k, v in t.items() if scope.keeps_key(k)} if isinstance(t, dict) else t
    elif obj is not None:
        view["object"] = obj
    if scope.last_writer:
        view["protocol"], view["globals"] = facts.get("protocol"), facts.get("globals")
        view["flags"], view["ttl"] = decoded.get("flags"), decoded.get("ttl")
    return view


def api_view(rendered: Mapping[str, Any] | None, scope: WriteScope) -> dict[str, Any] | None:
    """A legacy reader's rendering, scoped to the fields this write is judged on (keys in order)."""
    if rendered is None:
        return None
    data = rendered.get("data", rendered)
    fields = set(scope.api_fields(list(data)))
    return {f: data[f] for f in data if f in fields}
