"""`tapcompare ramp` against the real Redis, as an operator would use it."""

from __future__ import annotations

import gzip
import json
import multiprocessing
import socket

import aiohttp
from click.testing import CliRunner

from tapcompare.commands.ramp import ramp
from tests.support.waiting import eventually


def test_ramp_cli_set_show_kill(stores) -> None:
    runner = CliRunner()
    env = {"TAPCOMPARE_PROXY__RAMP_REDIS": stores.sister.redis}
    result = runner.invoke(ramp, ["set", "comments", "2.5", "--why", "first threads"], env=env, obj={})
    assert result.exit_code == 0, result.output
    assert "comments: 0% -> 2.5%" in result.output
    assert runner.invoke(ramp, ["set", "comments", "101"], env=env, obj={}).exit_code != 0
    assert runner.invoke(ramp, ["set", "nope", "1"], env=env, obj={}).exit_code != 0
    result = runner.invoke(ramp, ["kill", "--why", "incident"], env=env, obj={})
    assert result.exit_code == 0 and "comments (was 2.5%)" in result.output
    shown = json.loads(runner.invoke(ramp, ["show", "--json"], env=env, obj={}).output)
    assert shown["ramp"]["comments"] == 0
    assert [(a["endpoint"], a["to_pct"], a["why"]) for a in shown["audit"]] == \
        [("comments", 0.0, "incident"), ("comments", 2.5, "first threads")]
    assert shown["audit"][0]["who"].startswith("cli:")
    assert runner.invoke(ramp, ["show"], env=env, obj={}).exit_code == 0


def _serve_proxy(port: int, legacy_url: str, redis_url: str) -> None:
    """A child process: the proxy app served as `tapcompare proxy serve` serves it."""
    from config import ProxySettings
    from shadow_proxy.app import create_app, serve_forever
    from tests.proxy.conftest import EqualityComparator
    from tests.proxy.standins import TAP_SECRET

    app = create_app(ProxySettings(admin_token="test-admin-token", guard_enabled=False), legacy_url=legacy_url,
                     new_url="http://127.0.0.1:9", tap_secret=TAP_SECRET, ramp_redis_url=redis_url,
                     comparator=EqualityComparator())
    serve_forever(app, "127.0.0.1", port)


async def test_the_served_proxy_passes_a_compressed_request_body_on_unchanged(stores, legacy) -> None:
    """serve_forever's handler options hold: a gzip request body reaches the legacy still compressed
    (aiohttp would otherwise decompress it and the legacy would get plain bytes labelled gzip)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    child = multiprocessing.get_context("spawn").Process(target=_serve_proxy,
                                                          args=(port, legacy.url, stores.sister.redis))
    child.start()
    url = f"http://127.0.0.1:{port}"
    body = gzip.compress(b"id=t1_1&dir=1", mtime=0)
    headers = {"Content-Encoding": "gzip", "Content-Type": "application/x-www-form-urlencoded", "X-Auth-User": "alice"}
    try:
        async with aiohttp.ClientSession(auto_decompress=False) as client:
            async def up() -> bool:
                try:
                    async with client.get(f"{url}/health") as resp:
                        return resp.status == 200
                except aiohttp.ClientError:
                    return False
            await eventually(up, timeout=20.0, every=0.05, what="the served proxy's /health")
            async with client.post(f"{url}/api/vote", data=body, headers=headers) as resp:
                assert resp.status == 200, await resp.text()
        assert legacy.state.seen[-1]["body"] == b"id=t1_1&dir=1"  # the legacy decompressed it itself
    finally:
        child.terminate()
        child.join(10)
