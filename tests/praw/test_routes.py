"""The proxy's endpoint routing accepts every path form the legacy (and r2) accepts."""

from __future__ import annotations

import pytest

from traffic.routes import Unshadowable, endpoint_for, parse_request

FORM = "application/x-www-form-urlencoded"


@pytest.mark.parametrize("method,path,endpoint", [
    ("GET", "/comments/abc", "comments"), ("GET", "/comments/abc/", "comments"),
    ("GET", "/comments/abc.json", "comments"), ("GET", "/r/pics/comments/abc/some_slug/", "comments"),
    ("GET", "/comments/abc/_/def", "comments"), ("GET", "/r/pics/comments/abc/slug/def/.json", "comments"),
    ("GET", "/api/info/", "info"), ("GET", "/api/info.json", "info"),
    ("GET", "/api/morechildren", "morechildren"), ("POST", "/api/morechildren/", "morechildren"),
    ("POST", "/api/comment/", "create"), ("POST", "/api/vote.json", "increment"),
    ("GET", "/comments", None), ("GET", "/comments/a/b/c/d", None), ("POST", "/api/info", None),
    ("GET", "/api/vote", None),
])
def test_endpoint_for_accepts_r2_paths(method: str, path: str, endpoint: str | None) -> None:
    assert endpoint_for(method, path) == endpoint


def test_parsed_reads_carry_the_thread() -> None:
    parsed = parse_request("comments", "/r/pics/comments/abc/slug/def/", "limit=2048", None, None)
    assert parsed.link == "t3_abc"
    posted = parse_request("morechildren", "/api/morechildren/", "", FORM, b"link_id=t3_abc&children=x,y&api_type=json")
    assert posted.link == "t3_abc" and posted.params["children"] == "x,y"
    info = parse_request("info", "/api/info", "id=t1_,garbage,t1_x%20t3_y", None, None)
    assert info.all_targets == ("t1_x", "t3_y") and info.target == "t1_x"
    with pytest.raises(Unshadowable):
        parse_request("morechildren", "/api/morechildren", "", "application/json", b"{}")
