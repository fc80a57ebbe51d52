"""attribute_loss_cause: one test per cause and the precedence between rules."""

from __future__ import annotations

import pytest

from spasmwatch.core import GAP_CAUSES, Gap
from spasmwatch.errors import ConfigError
from spasmwatch.health import LossContext, LossRules, attribute_gap, attribute_loss_cause

S = 1_000_000_000
DISC = Gap(0, 60 * S, 12_000, "disconnect")
LOSS = Gap(0, S // 10, 20, "packet_loss")


@pytest.mark.parametrize(
    ("gap", "ctx", "cause"),
    [
        (DISC, LossContext(monotonic_s=2.0, wall_s=60.0), "host_asleep"),
        (DISC, LossContext(disconnect_reason="host_suspend"), "host_asleep"),
        (DISC, LossContext(battery_pct=3), "battery"),
        (DISC, LossContext(disconnect_reason="battery", battery_pct=40), "battery"),
        (DISC, LossContext(worn=False, rssi_dbm=-95), "not_worn"),
        (DISC, LossContext(contact_lost=True, rssi_dbm=-60), "bad_contact"),
        (DISC, LossContext(rssi_dbm=-97), "out_of_range"),
        (DISC, LossContext(disconnect_reason="supervision_timeout", rssi_dbm=-70), "out_of_range"),
        (LOSS, LossContext(rssi_dbm=-93), "out_of_range"),
        (LOSS, LossContext(rssi_dbm=-60, worn=False), "packet_loss"),  # radio, not wear
        (LOSS, LossContext(rssi_dbm=-60), "packet_loss"),
        (DISC, LossContext(rssi_dbm=-60, battery_pct=80, worn=True), "disconnect"),
        (Gap(0, S, 200, "unknown"), LossContext(worn=False), "not_worn"),
        (Gap(0, S, 200, "decode_error"), LossContext(battery_pct=1), "decode_error"),
        (DISC, None, "disconnect"),
    ],
)
def test_causes(gap, ctx, cause):
    got = attribute_loss_cause(gap, ctx)
    assert got == cause and got in GAP_CAUSES


def test_precedence_host_asleep_over_battery_over_not_worn():
    ctx = LossContext(battery_pct=2, worn=False, contact_lost=True, rssi_dbm=-99,
                      monotonic_s=1.0, wall_s=600.0)  # fmt: skip
    assert attribute_loss_cause(DISC, ctx) == "host_asleep"
    ctx2 = LossContext(battery_pct=2, worn=False, contact_lost=True, rssi_dbm=-99)
    assert attribute_loss_cause(DISC, ctx2) == "battery"
    ctx3 = LossContext(worn=False, contact_lost=True, rssi_dbm=-99)
    assert attribute_loss_cause(DISC, ctx3) == "not_worn"


def test_small_clock_differences_are_not_a_suspend():
    # scheduling jitter: monotonic and wall differ by 0.5 s over a 60 s gap
    assert attribute_loss_cause(DISC, LossContext(monotonic_s=59.5, wall_s=60.0)) == "disconnect"
    # 10 s of 60 s is below the default 20 % share; a looser rule accepts it
    ctx = LossContext(monotonic_s=50.0, wall_s=60.0)
    assert attribute_loss_cause(DISC, ctx) == "disconnect"
    assert attribute_loss_cause(DISC, ctx, LossRules(suspend_min_share=0.1)) == "host_asleep"


def test_rssi_threshold_is_configurable_and_attribute_gap_keeps_times():
    ctx = LossContext(rssi_dbm=-85)
    assert attribute_loss_cause(DISC, ctx) == "disconnect"
    g = attribute_gap(DISC, ctx, LossRules(weak_rssi_dbm=-80))
    assert (g.cause, g.start_ns, g.end_ns, g.n_missing) == ("out_of_range", 0, 60 * S, 12_000)
    assert attribute_gap(DISC, None) is DISC


def test_context_validation():
    with pytest.raises(ConfigError, match="disconnect_reason"):
        LossContext(disconnect_reason="gremlins")
    with pytest.raises(ConfigError, match="battery_pct"):
        LossContext(battery_pct=140)
    with pytest.raises(ConfigError, match="worn"):
        LossContext(worn="no")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="Gap"):
        attribute_loss_cause("disconnect", None)  # type: ignore[arg-type]
