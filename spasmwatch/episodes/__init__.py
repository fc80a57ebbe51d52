"""spasmwatch.episodes: window scores -> spasm episodes, and their event-level evaluation.

- :class:`Episode`, :class:`Label` (the records shared with the store; ``_types``).
- :class:`EpisodeDetector` (streaming hysteresis state machine) with its batch forms
  :func:`detect_updates` / :func:`detect_episodes`.
- Baseline detectors that need no model: :class:`EmgDoubleThreshold` (Bonato-style) and
  :class:`AccBandRatio` (3-8 Hz band-power ratio).
- Event scoring in the manner of wearable seizure detection: :func:`evaluate`,
  :func:`score_subject` (any-overlap sensitivity, precision, false alarms per 24 h, onset
  latency, per type and per subject).
"""

from spasmwatch.episodes._baselines import (
    AccBandRatio,
    AccBandRatioConfig,
    EmgDoubleThreshold,
    EmgDoubleThresholdConfig,
)
from spasmwatch.episodes._detector import (
    UPDATE_KINDS,
    DetectorConfig,
    EpisodeDetector,
    EpisodeUpdate,
    detect_episodes,
    detect_updates,
)
from spasmwatch.episodes._scoring import (
    Detection,
    Evaluation,
    EventScore,
    LatencyStats,
    ScoringConfig,
    SubjectAverage,
    SubjectRecord,
    TruthEvent,
    TypeScore,
    detections_from_updates,
    evaluate,
    score_subject,
)
from spasmwatch.episodes._types import (
    EPISODE_TYPES,
    LABEL_ORIGINS,
    SEVERITIES,
    Episode,
    Label,
    new_id,
    severity_rank,
)

__all__ = [
    "EPISODE_TYPES",
    "LABEL_ORIGINS",
    "SEVERITIES",
    "UPDATE_KINDS",
    "AccBandRatio",
    "AccBandRatioConfig",
    "Detection",
    "DetectorConfig",
    "EmgDoubleThreshold",
    "EmgDoubleThresholdConfig",
    "Episode",
    "EpisodeDetector",
    "EpisodeUpdate",
    "Evaluation",
    "EventScore",
    "Label",
    "LatencyStats",
    "ScoringConfig",
    "SubjectAverage",
    "SubjectRecord",
    "TruthEvent",
    "TypeScore",
    "detect_episodes",
    "detect_updates",
    "detections_from_updates",
    "evaluate",
    "new_id",
    "score_subject",
    "severity_rank",
]
