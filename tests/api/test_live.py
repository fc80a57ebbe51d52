"""The live bus and its WebSocket relay."""

from __future__ import annotations

import asyncio
import time

import pytest

from spasmwatch.api import LiveBus
from spasmwatch.errors import ConfigError


def test_bus_fans_out_and_drops_oldest_per_slow_client():
    async def main():
        bus = LiveBus(maxsize=3)
        fast = bus.subscribe()
        slow = bus.subscribe()
        got = []
        for i in range(3):
            bus.publish({"type": "detection", "i": i})
            got.append((await fast.get())["i"])
        for i in range(3, 8):
            bus.publish({"type": "detection", "i": i})
        assert got == [0, 1, 2]
        assert [slow.get_nowait()["i"] for _ in range(3)] == [5, 6, 7]
        assert slow.dropped == 5 and fast.dropped == 2
        slow.close()
        assert bus.n_subscribers == 1
        bus.close()
        rest = [e["i"] async for e in fast]
        assert rest == [5, 6, 7]

    asyncio.run(main())


def test_bus_replays_device_state_and_validates():
    async def main():
        bus = LiveBus()
        bus.publish({"type": "device_status", "device": "myo", "state": "connected"})
        bus.publish({"type": "device_status", "device": "myo", "state": "disconnected"})
        bus.publish({"type": "detection", "activity": float("nan")})
        sub = bus.subscribe()
        assert sub.get_nowait() == {
            "type": "device_status",
            "device": "myo",
            "state": "disconnected",
        }
        assert sub.get_nowait() is None
        bus.publish({"type": "detection", "activity": float("inf"), "x": [1.0, float("nan")]})
        assert sub.get_nowait() == {"type": "detection", "activity": None, "x": [1.0, None]}
        with pytest.raises(ConfigError, match="'type'"):
            bus.publish({"kind": "oops"})
        with pytest.raises(ConfigError, match="mapping"):
            bus.publish(["type"])

    asyncio.run(main())


def test_websocket_relays_bus_events_and_reports_drops(env):
    with env.client.websocket_connect("/api/live") as ws:
        ws.send_json({"token": env.tokens["wearer"]})
        assert ws.receive_json()["type"] == "hello"
        deadline = time.monotonic() + 5
        while env.bus.n_subscribers == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        env.bus.publish_threadsafe(
            {"type": "prompt", "prompt_id": env.prompt_id, "exercise_id": "paced-breathing"}
        )
        msg = ws.receive_json()
        assert msg["type"] == "prompt" and msg["prompt_id"] == env.prompt_id
        r = env.client.post(
            f"/api/prompts/{env.prompt_id}/outcome",
            headers=env.h("wearer"),
            json={"outcome": "dismissed"},
        )
        assert r.status_code == 200
        assert ws.receive_json() == {
            "type": "prompt_outcome",
            "prompt_id": env.prompt_id,
            "outcome": "dismissed",
        }
