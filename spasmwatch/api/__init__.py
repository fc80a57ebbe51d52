"""spasmwatch.api: the FastAPI service, the live bus and the web pages.

``create_app(store_path, data_dir=..., live_bus=...)`` builds the app; ``spasmwatch serve``
runs it with uvicorn on 127.0.0.1. Tokens with roles (``wearer``, ``clinician``,
``researcher``) live hashed in the event store's SQLite file (:class:`TokenStore`); every
query is limited to the wearers the token may see (:class:`Scope`): a wearer token its own
wearer, a clinician the wearers assigned to them, a researcher the pseudonymised wearers of
their studies.
"""

from spasmwatch.api._app import STATIC_DIR, create_app
from spasmwatch.api._auth import (
    ROLES,
    Principal,
    TokenInfo,
    TokenStore,
    iter_routes,
    pseudonym,
    require,
    route_roles,
)
from spasmwatch.api._bus import EVENT_TYPES, LiveBus, Subscription
from spasmwatch.api._decimate import minmax_buckets
from spasmwatch.api._errors import status_for
from spasmwatch.api._scope import Scope, scoped
from spasmwatch.api._wear import MIN_VALID_WEAR_S, format_count_with_wear, is_low_wear

__all__ = [
    "EVENT_TYPES",
    "MIN_VALID_WEAR_S",
    "ROLES",
    "STATIC_DIR",
    "LiveBus",
    "Principal",
    "Scope",
    "Subscription",
    "TokenInfo",
    "TokenStore",
    "create_app",
    "format_count_with_wear",
    "is_low_wear",
    "iter_routes",
    "minmax_buckets",
    "pseudonym",
    "require",
    "route_roles",
    "scoped",
    "status_for",
]
