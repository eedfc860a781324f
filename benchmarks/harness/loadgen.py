"""Open-loop, fixed-rate HTTP load generator (wrk2-style, coordinated omission corrected).

Run as its own process: `python loadgen.py SPEC.json OUT.json`. Request i is due at t0 + i/rate and
is started then whatever is still in flight; its latency is measured from when it was *due* (so a
stalled server cannot hide its queueing by slowing the generator down), and also from when it was
actually sent ("service" time). Bounded: at most `max_requests`, at most `duration_s` of sending,
then at most `drain_s` waiting; requests still open then are counted as unfinished with the time
waited so far (a lower bound). Loopback only.

Spec keys: base, requests (list of {method, path, body?, headers?, label?}, used in order and
cycled), rate, duration_s, warmup_s (requests due earlier are excluded from the figures),
drain_s, timeout_s, connections, max_requests, capture_names (record `json.data.things[0].data.name`).
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time
from typing import Any

import aiohttp


def pct(sorted_values: list[float], p: float) -> float:
    if not sorted_values:
        return float("nan")
    k = max(0, min(len(sorted_values) - 1, math.ceil(p / 100 * len(sorted_values)) - 1))
    return sorted_values[k]


def summary(lat: list[float], service: list[float]) -> dict[str, Any]:
    lat, service = sorted(lat), sorted(service)
    return {
        "n": len(lat),
        "p50_ms": pct(lat, 50) * 1e3, "p90_ms": pct(lat, 90) * 1e3, "p99_ms": pct(lat, 99) * 1e3,
        "max_ms": (lat[-1] * 1e3) if lat else float("nan"),
        "mean_ms": (sum(lat) / len(lat) * 1e3) if lat else float("nan"),
        "service_p50_ms": pct(service, 50) * 1e3, "service_p99_ms": pct(service, 99) * 1e3,
    }


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    base = spec["base"].rstrip("/")
    reqs = spec["requests"]
    rate = float(spec.get("rate", 100))
    duration = float(spec.get("duration_s", 10))
    warmup = float(spec.get("warmup_s", 0))
    drain = float(spec.get("drain_s", 5))
    total = int(min(spec.get("max_requests", 10**9), (duration + warmup) * rate))
    capture = bool(spec.get("capture_names"))
    timeout = aiohttp.ClientTimeout(total=float(spec.get("timeout_s", 10)))
    connector = aiohttp.TCPConnector(limit=int(spec.get("connections", 64)), keepalive_timeout=30)
    results: list[tuple[float, float, float, int, str]] = []  # due, started, ended, status, label
    names: list[str] = []
    statuses: dict[str, int] = {}
    open_tasks: set[asyncio.Task] = set()
    pending_due: dict[int, tuple[float, str]] = {}

    async with aiohttp.ClientSession(connector=connector, timeout=timeout, auto_decompress=False,
                                     cookie_jar=aiohttp.DummyCookieJar()) as session:
        async def one(i: int, due: float, r: dict[str, Any]) -> None:
            label = r.get("label") or r["path"].split("?")[0]
            pending_due[i] = (due, label)
            started = time.perf_counter()
            status = -1
            try:
                body = r.get("body")
                async with session.request(r.get("method", "GET"), base + r["path"],
                                           data=body.encode() if isinstance(body, str) else None,
                                           headers=r.get("headers") or {}) as resp:
                    data = await resp.read()
                    status = resp.status
                    if capture and status == 200:
                        try:
                            names.append(json.loads(data)["json"]["data"]["things"][0]["data"]["name"])
                        except (ValueError, KeyError, IndexError, TypeError):
                            pass
            except asyncio.TimeoutError:
                status = -2
            except aiohttp.ClientError:
                status = -3
            ended = time.perf_counter()
            pending_due.pop(i, None)
            results.append((due, started, ended, status, label))

        t0 = time.perf_counter() + 0.05
        for i in range(total):
            due = t0 + i / rate
            now = time.perf_counter()
            if now - t0 > duration + warmup + 1.0:  # the generator itself fell far behind: stop
                break
            if due > now:
                await asyncio.sleep(due - now)
            task = asyncio.create_task(one(i, due, reqs[i % len(reqs)]))
            open_tasks.add(task)
            task.add_done_callback(open_tasks.discard)
        sent_end = time.perf_counter()
        if open_tasks:
            done, still = await asyncio.wait(set(open_tasks), timeout=drain)
            cut = time.perf_counter()
            unfinished = [(d, lbl) for d, lbl in list(pending_due.values())]
            for task in still:
                task.cancel()
            await asyncio.gather(*still, return_exceptions=True)
        else:
            cut, unfinished = time.perf_counter(), []

    cutoff = t0 + warmup
    lat_all: list[float] = []
    svc_all: list[float] = []
    by_label: dict[str, tuple[list[float], list[float]]] = {}
    ok = 0
    for due, started, ended, status, label in results:
        if due < cutoff:
            continue
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        ok += 200 <= status < 300
        lat_all.append(ended - due)
        svc_all.append(ended - started)
        lb = by_label.setdefault(label, ([], []))
        lb[0].append(ended - due)
        lb[1].append(ended - started)
    for due, label in unfinished:
        if due < cutoff:
            continue
        statuses["unfinished"] = statuses.get("unfinished", 0) + 1
        lat_all.append(cut - due)
        svc_all.append(cut - due)
        by_label.setdefault(label, ([], []))[0].append(cut - due)
    measured_window = max(sent_end - cutoff, 1e-9)
    return {
        "rate": rate, "planned": total, "sent": len(results) + len(unfinished),
        "measured": len(lat_all), "ok": ok, "statuses": statuses,
        "achieved_rps": ok / measured_window if measured_window > 0 else None,
        "overall": summary(lat_all, svc_all),
        "by_label": {k: summary(v[0], v[1]) for k, v in sorted(by_label.items())},
        "created_names": names,
        "raw_ms": [round(x * 1e3, 4) for x in lat_all],
    }


if __name__ == "__main__":
    spec_path, out_path = sys.argv[1], sys.argv[2]
    with open(spec_path, encoding="utf-8") as fh:
        spec = json.load(fh)
    out = asyncio.run(main(spec))
    with open(out_path, "w", encoding="utf-8") as fh:
        json.dump(out, fh)
