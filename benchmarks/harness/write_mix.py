"""The proxy benchmark's write mix: creates, edits of the writer's own comments and votes on the seeded
thread, one request in ten, between the read mix's requests."""

from __future__ import annotations

from typing import Any

from harness.overhead_report import THREAD

WRITER = "bench_writer"
VOTERS = tuple(f"bench_voter{i:02d}" for i in range(40))
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def write_mix(reads: list[dict[str, Any]], comment_names: list[str], own: list[str], n: int) -> list[dict[str, Any]]:
    """`n` requests on the seeded thread, one in ten a write: creates, edits of the writer's own comments,
    votes (each voter votes once per comment per cycle, up, down or clear); the other nine are the read mix."""
    from urllib.parse import urlencode

    out: list[dict[str, Any]] = []
    w = 0
    dirs = ("1", "-1", "0")
    for i in range(n):
        if i % 10 != 9:
            out.append(reads[i % len(reads)])
            continue
        kind = w % 3
        if kind == 0:
            out.append({"method": "POST", "path": "/api/comment", "label": "create", "headers": {**FORM, "X-Auth-User": WRITER},
                        "body": urlencode({"thing_id": THREAD, "text": f"benchmark comment {w}: " + "lorem ipsum " * 6})})
        elif kind == 1:
            out.append({"method": "POST", "path": "/api/editusertext", "label": "edit", "headers": {**FORM, "X-Auth-User": WRITER},
                        "body": urlencode({"thing_id": own[w % len(own)], "text": f"edited {w}: " + "dolor sit amet " * 6})})
        else:
            v = w // 3
            out.append({"method": "POST", "path": "/api/vote", "label": "vote",
                        "headers": {**FORM, "X-Auth-User": VOTERS[v % len(VOTERS)]},
                        "body": urlencode({"id": comment_names[(v // len(VOTERS)) % len(comment_names)],
                                           "dir": dirs[(v // (len(VOTERS) * len(comment_names))) % 3]})})
        w += 1
    return out
