"""Check a dataset file line by line; the first problem raises DatasetError with the line and reason."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datasets.format import FORMAT_NAME, FORMAT_VERSION, OPS, SEED_KINDS, SORTS, DatasetError, iter_lines

_REQUIRED = {
    "account": ("name",),
    "subreddit": ("name",),
    "link": ("fullname", "subreddit", "author", "title", "created_utc"),
    "comment": ("fullname", "link", "parent", "author", "body", "created_utc", "score"),
    "create": ("user", "parent", "text", "ref"),
    "update": ("user", "thing", "text"),
    "increment": ("user", "thing", "dir"),
    "read_comments": ("link", "sort"),
    "read_info": ("ids",),
    "read_morechildren": ("link", "children", "sort"),
}


@dataclass
class DatasetSummary:
    header: dict[str, Any]
    seed: dict[str, int] = field(default_factory=dict)
    requests: dict[str, int] = field(default_factory=dict)


def validate_dataset(path: str | Path) -> DatasetSummary:
    """Validate the whole file; return counts. Raises DatasetError naming the first bad line."""
    path = str(path)
    summary: DatasetSummary | None = None
    accounts: set[str] = set()
    subreddits: set[str] = set()
    things: set[str] = set()  # links, seed comments and comments created earlier in the log
    in_log = False
    for number, rec in iter_lines(path):
        def fail(reason: str) -> DatasetError:
            return DatasetError(path, number, reason)

        kind = rec.get("kind")
        if summary is None:
            if kind != "header" or rec.get("format") != FORMAT_NAME:
                raise fail(f"expected a header line with format {FORMAT_NAME!r} first, got kind {kind!r}")
            if rec.get("version") != FORMAT_VERSION:
                raise fail(f"unknown dataset version {rec.get('version')!r} (this build reads version {FORMAT_VERSION})")
            summary = DatasetSummary(rec)
            continue
        if kind in SEED_KINDS:
            if in_log:
                raise fail(f"seed record '{kind}' after the request log started (seed records come first)")
            _require(rec, kind, fail)
            if kind == "account":
                accounts.add(rec["name"])
            elif kind == "subreddit":
                subreddits.add(rec["name"])
            elif kind == "link":
                if rec["subreddit"] not in subreddits:
                    raise fail(f"link {rec['fullname']} names subreddit {rec['subreddit']!r}, which no earlier line defines")
                things.add(rec["fullname"])
            else:
                if rec["link"] not in things:
                    raise fail(f"comment {rec['fullname']} belongs to link {rec['link']}, which no earlier line defines")
                if rec["parent"] not in things:
                    raise fail(f"comment {rec['fullname']} replies to {rec['parent']}, a missing parent")
                _author(rec["author"], accounts, fail)
                things.add(rec["fullname"])
            summary.seed[kind] = summary.seed.get(kind, 0) + 1
        elif kind == "request":
            in_log = True
            op = rec.get("op")
            if op not in OPS:
                raise fail(f"unknown op {op!r} (expected one of {', '.join(OPS)})")
            _require(rec, op, fail)
            _check_request(rec, op, things, accounts, fail)
            summary.requests[op] = summary.requests.get(op, 0) + 1
        else:
            raise fail(f"unknown record kind {kind!r} (expected {', '.join(('header', *SEED_KINDS, 'request'))})")
    if summary is None:
        raise DatasetError(path, 0, "empty file (expected a header line)")
    return summary


def _require(rec: dict[str, Any], kind: str, fail) -> None:
    missing = [k for k in _REQUIRED[kind] if k not in rec]
    if missing:
        raise fail(f"{kind} record lacks {', '.join(missing)}")


def _author(name: str, accounts: set[str], fail) -> None:
    if name != "[deleted]" and name not in accounts:
        raise fail(f"user {name!r} is not an account defined earlier")


INVALID = ("user", "target")  # what a refusal probe names on purpose that does not exist


def _check_request(rec: dict[str, Any], op: str, things: set[str], accounts: set[str], fail) -> None:
    invalid = rec.get("invalid")
    if invalid is not None and (invalid not in INVALID or op not in ("create", "update", "increment")):
        raise fail(f"invalid must be one of {', '.join(INVALID)} on a write, got {invalid!r} on {op}")
    user = rec.get("user")
    if op in ("create", "update", "increment") and not isinstance(user, str) and not (user is None and invalid == "user"):
        raise fail(f"{op} user must be an account name (a string), or null with invalid \"user\" "
                   f"(no auth header), got {user!r}")

    def check_user() -> None:  # a write with invalid "user" names on purpose no one the legacy knows
        if invalid != "user":
            _author(str(user), accounts, fail)  # a string here: checked above

    if invalid == "target":  # a view with the target in it; a create's ref still joins `things`
        target = rec["parent" if op == "create" else "thing"]
        if target in things:
            raise fail(f"{op} says its target {target} is invalid, but it exists")
        if op == "create":
            check_user()
            if rec["ref"] in things:
                raise fail(f"create ref {rec['ref']} names a comment that already exists (a ref must be new)")
            things.add(rec["ref"])
        else:
            check_user()
        return
    if op == "create":
        check_user()
        if rec["parent"] not in things:
            raise fail(f"create replies to {rec['parent']}, a missing parent (neither seeded nor created earlier)")
        if not isinstance(rec["text"], str) or not rec["text"]:
            raise fail("create text must be a non-empty string")
        if rec["ref"] in things:
            raise fail(f"create ref {rec['ref']} names a comment that already exists (a ref must be new)")
        things.add(rec["ref"])
    elif op in ("update", "increment"):
        check_user()
        if rec["thing"] not in things:
            raise fail(f"{op} targets {rec['thing']}, which is neither seeded nor created earlier")
        if op == "increment" and rec["dir"] not in (-1, 0, 1):
            raise fail(f"increment dir must be -1, 0 or 1, got {rec['dir']!r}")
    elif op in ("read_comments", "read_morechildren"):
        if rec["sort"] not in SORTS and not (op == "read_comments" and rec.get("lenient") is True):
            raise fail(f"sort {rec['sort']!r} is not one of {', '.join(SORTS)} "
                       "(a read_comments probing the legacy's leniency says \"lenient\": true)")
        if rec["link"] not in things:
            raise fail(f"{op} reads link {rec['link']}, which the seed does not define")
        if op == "read_morechildren":
            if not isinstance(rec["children"], list):
                raise fail("read_morechildren children must be a list of base36 ids")
            for child in rec["children"]:
                if f"t1_{child}" not in things:
                    raise fail(f"read_morechildren names t1_{child}, which is neither seeded nor created earlier "
                               "(a request may only name what exists at its point of the log)")
    elif op == "read_info":
        if not isinstance(rec["ids"], list) or not rec["ids"]:
            raise fail("read_info ids must be a non-empty list of fullnames")
        for name in rec["ids"]:
            if name not in things:
                raise fail(f"read_info names {name}, which is neither seeded nor created earlier "
                           "(a request may only name what exists at its point of the log)")
