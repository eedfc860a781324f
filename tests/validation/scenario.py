"""One write of each kind through the proxy, each settled before the next: create, edit, vote."""

from __future__ import annotations

from tests.validation.stack import THREAD, Stack


async def create_edit_vote(stack: Stack, edit_after_s: float = 200.0) -> str:
    body = await stack.post("/api/comment", "alice", thing_id=THREAD, text="first take 😀")
    fullname = body["json"]["data"]["things"][0]["data"]["name"]
    await stack.settle()
    stack.clock.now += edit_after_s
    await stack.post("/api/editusertext", "alice", thing_id=fullname, text="second take, edited")
    await stack.settle()
    stack.clock.now += 5
    await stack.post("/api/vote", "bob", id=fullname, dir="1")
    await stack.settle()
    return fullname
