"""Synthetic comments and requests that reach the legacy's branches real threads rarely reach.

Real threads give creates, old edits, votes and reads; they almost never give an edit inside the
3-minute window, a vote by the author on their own comment, sibling scores whose confidence order
differs between float32 and float64, non-NFC or bidi text, or requests the legacy must refuse.
Per thread, the builder adds a small probe set (marked `"synthetic": true` on seed records and
`"probe": <what it probes>` on requests), so any subset of threads still exercises every branch.
What the replay counts as exercised comes from the legacy's answers (replay/coverage.py),
never from these intentions.

Causality holds by construction: every request names a link, a seeded probe comment or a probe
create that comes earlier in the same thread's log.
"""

from __future__ import annotations

import random
from typing import Any

AUTHOR, OTHER = "probe_author", "probe_author_2"
ACCOUNTS = frozenset({AUTHOR, OTHER})
IDS_PER_THREAD = 40
MANY_CHILDREN = 24  # more than r2's morechildren cap (20) so the cap is reached
# Two siblings whose confidence order depends on r2's float32 steps: with 0 ups, the textbook
# float64 Wilson bound is exactly 0 for both (a tie: the lower id, the (0, 11), comes first), while
# r2's mixed float32/double computation leaves a tiny residue that ranks (0, 3) above (0, 11).
# Seeded as scores -10 and -2 (ups 1: the author's own vote); the author's un-votes in the log
# make them (0, 11) and (0, 3). tests/datasets checks the pair against the legacy's computation.
F32_PAIR = ((0, 11), (0, 3))

NFD_TEXT = "probe: cafe\u0301, re\u0301sume\u0301, n\u0303 (decomposed, not NFC)"
BIDI_TEXT = "probe: \u202eright-to-left override\u202c, \u2067isolate\u2069, \u200fmark"
HTML_TEXT = "probe: <b>bold</b> & \"quoted\" 'text' > edited years later"
ESCAPE_TEXT = "probe: a < b && c > d, <script>x</script>"
BLANK_TEXT = " \t\n  "


def b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


def thread_probes(rng: random.Random, link: str, post: dict[str, Any], comments: list[dict[str, Any]],
                  voters: list[str], first_id: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(seed records, log requests) of one thread's probe set; ids first_id .. first_id+IDS_PER_THREAD-1."""
    names = [f"t1_{b36(first_id + i)}" for i in range(IDS_PER_THREAD)]
    t0 = float(post.get("created_utc", 0)) + 60.0
    base = {"link": link, "distinguished": None, "stickied": False, "gilded": 0, "deleted": False, "spam": False,
            "synthetic": True}

    def seed(i: int, parent: str, author: str, body: str, score: int, *, created: float = t0, **extra: Any) -> dict:
        return {**base, "kind": "comment", "fullname": names[i], "parent": parent, "author": author, "body": body,
                "created_utc": created, "score": score, **extra}

    tie_b, tie_a, deleted, deleted_kid, deleted_leaf, spam, contro, many = names[:8]
    kids = names[8:8 + MANY_CHILDREN]
    c1, c2, refused, blank = names[32:36]
    seeds = [
        seed(0, link, AUTHOR, "probe: float32 order, 11 downs", 1 - F32_PAIR[0][1]),
        seed(1, link, AUTHOR, "probe: float32 order, 3 downs", 1 - F32_PAIR[1][1]),  # same second: new/old tie
        seed(2, link, AUTHOR, "probe: a deleted comment with a reply", 1, created=t0 + 1, deleted=True),
        seed(3, deleted, OTHER, "probe: a reply written before its parent was deleted", 1, created=t0 + 2),
        seed(4, link, AUTHOR, "probe: a deleted comment without replies", 1, created=t0 + 3, deleted=True),
        seed(5, link, OTHER, "probe: removed as spam", 3, created=t0 + 4, spam=True),
        seed(6, link, AUTHOR, "probe: controversial once voted", -2, created=t0 + 5),
        seed(7, link, OTHER, "probe: a parent of many children", 2, created=t0 + 6),
    ]
    # Children with pairwise equal scores and creation seconds: ties in every sort.
    seeds += [seed(8 + k, many, AUTHOR if k % 2 else OTHER, f"probe: child {k}", 1 + (k // 4) % 3,
                   created=t0 + 10 + k // 2) for k in range(MANY_CHILDREN)]
    v = rng.sample(voters, k=10)

    def vote(user: str, thing: str, direction: int, probe: str) -> dict[str, Any]:
        return {"op": "increment", "user": user, "thing": thing, "dir": direction, "probe": probe}

    def edit(user: str, thing: str, text: str, probe: str) -> dict[str, Any]:
        return {"op": "update", "user": user, "thing": thing, "text": text, "probe": probe}

    log: list[dict[str, Any]] = [
        {"op": "create", "user": AUTHOR, "parent": link, "text": NFD_TEXT, "ref": c1, "probe": "text.non_nfc"},
        edit(AUTHOR, c1, BIDI_TEXT, "edit.in_window (1 vote: silent); text.bidi"),
        vote(v[0], c1, 1, "votes toward the edit-window vote rule"),
        edit(AUTHOR, c1, BIDI_TEXT + " (2 votes: still silent)", "edit.in_window at 2 votes"),
        vote(v[1], c1, 1, "a third vote"),
        edit(AUTHOR, c1, "probe: three votes, the edit time is set", "edit.in_window with more than 2 votes"),
        edit(AUTHOR, c1, "probe: three votes, the edit time is set", "edit.noop"),
        vote(AUTHOR, c1, -1, "vote.self (a change from the author's own up-vote)"),
        vote(AUTHOR, c1, 0, "vote.self unvote"),
        vote(AUTHOR, c1, 1, "vote.self"),
        vote(v[2], c1, 1, "vote"),
        vote(v[2], c1, -1, "vote.change"),
        vote(v[2], c1, 0, "vote.unvote"),
        vote(AUTHOR, tie_b, 0, "confidence float32 order (the author's un-vote: 0 ups)"),
        vote(AUTHOR, tie_a, 0, "confidence float32 order (the author's un-vote: 0 ups)"),
        *(vote(v[5 + k], contro, 1, "controversiality") for k in range(3)),
        edit(AUTHOR, tie_a, HTML_TEXT, "edit.after_window; html escaping"),
        {"op": "create", "user": OTHER, "parent": c1, "text": ESCAPE_TEXT, "ref": c2, "probe": "html escaping"},
        edit(AUTHOR, deleted, "probe: an edit of a deleted comment", "edit.deleted (r2: 403)"),
        vote(v[8], deleted, 1, "vote.deleted (r2: 404)"),
        {"op": "create", "user": v[9], "parent": deleted, "text": "probe: a reply to a deleted comment", "ref": refused,
         "probe": "create.reply_to_deleted (refused)"},
        {"op": "create", "user": AUTHOR, "parent": link, "text": BLANK_TEXT, "ref": blank,
         "probe": "text.whitespace_only (r2: NO_TEXT)"},
        edit(OTHER, c2, BLANK_TEXT, "text.whitespace_only edit (r2: NO_TEXT)"),
    ]

    def comments_read(sort: str, limit: Any = 200, depth: Any = 10, **extra: Any) -> dict[str, Any]:
        return {"op": "read_comments", "link": link, "sort": sort, "limit": limit, "depth": depth, **extra}

    log += [comments_read(s, probe="ties; stubs; deleted and spam rendering")
            for s in ("confidence", "top", "new", "old", "controversial")]
    log += [
        comments_read("confidence", raw_json=True, probe="raw_json=1"),
        comments_read("top", 3, 10, probe="limit stubs"),
        comments_read("old", 200, 1, probe="depth stubs"),
        comments_read("bogus", probe="lenient sort", lenient=True),
        comments_read("confidence", "abc", probe="lenient limit", lenient=True),
        comments_read("confidence", "100000", probe="lenient limit", lenient=True),
        comments_read("new", 200, "-1", probe="lenient depth", lenient=True),
        comments_read("top", 200, "x", probe="lenient depth", lenient=True),
        {"op": "read_info", "ids": [c1, c2, tie_a, spam, deleted], "probe": "info, escaped"},
        {"op": "read_info", "ids": [c1, c2, tie_a, spam, deleted], "raw_json": True, "probe": "info, raw_json=1"},
        {"op": "read_morechildren", "link": link, "children": [k[3:] for k in kids], "sort": "confidence",
         "probe": "morechildren over the cap"},
        {"op": "read_morechildren", "link": link, "children": [k[3:] for k in kids], "sort": "top", "raw_json": True,
         "probe": "morechildren over the cap, raw_json=1"},
    ]
    return seeds, log


MALFORMED = "t1_not-base36!"  # the legacy answers NO_THING_ID (codec.from36)
REFUSAL_NAMES = 12           # seeded comments and refs write_probes uses
NO_ACCOUNT = "probe_no_such_account"  # an X-Auth-User no dataset names (pseudonyms are user_<hex>, voter_NNN)


def malformed_forms(real: str) -> list[str]:
    """Names the legacy refuses as no fullname although a lenient parser would find a thing in them:
    an existing comment's name in upper case or with a leading space, id 0, an id past 2^63-1."""
    return [real.upper(), f" {real}", "t1_0", f"t1_{b36(2**63)}"]


def write_probes(link: str, names: list[str], unknown: str, voters: list[str],
                 t0: float) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Repeats and refusals, once per dataset: the same vote, edit and create twice; an edit by
    someone else; a create, edit and vote with no auth header, an empty one and one naming no
    account (`user` null, "" and NO_ACCOUNT), naming a malformed id and naming an id
    production never assigns (`unknown`); an edit, vote and reply on a comment removed as spam
    (which the legacy accepts). Requests that name on purpose what does not exist say so in
    `"invalid"` ("user" or "target"), so the validator lets exactly that through."""
    base = {"link": link, "distinguished": None, "stickied": False, "gilded": 0, "deleted": False,
            "synthetic": True, "score": 1}
    mine, removed, voted = names[:3]
    seeds = [
        {**base, "kind": "comment", "fullname": mine, "parent": link, "author": AUTHOR, "body": "probe: mine",
         "created_utc": t0, "spam": False},
        {**base, "kind": "comment", "fullname": removed, "parent": link, "author": OTHER,
         "body": "probe: removed as spam, still editable", "created_utc": t0 + 1, "spam": True},
        {**base, "kind": "comment", "fullname": voted, "parent": link, "author": OTHER, "body": "probe: voted twice",
         "created_utc": t0 + 2, "spam": False},
    ]
    first, second, reply, no_auth, bad, nowhere, bad_upper, empty_auth, nobody, *_ = names[3:]
    voter = voters[0]

    def create(user: str | None, parent: str, ref: str, probe: str, **extra: Any) -> dict[str, Any]:
        return {"op": "create", "user": user, "parent": parent, "text": f"probe: {probe}", "ref": ref,
                "probe": probe, **extra}

    def edit(user: str | None, thing: str, text: str, probe: str, **extra: Any) -> dict[str, Any]:
        return {"op": "update", "user": user, "thing": thing, "text": text, "probe": probe, **extra}

    def vote(user: str | None, thing: str, probe: str, **extra: Any) -> dict[str, Any]:
        return {"op": "increment", "user": user, "thing": thing, "dir": 1, "probe": probe, **extra}

    twice = "probe: the same create submitted twice"
    log: list[dict[str, Any]] = [
        {"op": "create", "user": AUTHOR, "parent": link, "text": twice, "ref": first, "probe": "repeat.create"},
        {"op": "create", "user": AUTHOR, "parent": link, "text": twice, "ref": second, "probe": "repeat.create"},
        edit(AUTHOR, first, "probe: the same edit twice", "repeat.edit (in the window)"),
        edit(AUTHOR, first, "probe: the same edit twice", "repeat.edit (in the window)"),
        vote(voter, voted, "repeat.vote"),
        vote(voter, voted, "repeat.vote"),
        edit(OTHER, mine, "probe: not mine", "refusal.edit.not_author"),
        # the three ways of naming no one the legacy knows: no header, an empty one, an unknown name
        create(None, link, no_auth, "refusal.create.missing_auth", invalid="user"),
        edit(None, mine, "probe: no auth header", "refusal.edit.missing_auth", invalid="user"),
        vote(None, voted, "refusal.vote.missing_auth", invalid="user"),
        create("", link, empty_auth, "refusal.create.empty_auth", invalid="user"),
        edit("", mine, "probe: empty auth header", "refusal.edit.empty_auth", invalid="user"),
        vote("", voted, "refusal.vote.empty_auth", invalid="user"),
        create(NO_ACCOUNT, link, nobody, "refusal.create.unknown_user", invalid="user"),
        edit(NO_ACCOUNT, mine, "probe: no such account", "refusal.edit.unknown_user", invalid="user"),
        vote(NO_ACCOUNT, voted, "refusal.vote.unknown_user", invalid="user"),
        create(AUTHOR, MALFORMED, bad, "refusal.create.malformed_id", invalid="target"),
        edit(AUTHOR, MALFORMED, "probe: malformed", "refusal.edit.malformed_id", invalid="target"),
        vote(AUTHOR, MALFORMED, "refusal.vote.malformed_id", invalid="target"),
        # the same refusals naming real comments malformed (upper case, a space, 0, overflow): a rewrite
        # that parses ids leniently would write to the comment the legacy never touched
        create(AUTHOR, mine.upper(), bad_upper, "refusal.create.malformed_id", invalid="target"),
        edit(AUTHOR, mine.upper(), "probe: malformed, upper case", "refusal.edit.malformed_id", invalid="target"),
        *(vote(AUTHOR, form, "refusal.vote.malformed_id", invalid="target") for form in malformed_forms(voted)),
        create(AUTHOR, unknown, nowhere, "refusal.create.unknown_id", invalid="target"),
        edit(AUTHOR, unknown, "probe: unknown", "refusal.edit.unknown_id", invalid="target"),
        vote(AUTHOR, unknown, "refusal.vote.unknown_id", invalid="target"),
        edit(OTHER, removed, "probe: removed, edited by its author", "edit.removed_accepted"),
        vote(voter, removed, "vote.removed_accepted"),
        create(AUTHOR, removed, reply, "create.reply_to_removed_accepted"),
    ]
    return seeds, log


# The coverage rows the write probes aim at (replay/coverage.py counts them from the legacy's answers).
REFUSALS = {  # kind -> (the legacy's error code, what is wrong)
    "missing_auth": ("USER_REQUIRED", "no X-Auth-User header"),
    "empty_auth": ("USER_REQUIRED", "an empty X-Auth-User header"),
    "unknown_user": ("USER_REQUIRED", "an X-Auth-User naming no account"),
    "malformed_id": ("NO_THING_ID", "a target that is no fullname"),
    "unknown_id": ("NOT_FOUND", "a target that does not exist"),
    "not_author": ("NOT_AUTHOR", "an edit by someone else"),
}
AUTH_KINDS = ("missing_auth", "empty_auth", "unknown_user")  # one error code: told apart by the request
REFUSED_IN = {"create": (*AUTH_KINDS, "malformed_id", "unknown_id"),  # where the legacy has each refusal
              "edit": ("not_author", *AUTH_KINDS, "malformed_id", "unknown_id"),
              "vote": (*AUTH_KINDS, "malformed_id", "unknown_id")}


def refusal_kind(code: str, user: str | None) -> str | None:
    """The refusal row of a legacy error code; USER_REQUIRED by how the request named its user."""
    if code == "USER_REQUIRED":
        return "missing_auth" if user is None else "empty_auth" if not user.strip() else "unknown_user"
    return next((kind for kind, (c, _) in REFUSALS.items() if c == code), None)
WRITE_BRANCHES: dict[str, str] = {
    "repeat.vote": "the same vote by the same voter again, accepted (no change)",
    "repeat.edit_silent": "the same edit again inside the silent window, accepted with edited = false",
    "repeat.edit_timed": "the same edit again once the edit time is set, accepted with an edit time",
    "repeat.create": "the same create (user, parent, text) submitted twice, both accepted as two comments",
    **{f"refusal.{ep}.{kind}": f"{ep} refused with {REFUSALS[kind][0]} ({REFUSALS[kind][1]})"
       for ep, kinds in REFUSED_IN.items() for kind in kinds},
    "edit.removed_accepted": "edit of a comment removed as spam, by its author, accepted",
    "vote.removed_accepted": "vote on a comment removed as spam, accepted",
    "create.reply_to_removed_accepted": "reply to a comment removed as spam, accepted",
}
