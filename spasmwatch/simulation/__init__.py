"""spasmwatch.simulation: a physiological wearer simulator with ground truth.

Generates hours of EMG and accelerometer data at the rates of chosen device profiles —
spasms (tonic, clonic, mixed, myoclonic) among daily-living confounders, artefacts and BLE
packet loss — reproducible bit for bit from a seed. See ``docs/simulation.md``.
"""

from spasmwatch.simulation._devices import DEVICE_PRESETS, SimStream
from spasmwatch.simulation._simulate import (
    DEFAULT_START_NS,
    SimulationResult,
    Simulator,
    simulate_wearer,
)
from spasmwatch.simulation._truth import (
    GroundTruthEvent,
    read_ground_truth_csv,
    write_ground_truth_csv,
)
from spasmwatch.simulation._wearer import SPASM_TYPES, WearerProfile

__all__ = [
    "DEFAULT_START_NS",
    "DEVICE_PRESETS",
    "SPASM_TYPES",
    "GroundTruthEvent",
    "SimStream",
    "SimulationResult",
    "Simulator",
    "WearerProfile",
    "read_ground_truth_csv",
    "simulate_wearer",
    "write_ground_truth_csv",
]
