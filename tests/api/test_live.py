"""The live bus and its WebSocket relay."""

from __future__ import annotations

import asyncio
import time

import pytest
from starlette.websockets import WebSocketDisconnect

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


def _subscribed(env, n: int) -> None:
    deadline = time.monotonic() + 5
    while env.bus.n_subscribers < n and time.monotonic() < deadline:
        time.sleep(0.01)


def test_websocket_relays_bus_events_and_reports_drops(env):
    with env.client.websocket_connect("/api/live") as ws:
        ws.send_json({"token": env.tokens["wearer"]})
        assert ws.receive_json()["type"] == "hello"
        _subscribed(env, 1)
        # bob's event is not relayed to alice; the next one she receives is her own
        env.bus.publish_threadsafe(
            {"type": "prompt", "wearer_id": "bob", "prompt_id": env.seeded.b_prompt_id}
        )
        env.bus.publish_threadsafe(
            {
                "type": "prompt",
                "wearer_id": "alice",
                "prompt_id": env.prompt_id,
                "exercise_id": "paced-breathing",
            }
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
            "wearer_id": "alice",
            "prompt_id": env.prompt_id,
            "outcome": "dismissed",
        }


def test_websocket_scopes_events_per_caller(env):
    from spasmwatch.api._live import event_wearer

    assert event_wearer({"type": "x"}) == "default"
    assert event_wearer({"type": "episode", "episode": {"wearer_id": "bob"}}) == "bob"
    ep_a = env.store.get_episode(env.episode_ids[0]).to_dict()
    ep_b = env.store.get_episode(env.seeded.b_episode_id).to_dict()
    got = {}
    for who in ("researcher", "wearer_b"):
        with env.client.websocket_connect("/api/live") as ws:
            ws.send_json({"token": env.tokens[who]})
            assert ws.receive_json()["type"] == "hello"
            _subscribed(env, 1)
            env.bus.publish_threadsafe({"type": "episode", "episode": ep_a})
            env.bus.publish_threadsafe({"type": "episode", "episode": ep_b})
            got[who] = ws.receive_json()
        _subscribed(env, 0)
    # the researcher of study S-A sees alice's episode under her pseudonym, nothing of bob
    r_ep = got["researcher"]["episode"]
    assert r_ep["id"] == ep_a["id"] and r_ep["wearer_id"].startswith("S-A-")
    assert "alice" not in str(got["researcher"])
    # bob's wearer token: his episode, not alice's
    assert got["wearer_b"]["episode"]["id"] == ep_b["id"]
    # a clinician with no wearer assigned receives nothing at all before the bus closes
    with env.client.websocket_connect("/api/live") as ws:
        ws.send_json({"token": env.tokens["clinician_none"]})
        assert ws.receive_json()["type"] == "hello"
        _subscribed(env, 1)
        for ev in (
            {"type": "episode", "episode": ep_a},
            {"type": "episode", "episode": ep_b},
            {"type": "detection", "activity": 0.5},  # no wearer named: "default"
        ):
            env.bus.publish_threadsafe(ev)
        env.bus._loop.call_soon_threadsafe(env.bus.close)  # after those, on the bus's loop
        with pytest.raises(WebSocketDisconnect) as exc:
            ws.receive_json()
        assert exc.value.code == 1001


def test_bus_replays_latest_health_per_wearer_and_device():
    async def main():
        bus = LiveBus()
        for wearer, dev, level in [("a", "myo", 80), ("a", "myo", 19), ("b", "myo", 50),
                                   ("a", "polar-h10", 70)]:  # fmt: skip
            bus.publish({"type": "health", "wearer_id": wearer, "device": dev, "battery": level})
        sub = bus.subscribe()
        got = []
        while (ev := sub.get_nowait()) is not None:
            got.append((ev["wearer_id"], ev["device"], ev["battery"]))
        assert sorted(got) == [("a", "myo", 19), ("a", "polar-h10", 70), ("b", "myo", 50)]

    asyncio.run(main())
