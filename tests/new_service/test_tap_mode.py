"""Tap mode: identity headers, refusal, read-only production access, hydration without double-apply.

The legacy backend is being written concurrently, so its production effects are produced here by
the new service itself in primary mode (the spec says both produce the same); the tap-mode
service then gets the same request with the legacy's identity, and the sister set must end up
holding exactly what production holds.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest
from aiohttp.test_utils import TestClient, TestServer

from new_comments_service.app import create_app
from new_comments_service.ids import to36
from new_comments_service.state import BACKEND
from sister_stores.databases import readonly_dsn
from tests.new_service.conftest import TAP_SECRET, settings
from tests.new_service.support import (
    LINK, LINK36, SEQUENCE_FLOOR, FakeClock, data_rows, fetch, meta_get, stream_events, thing_row, votes,
)
from tests.support.stores import READONLY_ROLE, StoreSets

FIRST = SEQUENCE_FLOOR + 1


@pytest.fixture
async def tap_client(seeded: StoreSets) -> AsyncIterator[TestClient]:
    # A clock far from the legacy's: only the carried X-Tap-Request-Time may be used.
    app = create_app(settings("tap"), seeded.production, seeded.sister, FakeClock(1_800_000_000.0))
    async with TestClient(TestServer(app)) as client:
        yield client


async def legacy(primary: TestClient, path: str, user: str, request_id: str, **form: str) -> tuple[dict, str]:
    """The legacy stand-in writes production; returns (json, X-Request-Time)."""
    resp = await primary.post(path, data=form, headers={"X-Auth-User": user, "X-Request-Id": request_id})
    assert resp.status == 200, await resp.text()
    return await resp.json(), resp.headers["X-Request-Time"]


async def shadow(tap: TestClient, path: str, user: str, request_id: str, request_time: str,
                 tap_thing_id: int | None = None, **form: str):
    headers = {"X-Auth-User": user, "X-Request-Id": request_id, "X-Tap-Secret": TAP_SECRET,
               "X-Tap-Request-Time": request_time}
    if tap_thing_id is not None:
        headers["X-Tap-Thing-Id"] = str(tap_thing_id)
    return await tap.post(path, data=form, headers=headers)


async def comment_state(dsn: str, comment_id: int) -> tuple:
    return (await thing_row(dsn, "comment", comment_id), await data_rows(dsn, "comment", comment_id),
            {k: v for k, v in (await votes(dsn, comment_id)).items()})


async def assert_parity(stores: StoreSets, comment_id: int) -> None:
    assert await comment_state(stores.sister.postgres, comment_id) == \
        await comment_state(stores.production.postgres, comment_id)
    prod_entry = meta_get(stores.production, f"comment:{comment_id}")
    sister_entry = meta_get(stores.sister, f"comment:{comment_id}")
    assert sister_entry.obj == prod_entry.obj and sister_entry.flags == prod_entry.flags == 1
    assert sister_entry.value == prod_entry.value
    assert (await stream_events(stores.sister))[-1] == (await stream_events(stores.production))[-1]


async def test_tap_create_with_legacy_identity_matches_production(primary: TestClient, tap_client: TestClient,
                                                                   seeded: StoreSets) -> None:
    body, when = await legacy(primary, "/api/comment", "alice", "req-1", thing_id=f"t3_{LINK36}", text="hi")
    prod_events = len(await stream_events(seeded.production))
    resp = await shadow(tap_client, "/api/comment", "alice", "req-1", when, tap_thing_id=FIRST,
                        thing_id=f"t3_{LINK36}", text="hi")
    assert resp.status == 200
    assert await resp.json() == body  # same answer, byte for byte after decoding
    assert resp.headers["X-Request-Time"] == when and resp.headers["X-Tap-Hydration"] == "rewound"
    await assert_parity(seeded, FIRST)
    # the link was hydrated as it was before this create, then bumped: same count as production
    assert await data_rows(seeded.sister.postgres, "link", LINK) == await data_rows(seeded.production.postgres, "link", LINK)
    # nothing reached production: no new event, no lock or cache key written there by the tap
    assert len(await stream_events(seeded.production)) == prod_events


async def test_tap_vote_hydrates_state_before_the_legacy_vote(primary: TestClient, tap_client: TestClient,
                                                               seeded: StoreSets) -> None:
    await legacy(primary, "/api/comment", "alice", "req-c", thing_id=f"t3_{LINK36}", text="hi")
    await legacy(primary, "/api/vote", "carol", "req-v0", id=f"t1_{to36(FIRST)}", dir="-1")
    # the sister set never saw this comment; bob's vote is the first shadowed write on it
    _, when = await legacy(primary, "/api/vote", "bob", "req-v1", id=f"t1_{to36(FIRST)}", dir="1")
    prod_cached = meta_get(seeded.production, f"comment:{FIRST}")
    resp = await shadow(tap_client, "/api/vote", "bob", "req-v1", when, id=f"t1_{to36(FIRST)}", dir="1")
    assert resp.status == 200 and await resp.read() == b"{}"
    assert meta_get(seeded.production, f"comment:{FIRST}").value == prod_cached.value  # production cache untouched
    assert resp.headers["X-Tap-Hydration"] == "rewound"
    assert (await thing_row(seeded.sister.postgres, "comment", FIRST))["ups"] == 2  # applied once, not twice
    await assert_parity(seeded, FIRST)
    # a changed vote afterwards: plain path, still equal
    _, when = await legacy(primary, "/api/vote", "bob", "req-v2", id=f"t1_{to36(FIRST)}", dir="-1")
    resp = await shadow(tap_client, "/api/vote", "bob", "req-v2", when, id=f"t1_{to36(FIRST)}", dir="-1")
    assert resp.headers["X-Tap-Hydration"] == "present"
    await assert_parity(seeded, FIRST)


async def test_tap_edit_hydrates_old_body(primary: TestClient, tap_client: TestClient, seeded: StoreSets,
                                          clock: FakeClock) -> None:
    await legacy(primary, "/api/comment", "alice", "req-c", thing_id=f"t3_{LINK36}", text="first")
    clock.advance(300)
    await legacy(primary, "/api/editusertext", "alice", "req-e1", thing_id=f"t1_{to36(FIRST)}", text="second")
    clock.advance(5)
    body, when = await legacy(primary, "/api/editusertext", "alice", "req-e2", thing_id=f"t1_{to36(FIRST)}",
                              text="third")
    resp = await shadow(tap_client, "/api/editusertext", "alice", "req-e2", when, thing_id=f"t1_{to36(FIRST)}",
                        text="third")
    assert resp.status == 200 and resp.headers["X-Tap-Hydration"] == "rewound"
    assert await resp.json() == body
    await assert_parity(seeded, FIRST)


async def test_tap_without_legacy_event_copies_current_state(primary: TestClient, tap_client: TestClient,
                                                              seeded: StoreSets) -> None:
    await legacy(primary, "/api/comment", "alice", "req-c", thing_id=f"t3_{LINK36}", text="hi")
    resp = await shadow(tap_client, "/api/vote", "bob", "req-unknown", "1700000999.000000",
                        id=f"t1_{to36(FIRST)}", dir="1")
    assert resp.status == 200 and resp.headers["X-Tap-Hydration"] == "current"


async def test_tap_headers_refused_outside_tap_or_without_secret(primary: TestClient, tap_client: TestClient,
                                                                  seeded: StoreSets) -> None:
    form = {"thing_id": f"t3_{LINK36}", "text": "x"}
    attempts = [
        (primary, {"X-Tap-Secret": TAP_SECRET}),                                # right secret, wrong mode
        (primary, {"X-Tap-Thing-Id": "5"}),
        (tap_client, {"X-Tap-Secret": "wrong-secret", "X-Tap-Thing-Id": "5"}),  # wrong secret
        (tap_client, {"X-Tap-Thing-Id": "5"}),                                  # no secret
        (tap_client, {"X-Tap-Secret": TAP_SECRET, "X-Tap-Request-Time": "soon"}),
    ]
    for client, headers in attempts:
        resp = await client.post("/api/comment", data=form, headers={"X-Auth-User": "alice", **headers})
        assert resp.status == 403, headers
        assert (await resp.json())["json"]["errors"][0][0] == "TAP_REFUSED"
        if "X-Tap-Request-Time" not in headers:  # a read ignores the (write) identity headers' values
            resp = await client.get(f"/comments/{LINK36}", headers=headers)
            assert resp.status == 403
    for addrs in (seeded.production, seeded.sister):
        assert await fetch(addrs.postgres, "SELECT 1 FROM reddit_thing_comment") == []
        assert await stream_events(addrs) == []


async def test_tap_reads_production_through_readonly_role(primary: TestClient, tap_client: TestClient,
                                                          seeded: StoreSets) -> None:
    await legacy(primary, "/api/comment", "alice", "req-c", thing_id=f"t3_{LINK36}", text="hi")
    direct = await (await primary.get(f"/comments/{LINK36}")).read()
    tapped = await tap_client.get(f"/comments/{LINK36}")
    assert tapped.status == 200 and await tapped.read() == direct
    # every store the tap writes is a sister store; production is reached only by reads
    backend = tap_client.app[BACKEND]
    assert backend.cache._server == seeded.sister.memcached_host_port
    assert backend.redis.connection_pool.connection_kwargs["port"] == int(seeded.sister.redis.rsplit(":", 1)[1].split("/")[0])
    assert backend.write_db.store == "sister" and backend.read_db.store == "production"
    # the service's own production pool is the read-only role: a write through it fails
    assert await backend.read_db.fetchval("SELECT current_user") == READONLY_ROLE
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await backend.read_db.execute("UPDATE reddit_thing_comment SET ups = ups + 1")
    conn = await asyncpg.connect(readonly_dsn(seeded.production.postgres, READONLY_ROLE))
    try:
        assert await conn.fetchval("SELECT count(*) FROM reddit_thing_comment") == 1
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("INSERT INTO reddit_data_link VALUES (1, 'title', 'x', 'str')")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("UPDATE reddit_thing_comment SET ups = ups + 1")
    finally:
        await conn.close()


async def test_tap_hydration_reports_a_later_production_write_as_raced(primary: TestClient, tap_client: TestClient,
                                                                        seeded: StoreSets) -> None:
    await legacy(primary, "/api/comment", "alice", "req-c", thing_id=f"t3_{LINK36}", text="hi")
    _, when = await legacy(primary, "/api/vote", "bob", "req-v1", id=f"t1_{to36(FIRST)}", dir="1")
    await legacy(primary, "/api/vote", "carol", "req-v2", id=f"t1_{to36(FIRST)}", dir="1")  # lands before the shadow
    resp = await shadow(tap_client, "/api/vote", "bob", "req-v1", when, id=f"t1_{to36(FIRST)}", dir="1")
    assert resp.status == 200 and resp.headers["X-Tap-Hydration"] == "raced"
    row = await thing_row(seeded.sister.postgres, "comment", FIRST)
    assert (row["ups"], row["version"]) == (2, 2)  # bob's vote applied once on the rewound state


async def test_tap_link_rewind_sees_a_create_committed_while_the_row_was_read(
        primary: TestClient, tap_client: TestClient, seeded: StoreSets, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another create commits and publishes between the copy's read of the link row and its read of
    production's stream: the rewind must describe the row it copied (counted once, never twice)."""
    from new_comments_service import hydration

    for n in range(2):  # earlier comments, so a count off by one is not hidden at zero
        await legacy(primary, "/api/comment", "carol", f"req-p{n}", thing_id=f"t3_{LINK36}", text=f"earlier {n}")
    _, when = await legacy(primary, "/api/comment", "alice", "req-c1", thing_id=f"t3_{LINK36}", text="one")
    reads, original = [], hydration._production_events

    async def production_events(b):
        reads.append(1)
        if len(reads) == 2:  # just after the first row read: the second create lands in production
            await legacy(primary, "/api/comment", "bob", "req-c2", thing_id=f"t3_{LINK36}", text="two")
        return await original(b)
    monkeypatch.setattr(hydration, "_production_events", production_events)
    resp = await shadow(tap_client, "/api/comment", "alice", "req-c1", when, tap_thing_id=FIRST + 2,
                        thing_id=f"t3_{LINK36}", text="one")
    assert resp.status == 200 and resp.headers["X-Tap-Hydration"] == "rewound"
    prod_count = (await data_rows(seeded.production.postgres, "link", LINK)).get("num_comments")
    sister_count = (await data_rows(seeded.sister.postgres, "link", LINK)).get("num_comments")
    assert int(sister_count[0]) == int(prod_count[0]) - 1, (sister_count, prod_count)  # the second is still to come


async def test_tap_link_rewind_waits_for_a_committed_create_to_be_published(
        primary: TestClient, tap_client: TestClient, seeded: StoreSets, monkeypatch: pytest.MonkeyPatch) -> None:
    """A create in production's row whose event never reaches the stream: the copy cannot know
    whether to count it, waits its bounded time and says `raced`."""
    from new_comments_service import hydration

    monkeypatch.setattr(hydration, "CATCH_UP_S", 0.2)
    _, when = await legacy(primary, "/api/comment", "alice", "req-c1", thing_id=f"t3_{LINK36}", text="one")
    conn = await asyncpg.connect(seeded.production.postgres)
    try:  # a later comment of the link, committed without an event
        await conn.execute("INSERT INTO reddit_data_comment (thing_id, key, value, kind) VALUES ($1, 'link_id', $2, 'num')",
                           FIRST + 5, str(LINK))
    finally:
        await conn.close()
    resp = await shadow(tap_client, "/api/comment", "alice", "req-c1", when, tap_thing_id=FIRST,
                        thing_id=f"t3_{LINK36}", text="one")
    assert resp.status == 200 and resp.headers["X-Tap-Hydration"] == "raced"
