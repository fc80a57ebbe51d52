"""spasmwatch.health: device health, not-worn detection, EMG signal quality, wear time and
the stated cause of every data loss. See ``docs/device-health.md``.

- :class:`EmgQualityMonitor` — per channel and window: ``good``, ``contact_lost``,
  ``saturation``, ``powerline``, ``motion_artefact``, with the numbers behind them.
- :class:`NotWornDetector` — ACC stillness (with white sensor noise) for long periods,
  supported by the EMG electrode-off floor; hysteresis back to "worn".
- :class:`WearTimeAccumulator` — per device and local day: recorded, worn, usable seconds
  and missing seconds by cause; :func:`format_count_with_wear` — the one wording of a count,
  :func:`is_low_wear` and :data:`VALID_DAY_S` (10 h) — the one low-wear rule.
- :class:`BatteryMonitor`, :func:`parse_battery_level`, :class:`DeviceInfo` — battery and
  model/firmware information.
- :func:`attribute_loss_cause` — why a gap happened.
"""

from spasmwatch.health._battery import (
    BATTERY_SOURCES,
    BatteryMonitor,
    BatteryReading,
    BatteryWarning,
    DeviceInfo,
    MyoFirmware,
    parse_battery_level,
    parse_dis_string,
    parse_myo_firmware,
)
from spasmwatch.health._loss import (
    DISCONNECT_REASONS,
    LossContext,
    LossRules,
    attribute_gap,
    attribute_loss_cause,
    suspend_seconds,
)
from spasmwatch.health._quality import (
    QUALITY_STATUSES,
    ChannelQuality,
    EmgQualityMonitor,
    QualityReport,
    QualityThresholds,
    assess_emg_quality,
)
from spasmwatch.health._tracker import (
    HEALTH_EVENT_KINDS,
    DeviceHealthTracker,
    HealthEvent,
    QualityLog,
)
from spasmwatch.health._wear import WEAR_STATES, NotWornDetector, WearStateChange
from spasmwatch.health._weartime import (
    ALL_DEVICES,
    VALID_DAY_S,
    VALID_NIGHT_S,
    CountWithWear,
    WearDay,
    WearTimeAccumulator,
    count_with_wear,
    format_count_with_wear,
    is_low_wear,
)

__all__ = [
    "ALL_DEVICES",
    "BATTERY_SOURCES",
    "DISCONNECT_REASONS",
    "HEALTH_EVENT_KINDS",
    "QUALITY_STATUSES",
    "VALID_DAY_S",
    "VALID_NIGHT_S",
    "WEAR_STATES",
    "BatteryMonitor",
    "BatteryReading",
    "BatteryWarning",
    "ChannelQuality",
    "CountWithWear",
    "DeviceHealthTracker",
    "DeviceInfo",
    "EmgQualityMonitor",
    "HealthEvent",
    "LossContext",
    "LossRules",
    "MyoFirmware",
    "NotWornDetector",
    "QualityLog",
    "QualityReport",
    "QualityThresholds",
    "WearDay",
    "WearStateChange",
    "WearTimeAccumulator",
    "assess_emg_quality",
    "attribute_gap",
    "attribute_loss_cause",
    "count_with_wear",
    "format_count_with_wear",
    "is_low_wear",
    "parse_battery_level",
    "parse_dis_string",
    "parse_myo_firmware",
    "suspend_seconds",
]
