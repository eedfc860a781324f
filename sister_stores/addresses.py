"""Where one store set lives: the three addresses every component is handed."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class StoreAddresses:
    """A PostgreSQL DSN, a Memcached host:port and a Redis URL (with db index)."""

    postgres: str
    memcached: str
    redis: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    def with_database(self, database: str) -> "StoreAddresses":
        """The same servers, another PostgreSQL database (tests use one per test)."""
        head, _, _ = self.postgres.rpartition("/")
        return StoreAddresses(f"{head}/{database}", self.memcached, self.redis)

    @property
    def memcached_host_port(self) -> tuple[str, int]:
        host, _, port = self.memcached.rpartition(":")
        return host.strip("[]"), int(port)
