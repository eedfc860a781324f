"""The seed every contract case starts from, written by the legacy model (the reference)."""

from __future__ import annotations


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


async def seed_store_set(addresses: StoreAddresses, settings: Settings) -> None:
    from legacy_adapter.seeding import seed
    from legacy_adapter.store import LegacyStores

    st = await LegacyStores.open(addresses.postgres, addresses.memcached_host_port, addresses.redis,
                                 settings.stores.cdc_stream)
    try:
        await seed(st, THREADS_DIR, CONTRACT_THREADS, ACCOUNTS)
    finally:
        await st.close()
