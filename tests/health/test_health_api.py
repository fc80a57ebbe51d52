"""The public surface of spasmwatch.health is pinned."""

import spasmwatch.health as health


def test_all_is_pinned_and_importable():
    assert sorted(health.__all__) == sorted(
        [
            "ALL_DEVICES", "BATTERY_SOURCES", "DISCONNECT_REASONS", "HEALTH_EVENT_KINDS",
            "DeviceHealthTracker", "HealthEvent", "QualityLog",
            "QUALITY_STATUSES", "VALID_DAY_S", "VALID_NIGHT_S", "WEAR_STATES", "BatteryMonitor",
            "BatteryReading",
            "BatteryWarning", "ChannelQuality", "CountWithWear", "DeviceInfo",
            "EmgQualityMonitor", "LossContext", "LossRules", "MyoFirmware", "NotWornDetector",
            "QualityReport", "QualityThresholds", "WearDay", "WearStateChange",
            "WearTimeAccumulator", "assess_emg_quality", "attribute_gap", "attribute_loss_cause",
            "count_with_wear", "format_count_with_wear", "is_low_wear", "parse_battery_level",
            "parse_dis_string", "parse_myo_firmware", "suspend_seconds",
        ]
    )  # fmt: skip
    for name in health.__all__:
        assert getattr(health, name) is not None
