"""k copies of a directory of reddit threads, each copy under distinct link and comment ids.

Copy 0 is the threads as they are; copy c > 0 appends the base-36 digit of c to every link and
comment id (`id`, `name`, `link_id`, `parent_id`), so each copy is a thread of its own with the
same shape, text and votes. `tapcompare dataset build --threads DIR` then builds a dataset k times
the size (its once-per-dataset threshold links excepted) for the replay's growth measurement.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DIGITS = "0123456789abcdefghijklmnopqrstuvwxyz"
ID_FIELDS = ("link_id", "parent_id", "name")


def _renamed(fullname: Any, suffix: str) -> Any:
    if isinstance(fullname, str) and fullname[:3] in ("t1_", "t3_"):
        return fullname + suffix
    return fullname


def _copy(record: dict[str, Any], suffix: str) -> dict[str, Any]:
    out = dict(record)
    for key in ID_FIELDS:
        if key in out:
            out[key] = _renamed(out[key], suffix)
    if isinstance(out.get("id"), str):
        out["id"] = out["id"] + suffix
    return out


def copy_threads(src: Path, dst: Path, k: int) -> list[str]:
    """Write k copies of every thread in `src` into `dst`; returns the link names written."""
    if not 1 <= k < len(DIGITS):
        raise ValueError(f"k must be 1..{len(DIGITS) - 1}, got {k}")
    dst.mkdir(parents=True, exist_ok=True)
    links = []
    for thread in sorted(src.glob("*.ndjson")):
        link = thread.name.removesuffix(".ndjson")
        post = src / f"{link}.post.json"
        for c in range(k):
            suffix = DIGITS[c] if c else ""
            name = link + suffix
            rows = [json.loads(line) for line in thread.read_text(encoding="utf-8").splitlines() if line.strip()]
            (dst / f"{name}.ndjson").write_text(
                "".join(json.dumps(_copy(r, suffix), ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
            if post.exists():
                (dst / f"{name}.post.json").write_text(
                    json.dumps(_copy(json.loads(post.read_text(encoding="utf-8")), suffix), ensure_ascii=False),
                    encoding="utf-8")
            links.append(name)
    return links
