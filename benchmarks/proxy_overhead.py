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
import shutil
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness.common import (  # noqa: E402
    ADMIN_TOKEN, HARNESS, READONLY_ROLE, RESULTS, TAP_SECRET, TAPCOMPARE, Proc, fmt, free_ports, http_get,
    http_json, measured, run_async, run_loadgen, run_wrk, start_stores, stores_prepare,
    toml_stores, write_result,
)
from harness.overhead_report import (  # noqa: E402
    QUEUE_SIZE, RATE, SISTER_KINDS, THREAD, analyse, markdown_isolation, markdown_overhead,
)
from harness.prom import buckets, scrape, total  # noqa: E402
from harness.proxy_rig import DepthPoller, nginx_conf, read_paths, seed_production, summarise  # noqa: E402
from harness.write_mix import FORM, WRITER, write_mix  # noqa: E402

ENDPOINTS = ("info", "comments", "create", "update", "increment")
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


WRITE_SETUPS = 6  # the write mix runs on every set-up but proxy_10


class Bench:
    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.rounds = 2 if quick else 5
        self.iso_rounds = 2 if quick else 3
        self.seg_s = 3
        self.wrk_s = 3 if quick else 5
        self.scen: dict[str, Scenario] = {}
        self.write_pos = 0
        self.max: dict[str, Any] = {}

    def setup(self) -> None:
        self.stack = stack = start_stores("proxy")
        self.work = stack.tmp
        names = run_async(seed_production(stack))
        self.requests = read_paths(names)
        self.names = names
        (self.legacy_port, self.new_port, self.proxy_port, self.ng_plain, self.ng_mirror, self.stream_port,
         self.worker_port) = free_ports(7)
        self.cfg = stack.tmp / "bench.toml"
        self.cfg.write_text(
            toml_stores(stack)
            + f"\n[legacy]\nport = {self.legacy_port}\n"
            f'\n[new_service]\nport = {self.new_port}\nmode = "tap"\ntap_secret = "{TAP_SECRET}"\n'
            f'readonly_role = "{READONLY_ROLE}"\n'
            f'\n[proxy]\nport = {self.proxy_port}\nadmin_token = "{ADMIN_TOKEN}"\nguard_enabled = false\n'
            f"queue_size = {QUEUE_SIZE}\n"
        )
        # The out-of-process layout: a second proxy publishing to the jobs stream, a `tapcompare worker` judging.
        self.stream_cfg = stack.tmp / "bench-stream.toml"
        self.stream_cfg.write_text(self.cfg.read_text().replace(
            f"port = {self.proxy_port}\n", f'port = {self.stream_port}\ncompare_mode = "stream"\n'))
        stores_prepare(self.cfg)  # what `proxy serve` checks at start-up: role, sister schema, results database
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
        self.stream_proxy = Proc("proxy_stream", [TAPCOMPARE, "--config", str(self.stream_cfg), "proxy", "serve", "--port",
                                                  str(self.stream_port), "--log-level", "WARNING"], self.work, port=self.stream_port)
        self.worker = Proc("worker", [TAPCOMPARE, "--config", str(self.stream_cfg), "worker", "--port", str(self.worker_port),
                                      "--consumer", "bench-0"], self.work, port=self.worker_port)
        from urllib.parse import urlencode
        from urllib.request import Request, urlopen

        own = []
        self.set_ramp(100)  # the writer's own comments (the write mix edits them), shadowed so both sides hold them
        for i in range(4):
            req = Request(f"http://127.0.0.1:{self.proxy_port}/api/comment", method="POST", headers={**FORM, "X-Auth-User": WRITER},
                          data=urlencode({"thing_id": THREAD, "text": f"benchmark own comment {i}"}).encode())
            with urlopen(req, timeout=10) as resp:
                own.append(json.loads(resp.read())["json"]["data"]["things"][0]["data"]["name"])
        self.set_ramp(0)
        self.settle()
        self.writes = write_mix(self.requests, names, own, self.writes_needed())
        for port in (self.legacy_port, self.ng_plain, self.ng_mirror, self.proxy_port, self.new_port, self.stream_port):
            for r in self.requests[:3]:
                status, _ = http_get(f"http://127.0.0.1:{port}{r['path']}")
                assert status == 200, (port, r, status)

    def writes_needed(self) -> int:
        """Every write-mix run takes fresh requests: the rounds' runs (one per write set-up), the sister-store
        isolation runs, and the smoke's."""
        per_run = int(RATE * (self.seg_s + 0.5)) + 1
        sister_runs = self.iso_rounds * (1 + len(SISTER_KINDS))  # the write-mix isolation baseline + one per store
        return (self.rounds * WRITE_SETUPS + 2 + sister_runs) * per_run  # + the smoke's two write-mix runs

    def smoke(self) -> dict[str, Any]:
        """The set-up's bounded check (tests/benchmarks): one short run through the proxy at 100%; every
        request answered 200 and the proxy judged shadow exchanges. Nothing is written to results/."""
        self.set_ramp(100)
        res = self.fixed("smoke_proxy_100", self.proxy_port, 1.0, True)
        wres = self.fixed("smoke_stream_100_writes", self.stream_port, 1.0, True, self.writes)
        # The sister-store isolation step: a store killed under the write mix, then started again.
        self.stack.local.stop_one("sister", "redis", kill=True)
        try:
            down = self.fixed("smoke_sister_redis_down", self.proxy_port, 1.0, True, self.writes)
        finally:
            self.stack.local.start_one("sister", "redis")
        self.set_ramp(0)
        self.settle(10)
        proxy = self.scen["smoke_proxy_100"].proxy
        worker = scrape(self.worker_port)
        return {"ok": res["ok"], "measured": res["measured"], "statuses": res["statuses"],
                "verdicts": proxy.get("verdicts", {}), "overhead_count": proxy.get("overhead_count", 0),
                "stream": {"ok": wres["ok"], "measured": wres["measured"], "statuses": wres["statuses"],
                           "by_label": sorted(wres["by_label"]),
                           "worker_jobs": total(worker, "tapcompare_worker_jobs_total")},
                "sister_down": {"ok": down["ok"], "measured": down["measured"], "statuses": down["statuses"],
                                "verdicts": self.scen["smoke_sister_redis_down"].proxy.get("verdicts", {})}}

    # -- controls ------------------------------------------------------------------------------
    def set_ramp(self, pct: float) -> None:
        auth = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        for port in (self.proxy_port, self.stream_port):
            base = f"http://127.0.0.1:{port}/admin/ramp"
            for endpoint in ENDPOINTS:
                http_json("PUT", f"{base}/{endpoint}", {"pct": pct, "why": "benchmark"}, auth)
            deadline = time.monotonic() + 10
            while True:
                _, body = http_get(base, headers=auth)
                view = json.loads(body).get("this_proxy", {})
                if all(float(view.get(e, -1)) == float(pct) for e in ENDPOINTS):
                    break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"proxy on {port} did not pick up ramp {pct}: {view}")
                time.sleep(0.05)

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
    def fixed(self, key: str, port: int, seconds: float, through_proxy: bool,
              requests: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        if requests is None:
            requests = self.requests
        else:  # the write mix: fresh writes every run (creates and votes never repeat a state)
            n = int(RATE * (seconds + 0.5)) + 1
            start = self.write_pos
            self.write_pos += n
            requests = requests[start:start + n]
            if len(requests) < n:  # a short mix would measure a different rate, or nothing (an empty list)
                raise RuntimeError(f"write mix exhausted at {key}: {len(requests)} of {n} requests left "
                                   f"(writes_needed() sizes it for {self.rounds} rounds)")
        spec = {"base": f"http://127.0.0.1:{port}", "requests": requests, "rate": RATE,
                "duration_s": seconds, "warmup_s": 0.5, "drain_s": 6.0, "timeout_s": 10.0, "connections": 64}
        before = scrape(port) if through_proxy else {}
        poller = DepthPoller(port) if through_proxy else None
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
            after = scrape(port)

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
                "rss_mib": (self.proxy_rss("VmRSS", port) or 0) / 1024,
                "peak_rss_mib": (self.proxy_rss("VmHWM", port) or 0) / 1024,
            })
        o = res["overall"]
        print(f"  {key:22s} {RATE}/s: p50 {o['p50_ms']:7.2f} ms  p99 {o['p99_ms']:8.2f} ms  ok {res['ok']}/{res['measured']}"
              + (f"  peak depth {poller.peak:.0f}" if poller else ""), flush=True)
        return res

    def proxy_rss(self, field: str, port: int | None = None) -> int | None:
        pid = self.stream_proxy.pid if port == self.stream_port else self.proxy.pid
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
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
            ("proxy_100", self.proxy_port, 100), ("stream_100", self.stream_port, 100),
            ("nginx_plain", self.ng_plain, None), ("nginx_mirror", self.ng_mirror, None),
        ]
        # The write mix (one in ten a write) on the same set-ups, interleaved with the read mix in every round.
        worder = [("w_" + k, port, pct) for k, port, pct in order if k != "proxy_10"]
        assert len(worder) == WRITE_SETUPS, worder
        print(f"proxy overhead: {self.rounds} interleaved rounds of {self.seg_s} s per set-up at {RATE} req/s, "
              "read mix and write mix (10% writes)", flush=True)
        both = [(k, port, pct, False) for k, port, pct in order] + [(k, port, pct, True) for k, port, pct in worder]
        for rnd in range(self.rounds):
            shift = rnd * 3 % len(both)
            for key, port, pct, writes in both[shift:] + both[:shift]:
                if pct is not None:
                    self.set_ramp(pct)
                self.fixed(key, port, self.seg_s, pct is not None, self.writes if writes else None)
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
        for _ in range(self.iso_rounds):
            for key, pct, mode in (("iso_off", 0, "none"), ("iso_stalled", 100, "stall"), ("iso_error", 100, "error")):
                self.fault(mode)
                self.set_ramp(pct)
                self.fixed(key, self.proxy_port, self.seg_s, True)
                self.set_ramp(0)  # queued exchanges are then decided out at once
                self.fault("none")
                self.settle()
        print("isolation: each sister store stopped (killed) under the write mix at 100%", flush=True)
        for _ in range(self.iso_rounds):
            self.fixed("w_iso_off", self.proxy_port, self.seg_s, True, self.writes)
            for kind in SISTER_KINDS:
                # The ramp first: the control plane (ramp state) lives in the sister Redis, so with it
                # down the proxies keep the ramp they hold, and a ramp change would be refused (503).
                self.set_ramp(100)
                self.stack.local.stop_one("sister", kind, kill=True)
                try:
                    self.fixed(f"w_iso_sister_{kind}_down", self.proxy_port, self.seg_s, True, self.writes)
                finally:
                    self.stack.local.start_one("sister", kind)
                self.set_ramp(0)
                self.settle()
        self.fault("stall")
        self.fixed("nginx_mirror_stalled", self.ng_mirror, self.seg_s, False)
        self.fault("none")
        time.sleep(2.5)  # let nginx finish its stalled mirror subrequests
        self.new.stop()
        for _ in range(self.iso_rounds):
            for key, pct in (("iso_off", 0), ("iso_down", 100)):
                self.set_ramp(pct)
                self.fixed(key, self.proxy_port, self.seg_s, True)
        self.set_ramp(0)
        return {"scenarios": {k: s.to_dict() for k, s in self.scen.items()}, "max": self.max}


# -- reporting -------------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--from-json", type=Path, help="re-analyse a saved results/proxy_overhead.json (no run)")
    parser.add_argument("--smoke", action="store_true",
                        help="set-up check only: start everything, one 1 s run at 100%%, print JSON; writes no results")
    args = parser.parse_args()
    if args.smoke:
        bench = Bench(True)
        bench.run = bench.smoke  # type: ignore[method-assign]
        _, out = measured(bench)
        print(json.dumps(out))
        return
    if args.from_json:
        saved = json.loads(args.from_json.read_text())
        result = {k: saved[k] for k in ("machine", "rate", "rounds", "seg_s", "wrk_s", "run")}
    else:
        bench = Bench(args.quick)
        started, run = measured(bench)
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
