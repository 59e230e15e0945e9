"""What must outlive a gateway process: API keys with their policies, the usage ledger, and
stored Responses API responses.

Everything else talks to `Store` (base.py); `SqliteStore` (sqlite.py) is the embedded default.
"""

from .base import KeyRecord, ResponseRecord, Spent, Store, UsageEntry, UsageTotal
from .sqlite import SqliteStore, open_store

__all__ = ["KeyRecord", "ResponseRecord", "Spent", "Store", "UsageEntry", "UsageTotal", "SqliteStore", "open_store"]
