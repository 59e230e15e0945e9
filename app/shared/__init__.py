"""State that replicas share through Redis (`GATEWAY_REDIS_URL`); see README "Scaling out".

Without Redis none of this is used: sessions stay in memory and the store in SQLite.
"""

from .redis import Shared

__all__ = ["Shared"]
