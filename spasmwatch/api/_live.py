"""``/api/live``: the live bus relayed over a WebSocket.

The client authenticates with ``?token=`` or, better (a query string may end up in logs),
with a first text message ``{"token": "..."}`` sent within 10 s. The server answers
``{"type": "hello", "role": ..., "live": true|false}`` and then relays bus events as JSON.
When this client's queue overflowed, ``{"type": "stats", "dropped": n}`` tells how many
events it missed. Authentication failures close the socket with code 4401.

Each client receives only the events of the wearers its token may see (the same
:class:`~spasmwatch.api._scope.Scope` as the HTTP endpoints): an event names its wearer in
``"wearer_id"`` (or inside ``"episode"``); an event without one belongs to the wearer
``"default"`` of a single-user machine. Researchers receive the wearer ids as pseudonyms.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from spasmwatch.api._auth import ROLES
from spasmwatch.api._scope import Scope
from spasmwatch.errors import AuthError

__all__ = ["LIVE_ROLES", "WS_UNAUTHORIZED", "event_wearer", "router"]

log = logging.getLogger("spasmwatch.api")

router = APIRouter()

#: Roles allowed on the live socket.
LIVE_ROLES = ROLES
#: Close code for a missing or invalid token.
WS_UNAUTHORIZED = 4401
_AUTH_TIMEOUT_S = 10.0


async def _first_message_token(ws: WebSocket) -> str | None:
    try:
        raw = await asyncio.wait_for(ws.receive_text(), timeout=_AUTH_TIMEOUT_S)
    except (TimeoutError, WebSocketDisconnect, KeyError, RuntimeError):
        return None
    if len(raw) > 1000:
        return None
    try:
        msg = json.loads(raw)
    except ValueError:
        return raw.strip() or None
    if isinstance(msg, dict) and isinstance(msg.get("token"), str):
        return msg["token"]
    return None


def event_wearer(event: dict) -> str:
    """The wearer a live event is about (``"default"`` when it names none)."""
    w = event.get("wearer_id")
    if not isinstance(w, str):
        ep = event.get("episode")
        w = ep.get("wearer_id") if isinstance(ep, dict) else None
    return w if isinstance(w, str) and w else "default"


@router.websocket("/api/live")
async def live(ws: WebSocket) -> None:
    """Relay live bus events to an authenticated client."""
    await ws.accept()
    token = ws.query_params.get("token") or await _first_message_token(ws)
    try:
        principal = ws.app.state.tokens.authenticate(token)
    except AuthError as exc:
        with contextlib.suppress(Exception):
            await ws.send_json({"type": "error", "detail": str(exc), "reason": exc.reason})
            await ws.close(code=WS_UNAUTHORIZED)
        return
    if principal.role not in LIVE_ROLES:  # pragma: no cover - every role may listen today
        await ws.close(code=4403)
        return
    scope = Scope(principal, ws.app.state.tokens.visible_wearers(principal))
    bus = ws.app.state.bus
    await ws.send_json({"type": "hello", "role": principal.role, "live": bus is not None})
    if bus is None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await ws.receive_text()
        return
    sub = bus.subscribe()

    async def pump() -> None:
        reported = 0
        while True:
            event = await sub.get()
            if event is None:
                await ws.close(code=1001)
                return
            if sub.dropped != reported:
                reported = sub.dropped
                await ws.send_json({"type": "stats", "dropped": reported})
            if event_wearer(event) not in scope.visible:
                continue
            await ws.send_json(scope.out(event) if scope.pseudonymised else event)

    sender = asyncio.create_task(pump())
    try:
        while True:
            receiver = asyncio.ensure_future(ws.receive_text())
            done, _ = await asyncio.wait({sender, receiver}, return_when=asyncio.FIRST_COMPLETED)
            if sender in done:
                receiver.cancel()
                with contextlib.suppress(BaseException):
                    await receiver
                sender.result()
                return
            receiver.result()  # raises WebSocketDisconnect when the client leaves
    except (WebSocketDisconnect, RuntimeError):
        pass
    except Exception:  # a send on a closed socket: nothing to tell anyone
        log.debug("live socket ended", exc_info=True)
    finally:
        sub.close()
        sender.cancel()
        with contextlib.suppress(BaseException):
            await sender
