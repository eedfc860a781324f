"""A small seeded traffic driver: reads and writes through the proxy, each checked against what the
legacy itself answered for that request id."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import dataclass, field

import aiohttp
from yarl import URL

from tests.contract.seed import ACCOUNTS, CONTRACT_THREADS
from tests.faults.stack import FaultStack

WRITES = {"create": "/api/comment", "update": "/api/editusertext", "increment": "/api/vote"}
SAME_HEADERS = ("Content-Type", "X-Request-Time", "X-Request-Id")


@dataclass
class Sent:
    rid: str
    phase: str
    endpoint: str
    status: int
    body: bytes
    legacy_raised: bool = False
    event_expected: bool = False     # a 2xx write that must have its production CDC event
    created: str | None = None       # the fullname a successful create made
    target: str | None = None        # the comment an edit or vote wrote to
    thread: str | None = None        # the thread a create or a /comments read was about


@dataclass
class Comment:
    author: str
    link: str


@dataclass
class Driver:
    stack: FaultStack
    session: aiohttp.ClientSession
    rng: random.Random = field(default_factory=lambda: random.Random(9))
    sent: list[Sent] = field(default_factory=list)
    comments: dict[str, Comment] = field(default_factory=dict)
    votes: dict[tuple[str, str], int] = field(default_factory=dict)       # last acknowledged direction
    attempted: dict[tuple[str, str], int] = field(default_factory=dict)   # last attempted direction
    error_answer: tuple[int, bytes] | None = None  # the legacy's unhandled-error answer, once seen

    @property
    def proxied(self) -> int:
        return len(self.sent)

    async def _send(self, phase: str, endpoint: str, method: str, path: str, form: dict[str, str] | None = None,
                    user: str | None = None) -> Sent:
        rid = f"fault-{phase}-{uuid.uuid4().hex[:10]}"
        headers = {"X-Request-Id": rid, **({"X-Auth-User": user} if user else {})}
        async with self.session.request(method, URL(self.stack.proxy.url + path, encoded=True), data=form,
                                        headers=headers) as resp:
            body = await resp.read()
            status, got = resp.status, resp.headers
        legacy = self.stack.answers.get(rid)
        assert legacy is not None, f"{rid}: the proxy answered without asking the legacy ({status} {body[:200]!r})"
        sent = Sent(rid, phase, endpoint, status, body, legacy_raised=legacy.raised is not None)
        if legacy.raised is None:
            assert (status, body) == (legacy.status, legacy.body), f"{rid} {path}: proxy differs from legacy"
            for name in SAME_HEADERS:
                assert got.get(name) == legacy.headers.get(name), f"{rid}: header {name}"
        elif method != "GET" or not phase.endswith(":during"):
            # A write (replaying it could change state: a vote that committed before the failure is
            # a no-op the second time) or a transient failure after a restart: the legacy's handler
            # raised, so its answer is the server's unhandled-error page, the same every time.
            assert status == 500, (rid, status, body[:200])
            assert self.error_answer in (None, (status, body)), f"{rid}: legacy error not passed on"
            self.error_answer = (status, body)
        else:
            # A read the legacy failed (a store of its own is down): the proxy passes that failure on
            # as it came. The same read straight to the legacy fails the same way.
            async with self.session.request(method, URL(self.stack.legacy.url + path, encoded=True), data=form,
                                            headers={**headers, "X-Request-Id": rid + "-direct"}) as direct:
                assert (status, body) == (direct.status, await direct.read()), f"{rid}: legacy error not passed on"
            assert status == 500, (rid, status, body[:200])
            self.error_answer = (status, body)
        self.sent.append(sent)
        return sent

    # -- operations ------------------------------------------------------------------------------
    async def create(self, phase: str, thread: str | None = None) -> Sent:
        thread = thread or self.rng.choice(CONTRACT_THREADS)
        replies = [c for c, m in self.comments.items() if m.link == thread]
        parent = self.rng.choice(replies) if replies and self.rng.random() < 0.3 else thread
        user = self.rng.choice(ACCOUNTS)
        sent = await self._send(phase, "create", "POST", WRITES["create"],
                                {"thing_id": parent, "text": f"{phase} comment {self.rng.random():.6f}"}, user)
        sent.thread = thread
        if sent.status == 200:
            fullname = json.loads(sent.body)["json"]["data"]["things"][0]["data"]["name"]
            self.comments[fullname] = Comment(user, thread)
            sent.created, sent.event_expected = fullname, True
        return sent

    async def edit(self, phase: str) -> Sent:
        if not self.comments:
            return await self.create(phase)
        fullname = self.rng.choice(sorted(self.comments))
        sent = await self._send(phase, "update", "POST", WRITES["update"],
                                {"thing_id": fullname, "text": f"edited in {phase} {self.rng.random():.6f}"},
                                self.comments[fullname].author)
        sent.target, sent.event_expected = fullname, sent.status == 200
        return sent

    async def vote(self, phase: str) -> Sent:
        if not self.comments:
            return await self.create(phase)
        fullname = self.rng.choice(sorted(self.comments))
        user = self.rng.choice(ACCOUNTS)
        key = (user, fullname)
        # A direction that differs from both the acknowledged and the last attempted one: never a no-op,
        # even when an earlier attempt failed after its commit.
        start = 1 if user == self.comments[fullname].author else 0  # the author's own upvote
        choices = [d for d in (-1, 0, 1) if d != self.votes.get(key, start) and d != self.attempted.get(key, start)]
        direction = self.rng.choice(choices)
        self.attempted[key] = direction
        sent = await self._send(phase, "increment", "POST", WRITES["increment"],
                                {"id": fullname, "dir": str(direction)}, user)
        sent.target = fullname
        if sent.status == 200:
            self.votes[key] = direction
            sent.event_expected = True
        return sent

    async def read(self, phase: str) -> Sent:
        if self.comments and self.rng.random() < 0.5:
            names = self.rng.sample(sorted(self.comments), min(3, len(self.comments)))
            return await self._send(phase, "info", "GET", "/api/info?id=" + ",".join(names))
        thread = self.rng.choice(CONTRACT_THREADS)
        sent = await self._send(phase, "comments", "GET", f"/comments/{thread[3:]}?sort=new&limit=10")
        sent.thread = thread
        return sent

    async def mixed(self, phase: str, count: int) -> list[Sent]:
        ops = [self.create, self.create, self.edit, self.vote, self.vote, self.read]
        return [await self.rng.choice(ops)(phase) for _ in range(count)]

    def of(self, phase: str) -> list[Sent]:
        return [s for s in self.sent if s.phase == phase]
