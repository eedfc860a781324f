"""End to end: the real legacy and the real rewrite (tap mode) behind the proxy, real comparator.

The stand-in tests pin the proxy's behaviour; this one shows the parts fit: byte-identical
primaries, the rewrite honouring the proxy's tap identity, verdicts from the real comparison core.
"""

from __future__ import annotations

import pytest

from config import NewServiceSettings, Settings
from shadow_proxy.app import PROXY, create_app
from judge.recording import InMemorySink
from tests.contract.seed import THREADS_DIR
from tests.proxy.conftest import ADMIN_TOKEN, ProxyHandle, serve, set_ramp, settle
from tests.support.stores import READONLY_ROLE

THREAD = "t3_haucpf"
SECRET = "proxy-e2e-tap-secret"


@pytest.fixture
async def real_services(stores):
    from legacy_adapter.app import create_app as legacy_app
    from legacy_adapter.seeding import seed
    from legacy_adapter.store import LegacyStores
    from new_comments_service.app import create_app as new_app

    settings = Settings(new_service=NewServiceSettings(mode="tap", tap_secret=SECRET, readonly_role=READONLY_ROLE,
                                                       memcached_pool_threads=4))
    prod = stores.production
    st = await LegacyStores.open(prod.postgres, prod.memcached_host_port, prod.redis, settings.stores.cdc_stream)
    try:
        await seed(st, THREADS_DIR, [THREAD], ("alice",))
    finally:
        await st.close()
    legacy_runner, legacy_url = await serve(legacy_app(prod, settings, consume=True))
    new_runner, new_url = await serve(new_app(settings, prod, stores.sister))
    try:
        yield settings, legacy_url, new_url
    finally:
        await new_runner.cleanup()
        await legacy_runner.cleanup()


async def test_real_legacy_and_rewrite_behind_the_proxy(real_services, stores, client) -> None:
    from diff_reports.configure import comparator_from_settings

    settings, legacy_url, new_url = real_services
    proxy_settings = settings.proxy.model_copy(update={"admin_token": ADMIN_TOKEN, "guard_enabled": False})
    sink = InMemorySink()
    app = create_app(proxy_settings, legacy_url=legacy_url, new_url=new_url, tap_secret=SECRET,
                     ramp_redis_url=stores.sister.redis, comparator=comparator_from_settings(settings), sink=sink)
    runner, url = await serve(app)
    try:
        proxy = ProxyHandle(url, app[PROXY], sink)
        await set_ramp(proxy, info=100, comments=100, create=100)
        reads = [f"/comments/{THREAD[3:]}?sort=top&limit=20", f"/api/info?id={THREAD}", "/api/info?id=t1_BAD"]
        for path in reads:
            async with client.get(legacy_url + path) as direct, client.get(url + path) as proxied:
                assert (proxied.status, await proxied.read()) == (direct.status, await direct.read()), path
        # Reads settle first: a read shadowed after a later write landed would be a race, not a bug.
        await settle(proxy, len(reads))
        async with client.post(url + "/api/comment", data={"thing_id": THREAD, "text": "through the proxy"},
                               headers={"X-Auth-User": "alice"}) as resp:
            assert resp.status == 200, await resp.text()
        await settle(proxy, len(reads) + 1)
        # t1_BAD is dropped by both sides (r2 ignores malformed names), so that read is compared too
        assert sink.by_path() == {"read.comments.response": {"match": 1}, "read.info.response": {"match": 2},
                                  "create.response": {"match": 1}}, [r.to_dict() for r in sink.records]
    finally:
        await runner.cleanup()
