"""Per-write scoping: a write is judged on what it changed, minus what later writes changed again."""

from __future__ import annotations

import datetime as dt
import pickle

from diff_reports.stored_forms import decode_cache_entry
from diff_reports.write_scope import api_view, cache_view, postgres_view, scope_for

WHEN = dt.datetime(2021, 1, 1, tzinfo=dt.timezone.utc)
THING = {"thing_id": 9, "ups": 3, "downs": 1, "deleted": False, "spam": False, "date": WHEN, "version": 4}
DATA = (("author_id", "3", "num"), ("body", "hello", "str"), ("link_id", "7", "num"))
VOTES = ((3, "1", WHEN), (5, "-1", WHEN))
LINK = (("num_comments", "2", "num"), ("title", "t", "str"))


def test_create_alone_is_judged_on_everything() -> None:
    scope = scope_for("create", {"body": [None, "hello"]}, [], account_id=3)
    view = postgres_view(THING, DATA, VOTES, LINK, scope)
    assert set(view["thing"]) == {"ups", "downs", "deleted", "spam", "date", "version"}
    assert set(view["data"]) == {"author_id", "body", "link_id"}
    assert set(view["votes"]) == {"3"} and view["link_num_comments"] == ("2", "num")


def test_create_after_votes_leaves_out_counts_and_version() -> None:
    later = [{"ups": [1, 2], "downs": [0, 0], "vote": [0, 1]}]
    scope = scope_for("create", {"body": [None, "hello"]}, later, account_id=3, later_accounts={5})
    view = postgres_view(THING, DATA, VOTES, LINK, scope)
    assert set(view["thing"]) == {"deleted", "spam", "date"}
    assert set(view["data"]) == {"author_id", "body", "link_id"}
    assert set(view["votes"]) == {"3"}  # voter 5's later vote does not touch the author's row
    unknown = scope_for("create", {}, later, account_id=3)
    assert postgres_view(THING, DATA, VOTES, LINK, unknown)["votes"] == {}


def test_create_with_busy_link_leaves_out_the_counter() -> None:
    scope = scope_for("create", {}, [], account_id=3, link_quiet=False)
    assert "link_num_comments" not in postgres_view(THING, DATA, VOTES, LINK, scope)


def test_update_keeps_editted_in_scope_even_when_legacy_did_not_set_it() -> None:
    scope = scope_for("update", {"body": ["a", "hello"]}, [], account_id=3)
    sister_data = DATA + (("editted", "x", "pickle"),)
    assert "editted" in postgres_view(THING, sister_data, VOTES, LINK, scope)["data"]
    assert "editted" not in postgres_view(THING, DATA, VOTES, LINK, scope)["data"]
    assert postgres_view(THING, DATA, VOTES, LINK, scope)["thing"] == {"version": 4}


def test_edit_overwritten_by_later_edit_has_only_version_free_scope() -> None:
    scope = scope_for("update", {"body": ["a", "b"]}, [{"body": ["b", "c"]}], account_id=3)
    assert scope.data_keys == frozenset({"editted"}) and not scope.thing_columns


def test_vote_then_another_vote() -> None:
    first = scope_for("increment", {"ups": [1, 2], "vote": [0, 1]}, [{"ups": [2, 3], "vote": [0, 1]}],
                      account_id=3, later_accounts={5})
    assert not first.thing_columns and first.vote_accounts == {3}
    last = scope_for("increment", {"ups": [2, 3], "vote": [0, 1]}, [], account_id=5)
    assert last.thing_columns == {"ups", "downs", "version"} and last.vote_accounts == {5}


def test_cache_view_whole_entry_facts_only_for_last_writer() -> None:
    obj = {"_id": 9, "_ups": 3, "_downs": 1, "_version": 4, "_date": WHEN, "_t": {"body": "hello", "author_id": 3}}
    decoded = decode_cache_entry(True, pickle.dumps(obj, protocol=2), 1, 43200)
    last = cache_view(decoded, scope_for("increment", {"ups": [2, 3]}, [], account_id=3))
    assert last["protocol"] == 2 and last["ttl"] == 43200 and last["object"] == {"_ups": 3, "_downs": 1, "_version": 4}
    assert last["attributes"] == {}
    earlier = cache_view(decoded, scope_for("create", {}, [{"ups": [1, 3]}], account_id=3))
    assert "protocol" not in earlier and set(earlier["attributes"]) == {"body", "author_id"}
    assert "_ups" not in earlier["object"] and earlier["object"]["_id"] == 9


def test_api_view_scopes_rendered_fields() -> None:
    rendered = {"kind": "t1", "data": {"id": "9", "body": "hello", "score": 2, "ups": 2, "edited": False,
                                       "controversiality": 0, "author": "a", "created_utc": 1.0}}
    vote = api_view(rendered, scope_for("increment", {"ups": [1, 2]}, [], account_id=3))
    assert vote == {"score": 2, "ups": 2, "controversiality": 0}
    edit = api_view(rendered, scope_for("update", {"body": ["a", "hello"]}, [], account_id=3))
    assert edit == {"body": "hello", "edited": False}
    create_after_vote = api_view(rendered, scope_for("create", {}, [{"ups": [1, 2]}], account_id=3))
    assert "score" not in create_after_vote and create_after_vote["body"] == "hello"
