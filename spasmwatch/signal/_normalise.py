"""Per-wearer normalisation of feature vectors against a resting calibration period.

Amplitude features (RMS, MAV, WL, TKEO, RMS_REC, MAGVAR, JERK) depend on electrode placement,
skin, gain and units; a detector trained on one device must see them relative to the wearer's
own rest level. During calibration the :class:`Normaliser` collects frames; when frozen it
keeps the median of each amplitude feature as the baseline and from then on replaces an
amplitude feature ``v`` by ``log(v / baseline)`` (0 at rest, +0.69 at twice the rest level,
independent of the device's scale). Frequency and shape features pass unchanged.
"""

from __future__ import annotations

import numpy as np

from spasmwatch.errors import SignalError
from spasmwatch.signal._features import FeatureSet

__all__ = ["Normaliser"]

_TINY = 1e-30
_MIN_RATIO = 1e-6


class Normaliser:
    """Log-ratio of amplitude features to the wearer's rest baseline.

    Parameters
    ----------
    feature_set : FeatureSet
        Layout of the vectors.
    calibration_frames : int, optional
        Freeze automatically once this many frames were collected; otherwise call
        :meth:`freeze`.

    Notes
    -----
    Streaming contract: ``update(values)`` during calibration (rows with NaN in a feature are
    ignored for that feature), then ``freeze()``; ``transform(values)`` afterwards; ``reset()``
    forgets the baseline. The batch form ``fit(X)`` is ``update(X); freeze()``.
    """

    def __init__(self, feature_set: FeatureSet, calibration_frames: int | None = None) -> None:
        self.feature_set = feature_set
        self.calibration_frames = calibration_frames
        self._mask = feature_set.amplitude_mask
        self.reset()

    def reset(self) -> None:
        """Forget collected frames and the baseline."""
        self._rows: list[np.ndarray] = []
        self._n = 0
        self._baseline: np.ndarray | None = None

    @property
    def is_frozen(self) -> bool:
        """True once the baseline is fixed."""
        return self._baseline is not None

    @property
    def n_calibration_frames(self) -> int:
        """Frames collected so far."""
        return self._n

    @property
    def baseline(self) -> np.ndarray:
        """Rest baseline of the amplitude features ``(n_amplitude,)`` (after freezing)."""
        if self._baseline is None:
            raise SignalError("the Normaliser has no baseline yet: call update() then freeze()")
        return self._baseline.copy()

    def _rows_of(self, values: np.ndarray) -> np.ndarray:
        v = np.asarray(values)
        if v.ndim == 1:
            v = v[None, :]
        if v.ndim != 2 or v.shape[1] != self.feature_set.n_features:
            raise SignalError(
                f"feature vectors for {self.feature_set.name} must have "
                f"{self.feature_set.n_features} columns (got shape {np.shape(values)})"
            )
        return v

    def update(self, values: np.ndarray) -> None:
        """Add calibration frames ``(n_features,)`` or ``(k, n_features)`` (rest only)."""
        if self.is_frozen:
            raise SignalError("the Normaliser is frozen: reset() before recalibrating")
        v = self._rows_of(values)
        self._rows.append(np.asarray(v[:, self._mask], dtype=np.float64))
        self._n += v.shape[0]
        if self.calibration_frames is not None and self._n >= self.calibration_frames:
            self.freeze()

    def freeze(self) -> None:
        """Fix the baseline to the median of the collected frames."""
        if self._n == 0:
            raise SignalError(
                "cannot freeze the Normaliser without calibration frames: feed frames recorded "
                "at rest with update() first"
            )
        data = np.vstack(self._rows)
        ok = ~np.isnan(data)
        if not ok.any(axis=0).all():
            names = np.array(self.feature_set.names)[self._mask][~ok.any(axis=0)]
            raise SignalError(
                f"no valid calibration value for {', '.join(names)}: every calibration frame "
                "had a gap or a missing stream; calibrate again"
            )
        base = np.nanmedian(data, axis=0)
        self._baseline = np.maximum(base, _TINY)
        self._rows = []

    def fit(self, values: np.ndarray) -> Normaliser:
        """Batch form: calibrate on ``(k, n_features)`` and freeze."""
        self.reset()
        self.update(values)
        if not self.is_frozen:
            self.freeze()
        return self

    def transform(self, values: np.ndarray) -> np.ndarray:
        """Normalise ``(n_features,)`` or ``(k, n_features)``; dtype and shape preserved."""
        if self._baseline is None:
            raise SignalError(
                "the Normaliser is not calibrated: update() with rest frames, freeze()"
            )
        arr = np.asarray(values)
        v = self._rows_of(arr)
        out = np.array(v, dtype=np.float64)
        amp = out[:, self._mask]
        ratio = np.maximum(amp / self._baseline, _MIN_RATIO)
        out[:, self._mask] = np.log(ratio)  # NaN stays NaN
        out = out.astype(arr.dtype if arr.dtype.kind == "f" else np.float64, copy=False)
        return out[0] if arr.ndim == 1 else out

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form of a frozen normaliser (to store a wearer's baseline)."""
        return {"feature_set": self.feature_set.name, "baseline": self.baseline.tolist()}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> Normaliser:
        """Inverse of :meth:`to_dict`."""
        fs = FeatureSet.from_name(str(d["feature_set"]))
        n = cls(fs)
        base = np.asarray(d["baseline"], dtype=np.float64)
        if base.shape != (int(fs.amplitude_mask.sum()),):
            raise SignalError(
                f"baseline for {fs.name} must have {int(fs.amplitude_mask.sum())} values "
                f"(got {base.shape})"
            )
        n._baseline = base
        return n
