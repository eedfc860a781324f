"""Turn settings into the two address bundles, refusing a sister set that is production."""

from __future__ import annotations

from config import Settings, StoreSetSettings
from sister_stores.addresses import StoreAddresses
from sister_stores.guard import SameStoreError, check_distinct
from sister_stores.local_servers import LocalStores
from sister_stores.prepare import redact


def _one(name: str, cfg: StoreSetSettings, local: LocalStores) -> StoreAddresses:
    if cfg.local:
        return local.addresses(name)
    assert cfg.postgres and cfg.memcached and cfg.redis  # config validation guarantees these
    return StoreAddresses(cfg.postgres, cfg.memcached, cfg.redis)


def local_stores(settings: Settings) -> LocalStores:
    return LocalStores(settings.stores.local_dir, settings.stores.database)


def resolve_store_sets(settings: Settings) -> tuple[StoreAddresses, StoreAddresses]:
    """(production, sister) addresses; raises SameStoreError if they overlap."""
    local = local_stores(settings)
    production = _one("production", settings.stores.production, local)
    sister = _one("sister", settings.stores.sister, local)
    check_distinct(production, sister)
    return production, sister


def store_keys(settings: Settings) -> dict[str, str]:
    """"production.postgres" -> the settings key its address comes from, for error messages."""
    out = {}
    for name in ("production", "sister"):
        local = getattr(settings.stores, name).local
        for kind in ("postgres", "memcached", "redis"):
            out[f"{name}.{kind}"] = f"stores.{name}.{kind}" + (" (local set: `tapcompare stores up` starts it)"
                                                                 if local else "")
    return out


def _same_database(a: str, b: str, production: StoreAddresses, sister: StoreAddresses) -> bool:
    # The guard compares whole sets; pair the two DSNs with caches known to differ (checked already).
    try:
        check_distinct(StoreAddresses(a, production.memcached, production.redis),
                       StoreAddresses(b, sister.memcached, sister.redis))
    except SameStoreError:
        return True
    return False


def check_results_distinct(production: StoreAddresses, sister: StoreAddresses, results_dsn: str, key: str) -> None:
    """The results database must be a database of its own: never production's, nor the sister's
    comments database (whose schema must stay a mirror of production's)."""
    for name, dsn in (("production", production.postgres), ("sister", sister.postgres)):
        if _same_database(dsn, results_dsn, production, sister):
            raise SameStoreError(f"{key} = {redact(results_dsn)} is the {name} database; expected a database of its own "
                                 "(set reports.results_database or reports.results_dsn)")


def results_address(settings: Settings, sister: StoreAddresses) -> tuple[str, str]:
    """(DSN, settings key) of the results database: `reports.results_dsn`, else database
    `reports.results_database` on the sister set's PostgreSQL server."""
    if settings.reports.results_dsn:
        return settings.reports.results_dsn, "reports.results_dsn"
    return sister.with_database(settings.reports.results_database).postgres, "reports.results_database"
