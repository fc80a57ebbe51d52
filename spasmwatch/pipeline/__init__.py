"""spasmwatch.pipeline: the detection pipeline that runs live, offline and in tests.

:class:`DetectionPipeline` chains resampling, features, per-wearer normalisation, the ONNX
model and the episode detector; :func:`detect_recording` runs it over a recording folder.
"""

from spasmwatch.pipeline._detection import (
    DEFAULT_CALIBRATION_S,
    STAGES,
    DetectionPipeline,
    DetectResult,
    FeatureFrontEnd,
    FrontEndOutput,
    PipelineOutput,
    PipelineStats,
    WindowScore,
    calibrate_rest,
    detect_recording,
    detector_config_for,
    merge_blocks,
    recording_blocks,
    run_blocks,
    select_streams,
)

__all__ = [
    "DEFAULT_CALIBRATION_S",
    "STAGES",
    "DetectResult",
    "DetectionPipeline",
    "FeatureFrontEnd",
    "FrontEndOutput",
    "PipelineOutput",
    "PipelineStats",
    "WindowScore",
    "calibrate_rest",
    "detect_recording",
    "detector_config_for",
    "merge_blocks",
    "recording_blocks",
    "run_blocks",
    "select_streams",
]
from spasmwatch.pipeline._monitor import (
    CONSUMERS,
    Monitor,
    MonitorStats,
    cause_text,
    local_tz_name,
    parse_placement,
)
from spasmwatch.pipeline._simworld import (
    FallbackSource,
    FlatChannels,
    demo_wearer,
    simulated_world,
    stream_epochs,
)

__all__ += [
    "CONSUMERS",
    "FallbackSource",
    "FlatChannels",
    "Monitor",
    "MonitorStats",
    "cause_text",
    "demo_wearer",
    "local_tz_name",
    "parse_placement",
    "simulated_world",
    "stream_epochs",
]
