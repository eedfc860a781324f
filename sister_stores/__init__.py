"""Store sets (production and sister), local ephemeral servers, and the prod-vs-sister guard."""

from sister_stores.addresses import StoreAddresses
from sister_stores.guard import SameStoreError, check_distinct
from sister_stores.local_servers import LocalStoreError, LocalStores
from sister_stores.resolve import resolve_store_sets

__all__ = [
    "LocalStoreError",
    "LocalStores",
    "SameStoreError",
    "StoreAddresses",
    "check_distinct",
    "resolve_store_sets",
]
