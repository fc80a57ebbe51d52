"""spasmwatch.api: the FastAPI service, the live bus and the web pages.

``create_app(store_path, data_dir=..., live_bus=...)`` builds the app; ``spasmwatch serve``
runs it with uvicorn on 127.0.0.1. Tokens with roles (``wearer``, ``clinician``,
``researcher``) live hashed in the event store's SQLite file (:class:`TokenStore`).
"""

from spasmwatch.api._app import STATIC_DIR, create_app
from spasmwatch.api._auth import (
    ROLES,
    Principal,
    TokenInfo,
    TokenStore,
    iter_routes,
    require,
    route_roles,
)
from spasmwatch.api._bus import EVENT_TYPES, LiveBus, Subscription
from spasmwatch.api._decimate import minmax_buckets
from spasmwatch.api._errors import status_for

__all__ = [
    "EVENT_TYPES",
    "ROLES",
    "STATIC_DIR",
    "LiveBus",
    "Principal",
    "Subscription",
    "TokenInfo",
    "TokenStore",
    "create_app",
    "iter_routes",
    "minmax_buckets",
    "require",
    "route_roles",
    "status_for",
]
