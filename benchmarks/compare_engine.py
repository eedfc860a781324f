"""Benchmark the comparison core against plain DeepDiff on real payloads.

Run: `python benchmarks/compare_engine.py [--quick]`. Not part of the test suite.

Payloads are built from ../shared/datasets/reddit/threads/*.ndjson: `/comments` thread listings
(nested r2-style Listings), a single `/api/info` comment response, and CDC-event-like dicts.
Each is measured equal (an independently built deep copy, so identity shortcuts do not apply) and
unequal (one score changed deep inside). Side by side in one run:

- `deepdiff`: plain `DeepDiff(a, b)` on the raw values, the baseline;
- `fast_path`: `fast_equal` (orjson sorted-key bytes) on already-normalised values;
- `py_eq`: plain `a == b`, for reference only (not type-strict, so not usable as the fast path);
- `comparator`: the whole `Comparator.compare` (normalise both sides, fast path, then for unequal
  values DeepDiff, rules and redaction, and the VerdictRecord).

Writes benchmarks/results/compare_engine.{json,md}.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import deepdiff  # noqa: E402
import orjson  # noqa: E402
from deepdiff import DeepDiff  # noqa: E402

from diff_reports.comparator import Comparator  # noqa: E402
from diff_reports.value_diff import fast_equal  # noqa: E402
from diff_reports.normalise import NormaliseContext, Normaliser  # noqa: E402
from diff_reports.rules import IgnoreRule  # noqa: E402
from diff_reports.types import Observation  # noqa: E402

DATASETS = ROOT.parent / "shared" / "datasets" / "reddit" / "threads"
RESULTS = ROOT / "benchmarks" / "results"
COMMENT_KEYS = (
    "subreddit_id", "link_id", "likes", "replies", "id", "gilded", "author", "parent_id", "score", "body",
    "edited", "downs", "subreddit", "name", "created", "created_utc", "ups", "distinguished", "stickied",
    "controversiality",
)


def load_thread(name: str) -> list[dict[str, Any]]:
    with open(DATASETS / f"{name}.ndjson", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def comment_object(c: dict[str, Any], depth: int | None = None) -> dict[str, Any]:
    data = {k: c.get(k) for k in COMMENT_KEYS}
    data["likes"] = None
    data["downs"] = 0
    data["edited"] = c.get("edited") or False
    data["replies"] = ""
    if depth is not None:
        data["depth"] = depth
    return {"kind": "t1", "data": data}


def listing(children: list[Any]) -> dict[str, Any]:
    return {"kind": "Listing", "data": {"modhash": "", "children": children, "after": None, "before": None}}


def thread_response(comments: list[dict[str, Any]], link: str) -> dict[str, Any]:
    """`GET /comments/<link36>` as the proxy observes it: status plus `[link Listing, comment Listing]`."""
    by_parent: dict[str, list[dict[str, Any]]] = {}
    names = {c["name"] for c in comments}
    for c in comments:
        parent = c["parent_id"] if c["parent_id"] in names else link
        by_parent.setdefault(parent, []).append(c)

    def build(parent: str, depth: int) -> list[Any]:
        out = []
        for c in by_parent.get(parent, []):
            obj = comment_object(c, depth)
            kids = build(c["name"], depth + 1)
            if kids:
                obj["data"]["replies"] = listing(kids)
            out.append(obj)
        return out

    link_obj = {"kind": "t3", "data": {"name": link, "id": link[3:], "num_comments": len(comments), "title": "t"}}
    return {"status": 200, "body": [listing([link_obj]), listing(build(link, 0))]}


def info_response(c: dict[str, Any]) -> dict[str, Any]:
    return {"status": 200, "body": listing([comment_object(c)])}


def cdc_events(comments: list[dict[str, Any]], n: int) -> list[dict[str, Any]]:
    out = []
    for i, c in enumerate(comments[:n]):
        changes = {"body": [None, c.get("body")], "author_id": [None, i + 1000], "ups": [None, 1], "downs": [None, 0]}
        out.append({
            "stream_id": f"{1700000000000 + i}-0",
            "fields": {
                "event_id": f"{c['name']}:1", "type": "comment_created", "fullname": c["name"],
                "link": c["link_id"], "parent": c["parent_id"], "version": "1",
                "ts": f"{c['created_utc']:.6f}", "request_id": f"req-{i}",
                "changes": json.dumps(changes, sort_keys=True, separators=(",", ":")),
            },
        })
    return out


def last_score_path(value: Any) -> dict[str, Any]:
    """The deepest-last comment's data dict, to change its score."""
    node = value["body"][1]["data"]["children"][-1]
    while node["data"]["replies"]:
        node = node["data"]["replies"]["data"]["children"][-1]
    return node["data"]


def payloads() -> dict[str, tuple[Any, Any]]:
    out: dict[str, tuple[Any, Any]] = {}
    for name in ("t3_fjn0j9", "t3_6wmniq", "t3_n49rw"):
        comments = load_thread(name)
        a = thread_response(comments, name)
        out[f"thread {name} ({len(comments)} comments)"] = (a, thread_response(comments, name))
    comments = load_thread("t3_6wmniq")
    out["single comment (/api/info)"] = (info_response(comments[0]), info_response(comments[0]))
    out["CDC event"] = (cdc_events(comments, 1)[0], cdc_events(comments, 1)[0])
    out["CDC events (50)"] = (cdc_events(comments, 50), cdc_events(comments, 50))
    return out


def unequal(name: str, value: Any) -> Any:
    b = copy.deepcopy(value)
    if name.startswith("thread"):
        last_score_path(b)["score"] += 1
    elif name.startswith("single"):
        b["body"]["data"]["children"][0]["data"]["score"] += 1
    elif name == "CDC event":
        b["fields"]["version"] = "2"
    else:
        b[-1]["fields"]["version"] = "2"
    return b


def per_call(fn: Callable[[], Any], budget_s: float, repeats: int = 5) -> float:
    """Median seconds per call over `repeats` rounds, each sized to about budget_s / repeats."""
    start = time.perf_counter()
    fn()
    once = max(time.perf_counter() - start, 1e-7)
    loops = max(1, int(budget_s / repeats / once))
    rounds = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        rounds.append((time.perf_counter() - t0) / loops)
    return statistics.median(rounds)


def run(budget_s: float) -> dict[str, Any]:
    normaliser = Normaliser()
    ctx = NormaliseContext("read.comments.response", "legacy")
    comparator = Comparator([IgnoreRule("created", ("*.created",), "tz quirk")])
    rows = []
    for name, (a, b_equal) in payloads().items():
        size = len(orjson.dumps(a))
        for case, b in (("equal", b_equal), ("unequal", unequal(name, a))):
            na, nb = normaliser(a, ctx), normaliser(b, ctx)
            assert fast_equal(na, nb) == (case == "equal")
            assert (not DeepDiff(a, b)) == (case == "equal")
            legacy, new = Observation("legacy", a), Observation("new", b)
            slow_budget = budget_s * (0.5 if size > 500_000 else 1)
            t = {
                "deepdiff": per_call(lambda: DeepDiff(a, b), slow_budget, repeats=3),
                "fast_path": per_call(lambda: fast_equal(na, nb), budget_s),
                "py_eq": per_call(lambda: na == nb, budget_s),
                "comparator": per_call(lambda: comparator.compare("read.comments.response", legacy, new), budget_s),
            }
            rows.append({
                "payload": name, "case": case, "json_bytes": size,
                "seconds": t,
                "deepdiff_over_fast_path": t["deepdiff"] / t["fast_path"],
                "deepdiff_over_comparator": t["deepdiff"] / t["comparator"],
                "fast_path_over_py_eq": t["fast_path"] / t["py_eq"],
            })
            print(f"{name:38s} {case:8s} deepdiff {t['deepdiff'] * 1e3:9.3f} ms  fast {t['fast_path'] * 1e6:9.1f} us  "
                  f"compare {t['comparator'] * 1e3:8.3f} ms  x{rows[-1]['deepdiff_over_fast_path']:8.0f} (fast) "
                  f"x{rows[-1]['deepdiff_over_comparator']:6.1f} (comparator)", flush=True)
    return {
        "python": sys.version.split()[0], "platform": platform.platform(), "deepdiff": deepdiff.__version__,
        "orjson": orjson.__version__, "budget_s": budget_s, "rows": rows,
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Comparison engine benchmark",
        "",
        f"Python {result['python']}, DeepDiff {result['deepdiff']}, orjson {result['orjson']}, {result['platform']}. "
        "Median time per call. `fast path` = `fast_equal` on normalised values; `comparator` = the whole "
        "`Comparator.compare` (normalise both sides + fast path, plus DeepDiff/rules/redaction when unequal); "
        "`==` is plain Python equality (not type-strict, reference only).",
        "",
        "| payload | case | JSON bytes | DeepDiff (ms) | fast path (µs) | `==` (µs) | comparator (ms) | DeepDiff / fast path | DeepDiff / comparator |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        t = r["seconds"]
        lines.append(
            f"| {r['payload']} | {r['case']} | {r['json_bytes']:,} | {t['deepdiff'] * 1e3:.3f} | {t['fast_path'] * 1e6:.1f} | "
            f"{t['py_eq'] * 1e6:.1f} | {t['comparator'] * 1e3:.3f} | {r['deepdiff_over_fast_path']:,.0f}x | "
            f"{r['deepdiff_over_comparator']:,.1f}x |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter measurements")
    args = parser.parse_args()
    result = run(0.2 if args.quick else 1.0)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "compare_engine.json").write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    (RESULTS / "compare_engine.md").write_text(markdown(result), encoding="utf-8")
    print(f"wrote {RESULTS / 'compare_engine.json'} and {RESULTS / 'compare_engine.md'}")


if __name__ == "__main__":
    main()
