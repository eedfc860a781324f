"""A dataset file read for replay: its seed records, and its requests grouped by thread."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from datasets.format import SEED_KINDS, HeaderRecord, RequestRecord, SeedRecord, iter_lines
from datasets.validate import validate_dataset

WRITE_OPS = {"create": "create", "update": "update", "increment": "increment"}
READ_OPS = {"read_comments": "comments", "read_info": "info", "read_morechildren": "morechildren"}


@dataclass
class ReplayDataset:
    path: Path
    header: HeaderRecord
    seed: list[SeedRecord]
    requests: list[RequestRecord]
    # every dataset comment fullname (seeded or a create's ref) -> its thread's t3_ fullname
    thread_of: dict[str, str] = field(default_factory=dict)

    def thread(self, request: RequestRecord) -> str:
        """The thread a request belongs to (its requests are replayed in order)."""
        op = request["op"]
        if op in ("read_comments", "read_morechildren"):
            return request["link"]
        if op == "read_info":
            first = request["ids"][0] if request["ids"] else ""
            return first if first.startswith("t3_") else self.thread_of.get(first, first)
        name = request["parent"] if op == "create" else request["thing"]
        return name if name.startswith("t3_") else self.thread_of.get(name, name)

    def by_thread(self) -> dict[str, list[RequestRecord]]:
        out: dict[str, list[RequestRecord]] = {}
        for request in self.requests:
            out.setdefault(self.thread(request), []).append(request)
        return out

    def ops(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for request in self.requests:
            counts[request["op"]] = counts.get(request["op"], 0) + 1
        return counts


def load_dataset(path: str | Path, validate: bool = True) -> ReplayDataset:
    """Read (and by default first validate, raising DatasetError with FILE:LINE) a dataset file."""
    path = Path(path)
    if validate:
        validate_dataset(path)
    header: HeaderRecord = {}
    seed: list[SeedRecord] = []
    requests: list[RequestRecord] = []
    for _, record in iter_lines(path):  # validated: each record has its kind's fields
        kind = record.get("kind")
        if kind == "header":
            header = cast(HeaderRecord, record)
        elif kind in SEED_KINDS:
            seed.append(cast(SeedRecord, record))
        elif kind == "request":
            requests.append(cast(RequestRecord, record))
    requests.sort(key=lambda r: r["seq"])
    ds = ReplayDataset(path, header, seed, requests)
    for rec in seed:
        if rec["kind"] == "comment":
            ds.thread_of[rec["fullname"]] = rec["link"]
    for req in requests:  # creates in log order: a reply's parent is always known by then
        if req["op"] == "create":
            parent = req["parent"]
            ds.thread_of[req["ref"]] = parent if parent.startswith("t3_") else ds.thread_of.get(parent, parent)
    return ds
