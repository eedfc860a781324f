"""The proxy benchmark's rig: the seeded thread, the read cycle, nginx's configuration (plain
`proxy_pass` and `mirror`), a queue-depth sampler and the latency summary."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from harness.common import Stack, prepare_legacy_db
from harness.loadgen import pct as percentile
from harness.overhead_report import THREAD
from harness.prom import scrape, total
from harness.write_mix import VOTERS, WRITER


async def seed_production(stack: Stack) -> list[str]:
    """The legacy schema and the seeded thread on production; the first eight comments' fullnames."""
    report = await prepare_legacy_db(stack.production, [THREAD], ("bench_reader", WRITER, *VOTERS))
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
