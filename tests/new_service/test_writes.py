"""Every write's exact effects on PostgreSQL, Memcached and the CDC stream (primary mode)."""

from __future__ import annotations

import json
import pickle
from datetime import datetime, timezone

from aiohttp.test_utils import TestClient

from tests.new_service.support import (
    ALICE, BOB, LINK, LINK36, SEQUENCE_FLOOR, SR, FakeClock, data_rows, meta_get, stream_events, thing_row, votes,
)
from tests.support.stores import StoreSets

UTC = timezone.utc
FIRST = SEQUENCE_FLOOR + 1


def _t36(n: int) -> str:
    from new_comments_service.ids import to36
    return to36(n)


async def post(client: TestClient, path: str, user: str | None, **form: str):
    headers = {"X-Auth-User": user} if user else {}
    return await client.post(path, data=form, headers=headers)


async def test_create_top_level_comment_effects(primary: TestClient, seeded: StoreSets, clock: FakeClock) -> None:
    prod = seeded.production
    resp = await post(primary, "/api/comment", "alice", thing_id=f"t3_{LINK36}", text="hello \U0001F600 world")
    assert resp.status == 200
    assert resp.headers["Content-Type"] == "application/json; charset=UTF-8"
    assert resp.headers["X-Request-Time"] == "1700000000.250000"
    body = await resp.read()
    created_utc = 1700000000.0
    expected = (
        '{"json": {"errors": [], "data": {"things": [{"kind": "t1", "data": {'
        f'"subreddit_id": "t5_5", "link_id": "t3_{LINK36}", "likes": null, "replies": "", "id": "{_t36(FIRST)}", '
        f'"gilded": 0, "author": "alice", "parent_id": "t3_{LINK36}", "score": 1, '
        '"body": "hello \\ud83d\\ude00 world", "edited": false, "downs": 0, "subreddit": "pics", '
        f'"name": "t1_{_t36(FIRST)}", "created": {created_utc + 28800}, "created_utc": {created_utc}, "ups": 1, '
        '"distinguished": null, "stickied": false, "controversiality": 0}}]}}}'
    )
    assert body.decode() == expected

    date = datetime(2023, 11, 14, 22, 13, 20, 250000, tzinfo=UTC)
    assert await thing_row(prod.postgres, "comment", FIRST) == {
        "ups": 1, "downs": 0, "deleted": False, "spam": False, "date": date, "version": 1}
    assert await data_rows(prod.postgres, "comment", FIRST) == {
        "body": ("hello \U0001F600 world", "str"), "author_id": (str(ALICE), "num"),
        "link_id": (str(LINK), "num"), "sr_id": (str(SR), "num")}
    assert await votes(prod.postgres, FIRST) == {ALICE: ("1", date)}
    assert (await data_rows(prod.postgres, "link", LINK))["num_comments"] == ("1", "num")

    entry = meta_get(prod, f"comment:{FIRST}")
    assert entry is not None and entry.flags == 1 and 43000 < entry.ttl <= 43200
    expected_obj = {"_id": FIRST, "_ups": 1, "_downs": 0, "_deleted": False, "_spam": False, "_date": date,
                    "_version": 1, "_t": {"author_id": ALICE, "body": "hello \U0001F600 world", "link_id": LINK,
                                          "sr_id": SR}}
    assert entry.obj == expected_obj
    assert entry.value == pickle.dumps(expected_obj, protocol=2)  # a plain dict, protocol 2
    assert entry.value[:2] == b"\x80\x02"

    (event,) = await stream_events(prod)
    fullname = f"t1_{_t36(FIRST)}"
    assert event == {
        "event_id": f"{fullname}:1", "type": "comment_created", "fullname": fullname, "link": f"t3_{LINK36}",
        "parent": f"t3_{LINK36}", "version": "1", "ts": "1700000000.250000", "request_id": "",
        "changes": '{"author_id":[null,11],"body":[null,"hello \\ud83d\\ude00 world"],"downs":[null,0],'
                   f'"link_id":[null,{LINK}],"sr_id":[null,5],"ups":[null,1]}}',
    }


async def test_reply_stores_parent_and_bumps_link_again(primary: TestClient, seeded: StoreSets) -> None:
    prod = seeded.production
    await post(primary, "/api/comment", "alice", thing_id=f"t3_{LINK36}", text="top")
    resp = await post(primary, "/api/comment", "bob", thing_id=f"t1_{_t36(FIRST)}", text="reply")
    assert resp.status == 200
    reply = FIRST + 1
    rows = await data_rows(prod.postgres, "comment", reply)
    assert rows["parent_id"] == (str(FIRST), "num") and rows["author_id"] == (str(BOB), "num")
    assert (await data_rows(prod.postgres, "link", LINK))["num_comments"] == ("2", "num")
    events = await stream_events(prod)
    assert events[1]["parent"] == f"t1_{_t36(FIRST)}"
    assert json.loads(events[1]["changes"])["parent_id"] == [None, FIRST]
    assert (await resp.json())["json"]["data"]["things"][0]["data"]["parent_id"] == f"t1_{_t36(FIRST)}"


async def test_early_edit_is_silent_late_edit_sets_editted(primary: TestClient, seeded: StoreSets,
                                                           clock: FakeClock) -> None:
    prod = seeded.production
    await post(primary, "/api/comment", "alice", thing_id=f"t3_{LINK36}", text="v1")
    clock.advance(180)  # exactly 180 s old: not "older than 180 s"
    resp = await post(primary, "/api/editusertext", "alice", thing_id=f"t1_{_t36(FIRST)}", text="v2")
    assert resp.status == 200
    assert (await resp.json())["json"]["data"]["things"][0]["data"]["edited"] is False
    rows = await data_rows(prod.postgres, "comment", FIRST)
    assert rows["body"] == ("v2", "str") and "editted" not in rows
    assert (await thing_row(prod.postgres, "comment", FIRST))["version"] == 2
    events = await stream_events(prod)
    assert events[-1]["type"] == "comment_edited" and events[-1]["changes"] == '{"body":["v1","v2"]}'
    assert events[-1]["event_id"] == f"t1_{_t36(FIRST)}:2"

    clock.advance(1.5)
    resp = await post(primary, "/api/editusertext", "alice", thing_id=f"t1_{_t36(FIRST)}", text="v3")
    when = datetime.fromtimestamp(1700000000.25 + 181.5, UTC)
    data = (await resp.json())["json"]["data"]["things"][0]["data"]
    assert data["edited"] == float(int(when.timestamp())) and data["body"] == "v3"
    rows = await data_rows(prod.postgres, "comment", FIRST)
    value, kind = rows["editted"]
    assert kind == "pickle"
    assert value == pickle.dumps(when, protocol=0).decode("latin-1")  # protocol 0, latin-1 text
    assert pickle.loads(value.encode("latin-1")) == when
    entry = meta_get(prod, f"comment:{FIRST}")
    assert entry.obj["_t"]["editted"] == when and entry.obj["_version"] == 3 and entry.obj["_t"]["body"] == "v3"
    changes = json.loads((await stream_events(prod))[-1]["changes"])
    assert changes == {"body": ["v2", "v3"], "editted": [False, when.timestamp()]}


async def test_edit_of_young_comment_with_votes_sets_editted(primary: TestClient, seeded: StoreSets,
                                                             clock: FakeClock) -> None:
    await post(primary, "/api/comment", "alice", thing_id=f"t3_{LINK36}", text="v1")
    for user in ("bob", "carol"):
        await post(primary, "/api/vote", user, id=f"t1_{_t36(FIRST)}", dir="1")
    clock.advance(10)
    await post(primary, "/api/editusertext", "alice", thing_id=f"t1_{_t36(FIRST)}", text="v2")
    rows = await data_rows(seeded.production.postgres, "comment", FIRST)
    assert rows["editted"][1] == "pickle"


async def test_vote_changes_and_unvotes(primary: TestClient, seeded: StoreSets, clock: FakeClock) -> None:
    prod = seeded.production
    await post(primary, "/api/comment", "alice", thing_id=f"t3_{LINK36}", text="x")
    fullname = f"t1_{_t36(FIRST)}"
    steps = [("1", (2, 0), 2, [0, 1]), ("1", (2, 0), 2, None), ("-1", (1, 1), 3, [1, -1]),
             ("0", (1, 0), 4, [-1, 0])]
    for direction, (ups, downs), version, vote_change in steps:
        clock.advance(1)
        before = len(await stream_events(prod))
        resp = await post(primary, "/api/vote", "bob", id=fullname, dir=direction)
        assert resp.status == 200 and await resp.read() == b"{}" and "X-Request-Time" in resp.headers
        row = await thing_row(prod.postgres, "comment", FIRST)
        assert (row["ups"], row["downs"], row["version"]) == (ups, downs, version)
        events = await stream_events(prod)
        if vote_change is None:  # the same vote again: nothing happens
            assert len(events) == before
            continue
        changes = json.loads(events[-1]["changes"])
        assert changes["vote"] == vote_change and changes["ups"][1] == ups and changes["downs"][1] == downs
        assert events[-1]["type"] == "comment_voted" and events[-1]["version"] == str(version)
        assert meta_get(prod, f"comment:{FIRST}").obj["_ups"] == ups
    assert (await votes(prod.postgres, FIRST))[BOB][0] == "0"
    # the lock key was deleted after each update
    assert meta_get(prod, f"lock:comment:{FIRST}") is None


async def test_errors_change_no_store(primary: TestClient, seeded: StoreSets) -> None:
    prod = seeded.production
    await post(primary, "/api/comment", "alice", thing_id=f"t3_{LINK36}", text="x")
    snapshot = (await data_rows(prod.postgres, "comment", FIRST), await thing_row(prod.postgres, "comment", FIRST),
                await stream_events(prod), meta_get(prod, f"comment:{FIRST}").value)
    fullname = f"t1_{_t36(FIRST)}"
    cases = [
        (("/api/comment", None), {"thing_id": f"t3_{LINK36}", "text": "x"}, 403, "USER_REQUIRED", None),
        (("/api/comment", "mallory"), {"thing_id": f"t3_{LINK36}", "text": "x"}, 403, "USER_REQUIRED", None),
        (("/api/comment", "bob"), {"thing_id": "t3_", "text": "x"}, 400, "NO_THING_ID", "thing_id"),
        (("/api/comment", "bob"), {"thing_id": "t2_b", "text": "x"}, 400, "NO_THING_ID", "thing_id"),
        (("/api/comment", "bob"), {"thing_id": f"t3_{LINK36}", "text": ""}, 400, "NO_TEXT", "text"),
        (("/api/comment", "bob"), {"thing_id": f"t3_{LINK36}", "text": "a" * 10001}, 400, "TOO_LONG", "text"),
        (("/api/comment", "bob"), {"thing_id": "t3_zzz", "text": "x"}, 404, "NOT_FOUND", "thing_id"),
        (("/api/editusertext", "bob"), {"thing_id": fullname, "text": "y"}, 403, "NOT_AUTHOR", "thing_id"),
        (("/api/editusertext", "alice"), {"thing_id": f"t3_{LINK36}", "text": "y"}, 400, "NO_THING_ID", "thing_id"),
        (("/api/vote", "bob"), {"id": fullname, "dir": "2"}, 400, "INVALID_OPTION", "dir"),
        (("/api/vote", "bob"), {"id": "t1_zzzz", "dir": "1"}, 404, "NOT_FOUND", "id"),
    ]
    for (path, user), form, status, code, field in cases:
        resp = await post(primary, path, user, **form)
        assert resp.status == status, (path, form)
        body = await resp.json()
        assert body["json"]["errors"][0][0] == code and body["json"]["errors"][0][2] == field
    resp = await primary.post("/api/comment", data=b"thing_id=t3_1&text=%FF", headers={
        "X-Auth-User": "bob", "Content-Type": "application/x-www-form-urlencoded"})
    assert resp.status == 400 and (await resp.json())["json"]["errors"][0][0] == "BAD_ENCODING"
    resp = await post(primary, "/api/editusertext", "alice", thing_id=fullname, text="a\x00b")
    assert resp.status == 400 and (await resp.json())["json"]["errors"][0][0] == "BAD_ENCODING"
    after = (await data_rows(prod.postgres, "comment", FIRST), await thing_row(prod.postgres, "comment", FIRST),
             await stream_events(prod), meta_get(prod, f"comment:{FIRST}").value)
    assert after == snapshot
    assert (await data_rows(prod.postgres, "link", LINK))["num_comments"] == ("1", "num")


async def test_deleted_comment_refuses_reply_edit_vote(primary: TestClient, seeded: StoreSets) -> None:
    from tests.new_service.support import fetch
    await post(primary, "/api/comment", "alice", thing_id=f"t3_{LINK36}", text="x")
    await fetch(seeded.production.postgres, "UPDATE reddit_thing_comment SET deleted = true WHERE thing_id = $1", FIRST)
    fullname = f"t1_{_t36(FIRST)}"
    for path, form, status, code in (("/api/comment", {"thing_id": fullname, "text": "r"}, 400, "DELETED_COMMENT"),
                                     ("/api/editusertext", {"thing_id": fullname, "text": "e"}, 403, "FORBIDDEN"),
                                     ("/api/vote", {"id": fullname, "dir": "1"}, 404, "NOT_FOUND")):
        resp = await post(primary, path, "alice", **form)
        assert (resp.status, (await resp.json())["json"]["errors"][0][0]) == (status, code), path
    info = await (await primary.get(f"/api/info?id={fullname}")).json()
    assert info["data"]["children"][0]["data"]["body"] == "[deleted]"
    assert info["data"]["children"][0]["data"]["author"] == "[deleted]"
    assert len(await stream_events(seeded.production)) == 1


async def test_concurrent_votes_are_serialised(primary: TestClient, seeded: StoreSets) -> None:
    import asyncio
    prod = seeded.production
    await post(primary, "/api/comment", "alice", thing_id=f"t3_{LINK36}", text="x")
    fullname = f"t1_{_t36(FIRST)}"
    replies = await asyncio.gather(*(post(primary, "/api/vote", user, id=fullname, dir=d)
                                     for user, d in (("bob", "1"), ("carol", "1"), ("alice", "-1"))))
    assert [r.status for r in replies] == [200, 200, 200]
    row = await thing_row(prod.postgres, "comment", FIRST)
    assert (row["ups"], row["downs"], row["version"]) == (2, 1, 4)
    events = await stream_events(prod)
    assert sorted(e["version"] for e in events[1:]) == ["2", "3", "4"]
    # each event's old values chain into the next one's: no lost update
    chain = sorted((int(e["version"]), json.loads(e["changes"])) for e in events[1:])
    for (_, a), (_, b) in zip(chain, chain[1:]):
        assert a["ups"][1] == b["ups"][0] and a["downs"][1] == b["downs"][0]
    assert meta_get(prod, f"comment:{FIRST}").obj["_version"] == 4


async def test_failure_late_in_a_create_rolls_back_everything(primary: TestClient, seeded: StoreSets) -> None:
    from tests.new_service.support import fetch
    prod = seeded.production
    # a corrupt num_comments makes the create's last statement (the link bump) fail
    await fetch(prod.postgres, "INSERT INTO reddit_data_link VALUES ($1, 'num_comments', 'garbage', 'num')", LINK)
    resp = await post(primary, "/api/comment", "alice", thing_id=f"t3_{LINK36}", text="x")
    assert resp.status == 500
    assert await fetch(prod.postgres, "SELECT 1 FROM reddit_thing_comment") == []
    assert await fetch(prod.postgres, "SELECT 1 FROM reddit_data_comment") == []
    assert await fetch(prod.postgres, "SELECT 1 FROM reddit_rel_vote_account_comment") == []
    assert await stream_events(prod) == [] and meta_get(prod, f"comment:{FIRST}") is None
