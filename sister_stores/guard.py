"""The prod-vs-sister guard: a sister store that *is* a production store is refused at start-up.

Two addresses name the same store when they reach the same server (same port, and the hosts
resolve to a common address, every loopback address counting as one) and the same database
(PostgreSQL database name, Redis db index; Memcached has no databases, so the server is enough).
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from functools import lru_cache
from typing import cast
from urllib.parse import urlsplit

from sister_stores.addresses import StoreAddresses


class SameStoreError(RuntimeError):
    """Raised when the sister set points at a production store."""


@dataclass(frozen=True)
class _Endpoint:
    hosts: frozenset[str]
    port: int
    database: str


_LOOPBACK = "loopback"


@lru_cache(maxsize=256)
def _resolve(host: str) -> frozenset[str]:
    if not host or host.startswith("/"):
        return frozenset({_LOOPBACK})  # a Unix socket is a server on this machine
    try:
        infos = socket.getaddrinfo(host, None)
        # An IPv4/IPv6 sockaddr starts with the address as a str; typeshed widens it to str | int.
        addrs = {cast(str, info[4][0]) for info in infos}
    except socket.gaierror:
        addrs = {host.lower()}
    out: set[str] = set()
    for addr in addrs:
        try:
            out.add(_LOOPBACK if ipaddress.ip_address(addr.split("%")[0]).is_loopback else addr)
        except ValueError:
            out.add(addr)
    return frozenset(out)


def _postgres(dsn: str) -> _Endpoint:
    parts = urlsplit(dsn)
    return _Endpoint(_resolve(parts.hostname or ""), parts.port or 5432, parts.path.lstrip("/") or (parts.username or ""))


def _redis(url: str) -> _Endpoint:
    parts = urlsplit(url)
    return _Endpoint(_resolve(parts.hostname or "localhost"), parts.port or 6379, parts.path.lstrip("/") or "0")


def _memcached(address: str) -> _Endpoint:
    host, _, port = address.rpartition(":")
    return _Endpoint(_resolve(host.strip("[]") or "localhost"), int(port or 11211), "")


def _same(a: _Endpoint, b: _Endpoint) -> bool:
    return a.port == b.port and a.database == b.database and bool(a.hosts & b.hosts)


def check_distinct(production: StoreAddresses, sister: StoreAddresses) -> None:
    """Raise SameStoreError naming every sister store that is also a production store."""
    clashes = []
    for store, parse in (("postgres", _postgres), ("memcached", _memcached), ("redis", _redis)):
        prod, sis = getattr(production, store), getattr(sister, store)
        if _same(parse(prod), parse(sis)):
            clashes.append(f"{store}: sister {sis!r} is the production store {prod!r}")
    if clashes:
        raise SameStoreError(
            "refusing to start: the sister set must be separate servers or databases from production, "
            "because the shadow side writes to it.\n  " + "\n  ".join(clashes)
        )
