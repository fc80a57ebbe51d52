"""spasmwatch.models: self-describing ONNX spasm classifiers.

:class:`SpasmModel` loads an ONNX file whose ``metadata_props`` hold a
:class:`ModelMetadata`, refuses streams it cannot use (:meth:`SpasmModel.check_streams`)
and returns per-window :class:`Probabilities`. :func:`choose_bundled_model` picks the
bundled model (EMG+ACC, EMG-only, ACC-only) for the streams at hand.
"""

from spasmwatch.models._metadata import FORMAT_VERSION, MIN_STREAM_RATES_HZ, ModelMetadata
from spasmwatch.models._runtime import (
    BUNDLED_DIR,
    Probabilities,
    SpasmModel,
    choose_bundled_model,
    read_metadata,
)

__all__ = [
    "BUNDLED_DIR",
    "FORMAT_VERSION",
    "MIN_STREAM_RATES_HZ",
    "ModelMetadata",
    "Probabilities",
    "SpasmModel",
    "choose_bundled_model",
    "read_metadata",
]
