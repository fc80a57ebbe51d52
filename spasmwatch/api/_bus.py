"""The live bus: asyncio publish/subscribe of small JSON-ready events.

The monitor pipeline publishes what happens (device status, detections, episodes, prompts,
signal previews); every WebSocket client of ``/api/live`` holds one :class:`Subscription`.
A client that reads too slowly never slows the publisher nor other clients: each
subscription has a bounded queue that drops its *oldest* event when full and counts what it
dropped.
"""

from __future__ import annotations

import asyncio
import collections
import math
import threading
from collections.abc import AsyncIterator, Mapping
from typing import Any

from spasmwatch.errors import ConfigError

__all__ = ["EVENT_TYPES", "LiveBus", "Subscription"]

#: Event types pages know how to show. Other types are relayed as they are.
EVENT_TYPES = frozenset(
    {
        "device_status",  # {"device", "state": connected|disconnected|..., "battery", ...}
        "detection",  # {"t_ns", "scores": {class: p}, "activity": 0..1}
        "episode",  # {"episode": {...}} an episode that started, grew or ended
        "prompt",  # {"prompt_id", "exercise", "inhale_s", "exhale_s", "reason"}
        "prompt_outcome",  # {"prompt_id", "outcome"}
        "signal_preview",  # {"stream", "t_ns", "rms"}
        "signal_loss",  # {"device", "start_ns", "end_ns", "cause"}
    }
)

#: Event types whose latest value a new subscriber receives first (current state).
_STATE_TYPES = ("device_status", "health")


def _check_event(event: object) -> dict[str, Any]:
    if not isinstance(event, Mapping):
        raise ConfigError(
            f"LiveBus.publish: event must be a mapping with a 'type' key "
            f"(got {event!r} that is a {type(event).__name__})"
        )
    kind = event.get("type")
    if not isinstance(kind, str) or not kind:
        raise ConfigError(
            f"LiveBus.publish: event needs a non-empty string 'type' such as "
            f"{sorted(EVENT_TYPES)} (got {kind!r})"
        )
    return dict(event)


class Subscription:
    """One consumer's bounded view of the bus.

    Use ``async for event in subscription`` or :meth:`get`. Iteration ends after the bus is
    closed or the subscription is :meth:`close`-d.

    Attributes
    ----------
    maxsize : int
        Queue capacity in events.
    dropped : int
        Number of events dropped because this consumer was too slow (oldest first).
    """

    def __init__(self, bus: LiveBus, maxsize: int) -> None:
        self._bus = bus
        self.maxsize = maxsize
        self.dropped = 0
        self._queue: collections.deque[dict[str, Any]] = collections.deque()
        self._event = asyncio.Event()
        self._closed = False

    def _put(self, event: dict[str, Any]) -> None:
        if self._closed:
            return
        if len(self._queue) >= self.maxsize:
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(event)
        self._event.set()

    def qsize(self) -> int:
        """Number of events waiting."""
        return len(self._queue)

    async def get(self) -> dict[str, Any] | None:
        """The next event, waiting for one; ``None`` once closed and drained."""
        while not self._queue:
            if self._closed:
                return None
            self._event.clear()
            await self._event.wait()
        return self._queue.popleft()

    def get_nowait(self) -> dict[str, Any] | None:
        """The next event if one waits, else ``None``."""
        return self._queue.popleft() if self._queue else None

    def close(self) -> None:
        """Stop receiving; a waiting :meth:`get` returns ``None``."""
        self._closed = True
        self._event.set()
        self._bus._unsubscribe(self)

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._iter()

    async def _iter(self) -> AsyncIterator[dict[str, Any]]:
        while True:
            event = await self.get()
            if event is None:
                return
            yield event

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()


class LiveBus:
    """In-process publish/subscribe hub for live events (asyncio, one event loop).

    Parameters
    ----------
    maxsize : int
        Default capacity (events) of each subscriber's queue. When a queue is full, its
        oldest event is dropped and the subscription's ``dropped`` counter grows.

    Notes
    -----
    :meth:`publish` must be called from the event loop's thread; from any other thread (a
    pipeline running in a worker thread), call :meth:`publish_threadsafe`. Events are plain
    dicts with a ``"type"`` key (see :data:`EVENT_TYPES`); they are copied once per publish
    and shared read-only between subscribers.

    Examples
    --------
    >>> bus = LiveBus()
    >>> async def consume():
    ...     async with bus.subscribe() as sub:
    ...         async for event in sub:
    ...             print(event["type"])
    """

    def __init__(self, maxsize: int = 256) -> None:
        if isinstance(maxsize, bool) or not isinstance(maxsize, int) or maxsize < 1:
            raise ConfigError(f"LiveBus.maxsize must be an int >= 1 (got {maxsize!r})")
        self.maxsize = maxsize
        self._subs: set[Subscription] = set()
        self._state: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self.published = 0
        self._closed = False

    @property
    def n_subscribers(self) -> int:
        """Number of live subscriptions."""
        return len(self._subs)

    @property
    def dropped(self) -> int:
        """Events dropped so far across current subscribers."""
        return sum(s.dropped for s in list(self._subs))

    def subscribe(self, maxsize: int | None = None) -> Subscription:
        """A new subscription; it first receives the latest state events (device status).

        Must be called from within the running event loop.
        """
        size = self.maxsize if maxsize is None else maxsize
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ConfigError(f"LiveBus.subscribe: maxsize must be an int >= 1 (got {size!r})")
        self._loop = asyncio.get_running_loop()
        sub = Subscription(self, size)
        with self._lock:
            for event in self._state.values():
                sub._put(event)
            if self._closed:
                sub._closed = True
            self._subs.add(sub)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            self._subs.discard(sub)

    def publish(self, event: Mapping[str, Any]) -> int:
        """Send ``event`` to every subscriber. Returns the number of subscribers reached.

        Raises
        ------
        ConfigError
            If ``event`` is not a mapping with a string ``"type"``.
        """
        ev = _sanitize(_check_event(event))
        with self._lock:
            self.published += 1
            if ev["type"] in _STATE_TYPES:
                key = f"{ev['type']}:{ev.get('wearer_id', '')}:{ev.get('device', '')}"
                self._state[key] = ev
            subs = list(self._subs)
        for sub in subs:
            sub._put(ev)
        return len(subs)

    def publish_threadsafe(self, event: Mapping[str, Any]) -> None:
        """Like :meth:`publish`, callable from any thread (schedules on the bus's loop)."""
        ev = _check_event(event)
        loop = self._loop
        if loop is None or loop.is_closed():
            self.publish(ev)  # nobody subscribed yet: just record state
            return
        loop.call_soon_threadsafe(self.publish, ev)

    def close(self) -> None:
        """End every subscription (their iterators finish)."""
        with self._lock:
            self._closed = True
            subs = list(self._subs)
        for sub in subs:
            sub.close()


def _sanitize(obj: Any) -> Any:
    """A copy of ``obj`` with non-finite floats (not valid JSON) replaced by ``None``."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, Mapping):
        return {str(k): _sanitize(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_sanitize(v) for v in obj]
    return obj
