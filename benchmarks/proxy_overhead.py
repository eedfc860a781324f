"""Proxy overhead and isolation: the same read load direct, through the proxy, and through nginx mirror.

Run: `python benchmarks/proxy_overhead.py [--quick]` (make bench runs it). Not part of the test suite.

Set-up (all on 127.0.0.1, all subprocesses we start and stop): local production and sister store sets
in a temp dir (LocalStores), the legacy schema and the read-only role on production, the schema
mirrored to sister, thread t3_haucpf seeded through the legacy model; `tapcompare legacy serve`; the
real rewrite in tap mode (`harness/new_service.py`, whose injected fault is switched at run time:
none, every request stalled 2 s, or answered 500; "down" = the process stopped); one
`tapcompare proxy serve` (guard off, so the kill switch does not hide a faulty rewrite; ramp changed
through its admin API between runs); one nginx process (1 worker) with a plain reverse-proxy server
and a `mirror` server (mirror to the same rewrite).

Load: a mixed read cycle on the seeded thread (`/comments/haucpf` with four sorts, `/api/info` of
eight comments). Fixed rate: `harness/loadgen.py`, our open-loop generator (latency from the due
time, i.e. coordinated omission corrected) in its own process. The set-ups are measured in
interleaved rounds (direct, proxy 0/10/100%, nginx, nginx mirror; again...) and each set-up's
samples are pooled, so machine noise drifting over the run hits all of them alike. Max throughput:
Debian `wrk` (one thread, 16 connections, Lua path rotation).
Writes JSON + Markdown: results/proxy_overhead.* and results/isolation.*.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.common import (  # noqa: E402
    ADMIN_TOKEN, HARNESS, READONLY_ROLE, RESULTS, TAP_SECRET, TAPCOMPARE, Proc, Stack, cleanup, fmt, free_ports, http_get,
    http_json, install_cleanup, machine, prepare_legacy_db, run_async, run_loadgen, run_wrk, start_stores,
    toml_stores, write_result,
)
from harness.loadgen import pct as percentile  # noqa: E402

THREAD = "t3_haucpf"
RATE = 200
QUEUE_SIZE = 200  # small enough that a stalled rewrite fills it within a run: shedding is exercised
async def prepare(stack: Stack) -> list[str]:
    from sister_stores.databases import ensure_readonly_role, mirror_schema

    report = await prepare_legacy_db(stack.production, [THREAD], ("bench_reader",))
    await ensure_readonly_role(stack.production.postgres, READONLY_ROLE)
    await mirror_schema(stack.production.postgres, stack.sister.postgres)
    import asyncpg

    conn = await asyncpg.connect(stack.production.postgres)
    try:
        rows = await conn.fetch("SELECT thing_id FROM reddit_thing_comment ORDER BY thing_id LIMIT 8")
    finally:
        await conn.close()
    assert report.comments > 0, report
    from legacy_adapter.codec import to36

    return [f"t1_{to36(r['thing_id'])}" for r in rows]


def read_paths(comment_names: list[str]) -> list[dict[str, Any]]:
    link36 = THREAD[3:]
    listing = [
        f"/comments/{link36}?sort=confidence&limit=20",
        f"/comments/{link36}?sort=top&limit=10&depth=2",
        f"/comments/{link36}?sort=new&limit=20",
        f"/comments/{link36}?sort=old&limit=5",
    ]
    info = [f"/api/info?id={name}" for name in comment_names]
    out = []
    for i, path in enumerate(info):  # 8 info + 4 listings: a third of the reads are thread listings
        out.append({"method": "GET", "path": path, "label": "info"})
        if i % 2 == 1:
            out.append({"method": "GET", "path": listing[i // 2 % len(listing)], "label": "comments"})
    return out


def nginx_conf(tmp: Path, legacy: int, new: int, ports: dict[str, int]) -> Path:
    import os

    user = "user root;\n" if os.geteuid() == 0 else ""
    temp = "".join(f"  {k}_temp_path {tmp}/nginx_{k};\n" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))

    def server(port: int, mirror: bool) -> str:
        mirror_dir = "      mirror /__mirror;\n      mirror_request_body on;\n" if mirror else ""
        mirror_loc = (
            "    location = /__mirror {\n      internal;\n      proxy_http_version 1.1;\n"
            "      proxy_set_header Connection \"\";\n      proxy_read_timeout 30s;\n"
            "      proxy_pass http://newsvc$request_uri;\n    }\n"
        ) if mirror else ""
        return (
            f"  server {{\n    listen 127.0.0.1:{port};\n"
            f"    location / {{\n{mirror_dir}      proxy_http_version 1.1;\n      proxy_set_header Connection \"\";\n"
            "      proxy_pass http://legacy;\n    }\n" + mirror_loc + "  }\n"
        )

    conf = (
        f"{user}worker_processes 1;\ndaemon off;\npid {tmp}/nginx.pid;\nerror_log {tmp}/nginx_error.log warn;\n"
        "events { worker_connections 4096; }\n"
        "http {\n  access_log off;\n" + temp +
        f"  upstream legacy {{ server 127.0.0.1:{legacy}; keepalive 64; }}\n"
        f"  upstream newsvc {{ server 127.0.0.1:{new}; keepalive 64; }}\n"
        + server(ports["plain"], False) + server(ports["mirror"], True) + "}\n"
    )
    path = tmp / "nginx.conf"
    path.write_text(conf)
    return path


_METRIC = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+([-+0-9.eEinfNa]+)$")


def scrape(port: int) -> dict[str, float]:
    """Prometheus text -> {name{labels}: value}."""
    status, body = http_get(f"http://127.0.0.1:{port}/metrics", timeout=3)
    out: dict[str, float] = {}
    if status != 200:
        return out
    for line in body.decode(errors="replace").splitlines():
        m = _METRIC.match(line.strip())
        if m:
            out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def total(metrics: dict[str, float], name: str, label_filter: str = "") -> float:
    return sum(v for k, v in metrics.items() if k.split("{")[0] == name and label_filter in k)


def buckets(metrics: dict[str, float], name: str) -> dict[float, float]:
    """A histogram's cumulative bucket counts summed over its other labels: {le: count}."""
    out: dict[float, float] = {}
    for k, v in metrics.items():
        if k.split("{")[0] == name + "_bucket":
            le = k.split('le="')[1].split('"')[0]
            bound = float("inf") if le == "+Inf" else float(le)
            out[bound] = out.get(bound, 0.0) + v
    return out


def hist_quantile(cum: dict[float, float], q: float) -> float | None:
    """Prometheus histogram_quantile: linear interpolation inside the bucket (seconds)."""
    bounds = sorted(cum)
    if not bounds or cum[bounds[-1]] <= 0:
        return None
    rank = q * cum[bounds[-1]]
    prev_bound, prev_count = 0.0, 0.0
    for b in bounds:
        if cum[b] >= rank:
            if b == float("inf"):
                return prev_bound
            width = cum[b] - prev_count
            return prev_bound + (b - prev_bound) * ((rank - prev_count) / width if width else 1.0)
        prev_bound, prev_count = b, cum[b]
    return prev_bound


class DepthPoller(threading.Thread):
    """Samples the proxy's shadow queue depth every 0.2 s while the load runs."""

    def __init__(self, port: int) -> None:
        super().__init__(daemon=True)
        self.port, self.peak, self.samples = port, 0.0, 0
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.is_set():
            try:
                depth = total(scrape(self.port), "tapcompare_proxy_shadow_queue_depth")
                self.peak = max(self.peak, depth)
                self.samples += 1
            except OSError:
                pass
            self._halt.wait(0.2)

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


def summarise(raw_ms: list[float]) -> dict[str, float]:
    values = sorted(raw_ms)
    return {"n": len(values), "p50_ms": percentile(values, 50), "p90_ms": percentile(values, 90),
            "p99_ms": percentile(values, 99), "max_ms": values[-1] if values else float("nan")}


VERDICTS = ("match", "mismatch", "ignored", "raced", "shadow_error", "unavailable", "skipped")


class Scenario:
    """One set-up's pooled samples over its rounds, plus the proxy's counters during them."""

    def __init__(self, key: str) -> None:
        self.key = key
        self.raw: list[float] = []
        self.rounds: list[dict[str, Any]] = []
        self.ok = self.measured = 0
        self.statuses: dict[str, int] = {}
        self.proxy: dict[str, Any] = {}

    def add(self, res: dict[str, Any]) -> None:
        self.raw += res["raw_ms"]
        self.ok += res["ok"]
        self.measured += res["measured"]
        for k, v in res["statuses"].items():
            self.statuses[k] = self.statuses.get(k, 0) + v
        o = res["overall"]
        self.rounds.append({"p50_ms": o["p50_ms"], "p99_ms": o["p99_ms"], "ok": res["ok"], "measured": res["measured"],
                            "loadavg_1m": res.get("loadavg_1m"),
                            "by_label": {k: {q: v[q] for q in ("n", "p50_ms", "p99_ms")} for k, v in res["by_label"].items()}})

    def add_proxy(self, counters: dict[str, Any]) -> None:
        p = self.proxy
        p["peak_queue_depth"] = max(p.get("peak_queue_depth", 0), counters["peak_queue_depth"])
        for k in ("dropped", "raised", "overhead_sum_s", "overhead_count"):
            p[k] = p.get(k, 0) + counters.get(k, 0)
        hist = p.setdefault("overhead_buckets", {})
        for le, n in counters.get("overhead_buckets", {}).items():
            hist[le] = hist.get(le, 0) + n
        v = p.setdefault("verdicts", {})
        for k, n in counters["verdicts"].items():
            v[k] = v.get(k, 0) + n
        p["rss_mib_after"] = counters["rss_mib"]
        p["peak_rss_mib"] = counters["peak_rss_mib"]

    def to_dict(self) -> dict[str, Any]:
        overall = summarise(self.raw)
        overall["round_median_p50_ms"] = statistics.median(r["p50_ms"] for r in self.rounds)
        overall["round_median_p99_ms"] = statistics.median(r["p99_ms"] for r in self.rounds)
        return {"overall": overall, "ok": self.ok, "measured": self.measured, "statuses": self.statuses,
                "rounds": self.rounds, **({"proxy": self.proxy} if self.proxy else {})}


class Bench:
    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.rounds = 2 if quick else 5
        self.seg_s = 3
        self.wrk_s = 3 if quick else 5
        self.scen: dict[str, Scenario] = {}
        self.max: dict[str, Any] = {}

    def setup(self) -> None:
        self.stack = stack = start_stores("proxy")
        self.work = stack.tmp
        names = run_async(prepare(stack))
        self.requests = read_paths(names)
        self.legacy_port, self.new_port, self.proxy_port, self.ng_plain, self.ng_mirror = free_ports(5)
        self.cfg = stack.tmp / "bench.toml"
        self.cfg.write_text(
            toml_stores(stack)
            + f"\n[legacy]\nport = {self.legacy_port}\n"
            f'\n[new_service]\nport = {self.new_port}\nmode = "tap"\ntap_secret = "{TAP_SECRET}"\n'
            f'readonly_role = "{READONLY_ROLE}"\n'
            f'\n[proxy]\nport = {self.proxy_port}\nadmin_token = "{ADMIN_TOKEN}"\nguard_enabled = false\n'
            f"queue_size = {QUEUE_SIZE}\n"
        )
        cfg = str(self.cfg)
        self.legacy = Proc("legacy", [TAPCOMPARE, "--config", cfg, "legacy", "serve", "--port", str(self.legacy_port)],
                           self.work, port=self.legacy_port)
        self.new = Proc("new", [sys.executable, str(HARNESS / "new_service.py"), cfg, str(self.new_port), "none", "2"],
                        self.work, port=self.new_port)
        conf = nginx_conf(self.work, self.legacy_port, self.new_port, {"plain": self.ng_plain, "mirror": self.ng_mirror})
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.nginx = Proc("nginx", [nginx, "-c", str(conf), "-p", str(self.work)], self.work,
                          port=self.ng_mirror, ready_path=None)
        self.proxy = Proc("proxy", [TAPCOMPARE, "--config", cfg, "proxy", "serve", "--port", str(self.proxy_port),
                                    "--log-level", "WARNING"], self.work, port=self.proxy_port)
        for port in (self.legacy_port, self.ng_plain, self.ng_mirror, self.proxy_port, self.new_port):
            for r in self.requests[:3]:
                status, _ = http_get(f"http://127.0.0.1:{port}{r['path']}")
                assert status == 200, (port, r, status)

    # -- controls ------------------------------------------------------------------------------
    def set_ramp(self, pct: float) -> None:
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        base = f"http://127.0.0.1:{self.proxy_port}/admin/ramp"
        for endpoint in ("info", "comments"):
            http_json("PUT", f"{base}/{endpoint}", {"pct": pct, "why": "benchmark"}, auth)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            _, body = http_get(base, headers=auth)
            view = json.loads(body).get("this_proxy", {})
            if all(float(view.get(e, -1)) == float(pct) for e in ("info", "comments")):
                return
            time.sleep(0.05)
        raise RuntimeError(f"proxy did not pick up ramp {pct}")

    def fault(self, mode: str) -> None:
        status, _ = http_get(f"http://127.0.0.1:{self.new_port}/__fault/{mode}")
        assert status == 200, status

    def settle(self, timeout: float = 20.0) -> float:
        """Wait (bounded) until the shadow queue is empty; returns the depth left."""
        deadline = time.monotonic() + timeout
        depth = total(scrape(self.proxy_port), "tapcompare_proxy_shadow_queue_depth")
        while depth > 0 and time.monotonic() < deadline:
            time.sleep(0.2)
            depth = total(scrape(self.proxy_port), "tapcompare_proxy_shadow_queue_depth")
        return depth

    # -- runs ----------------------------------------------------------------------------------
    def fixed(self, key: str, port: int, seconds: float, through_proxy: bool) -> dict[str, Any]:
        spec = {"base": f"http://127.0.0.1:{port}", "requests": self.requests, "rate": RATE,
                "duration_s": seconds, "warmup_s": 0.5, "drain_s": 6.0, "timeout_s": 10.0, "connections": 64}
        before = scrape(self.proxy_port) if through_proxy else {}
        poller = DepthPoller(self.proxy_port) if through_proxy else None
        if poller:
            poller.start()
        try:
            load = os.getloadavg()[0]
            res = run_loadgen(spec, self.work, key)
            res["loadavg_1m"] = load
        finally:
            if poller:
                poller.stop()
        scen = self.scen.setdefault(key, Scenario(key))
        scen.add(res)
        if through_proxy:
            time.sleep(0.2)
            after = scrape(self.proxy_port)

            def delta(name: str, flt: str = "") -> float:
                return total(after, name, flt) - total(before, name, flt)

            scen.add_proxy({
                "peak_queue_depth": poller.peak if poller else 0,
                "dropped": delta("tapcompare_proxy_shadow_dropped_total"),
                "raised": delta("tapcompare_proxy_shadow_raised_total"),
                "overhead_sum_s": delta("tapcompare_proxy_overhead_seconds_sum"),
                "overhead_count": delta("tapcompare_proxy_overhead_seconds_count"),
                "overhead_buckets": {str(le): n - buckets(before, "tapcompare_proxy_overhead_seconds").get(le, 0.0)
                                     for le, n in buckets(after, "tapcompare_proxy_overhead_seconds").items()},
                "verdicts": {v: delta("tapcompare_proxy_verdicts_total", f'verdict="{v}"') for v in VERDICTS},
                "rss_mib": (self.proxy_rss("VmRSS") or 0) / 1024, "peak_rss_mib": (self.proxy_rss("VmHWM") or 0) / 1024,
            })
        o = res["overall"]
        print(f"  {key:22s} {RATE}/s: p50 {o['p50_ms']:7.2f} ms  p99 {o['p99_ms']:8.2f} ms  ok {res['ok']}/{res['measured']}"
              + (f"  peak depth {poller.peak:.0f}" if poller else ""), flush=True)
        return res

    def proxy_rss(self, field: str) -> int | None:
        try:
            for line in Path(f"/proc/{self.proxy.pid}/status").read_text().splitlines():
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        except OSError:
            return None
        return None

    def wrk(self, key: str, port: int) -> None:
        res = run_wrk(f"http://127.0.0.1:{port}", [r["path"] for r in self.requests], self.wrk_s, 16, self.work, key)
        res.pop("raw", None)
        self.max[key] = res
        print(f"  {key:22s} max: {fmt(res['rps'], 0)} req/s  p50 {fmt(res['p50_ms'])} ms  p99 {fmt(res['p99_ms'])} ms"
              f"  non-2xx {res['non_2xx']}", flush=True)

    def run(self) -> dict[str, Any]:
        order: list[tuple[str, int, float | None]] = [
            ("direct", self.legacy_port, None), ("proxy_0", self.proxy_port, 0), ("proxy_10", self.proxy_port, 10),
            ("proxy_100", self.proxy_port, 100), ("nginx_plain", self.ng_plain, None), ("nginx_mirror", self.ng_mirror, None),
        ]
        print(f"proxy overhead: {self.rounds} interleaved rounds of {self.seg_s} s per set-up at {RATE} req/s", flush=True)
        for rnd in range(self.rounds):
            rotated = order[rnd % len(order):] + order[:rnd % len(order)]
            for key, port, pct in rotated:
                if pct is not None:
                    self.set_ramp(pct)
                self.fixed(key, port, self.seg_s, pct is not None)
            self.set_ramp(0)
            self.settle()
        print(f"max throughput (wrk, {self.wrk_s} s each)", flush=True)
        for key, port, pct in order:
            if pct is not None:
                self.set_ramp(pct)
            self.wrk(key, port)
            if pct:
                self.set_ramp(0)
                self.settle()
        print("isolation: the rewrite stalled 2 s per request, answering 500, down", flush=True)
        for _ in range(2 if self.quick else 3):
            for key, pct, mode in (("iso_off", 0, "none"), ("iso_stalled", 100, "stall"), ("iso_error", 100, "error")):
                self.fault(mode)
                self.set_ramp(pct)
                self.fixed(key, self.proxy_port, self.seg_s, True)
                self.set_ramp(0)  # queued exchanges are then decided out at once
                self.fault("none")
                self.settle()
        self.fault("stall")
        self.fixed("nginx_mirror_stalled", self.ng_mirror, self.seg_s, False)
        self.fault("none")
        time.sleep(2.5)  # let nginx finish its stalled mirror subrequests
        self.new.stop()
        for _ in range(2 if self.quick else 3):
            for key, pct in (("iso_off", 0), ("iso_down", 100)):
                self.set_ramp(pct)
                self.fixed(key, self.proxy_port, self.seg_s, True)
        self.set_ramp(0)
        return {"scenarios": {k: s.to_dict() for k, s in self.scen.items()}, "max": self.max}


# -- reporting -------------------------------------------------------------------------------------

LABELS = {
    "direct": "direct to legacy", "proxy_0": "proxy, shadow 0%", "proxy_10": "proxy, shadow 10%",
    "proxy_100": "proxy, shadow 100%", "nginx_plain": "nginx, no mirror", "nginx_mirror": "nginx mirror (100%)",
    "nginx_mirror_stalled": "nginx mirror, rewrite stalled 2 s", "iso_stalled": "proxy 100%, rewrite stalled 2 s",
    "iso_error": "proxy 100%, rewrite answers 500", "iso_down": "proxy 100%, rewrite down",
    "iso_off": "proxy, shadow off (isolation baseline)",
}


def own_p99_ms(scenario: dict[str, Any]) -> float | None:
    p = scenario.get("proxy", {})
    cum = {float(k): v for k, v in p.get("overhead_buckets", {}).items()}
    q = hist_quantile(cum, 0.99) if cum else None
    return q * 1e3 if q is not None else None


def analyse(run: dict[str, Any]) -> dict[str, Any]:
    """Targets use the pooled p50 and the median over rounds of each round's p99: one noise burst from
    another tenant inflates one round's p99, and would dominate a pooled p99 (both are reported)."""
    s = run["scenarios"]
    p50 = {k: v["overall"]["p50_ms"] for k, v in s.items()}
    p99 = {k: v["overall"]["round_median_p99_ms"] for k, v in s.items()}
    pooled99 = {k: v["overall"]["p99_ms"] for k, v in s.items()}
    added = {k: {"p50": p50[k] - p50["direct"], "p99": p99[k] - p99["direct"],
                 "pooled_p99": pooled99[k] - pooled99["direct"]} for k in s}
    direct_rounds = [r["p99_ms"] for r in s["direct"]["rounds"]]
    tp = {k: v["rps"] for k, v in run["max"].items()}
    pa, na = added["proxy_100"], added["nginx_mirror"]

    def within_2x(proxy: float, nginx: float) -> bool:
        return proxy <= 2 * max(nginx, 0.0) or proxy <= 0.05

    noise = (max(direct_rounds) - min(direct_rounds)) if direct_rounds else float("nan")

    def latency_target(key: str, limit: float) -> dict[str, Any]:
        """Met only when both the client-side added p99 and the proxy's own overhead p99 are within the
        limit: a client-side difference below the noise floor alone proves nothing."""
        own = own_p99_ms(s[key])
        client_ok = added[key]["p99"] <= limit
        own_ok = own is not None and own <= limit
        note = f"; client-side difference below the noise floor ({noise:.1f} ms)" if abs(added[key]["p99"]) < noise else ""
        return {"measured": f"client-side {added[key]['p99']:+.2f} ms (pooled {added[key]['pooled_p99']:+.2f}; p50 "
                            f"{added[key]['p50']:+.2f}){note}; proxy's own overhead p99 "
                            f"{fmt(own)} ms", "met": client_ok and own_ok}

    targets = [
        {"target": f"p99 added latency <= 1 ms, shadowing off ({RATE} req/s)", **latency_target("proxy_0", 1.0)},
        {"target": f"p99 added latency <= 2 ms, shadowing 100% ({RATE} req/s)", **latency_target("proxy_100", 2.0)},
        {"target": "added p50 <= 2x nginx mirror's (100%)", "measured": f"proxy {pa['p50']:+.2f} ms vs nginx {na['p50']:+.2f} ms",
         "met": within_2x(pa["p50"], na["p50"])},
        {"target": "added p99 <= 2x nginx mirror's (100%)", "measured": f"proxy {pa['p99']:+.2f} ms vs nginx {na['p99']:+.2f} ms",
         "met": within_2x(pa["p99"], na["p99"])},
    ]
    if tp.get("direct"):
        lp, ln = 1 - tp["proxy_100"] / tp["direct"], 1 - tp["nginx_mirror"] / tp["direct"]
        targets.append({"target": "max-throughput loss <= 2x nginx mirror's (100%)",
                        "measured": f"proxy -{lp:.0%} vs nginx -{ln:.0%} of direct", "met": lp <= 2 * max(ln, 0.0)})
    off50, off99 = p50["iso_off"], p99["iso_off"]
    targets.append({
        "target": "a stalled rewrite costs the primary nothing (proxy p99 within 10% of shadow off)",
        "measured": f"proxy p99 {p99['iso_stalled']:.2f} ms vs off {off99:.2f} ms ({p99['iso_stalled'] / off99:.2f}x); "
                    f"nginx mirror p99 {p99['nginx_mirror_stalled']:.0f} ms vs {p99['nginx_mirror']:.2f} ms healthy",
        "met": p99["iso_stalled"] <= 1.10 * off99,
    })
    iso = []
    for k in ("iso_stalled", "iso_error", "iso_down"):
        p = s[k]["proxy"]
        iso.append({"key": k, "scenario": LABELS[k], "p50_ms": p50[k], "p99_ms": p99[k], "pooled_p99_ms": pooled99[k],
                    "p99_vs_off": p99[k] / off99, "within_10pct": p99[k] <= 1.10 * off99,
                    "ok": s[k]["ok"], "measured": s[k]["measured"], **p})
        targets.append({"target": f"isolation: {LABELS[k]}: primary p99 within 10% of shadow off",
                        "measured": f"{p99[k]:.2f} ms vs {off99:.2f} ms ({p99[k] / off99:.2f}x), "
                                    f"peak queue {p['peak_queue_depth']:.0f}/{QUEUE_SIZE} ({p['dropped']:.0f} shed), peak RSS "
                                    f"{p['peak_rss_mib']:.0f} MiB; proxy's own overhead p99 {fmt(own_p99_ms(s[k]))} ms vs "
                                    f"{fmt(own_p99_ms(s['iso_off']))} ms off",
                        "met": p99[k] <= 1.10 * off99 and p["peak_queue_depth"] <= QUEUE_SIZE})
    return {"added_vs_direct": added, "throughput": tp, "targets": targets, "isolation": iso,
            "shadow_off": {"p50_ms": off50, "p99_ms": off99, "pooled_p99_ms": pooled99["iso_off"]},
            "direct_round_p99_ms": direct_rounds,
            "direct_round_p99_spread_ms": max(direct_rounds) - min(direct_rounds) if direct_rounds else None}


def own_overhead(p: dict[str, Any]) -> str:
    if not p.get("overhead_count"):
        return "n/a"
    cum = {float(k): v for k, v in p.get("overhead_buckets", {}).items()}
    q50, q99 = hist_quantile(cum, 0.5), hist_quantile(cum, 0.99)
    return (f"{p['overhead_sum_s'] / p['overhead_count'] * 1e3:.3f} / {fmt(q50 * 1e3 if q50 is not None else None, 3)} / "
            f"{fmt(q99 * 1e3 if q99 is not None else None, 3)}")


def markdown_overhead(result: dict[str, Any]) -> str:
    run, an, m = result["run"], result["analysis"], result["machine"]
    s = run["scenarios"]
    lines = [
        "# Proxy overhead",
        "",
        f"{m['nproc']} CPUs ({m['cpu']}), {m['memory_gib']} GiB, {m['date_utc']}, load average at start "
        f"{m['loadavg'][0]:.2f}. Everything on one machine (load generator, legacy, rewrite, proxy, nginx, "
        "PostgreSQL/Memcached/Redis), loopback only; the machine is shared, so compare rows, not absolute values.",
        f"Fixed rate: {RATE} req/s open loop (our generator; latency from each request's due time, so coordinated "
        f"omission is corrected), {result['rounds']} interleaved rounds x {result['seg_s']} s per set-up after a 0.5 s "
        "warm-up each. p50 is over all samples pooled; p99 is the median over rounds of each round's p99 (a burst "
        "from another tenant hits one round and would dominate a pooled p99; the pooled p99 is shown too). The direct "
        f"runs' per-round p99 ranged over {fmt(an['direct_round_p99_spread_ms'])} ms "
        f"({', '.join(f'{v:.1f}' for v in an['direct_round_p99_ms'])}): differences below that are noise. "
        f"Max: `wrk -t1 -c16 -d{result['wrk_s']}s`. Read mix on {THREAD}: 1/3 `/comments` (4 sorts), 2/3 `/api/info` "
        "(8 comments). The rewrite runs in tap mode on the same machine; nginx mirrors to it too. "
        "`proxy's own overhead` is the proxy's `tapcompare_proxy_overhead_seconds` histogram over the runs (time in its "
        "handler minus the legacy call; excludes HTTP parsing, the event loop's queueing and the kernel; p50/p99 "
        "interpolated inside the buckets as Prometheus does), a view less exposed to the machine's noise.",
        "",
        "| set-up | p50 (ms) | p99 (ms) | pooled p99 (ms) | added p50 (ms) | added p99 (ms) | proxy's own overhead mean / p50 / p99 (ms) | ok / sent | max req/s | vs direct | p50 at max (ms) | p99 at max (ms) | shadow verdicts | drops |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|",
    ]
    direct_tp = an["throughput"].get("direct")
    for key in ("direct", "proxy_0", "proxy_10", "proxy_100", "nginx_plain", "nginx_mirror"):
        o, mx = s[key]["overall"], run["max"].get(key, {})
        p = s[key].get("proxy", {})
        verdicts = ", ".join(f"{k} {int(v)}" for k, v in p.get("verdicts", {}).items() if v) or ("-" if p else "n/a")
        ratio = f"{mx['rps'] / direct_tp:.2f}x" if mx.get("rps") and direct_tp else "n/a"
        lines.append(
            f"| {LABELS[key]} | {o['p50_ms']:.2f} | {o['round_median_p99_ms']:.2f} | {o['p99_ms']:.2f} | {an['added_vs_direct'][key]['p50']:+.2f} | "
            f"{an['added_vs_direct'][key]['p99']:+.2f} | "
            f"{own_overhead(p)} | "
            f"{s[key]['ok']}/{s[key]['measured']} | {fmt(mx.get('rps'), 0)} | "
            f"{ratio} | {fmt(mx.get('p50_ms'))} | {fmt(mx.get('p99_ms'))} | {verdicts} | {fmt(p.get('dropped'), 0) if p else 'n/a'} |"
        )
    lines += [
        "",
        "## A stalled rewrite (every request held 2 s): proxy vs nginx mirror",
        "",
        "| set-up | p50 (ms) | p99 (ms) | pooled p99 (ms) | max (ms) | ok / sent | statuses |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for key in ("iso_off", "iso_stalled", "nginx_mirror", "nginx_mirror_stalled"):
        o = s[key]["overall"]
        lines.append(f"| {LABELS[key]} | {o['p50_ms']:.2f} | {o['round_median_p99_ms']:.2f} | {o['p99_ms']:.2f} | {o['max_ms']:.1f} | "
                     f"{s[key]['ok']}/{s[key]['measured']} | {s[key]['statuses']} |")
    lines += [
        "",
        "nginx finalises a request only when its mirror subrequest is done, so on a keep-alive connection "
        "the next request waits for the stalled rewrite (and the client's connection pool runs dry); the proxy "
        "writes the response first and then makes one non-blocking offer to a bounded queue.",
        "",
        "## Targets",
        "",
        "| target | measured | met |",
        "|---|---|---|",
    ]
    for t in an["targets"]:
        lines.append(f"| {t['target']} | {t['measured']} | {'met' if t['met'] else '**not met**'} |")
    return "\n".join(lines) + "\n"


def markdown_isolation(result: dict[str, Any]) -> str:
    run, an = result["run"], result["analysis"]
    off = run["scenarios"]["iso_off"]
    lines = [
        "# Isolation: a faulty rewrite behind the proxy at 100% shadowing",
        "",
        f"Same read load ({RATE} req/s), interleaved with shadow-off runs (baseline pooled from "
        f"{len(off['rounds'])} runs: p50 {an['shadow_off']['p50_ms']:.2f} ms, p99 {an['shadow_off']['p99_ms']:.2f} ms, "
        f"pooled p99 {an['shadow_off']['pooled_p99_ms']:.2f} ms). p99 = median over runs of each run's p99 (see "
        "proxy_overhead.md). "
        f"Target: primary p99 within 10% of shadowing off; the shadow queue bounded (queue_size {QUEUE_SIZE}, "
        "8 workers, shadow timeout 2 s). The guard (kill switch) is disabled so the fault lasts the whole run. "
        "Queue depth sampled every 0.2 s from the proxy's /metrics; RSS is the proxy process's VmRSS after the "
        "runs and its VmHWM (peak since start: it includes every earlier run, max-throughput ones too).",
        "",
        "| rewrite | p50 (ms) | p99 (ms) | pooled p99 (ms) | p99 / off | within 10% | proxy's own overhead mean / p50 / p99 (ms) | ok / sent | peak queue depth | dropped | RSS after (MiB) | peak RSS (MiB) | verdicts |",
        "|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for i in an["isolation"]:
        verdicts = ", ".join(f"{k} {int(v)}" for k, v in i["verdicts"].items() if v)
        lines.append(
            f"| {i['scenario']} | {i['p50_ms']:.2f} | {i['p99_ms']:.2f} | {i['pooled_p99_ms']:.2f} | {i['p99_vs_off']:.2f} | "
            f"{'yes' if i['within_10pct'] else '**no**'} | {own_overhead(i)} | {i['ok']}/{i['measured']} | {i['peak_queue_depth']:.0f} / "
            f"{QUEUE_SIZE} | {i['dropped']:.0f} | {i['rss_mib_after']:.1f} | {i['peak_rss_mib']:.1f} | {verdicts} |"
        )
    off_p = run["scenarios"]["iso_off"].get("proxy", {})
    lines += ["", f"Shadow off (baseline runs): proxy's own overhead mean / p50 / p99 {own_overhead(off_p)} ms."]
    healthy = run["scenarios"]["proxy_100"]
    lines += ["", f"Healthy rewrite at 100% (overhead runs): p99 {healthy['overall']['round_median_p99_ms']:.2f} ms, peak queue depth "
              f"{healthy['proxy']['peak_queue_depth']:.0f}, dropped {healthy['proxy']['dropped']:.0f}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--from-json", type=Path, help="re-analyse a saved results/proxy_overhead.json (no run)")
    args = parser.parse_args()
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        result = {k: saved[k] for k in ("machine", "rate", "rounds", "seg_s", "wrk_s", "run")}
    else:
        install_cleanup()
        bench = Bench(args.quick)
        started = machine()
        try:
            bench.setup()
            run = bench.run()
        finally:
            cleanup()
        result = {"machine": started, "rate": RATE, "rounds": bench.rounds, "seg_s": bench.seg_s, "wrk_s": bench.wrk_s,
                  "run": run}
        RESULTS.mkdir(parents=True, exist_ok=True)  # the raw run first: a reporting bug must not lose it
        (RESULTS / "proxy_overhead.json").write_text(json.dumps(result, indent=1, default=str) + "\n")
    result["analysis"] = analyse(result["run"])
    write_result("proxy_overhead", result, markdown_overhead(result))
    write_result("isolation", {k: result[k] for k in ("machine", "rate", "rounds", "seg_s")}
                 | {"isolation": result["analysis"]["isolation"], "baseline": result["analysis"]["shadow_off"]},
                 markdown_isolation(result))


if __name__ == "__main__":
    main()
