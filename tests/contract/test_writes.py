"""Golden contract of the three writes (and reads of their results): creates, replies to
replies, astral emoji, the 10,000-character limit, edits inside and outside the 3-minute window
and with more than 2 votes, votes changing direction and un-voting; then every write error, each
shown to leave all three stores unchanged."""

from __future__ import annotations

from tests.contract.seed import T0
from tests.contract.harness import Session
from tests.contract.stores_state import snapshot

LINK = "t3_haucpf"
SEEDED_MOD_COMMENT = "t1_fv51rzs"   # stickied, distinguished; by the post's moderator
SEEDED_MOD_AUTHOR = "user_aa297c36ec"  # anonymised (user_ + sha256(name)[:10])
DELETED_COMMENT = "t1_ftpqnfh"      # [deleted] in t3_fjn0j9
EMOJI_TEXT = "astral \U0001F600\U0001F923 \U0001F44F\U0001F3FD and BMP \u00e9\u2764"
LONG_TEXT = "x" * 9999 + "\U0001F600"  # 10,000 code points (10,001 UTF-16 units)


def created(reply) -> dict:
    assert reply.status == 200, reply.body
    return reply.json()["json"]["data"]["things"][0]["data"]


async def test_writes_contract(contract) -> None:
    url, clock, addresses = contract
    s = Session(url, "writes")
    try:
        c1 = created(await s.step("create top-level", "POST", "/api/comment",
                                  form={"thing_id": LINK, "text": "First! A contract comment."},
                                  user="alice", request_id="req-c1"))
        clock.advance(1)
        c2 = created(await s.step("reply", "POST", "/api/comment",
                                  form={"thing_id": c1["name"], "text": "a reply"}, user="bob"))
        clock.advance(1)
        c3 = created(await s.step("reply to a reply", "POST", "/api/comment",
                                  form={"thing_id": c2["name"], "text": "a reply to a reply"}, user="carol"))
        clock.advance(1)
        c4 = created(await s.step("create with emoji outside the BMP", "POST", "/api/comment",
                                  form={"thing_id": LINK, "text": EMOJI_TEXT}, user="dave"))
        clock.advance(1)
        c5 = created(await s.step("create 10,000 characters", "POST", "/api/comment",
                                  form={"thing_id": c4["name"], "text": LONG_TEXT}, user="alice"))
        await s.step("create 10,001 characters is TOO_LONG", "POST", "/api/comment",
                     form={"thing_id": LINK, "text": LONG_TEXT + "y"}, user="alice")

        clock.set(T0 + 60)
        silent = created(await s.step("edit inside the 3-minute window is silent", "POST", "/api/editusertext",
                                      form={"thing_id": c1["name"], "text": "First! (fixed a typo)"}, user="alice"))
        clock.set(T0 + 200)
        late = created(await s.step("edit after the window sets edited", "POST", "/api/editusertext",
                                    form={"thing_id": c1["name"], "text": "First! (edited later)"}, user="alice"))
        clock.set(T0 + 70)
        for voter in ("carol", "dave"):
            await s.step(f"upvote by {voter}", "POST", "/api/vote", form={"id": c2["name"], "dir": "1"}, user=voter)
        clock.set(T0 + 75)
        voted_edit = created(await s.step("edit inside the window with 3 votes sets edited", "POST",
                                          "/api/editusertext", form={"thing_id": c2["name"], "text": "a reply, edited"},
                                          user="bob"))
        for step, (voter, direction) in enumerate((("alice", "1"), ("alice", "-1"), ("alice", "0"), ("alice", "0"),
                                                   ("bob", "-1"), ("dave", "-1"))):
            await s.step(f"vote {step}: {voter} {direction}", "POST", "/api/vote",
                         form={"id": c3["name"], "dir": direction}, user=voter, request_id=f"req-v{step}")
        await s.step("author re-upvotes (no change)", "POST", "/api/vote", form={"id": c3["name"], "dir": "1"},
                     user="carol")
        clock.set(T0 + 300)
        await s.step("edit an old seeded comment by its author", "POST", "/api/editusertext",
                     form={"thing_id": SEEDED_MOD_COMMENT, "text": "Yes, folks, this is really Rick Astley. [edit]"},
                     user=SEEDED_MOD_AUTHOR)
        info = await s.step("info of the new comments", "GET", "/api/info",
                            {"id": ",".join(c["name"] for c in (c1, c2, c3, c4, c5))})
        for c in (c1, c2, c3, c4, c5):
            await s.wait_listed("haucpf", c["id"])
        await s.step("thread after writes, new", "GET", "/comments/haucpf", {"sort": "new", "limit": "8"})
        await s.step("thread after writes, controversial", "GET", "/comments/haucpf",
                     {"sort": "controversial", "limit": "6"})
        await s.step("thread after writes, confidence depth 2", "GET", "/comments/haucpf", {"depth": "2", "limit": "9"})
        await s.step("morechildren of the new subtree", "GET", "/api/morechildren",
                     {"link_id": LINK, "children": f"{c1['id']},{c4['id']}", "sort": "old"})
        await write_errors(s, addresses, c1["name"])
    finally:
        await s.close()
    s.check()

    # --- independent quirk checks -------------------------------------------------------------
    assert c1["created_utc"] == T0 and c1["created"] == T0 + 28800 and c1["edited"] is False
    assert c1["parent_id"] == LINK and c2["parent_id"] == c1["name"] and c3["parent_id"] == c2["name"]
    assert c1["score"] == c1["ups"] == 1 and c1["downs"] == 0 and c1["replies"] == ""
    assert int(c2["id"], 36) == int(c1["id"], 36) + 1
    assert c4["body"] == EMOJI_TEXT and len(c5["body"]) == 10000
    assert silent["edited"] is False and silent["body"] == "First! (fixed a typo)"
    assert late["edited"] == T0 + 200
    assert voted_edit["edited"] == T0 + 75 and voted_edit["score"] == 3
    by_name = {t["data"]["name"]: t["data"] for t in info.json()["data"]["children"]}
    # three votes (1 up, 2 down): below the 7-vote floor of controversiality
    assert by_name[c3["name"]]["score"] == -1 and by_name[c3["name"]]["controversiality"] == 0
    assert b"\\ud83d\\ude00\\ud83e\\udd23" in info.body


WRITE_ERRORS = [
    # (name, path, form, user)
    ("create without user", "/api/comment", {"thing_id": LINK, "text": "hi"}, None),
    ("create by unknown user", "/api/comment", {"thing_id": LINK, "text": "hi"}, "mallory"),
    ("create without thing_id", "/api/comment", {"text": "hi"}, "alice"),
    ("create on an account", "/api/comment", {"thing_id": "t2_1", "text": "hi"}, "alice"),
    ("create on empty id", "/api/comment", {"thing_id": "t1_", "text": "hi"}, "alice"),
    ("create on uppercase id", "/api/comment", {"thing_id": "t3_HAUCPF", "text": "hi"}, "alice"),
    ("create without text", "/api/comment", {"thing_id": LINK}, "alice"),
    ("create with empty text", "/api/comment", {"thing_id": LINK, "text": ""}, "alice"),
    ("create not utf-8", "/api/comment", b"thing_id=t3_haucpf&text=caf%e9", "alice"),
    ("create lone surrogate", "/api/comment", b"thing_id=t3_haucpf&text=%ed%a0%bd", "alice"),
    ("create with a NUL character", "/api/comment", {"thing_id": LINK, "text": "a\x00b"}, "alice"),
    ("edit with a NUL character", "/api/editusertext", {"thing_id": "C1", "text": "\x00"}, "alice"),
    ("create on unknown link", "/api/comment", {"thing_id": "t3_zzzzzz", "text": "hi"}, "alice"),
    ("reply to unknown comment", "/api/comment", {"thing_id": "t1_zzzzzzz", "text": "hi"}, "alice"),
    ("reply to deleted comment", "/api/comment", {"thing_id": DELETED_COMMENT, "text": "hi"}, "alice"),
    ("edit without user", "/api/editusertext", {"thing_id": "C1", "text": "x"}, None),
    ("edit a link", "/api/editusertext", {"thing_id": LINK, "text": "x"}, "alice"),
    ("edit without text", "/api/editusertext", {"thing_id": "C1"}, "alice"),
    ("edit too long", "/api/editusertext", {"thing_id": "C1", "text": "z" * 10001}, "alice"),
    ("edit by another user", "/api/editusertext", {"thing_id": "C1", "text": "x"}, "bob"),
    ("edit unknown comment", "/api/editusertext", {"thing_id": "t1_zzzzzzz", "text": "x"}, "alice"),
    ("edit deleted comment", "/api/editusertext", {"thing_id": DELETED_COMMENT, "text": "x"}, "[deleted]"),
    ("vote without user", "/api/vote", {"id": "C1", "dir": "1"}, None),
    ("vote without id", "/api/vote", {"dir": "1"}, "bob"),
    ("vote on a link", "/api/vote", {"id": LINK, "dir": "1"}, "bob"),
    ("vote dir 2", "/api/vote", {"id": "C1", "dir": "2"}, "bob"),
    ("vote dir +1", "/api/vote", {"id": "C1", "dir": "+1"}, "bob"),
    ("vote without dir", "/api/vote", {"id": "C1"}, "bob"),
    ("vote on unknown comment", "/api/vote", {"id": "t1_zzzzzzz", "dir": "1"}, "bob"),
    ("vote on deleted comment", "/api/vote", {"id": DELETED_COMMENT, "dir": "-1"}, "bob"),
    ("vote not utf-8", "/api/vote", b"id=t1_fv51rzs&dir=%80", "bob"),
]


async def write_errors(s: Session, addresses, c1_name: str) -> None:
    before = await snapshot(addresses)
    for name, path, form, user in WRITE_ERRORS:
        if isinstance(form, dict):
            form = {k: (c1_name if v == "C1" else v) for k, v in form.items()}
        reply = await s.step(name, "POST", path, form=form, user=user)
        assert reply.status in (400, 403, 404), (name, reply.status, reply.body)
        assert list(reply.json()) == ["json"] and len(reply.json()["json"]["errors"]) == 1
        after = await snapshot(addresses)
        assert after == before, f"{name}: a failed request changed a store"
