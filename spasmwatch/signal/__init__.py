"""Streaming signal processing: causal filters, envelopes, windows, features, alignment.

Every stage is a small object with ``update(x) -> y`` and ``reset()`` over a frozen design,
with pure ``*_step`` functions underneath; :class:`SignalPipeline` ties them together and has
a batch form (``extract``) that runs the same computation. See ``docs/signal-processing.md``.
"""

from spasmwatch.signal._align import AlignedBatch, Aligner
from spasmwatch.signal._envelopes import MovingRMS, TeagerKaiser, moving_rms_step, tkeo_step
from spasmwatch.signal._features import (
    ACC_FEATURES,
    ACC_FEATURES_FS2,
    CLONUS_BAND_HZ,
    EMG_FEATURES,
    EMG_FEATURES_FS2,
    FEATURE_SET_VERSION,
    FEATURE_SET_VERSIONS,
    STATIC_FEATURES,
    AccFeatures,
    EmgFeatures,
    FeatureSet,
    acc_window_features,
    emg_window_features,
)
from spasmwatch.signal._filters import (
    MAINS_FREQUENCIES_HZ,
    AccConditioner,
    FilterDesign,
    Jerk,
    SosFilter,
    acc_lowpass_cutoff,
    design_acc_lowpass,
    design_emg,
    design_emg_bandpass,
    design_gravity_highpass,
    design_notch,
    emg_band,
    jerk_step,
    magnitude,
    mains_frequencies,
    sos_init,
    sos_step,
)
from spasmwatch.signal._normalise import Normaliser
from spasmwatch.signal._pipeline import (
    DEFAULT_HOP_S,
    DEFAULT_WINDOW_S,
    FeatureFrame,
    SignalPipeline,
)
from spasmwatch.signal._ringbuffer import RingBuffer
from spasmwatch.signal._windowing import Window, WindowBatch, Windower

__all__ = [
    "ACC_FEATURES",
    "ACC_FEATURES_FS2",
    "CLONUS_BAND_HZ",
    "DEFAULT_HOP_S",
    "DEFAULT_WINDOW_S",
    "EMG_FEATURES",
    "EMG_FEATURES_FS2",
    "FEATURE_SET_VERSION",
    "FEATURE_SET_VERSIONS",
    "MAINS_FREQUENCIES_HZ",
    "STATIC_FEATURES",
    "AccConditioner",
    "AccFeatures",
    "AlignedBatch",
    "Aligner",
    "EmgFeatures",
    "FeatureFrame",
    "FeatureSet",
    "FilterDesign",
    "Jerk",
    "MovingRMS",
    "Normaliser",
    "RingBuffer",
    "SignalPipeline",
    "SosFilter",
    "TeagerKaiser",
    "Window",
    "WindowBatch",
    "Windower",
    "acc_lowpass_cutoff",
    "acc_window_features",
    "design_acc_lowpass",
    "design_emg",
    "design_emg_bandpass",
    "design_gravity_highpass",
    "design_notch",
    "emg_band",
    "emg_window_features",
    "jerk_step",
    "magnitude",
    "mains_frequencies",
    "moving_rms_step",
    "sos_init",
    "sos_step",
    "tkeo_step",
]
