"""The seed every contract case starts from, written by the legacy model (the reference)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from config import Settings
from sister_stores.addresses import StoreAddresses
from tests.support.paths import reddit_threads_dir


def _threads_dir() -> str:
    """TAPCOMPARE_THREADS_DIR, else the shared dataset beside the clone (../shared)."""
    return str(reddit_threads_dir())


THREADS_DIR = _threads_dir()
# Small real threads: t3_haucpf (emoji outside the BMP, stickied, distinguished, edited, gilded)
# and t3_fjn0j9 (a [deleted] comment, downvoted comments, deep replies).
CONTRACT_THREADS = ["t3_haucpf", "t3_fjn0j9"]
ACCOUNTS = ("alice", "bob", "carol", "dave")
T0 = 1700000000.0  # server time at the start of every scenario (2023-11-14T22:13:20Z)

# A constructed thread for r2's quirks (tests/contract/test_r2_behaviours.py): its own subreddit,
# which hides scores for 5 minutes after posting, and a recorded upvote ratio (a float).
R2_SUBREDDIT = "r2quirks"
R2_SUBREDDIT_ID = 36**4 + 7
R2_LINK = "t3_r2test"
R2_HIDE_MINS = 5
R2_UPVOTE_RATIO = 0.73


@dataclass(frozen=True)
class Seeded:
    """(name, parent name or None, author, ups, downs, deleted, spam, gilded, distinguished)"""

    name: str
    parent: str | None
    author: str
    ups: int
    downs: int
    deleted: bool = False
    spam: bool = False
    gilded: int = 0
    distinguished: str | None = None


# Scores chosen so each quirk shows: P/Q/P1 (best-first vs depth-first at limit 2, sort top),
# deleted leaves and parents, a removed (spam) comment, controversiality at 6, 7 and 8 votes,
# zero-upvote comments that float32 would tie, and M with 25 replies (morechildren's 20).
R2_COMMENTS: tuple[Seeded, ...] = (
    Seeded("P", None, "alice", 100, 0),
    Seeded("P1", "P", "bob", 1, 0),
    Seeded("Q", None, "bob", 50, 0),
    Seeded("DEL_LEAF", None, "carol", 3, 0, deleted=True, gilded=1),
    Seeded("DEL_PARENT", None, "carol", 2, 0, deleted=True, gilded=2, distinguished="moderator"),
    Seeded("DEL_CHILD", "DEL_PARENT", "dave", 2, 0),
    Seeded("REMOVED", None, "dave", 2, 0, spam=True, gilded=1, distinguished="moderator"),
    Seeded("REMOVED_CHILD", "REMOVED", "alice", 1, 0),
    Seeded("REMOVED_LEAF", None, "dave", 1, 0, spam=True),
    Seeded("C6", None, "alice", 3, 3),
    Seeded("C7", None, "alice", 4, 3),
    Seeded("C8", None, "alice", 5, 3),
    Seeded("Z5", None, "bob", 0, 5),
    Seeded("Z9", None, "bob", 0, 9),
    Seeded("M", None, "carol", 4, 0),
    *(Seeded(f"M{i}", "M", ("alice", "bob", "carol", "dave")[i % 4], 1 + i % 7, i % 3) for i in range(25)),
    Seeded("M0a", "M0", "dave", 1, 0),
)


async def _seed_r2_thread(st) -> dict[str, str]:
    """The constructed thread through the legacy model; returns seeded name -> comment fullname."""
    from legacy_adapter import model, things
    from legacy_adapter.codec import dt_from_epoch, from36, to36
    from legacy_adapter.seeding import ACCOUNT_DATE, _bump_sequences

    async with st.pg.acquire() as conn:
        sr = things.new_obj(R2_SUBREDDIT_ID, 0, 0, ACCOUNT_DATE,
                            {"name": R2_SUBREDDIT, "comment_score_hide_mins": R2_HIDE_MINS}, "subreddit")
        await things.insert(conn, "subreddit", sr, explicit_id=True)
        author = await things.find_by_name(conn, "account", "alice")
        link_id = from36(R2_LINK[3:])
        link = things.new_obj(link_id, 12, 2, dt_from_epoch(T0 - 86400), {
            "title": "r2 quirks", "author_id": author, "sr_id": R2_SUBREDDIT_ID, "upvote_ratio": R2_UPVOTE_RATIO,
        }, "link")
        await things.insert(conn, "link", link, explicit_id=True)
        accounts = {n: await things.find_by_name(conn, "account", n) for n in ACCOUNTS}
    names: dict[str, str] = {}
    when = dt_from_epoch(T0 - 3600)
    for i, c in enumerate(R2_COMMENTS):
        parent = ("link", link_id) if c.parent is None else ("comment", from36(names[c.parent][3:]))
        written = await model.create_comment(
            st, accounts[c.author], parent, f"seeded {c.name}: <b>&amp;</b> body", when + timedelta(seconds=i),
            ups=c.ups, downs=c.downs, deleted=c.deleted, spam=c.spam, reply_to_deleted=True,
            extra={"gilded": c.gilded, "distinguished": c.distinguished})
        names[c.name] = f"t1_{to36(written.obj['_id'])}"
    await _bump_sequences(st)
    return names


R2_NAMES: dict[str, str] = {}  # filled by the first seed (the ids are the same on every seed)


async def seed_store_set(addresses: StoreAddresses, settings: Settings) -> None:
    from legacy_adapter.consumer import Consumer
    from legacy_adapter.seeding import seed
    from legacy_adapter.store import LegacyStores

    st = await LegacyStores.open(addresses.postgres, addresses.memcached_host_port, addresses.redis,
                                 settings.stores.cdc_stream)
    try:
        await seed(st, THREADS_DIR, CONTRACT_THREADS, ACCOUNTS)
        R2_NAMES.update(await _seed_r2_thread(st))
        await Consumer(st.redis, st.stream, name="seeder").drain()
    finally:
        await st.close()
