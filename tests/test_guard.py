"""The prod-vs-sister guard refuses a sister store that is a production store."""

from __future__ import annotations

import pytest

from config import settings_from_mapping
from sister_stores import SameStoreError, StoreAddresses, check_distinct, resolve_store_sets

PROD = StoreAddresses("postgresql://u@127.0.0.1:5432/comments", "127.0.0.1:11211", "redis://127.0.0.1:6379/0")


def test_distinct_sets_pass() -> None:
    check_distinct(PROD, StoreAddresses("postgresql://u@127.0.0.1:5433/comments", "127.0.0.1:11212", "redis://127.0.0.1:6379/1"))


def test_same_database_via_localhost_is_refused_naming_both() -> None:
    sister = StoreAddresses("postgresql://other@localhost:5432/comments", "127.0.0.1:11212", "redis://127.0.0.1:6379/1")
    with pytest.raises(SameStoreError) as info:
        check_distinct(PROD, sister)
    msg = str(info.value)
    assert "postgres" in msg and "localhost:5432/comments" in msg and "127.0.0.1:5432/comments" in msg
    assert "memcached" not in msg.split("\n", 1)[1]


def test_every_clash_is_listed() -> None:
    sister = StoreAddresses("postgresql://u@[::1]:5432/comments", "localhost:11211", "redis://localhost:6379/0")
    with pytest.raises(SameStoreError) as info:
        check_distinct(PROD, sister)
    msg = str(info.value)
    for store in ("postgres:", "memcached:", "redis:"):
        assert store in msg


def test_other_database_on_same_server_is_allowed() -> None:
    check_distinct(PROD, StoreAddresses("postgresql://u@127.0.0.1:5432/sister", "127.0.0.1:11212", "redis://127.0.0.1:6379/3"))


def test_component_start_up_refuses_through_settings() -> None:
    """resolve_store_sets is what every component calls before opening stores."""
    same = {"postgres": "postgresql://u@127.0.0.1:5432/comments", "memcached": "127.0.0.1:11211", "redis": "redis://127.0.0.1:6379/0"}
    settings = settings_from_mapping({"stores": {"production": {"local": False, **same}, "sister": {"local": False, **same}}})
    with pytest.raises(SameStoreError) as info:
        resolve_store_sets(settings)
    assert "sister 'postgresql://u@127.0.0.1:5432/comments' is the production store" in str(info.value)
