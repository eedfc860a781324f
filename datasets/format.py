"""The dataset file format, version 1: JSON Lines (optionally gzip), one record per line.

Line 1 is the header; then the seed snapshot (accounts, subreddits, links, comments) in an order
where every parent precedes its children; then the request log in replay order. Fullnames in
the log are the *dataset's* fullnames; a create names the fullname it stands for (`ref`), and the
replayer maps it to the id the legacy assigns at replay time.
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO, TypedDict, cast

import orjson

FORMAT_NAME = "tapcompare-dataset"
FORMAT_VERSION = 1
SEED_KINDS = ("account", "subreddit", "link", "comment")
OPS = ("create", "update", "increment", "read_comments", "read_info", "read_morechildren")
SORTS = ("confidence", "top", "new", "old", "controversial")


class HeaderRecord(TypedDict, total=False):
    kind: str                                  # "header"
    format: str
    version: int
    seed: int
    cutoff: Any
    threads: list[Any]
    dropped_orphans: int
    requests: dict[str, int]                   # counts per op


class SeedRecord(TypedDict, total=False):
    """An account, subreddit, link or comment of the seed snapshot (fields by kind: docs/dataset-format.md)."""

    kind: str                                  # account | subreddit | link | comment
    name: str                                  # account, subreddit
    fullname: str                              # link, comment
    link: str
    parent: str
    subreddit: str
    author: str
    title: str
    url: str
    selftext: str
    body: str
    created_utc: float
    score: int
    deleted: bool
    distinguished: str | None
    stickied: bool
    gilded: int
    spam: bool
    synthetic: bool
    comment_score_hide_mins: int               # subreddit: minutes a new comment's score is hidden


class RequestRecord(TypedDict, total=False):
    """One request of the log (fields by op: docs/dataset-format.md); fullnames are the dataset's."""

    kind: str                                  # "request"
    seq: int
    op: str                                    # one of OPS
    user: str | None                           # writes; null: no auth header (a refusal probe)
    parent: str                                # create
    ref: str                                   # create: the fullname it stands for
    text: str                                  # create, update
    thing: str                                 # update, increment
    dir: int                                   # increment: -1, 0, 1
    link: str                                  # read_comments, read_morechildren
    sort: str
    limit: Any                                 # lenient reads may carry malformed values
    depth: Any
    raw_json: Any
    lenient: bool
    ids: list[str]                             # read_info
    children: list[str]                        # read_morechildren: base36 ids
    probe: str                                 # documentation only
    invalid: str                               # a refusal probe: "user" or "target" need not exist


class DatasetError(ValueError):
    """A dataset file is not valid; names the line and the reason."""

    def __init__(self, path: str, line: int, reason: str) -> None:
        super().__init__(f"{path}:{line}: {reason}")
        self.path, self.line, self.reason = path, line, reason


def _open_text(path: Path, mode: str) -> TextIO:
    if path.suffix == ".gz":
        # gzip.open and open pick their return type from a literal mode; `mode` is a plain str here.
        return io.TextIOWrapper(cast(gzip.GzipFile, gzip.open(path, mode + "b")), encoding="utf-8", newline="\n")
    return cast(TextIO, open(path, mode, encoding="utf-8", newline="\n"))


def write_dataset(path: str | Path, records: Iterable[dict[str, Any]]) -> int:
    """Write records as JSON Lines (gzip when the name ends in .gz); return the line count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with _open_text(path, "w") as fh:
        for record in records:
            fh.write(orjson.dumps(record, option=orjson.OPT_SORT_KEYS).decode("utf-8"))
            fh.write("\n")
            count += 1
    return count


def iter_lines(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, record) for every line; a line that is not a JSON object raises DatasetError."""
    path = Path(path)
    try:
        fh = _open_text(path, "r")
        with fh:
            for number, line in enumerate(fh, start=1):
                if not line.strip():
                    raise DatasetError(str(path), number, "empty line (expected one JSON object per line)")
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise DatasetError(str(path), number, f"not valid JSON ({exc})") from None
                if not isinstance(record, dict):
                    raise DatasetError(str(path), number, f"expected a JSON object, got {type(record).__name__}")
                yield number, record
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        if isinstance(exc, DatasetError):
            raise
        raise DatasetError(str(path), 0, f"cannot read file ({type(exc).__name__}: {exc})") from None
