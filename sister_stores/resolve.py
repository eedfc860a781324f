"""Turn settings into the two address bundles, refusing a sister set that is production."""

from __future__ import annotations

from config import Settings, StoreSetSettings
from sister_stores.addresses import StoreAddresses
from sister_stores.guard import check_distinct
from sister_stores.local_servers import LocalStores


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
