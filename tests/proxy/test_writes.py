"""Writes reach the new service carrying the legacy's identity; refused ones too, with one of the proxy's."""

from __future__ import annotations

import asyncio

from diff_reports.types import VerdictKind, VerdictRecord
from legacy_adapter.codec import to36
from traffic.identity import refused_create_id
from traffic.shadowed import ComparisonJob
from tests.proxy.conftest import metric, set_ramp, settle
from tests.proxy.standins import TAP_SECRET

USER = {"X-Auth-User": "alice"}


class RecordingValidator:
    def __init__(self) -> None:
        self.writes: list[ComparisonJob] = []

    async def validate(self, write: ComparisonJob) -> list[VerdictRecord]:
        self.writes.append(write)
        return [VerdictRecord(f"{write.endpoint}.postgres.parity", VerdictKind.MATCH, write.entity, write.request_id)]


async def test_create_carries_the_legacy_identity(proxy, legacy, new, client) -> None:
    validator = RecordingValidator()
    proxy.runtime.runner.validator = validator
    await set_ramp(proxy, create=100, update=100, increment=100)
    headers = {**USER, "X-Request-Id": "req-create", "X-Tap-Thing-Id": "999", "X-Tap-Secret": "forged"}
    async with client.post(proxy.url + "/api/comment", data={"thing_id": "t1_1", "text": "hi"}, headers=headers) as r:
        assert r.status == 200
        created = (await r.json())["json"]["data"]["things"][0]["data"]
    async with client.post(proxy.url + "/api/editusertext", data={"thing_id": created["name"], "text": "edit"},
                           headers=USER) as r:
        assert r.status == 200
    async with client.post(proxy.url + "/api/vote", data={"id": created["name"], "dir": "1"}, headers=USER) as r:
        assert r.status == 200
    await settle(proxy, 3)

    sent = new.state.seen[0]
    assert sent["path"] == "/api/comment" and sent["body"] == legacy.state.seen[0]["body"]
    assert sent["headers"]["X-Tap-Secret"] == TAP_SECRET
    assert sent["headers"]["X-Tap-Thing-Id"] == str(int(created["id"], 36))
    assert sent["headers"]["X-Tap-Request-Time"] == "1763683200.000000"
    assert sent["headers"]["X-Request-Id"] == "req-create"
    assert "X-Tap-Thing-Id" not in new.state.seen[1]["headers"]
    assert new.state.seen[1]["headers"]["X-Tap-Request-Time"] == "1763683200.000000"
    for path in ("create.response", "update.response", "increment.response"):
        assert proxy.sink.count(path, "match") == 1, proxy.sink.by_path()
    assert proxy.sink.count("create.postgres.parity", "match") == 1
    write = validator.writes[0]
    assert (write.kind, write.endpoint, write.entity, write.link) == ("write", "create", created["name"], "t3_a")
    assert write.request_time == "1763683200.000000" and write.auth_user == "alice"
    assert write.request.body == legacy.state.seen[0]["body"]
    assert validator.writes[2].link == "t3_a"  # the vote's thread, learned from the create response


async def test_writes_the_legacy_refused_are_shadowed_with_an_identity_production_never_assigns(
        proxy, new, client) -> None:
    validator = RecordingValidator()
    proxy.runtime.runner.validator = validator
    await set_ramp(proxy, create=100, increment=100)
    async with client.post(proxy.url + "/api/comment", data={"thing_id": "t3_a", "text": "x"},
                           headers={"X-Request-Id": "req-refused"}) as r:
        assert r.status == 403  # no user
    async with client.post(proxy.url + "/api/vote", data={"id": "t1_1", "dir": "7"}, headers=USER) as r:
        assert r.status == 400
    await settle(proxy, 2)
    assert [seen["path"] for seen in new.state.seen] == ["/api/comment", "/api/vote"]
    create_headers = new.state.seen[0]["headers"]
    assert int(create_headers["X-Tap-Thing-Id"]) == refused_create_id("req-refused") >= 2**62
    assert "X-Tap-Request-Time" not in create_headers  # the legacy gave none with its refusal
    assert proxy.sink.count("create.response", "match") == 1  # both refused alike
    assert proxy.sink.count("increment.response", "match") == 1
    assert [(w.endpoint, w.legacy_status) for w in validator.writes] == [("create", 403), ("increment", 400)]
    assert validator.writes[0].entity == f"t1_{to36(refused_create_id('req-refused'))}"
    assert metric(proxy, "tapcompare_proxy_shadow_skipped_total", endpoint="increment",
                  reason="legacy_rejected") == 0


async def test_a_stuck_validator_times_out_into_unavailable_verdicts(proxy_factory, legacy, new, client) -> None:
    class Stuck:
        async def validate(self, write: ComparisonJob) -> list[VerdictRecord]:
            await asyncio.Event().wait()
            return []

    async with proxy_factory(legacy.url, new.url, validate_timeout_s=0.1) as proxy:
        proxy.runtime.runner.validator = Stuck()
        await set_ramp(proxy, increment=100)
        async with client.post(proxy.url + "/api/vote", data={"id": "t1_1", "dir": "1"}, headers=USER) as r:
            assert r.status == 200
        await settle(proxy, 1)
        assert proxy.sink.count("increment.response", "match") == 1
        assert proxy.sink.count(verdict="unavailable") == 6  # increment x 3 stores x 2 checks
        assert metric(proxy, "tapcompare_proxy_shadow_raised_total", operation="validate") == 1
