"""Live capture through the real proxy in front of the real legacy (real stores, seeded from real threads)."""

from __future__ import annotations

import asyncio
import json
import threading
from pathlib import Path

import aiohttp
import pytest

from datasets.from_capture import read_records, write_capture_dataset
from shadow_proxy.capture.recorder import CaptureRecorder
from shadow_proxy.capture.sampling import CaptureSampler
from datasets.scrub import Scrubber
from tests.capture.conftest import seed_snapshot

LINK = "t3_haucpf"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def _seed_comment() -> dict:
    """A live top-level seed comment of LINK and its author's pseudonym (as the legacy knows it)."""
    return next(c for c in seed_snapshot() if c["kind"] == "comment" and c["link"] == LINK
                and c["parent"] == LINK and not c["deleted"] and c["author"] != "[deleted]")


async def _send(session: aiohttp.ClientSession, base: str, method: str, path: str, rid: str,
                user: str | None = None, form: dict | None = None) -> tuple[int, dict, bytes]:
    headers = {"X-Request-Id": rid, **({"X-Auth-User": user} if user else {})}
    async with session.request(method, base + path, data=form, headers=headers) as resp:
        kept = {k: v for k, v in resp.headers.items() if k.lower() != "date"}
        return resp.status, kept, await resp.read()


def _name(body: bytes) -> str:
    return json.loads(body)["json"]["data"]["things"][0]["data"]["name"]


async def _scenario(session: aiohttp.ClientSession, base: str) -> list[tuple[int, dict, bytes]]:
    """Reads and writes; later requests name what earlier creates returned."""
    seed = _seed_comment()
    out = []

    async def send(*args, **kw):
        out.append(await _send(session, base, *args, **kw))
        return out[-1]

    await send("GET", f"/comments/{LINK[3:]}?sort=top&limit=20&depth=3", "r1")
    await send("GET", f"/api/info?id={LINK},{seed['fullname']}", "r2")
    _, _, created = await send("POST", "/api/comment", "r3", "alice",
                               {"thing_id": LINK, "text": "hello, write to alice@example.com or https://alice.example.com/x"})
    new = _name(created)
    _, _, reply = await send("POST", "/api/comment", "r4", "bob", {"thing_id": new, "text": "a reply from 10.0.0.7"})
    await send("POST", "/api/vote", "r5", "carol", {"id": new, "dir": "1"})
    await send("POST", "/api/vote", "r6", "carol", {"id": _name(reply), "dir": "-1"})
    await send("POST", "/api/editusertext", "r7", "alice", {"thing_id": new, "text": "edited, see you"})
    await send("POST", "/api/editusertext", "r8", seed["author"], {"thing_id": seed["fullname"], "text": "seed edit"})
    await send("GET", f"/api/info?id={new},{_name(reply)}", "r9")
    await send("GET", f"/api/morechildren?link_id={LINK}&children={seed['fullname'][3:]}&sort=new", "r10")
    await send("POST", "/api/vote", "r11", None, {"id": new, "dir": "1"})          # 403: captured (no user)
    await send("GET", "/not/an/endpoint", "r12")                                     # passthrough only
    return out


async def test_capture_records_scrubbed_resolvable_log(legacies, proxy_with, tmp_path: Path) -> None:
    recorder = CaptureRecorder(tmp_path / "capture.jsonl", Scrubber("capture-key"))
    async with aiohttp.ClientSession(auto_decompress=False) as session:
        async with proxy_with(legacies.production, recorder=recorder, prefix="cap") as (url, runtime):
            captured = await _scenario(session, url)
            await recorder.wait_processed(11)  # every endpoint request (not the passthrough) was handled
        async with proxy_with(legacies.twin, prefix="plain") as (url, _):
            plain = await _scenario(session, url)

    # The primaries are the same bytes with and without capture (two identical legacies, fixed clock).
    assert [s for s, _, _ in captured] == [200] * 10 + [403, 404]
    assert captured == plain

    path = recorder.path
    assert path.exists() and not recorder.part_path.exists()
    text = path.read_text(encoding="utf-8")
    for secret in ("alice", "bob", "carol", "example.com", "10.0.0.7", "r3", "X-Request-Id", "Auth"):
        assert secret not in text, secret
    log = read_records(path)
    assert [r["op"] for r in log] == ["read_comments", "read_info", "create", "create", "increment", "increment",
                                      "update", "update", "read_info", "read_morechildren", "increment"]
    assert [r["seq"] for r in log] == list(range(1, 12))
    # The refused vote is in the log, to be refused again on replay: with no auth header (null), as it was sent.
    assert log[10] == {"kind": "request", "seq": 11, "op": "increment", "user": None, "invalid": "user",
                       "thing": _name(captured[2][2]), "dir": 1}
    assert recorder.skipped == {} and recorder.dropped == 0

    create, reply, vote, vote2, edit, seed_edit = log[2:8]
    new, reply_name = _name(captured[2][2]), _name(captured[3][2])
    assert create["ref"] == new and reply["ref"] == reply_name          # refs: the legacy-assigned fullnames
    assert reply["parent"] == new and vote["thing"] == new and vote2["thing"] == reply_name and edit["thing"] == new
    assert create["user"] == edit["user"] == Scrubber("capture-key").user("alice")  # one pseudonym per user
    assert len({create["user"], reply["user"], vote["user"]}) == 3
    assert create["text"] == "hello, write to [email] or [url]" and reply["text"] == "a reply from [ip]"
    assert seed_edit["user"] == _seed_comment()["author"]              # already a pseudonym: kept
    assert log[0] == {"kind": "request", "seq": 1, "op": "read_comments", "link": LINK, "sort": "top",
                      "limit": 20, "depth": 3}

    summary = write_capture_dataset(log, seed_snapshot(), tmp_path / "captured.jsonl.gz")
    assert summary.requests == {"read_comments": 1, "read_info": 2, "create": 2, "increment": 3, "update": 2,
                                "read_morechildren": 1}
    assert summary.header["dropped_requests"] == {}
    assert runtime.registry.get_sample_value("tapcompare_capture_written_total") == 11


class _StalledRecorder(CaptureRecorder):
    """The writer thread blocks until released: the buffer fills while primaries go on."""

    def __init__(self, *args, **kw) -> None:
        super().__init__(*args, **kw)
        self.entered = threading.Event()
        self.release = threading.Event()

    def _write(self, lines: list[bytes]) -> None:
        self.entered.set()
        assert self.release.wait(10)
        super()._write(lines)


async def test_tiny_buffer_drops_and_counts_never_the_primary(legacies, proxy_with, tmp_path: Path) -> None:
    recorder = _StalledRecorder(tmp_path / "c.jsonl", Scrubber("k"), buffer_size=1)
    path = f"/api/info?id={LINK}"
    async with aiohttp.ClientSession() as session:
        async with proxy_with(legacies.production, recorder=recorder) as (url, runtime):
            async with session.get(url + path) as resp:
                assert resp.status == 200
            assert await asyncio.to_thread(recorder.entered.wait, 5)   # writer busy with request 1
            for _ in range(5):  # request 2 fills the buffer, 3..6 are dropped; every client is answered
                async with session.get(url + path) as resp:
                    assert resp.status == 200
            await runtime.forwarder.wait_completed(6)
            assert (recorder.offered, recorder.dropped) == (6, 4)
            assert runtime.registry.get_sample_value("tapcompare_capture_dropped_total") == 4
            recorder.release.set()
            await recorder.wait_processed(2)
    assert [r["op"] for r in read_records(recorder.path)] == ["read_info", "read_info"]


@pytest.mark.parametrize("pct", [0.0, 50.0])
async def test_sampling_is_sticky_by_thread(legacies, proxy_with, tmp_path: Path, pct: float) -> None:
    threads = ["t3_haucpf", "t3_fjn0j9"]
    # A salt that puts exactly one of the two threads in a 50% capture (searched deterministically).
    salt = next(f"s{i}" for i in range(100) if [CaptureSampler(50.0, f"s{i}").sampled(t) for t in threads].count(True) == 1)
    recorder = CaptureRecorder(tmp_path / "c.jsonl", Scrubber("k"), sample_pct=pct, salt=salt)
    inside = next(t for t in threads if CaptureSampler(50.0, salt).sampled(t))
    async with aiohttp.ClientSession() as session:
        async with proxy_with(legacies.production, recorder=recorder) as (url, runtime):
            comments = {}
            for t in threads:  # the read teaches the recorder which thread each shown comment is in
                async with session.get(f"{url}/comments/{t[3:]}?limit=5") as resp:
                    listing = await resp.json()
                comments[t] = listing[1]["data"]["children"][0]["data"]["name"]
            for t in threads:
                async with session.post(url + "/api/vote", data={"id": comments[t], "dir": "1"},
                                        headers={"X-Auth-User": "dave"}) as resp:
                    assert resp.status == 200, await resp.text()
            await runtime.forwarder.wait_completed(4)
            if pct:
                await recorder.wait_processed(4)
    log = read_records(recorder.path)
    if pct == 0:
        assert log == [] and recorder.offered == 4 and recorder.dropped == 0
    else:
        assert [(r["op"], r.get("link") or r.get("thing")) for r in log] == [
            ("read_comments", inside), ("increment", comments[inside])]
        assert recorder.sampled_out == 2
