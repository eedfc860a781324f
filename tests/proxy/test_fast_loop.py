"""The primary path does only what it needs: one kept-alive connection to the legacy for requests
in a row, and no Exchange built for an endpoint at 0%."""

from __future__ import annotations

import pytest

import shadow_proxy.forward as forward
from tests.proxy.conftest import set_ramp, settle
from tests.proxy.test_isolation import primaries


async def test_requests_in_a_row_reuse_one_connection_to_the_legacy(proxy, legacy, client) -> None:
    await primaries(client, proxy.url, 10)
    peers = {seen["peer"] for seen in legacy.state.seen}
    assert len(legacy.state.seen) == 10 and len(peers) == 1, peers


async def test_no_exchange_is_built_for_an_endpoint_at_zero(proxy, client, monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[str] = []
    real = forward.Exchange

    def counting(**fields):
        built.append(fields["endpoint"])
        return real(**fields)

    monkeypatch.setattr(forward, "Exchange", counting)
    await set_ramp(proxy, comments=0, info=100)
    await primaries(client, proxy.url, 4)
    async with client.get(f"{proxy.url}/api/info?id=t1_1") as resp:
        assert resp.status == 200
    await settle(proxy, 5)
    assert built == ["info"]
