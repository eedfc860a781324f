"""Memcached through pymemcache on a bounded thread pool, one client per worker thread.

The known trap: a request cancelled while its worker is mid-call. A thread cannot be interrupted,
so the worker always finishes the whole command (request sent, reply read) on its own client
before taking the next job; the cancelled coroutine only stops waiting for the result. No
connection is ever shared between threads or left with an unread reply, so nothing is poisoned.
A call that fails on the socket closes that thread's client; the next call reconnects.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from typing import TypeVar

from pymemcache.client.base import Client

T = TypeVar("T")
LOCK_EXPIRE_S = 10
LOCK_WAIT_S = 2.0
LOCK_RETRY_S = 0.005


class LockTimeout(Exception):
    pass


class MemcachedPool:
    def __init__(self, host_port: tuple[str, int], threads: int, timeout_s: float = 2.0) -> None:
        self._server = host_port
        self._timeout = timeout_s
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="memcached")
        self._local = threading.local()
        self._clients: list[Client] = []
        self._clients_lock = threading.Lock()

    def _client(self) -> Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = Client(self._server, connect_timeout=self._timeout, timeout=self._timeout, no_delay=True)
            self._local.client = client
            with self._clients_lock:
                self._clients.append(client)
        return client

    def _call(self, fn: Callable[[Client], T]) -> T:
        client = self._client()
        try:
            return fn(client)
        except Exception:
            client.close()  # unknown protocol state: reconnect on the next call
            raise

    def submit(self, fn: Callable[[Client], T]) -> "asyncio.Future[T]":
        return asyncio.get_running_loop().run_in_executor(self._executor, self._call, fn)

    async def run(self, fn: Callable[[Client], T]) -> T:
        return await self.submit(fn)

    async def get(self, key: str) -> bytes | None:
        return await self.run(lambda c: c.get(key))

    async def set(self, key: str, value: bytes, expire: int, flags: int) -> bool:
        return await self.run(lambda c: c.set(key, value, expire=expire, noreply=False, flags=flags))

    async def add(self, key: str, value: bytes, expire: int, flags: int = 0) -> bool:
        return await self.run(lambda c: c.add(key, value, expire=expire, noreply=False, flags=flags))

    async def set_if_newer(self, key: str, value: bytes, version: int, expire: int, flags: int,
                           version_of: Callable[[bytes], int | None]) -> None:
        """Store `value` unless the entry already holds version `version` or later: a compare-and-
        swap loop instead of a lock, so concurrent writers of one comment never wait on each other
        and the newest version always ends up cached whatever order their commits finish in."""
        def store(c: Client) -> None:
            while True:
                current, token = c.gets(key)
                if current is None:
                    if c.add(key, value, expire=expire, noreply=False, flags=flags):
                        return
                    continue
                held = version_of(current)
                if held is not None and held >= version:
                    return
                if c.cas(key, value, token, expire=expire, noreply=False, flags=flags):
                    return
        await self.run(store)

    async def delete(self, key: str) -> bool:
        return await self.run(lambda c: c.delete(key, noreply=False))

    @asynccontextmanager
    async def lock(self, key: str) -> AsyncIterator[None]:
        """`add` the lock key (value 1, 10 s), retried every 5 ms for up to 2 s; `delete` it after."""
        deadline = time.monotonic() + LOCK_WAIT_S
        while not await self._try_add_lock(key):
            if time.monotonic() >= deadline:
                raise LockTimeout(key)
            await asyncio.sleep(LOCK_RETRY_S)
        try:
            yield
        finally:
            await asyncio.shield(self.delete(key))

    async def _try_add_lock(self, key: str) -> bool:
        fut = self.submit(lambda c: c.add(key, b"1", expire=LOCK_EXPIRE_S, noreply=False))
        try:
            return await asyncio.shield(fut)
        except asyncio.CancelledError:
            # The add may still succeed in its thread: release what we will never use.
            def release(done: "asyncio.Future[bool]") -> None:
                if not done.cancelled() and done.exception() is None and done.result():
                    self._executor.submit(self._call, lambda c: c.delete(key, noreply=False))
            fut.add_done_callback(release)
            raise

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._clients_lock:
            for client in self._clients:
                client.close()
            self._clients.clear()


