"""The settings tree. Defaults describe a local development set-up; every field is documented."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

_STRICT = ConfigDict(extra="forbid", frozen=True)


class StoreSetSettings(BaseModel):
    """One set of stores: a PostgreSQL database, a Memcached server and a Redis database.

    `local = true` means tapcompare starts its own ephemeral servers (`tapcompare stores up`) and
    the addresses below are filled in from them; `local = false` points the set at existing servers.
    """

    model_config = _STRICT

    local: bool = True
    postgres: str | None = Field(default=None, description="PostgreSQL DSN, postgresql://user@host:port/db")
    memcached: str | None = Field(default=None, description="Memcached address, host:port")
    redis: str | None = Field(default=None, description="Redis URL, redis://host:port/db")


class StoresSettings(BaseModel):
    model_config = _STRICT

    production: StoreSetSettings = StoreSetSettings()
    sister: StoreSetSettings = StoreSetSettings()
    # Where `stores up` keeps the data directories and its state file (git-ignored).
    local_dir: str = ".tapcompare/stores"
    database: str = Field(default="comments", min_length=1)
    cdc_stream: str = Field(default="comments:cdc", min_length=1)


class LegacySettings(BaseModel):
    model_config = _STRICT

    host: str = "127.0.0.1"
    port: int = Field(default=8101, ge=0, le=65535)
    # r2 shifts `created` by the server's timezone offset; seconds east of UTC.
    tz_offset_seconds: int = Field(default=-28800, ge=-50400, le=50400)


class NewServiceSettings(BaseModel):
    model_config = _STRICT

    host: str = "127.0.0.1"
    port: int = Field(default=8102, ge=0, le=65535)
    mode: Literal["tap", "primary"] = "tap"
    # Shared with the proxy: identity headers are honoured only with this secret, only in tap mode.
    tap_secret: str = Field(default="change-me-tap-secret", min_length=8)
    # Role used for production reads in tap mode; it is granted SELECT only.
    readonly_role: str = Field(default="tapcompare_ro", min_length=1)
    memcached_pool_threads: int = Field(default=8, ge=1, le=256)


class ProxySettings(BaseModel):
    model_config = _STRICT

    host: str = "127.0.0.1"
    port: int = Field(default=8100, ge=0, le=65535)
    admin_token: str = Field(default="change-me-admin-token", min_length=8)
    queue_size: int = Field(default=1000, ge=1)
    shadow_timeout_s: float = Field(default=2.0, gt=0)
    max_body_bytes: int = Field(default=1_048_576, ge=1)


class ReportSettings(BaseModel):
    model_config = _STRICT

    host: str = "127.0.0.1"
    port: int = Field(default=8103, ge=0, le=65535)
    token: str = Field(default="change-me-report-token", min_length=8)
    # Results live in their own database; by default on the sister PostgreSQL server.
    results_database: str = Field(default="tapcompare_results", min_length=1)
    results_dsn: str | None = None
    redact_bodies: bool = True
    retention_days: int = Field(default=30, ge=1)


class Settings(BaseModel):
    model_config = _STRICT

    stores: StoresSettings = StoresSettings()
    legacy: LegacySettings = LegacySettings()
    new_service: NewServiceSettings = NewServiceSettings()
    proxy: ProxySettings = ProxySettings()
    reports: ReportSettings = ReportSettings()
