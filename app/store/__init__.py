"""What must outlive a gateway process: API keys with their policies, and the usage ledger.

Everything else talks to `Store` (base.py); `SqliteStore` (sqlite.py) is the embedded default.
"""

from .base import KeyRecord, Spent, Store, UsageEntry, UsageTotal
from .sqlite import SqliteStore, open_store

__all__ = ["KeyRecord", "Spent", "Store", "UsageEntry", "UsageTotal", "SqliteStore", "open_store"]
