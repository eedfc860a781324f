"""Seeding real threads through the legacy model: ids, dates, anonymised authors, deleted and
edited comments, scores, orphans, synthesized links, sequences and projections."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import asyncpg
from click.testing import CliRunner

from legacy_adapter.codec import from36
from legacy_adapter.seeding import _live_version, anonymise, creation_order, load_thread, score_to_votes, seed
from tests.contract.seed import THREADS_DIR
from tests.legacy.conftest import open_stores


def test_anonymise_is_deterministic_and_keeps_deleted() -> None:
    assert anonymise("Veinte") == "user_" + hashlib.sha256(b"Veinte").hexdigest()[:10] == anonymise("Veinte")
    assert anonymise("[deleted]") == "[deleted]"
    assert score_to_votes(5) == (5, 0) and score_to_votes(0) == (1, 1) and score_to_votes(-50) == (1, 51)


def test_deleted_comments_keep_a_live_snapshot_body() -> None:
    row = {"body": "[deleted]", "author": "[deleted]",
           "_other_snapshots": [{"body": "[deleted]", "author": "[deleted]"}, {"body": "real text", "author": "Veinte"}]}
    assert _live_version(row) == ("real text", "Veinte")
    assert _live_version({"body": "[removed]", "author": "x"}) == ("[removed]", "x")


def test_creation_order_puts_parents_first_and_drops_orphans() -> None:
    rows, _ = load_thread(Path(THREADS_DIR) / "t3_6wmniq.ndjson")
    ordered, orphans = creation_order(rows, "t3_6wmniq")
    assert orphans == 1 and len(ordered) == 200
    seen = set()
    for r in ordered:
        assert r["parent_id"] == "t3_6wmniq" or r["parent_id"][3:] in seen
        seen.add(r["id"])


async def test_seed_threads(stores) -> None:
    addrs = stores.production
    st = await open_stores(addrs)
    try:
        report = await seed(st, THREADS_DIR, ["t3_6wmniq", "t3_hbo4a7", "t3_fjn0j9"], ("alice",))
        again = await seed(st, THREADS_DIR, ["t3_hbo4a7"])
    finally:
        await st.close()
    assert report.threads == ["t3_6wmniq", "t3_fjn0j9", "t3_hbo4a7"]
    assert (report.comments, report.orphans_skipped, report.links_synthesized) == (364, 1, 1)
    assert report.deleted == 1 and report.events_applied == 364
    assert again.threads_already_present == 1 and again.comments == 0
    conn = await asyncpg.connect(addrs.postgres)
    try:
        row = await conn.fetchrow("SELECT ups, downs, deleted FROM reddit_thing_comment WHERE thing_id = $1",
                                  from36("ftpqnfh"))
        assert row["deleted"] is True
        names = [r["value"] for r in await conn.fetch("SELECT value FROM reddit_data_account WHERE key = 'name'")]
        assert "alice" in names and "[deleted]" in names
        assert all(n in ("alice", "[deleted]") or (n.startswith("user_") and len(n) == 15) for n in names)
        # Edited comments keep their real edit time under the misspelt key, pickled.
        edited = await conn.fetch("SELECT thing_id, kind FROM reddit_data_comment WHERE key = 'editted'")
        assert edited and {r["kind"] for r in edited} == {"pickle"}
        # The synthesized link of the thread without a post file.
        title = await conn.fetchval("SELECT value FROM reddit_data_link WHERE thing_id = $1 AND key = 'title'",
                                    from36("hbo4a7"))
        assert title == "[post hbo4a7 not recorded]"
        num = await conn.fetchval("SELECT value FROM reddit_data_link WHERE thing_id = $1 AND key = 'num_comments'",
                                  from36("6wmniq"))
        assert num == "200"
        # Sequences are above the dataset's ids.
        top = await conn.fetchval("SELECT max(thing_id) FROM reddit_thing_comment")
        assert await conn.fetchval("SELECT nextval(pg_get_serial_sequence('reddit_thing_comment', 'thing_id'))") == top + 1
        # Defaults have no rows: no gilded=0, stickied=false or parent_id for top-level comments.
        assert not await conn.fetchval("SELECT count(*) FROM reddit_data_comment WHERE (key = 'gilded' AND value = '0')"
                                       " OR (key = 'stickied' AND value = 'f') OR kind = 'none'")
    finally:
        await conn.close()
    st = await open_stores(addrs)
    try:
        tree = await st.redis.hgetall("tree:6wmniq")
        assert sum(len(json.loads(v)) for v in tree.values()) == 200
        assert b"t1_dm9ldf0" not in tree  # the orphan's missing parent
    finally:
        await st.close()


def test_cli_seed(stores, tmp_path) -> None:
    from tapcompare.commands.legacy import legacy

    for name in ("t3_haucpf.ndjson", "t3_haucpf.post.json"):
        (tmp_path / name).write_bytes((Path(THREADS_DIR) / name).read_bytes())
    p, s = stores.production, stores.sister
    env = {"TAPCOMPARE_STORES__PRODUCTION__LOCAL": "false", "TAPCOMPARE_STORES__PRODUCTION__POSTGRES": f'"{p.postgres}"',
           "TAPCOMPARE_STORES__PRODUCTION__MEMCACHED": f'"{p.memcached}"', "TAPCOMPARE_STORES__PRODUCTION__REDIS": f'"{p.redis}"',
           "TAPCOMPARE_STORES__SISTER__LOCAL": "false", "TAPCOMPARE_STORES__SISTER__POSTGRES": f'"{s.postgres}"',
           "TAPCOMPARE_STORES__SISTER__MEMCACHED": f'"{s.memcached}"', "TAPCOMPARE_STORES__SISTER__REDIS": f'"{s.redis}"'}
    result = CliRunner().invoke(legacy, ["seed", "--threads", str(tmp_path), "--account", "zed"], env=env, obj={})
    assert result.exit_code == 0, result.output
    assert "comments: 51" in result.output and "accounts: " in result.output
