"""The self-description a spasmwatch ONNX model carries in its ``metadata_props``.

ONNX ``metadata_props`` is a flat string-to-string map. spasmwatch writes one key per field
(below); structured values (lists, maps) are JSON, numbers are their ``repr``. The key
``spasmwatch_format`` marks a spasmwatch model and versions this layout.

==================  =========================================================================
key                 value
==================  =========================================================================
spasmwatch_format   ``"1"``
model_id            e.g. ``"sw-emg-acc"``
version             model version, e.g. ``"2025.1"``
input_layout        ``"features"`` (one row of named features per window) or ``"raw"``
feature_names       JSON list of feature names in column order (``features`` layout)
feature_set         version of the feature set that computed them, e.g. ``"fs1"``
stream_kinds        JSON list of stream kinds needed, e.g. ``["emg", "acc"]``
rates_hz            JSON map kind -> rate in Hz the features were computed at, e.g.
                    ``{"emg": 200, "acc": 50}`` (other rates are resampled to it)
min_rates_hz        JSON map kind -> lowest stream rate the model accepts, Hz (optional;
                    default :data:`MIN_STREAM_RATES_HZ` capped at ``rates_hz``)
min_channels        JSON map kind -> minimum channel count, e.g. ``{"acc": 3}``
window_s, hop_s     analysis window length and hop in s
class_names         JSON list of the output classes in column order, e.g.
                    ``["none", "tonic", "clonic", "mixed", "myoclonic"]``
negative_class      the class that means "no spasm" (default ``"none"``)
output_name         name of the graph output holding class probabilities
thresholds          JSON map, e.g. ``{"onset": 0.6, "offset": 0.4}``; a key ending in
                    ``@emg<N>`` (``"onset@emg2"``) applies only when the EMG stream has N
                    channels (device-specific operating points, see
                    :meth:`ModelMetadata.thresholds_for`)
training_data       free text: what the model was trained on
seed                training seed (int) or empty
metrics             JSON map of evaluation figures
emg_notch_hz        JSON list of the mains frequencies the EMG was notched at while the
                    features were computed, ``[50.0]``, ``[60.0]`` or ``[50.0, 60.0]``
                    (optional; models without it were trained with ``[50.0]``)
==================  =========================================================================
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from spasmwatch.core import STREAM_KINDS
from spasmwatch.errors import ConfigError, ModelError
from spasmwatch.signal._filters import mains_frequencies

__all__ = ["FORMAT_VERSION", "INPUT_LAYOUTS", "MIN_STREAM_RATES_HZ", "ModelMetadata"]

FORMAT_VERSION = "1"
INPUT_LAYOUTS = frozenset({"features", "raw"})
#: The rate contract (Hz): streams at or above these rates are resampled to the model's
#: ``rates_hz`` (down, or up: a 25 Hz accelerometer is upsampled 2x for a 50 Hz model - the
#: features' 3-8 Hz band lies below its 12.5 Hz Nyquist frequency, so they stay meaningful).
#: Kinds not listed accept nothing below the model's own rate.
MIN_STREAM_RATES_HZ: dict[str, float] = {"emg": 200.0, "acc": 25.0}


def _emg_group(key: str) -> int | None:
    """The EMG channel count a threshold key is for (``"onset@emg2"`` -> 2), ``None`` for a
    plain key; raises for another suffix."""
    if "@" not in key:
        return None
    base, _, sfx = key.partition("@")
    n = sfx[3:]
    if not base or not sfx.startswith("emg") or not n.isdigit() or int(n) < 1:
        raise _bad(f"thresholds.{key}", "a plain key or one ending in @emg<N> (N >= 1)", key)
    return int(n)


def _thresholds_for(th: Mapping[str, float], emg_channels: int | None) -> dict[str, float]:
    out = {k: v for k, v in th.items() if "@" not in k}
    if emg_channels is not None:
        sfx = f"@emg{int(emg_channels)}"
        out.update({k[: -len(sfx)]: v for k, v in th.items() if k.endswith(sfx)})
    return out


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def _bad(field_name: str, expected: str, got: object) -> ModelError:
    return ModelError(
        f"model metadata {field_name!r} must be {expected} (got {got!r})", reason="bad_metadata"
    )


def _pos_float(name: str, v: object) -> float:
    if isinstance(v, bool) or not isinstance(v, int | float):
        raise _bad(name, "a number > 0", v)
    f = float(v)
    if not math.isfinite(f) or f <= 0:
        raise _bad(name, "a finite number > 0", v)
    return f


@dataclass(frozen=True, slots=True)
class ModelMetadata:
    """Description of a spasm classifier: what it needs and what it outputs.

    Parameters
    ----------
    model_id : str
        Stable id, e.g. ``"sw-emg-acc"``; stored with every detected episode.
    version : str
        Model version.
    input_layout : str
        ``"features"``: input is ``(n_windows, n_features)`` float32 of the named features;
        ``"raw"``: input is raw windows (not used by the bundled models).
    stream_kinds : tuple of str
        Stream kinds the model needs (``"emg"``, ``"acc"`` ...).
    rates_hz : mapping kind -> float
        Rate per needed kind the features were computed at, Hz; streams at other rates are
        resampled to it by the pipeline.
    window_s, hop_s : float
        Analysis window length and hop, s.
    class_names : tuple of str
        Output classes in column order; one of them is ``negative_class``.
    feature_names : tuple of str
        Feature column names (required for the ``features`` layout).
    feature_set : str
        Feature-set version that produced the features.
    min_channels : mapping kind -> int
        Minimum channel count per kind (default: 1 for each needed kind).
    negative_class : str
        The "no spasm" class; ``p_spasm = 1 - p[negative_class]``.
    output_name : str
        Graph output holding the ``(n, n_classes)`` probabilities.
    thresholds : mapping str -> float
        Decision thresholds, at least ``onset`` and ``offset`` in [0, 1]. Keys with the
        suffix ``@emg<N>`` (e.g. ``"onset@emg2"``, ``"confirm_windows@emg2"``) override the
        plain key for EMG streams of ``N`` channels (:meth:`thresholds_for`).
    training_data : str
        What the model was trained on.
    seed : int or None
        Training seed.
    metrics : mapping
        Evaluation figures (JSON-compatible).
    min_rates_hz : mapping kind -> float
        Lowest stream rate accepted per needed kind, Hz (streams at >= this rate are
        resampled to ``rates_hz``). Missing kinds get ``min(MIN_STREAM_RATES_HZ[kind],
        rates_hz[kind])`` (the model's own rate for kinds without a contract); a value must
        be > 0 and <= ``rates_hz[kind]``.
    emg_notch_hz : tuple of float
        Mains frequencies (50 and/or 60 Hz) whose harmonics were notched out of the EMG
        before the features were computed; the pipeline notches the same by default.
    """

    model_id: str
    version: str
    input_layout: str
    stream_kinds: tuple[str, ...]
    rates_hz: Mapping[str, float]
    window_s: float
    hop_s: float
    class_names: tuple[str, ...]
    feature_names: tuple[str, ...] = ()
    feature_set: str = ""
    min_channels: Mapping[str, int] = field(default_factory=dict)
    negative_class: str = "none"
    output_name: str = "probabilities"
    thresholds: Mapping[str, float] = field(default_factory=lambda: {"onset": 0.6, "offset": 0.4})
    training_data: str = ""
    seed: int | None = None
    metrics: Mapping[str, Any] = field(default_factory=dict)
    min_rates_hz: Mapping[str, float] = field(default_factory=dict)
    emg_notch_hz: tuple[float, ...] = (50.0,)

    def __post_init__(self) -> None:
        for name in ("model_id", "version"):
            v = getattr(self, name)
            if not isinstance(v, str) or not v:
                raise _bad(name, "a non-empty string", v)
        if self.input_layout not in INPUT_LAYOUTS:
            raise _bad("input_layout", f"one of {sorted(INPUT_LAYOUTS)}", self.input_layout)
        kinds = tuple(self.stream_kinds)
        if not kinds or len(set(kinds)) != len(kinds) or not set(kinds) <= STREAM_KINDS:
            raise _bad("stream_kinds", f"distinct kinds out of {sorted(STREAM_KINDS)}", kinds)
        object.__setattr__(self, "stream_kinds", kinds)
        rates = dict(self.rates_hz)
        if set(rates) != set(kinds):
            raise _bad("rates_hz", f"one rate for each of {list(kinds)}", rates)
        object.__setattr__(
            self, "rates_hz", {k: _pos_float(f"rates_hz.{k}", rates[k]) for k in kinds}
        )
        mins = dict(self.min_rates_hz)
        if not set(mins) <= set(kinds):
            raise _bad("min_rates_hz", f"keys out of {list(kinds)}", mins)
        full_min = {}
        for k in kinds:
            rate = self.rates_hz[k]
            if k in mins:
                v = _pos_float(f"min_rates_hz.{k}", mins[k])
                if v > rate:
                    raise _bad(f"min_rates_hz.{k}", f"<= rates_hz.{k} ({rate:g})", mins[k])
            else:
                v = min(MIN_STREAM_RATES_HZ.get(k, rate), rate)
            full_min[k] = v
        object.__setattr__(self, "min_rates_hz", full_min)
        chans = dict(self.min_channels)
        if not set(chans) <= set(kinds):
            raise _bad("min_channels", f"keys out of {list(kinds)}", chans)
        full = {k: 1 for k in kinds}
        for k, v in chans.items():
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise _bad(f"min_channels.{k}", "an int >= 1", v)
            full[k] = v
        object.__setattr__(self, "min_channels", full)
        object.__setattr__(self, "window_s", _pos_float("window_s", self.window_s))
        object.__setattr__(self, "hop_s", _pos_float("hop_s", self.hop_s))
        if self.hop_s > self.window_s:
            raise _bad("hop_s", f"<= window_s ({self.window_s})", self.hop_s)
        classes = tuple(self.class_names)
        if len(classes) < 2 or len(set(classes)) != len(classes):
            raise _bad("class_names", "at least two distinct names", classes)
        if self.negative_class not in classes:
            raise _bad("negative_class", f"one of class_names {list(classes)}", self.negative_class)
        object.__setattr__(self, "class_names", classes)
        feats = tuple(self.feature_names)
        if self.input_layout == "features" and not feats:
            raise _bad("feature_names", "a non-empty list for the 'features' layout", feats)
        if len(set(feats)) != len(feats):
            raise _bad("feature_names", "distinct names", feats)
        object.__setattr__(self, "feature_names", feats)
        th = {str(k): float(v) for k, v in dict(self.thresholds).items()}
        groups = {None} | {_emg_group(k) for k in th}
        if len(groups) > 1 and "emg" not in self.stream_kinds:
            raise _bad("thresholds", "without @emg<N> keys (the model has no EMG)", sorted(th))
        for n in sorted(groups, key=lambda g: -1 if g is None else g):
            sfx = "" if n is None else f"@emg{n}"
            got = _thresholds_for(th, n)
            for key in ("onset", "offset"):
                if key not in got or not 0.0 <= got[key] <= 1.0:
                    raise _bad(f"thresholds.{key}{sfx}", "a probability in [0, 1]", got.get(key))
            if got["offset"] > got["onset"]:
                raise _bad(f"thresholds.offset{sfx}", f"<= onset ({got['onset']})", got["offset"])
        object.__setattr__(self, "thresholds", th)
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int)
        ):
            raise _bad("seed", "an int or None", self.seed)
        object.__setattr__(self, "metrics", dict(self.metrics))
        try:
            notch = mains_frequencies(self.emg_notch_hz)
        except ConfigError:
            raise _bad("emg_notch_hz", "[50], [60] or [50, 60]", self.emg_notch_hz) from None
        object.__setattr__(self, "emg_notch_hz", notch)

    # ------------------------------------------------------------------ derived

    @property
    def type_names(self) -> tuple[str, ...]:
        """Spasm type classes (all classes except the negative one), in output order."""
        return tuple(c for c in self.class_names if c != self.negative_class)

    @property
    def n_features(self) -> int:
        """Number of input feature columns."""
        return len(self.feature_names)

    def thresholds_for(self, emg_channels: int | None = None) -> dict[str, float]:
        """The thresholds that apply to an EMG stream of ``emg_channels`` channels.

        Plain keys, overridden by the keys ending in ``@emg<emg_channels>`` (suffix removed).
        ``None``, or a channel count without keys of its own, gives the plain keys: the
        operating point chosen on all validation wearers together.
        """
        return _thresholds_for(self.thresholds, emg_channels)

    @property
    def emg_channel_groups(self) -> tuple[int, ...]:
        """EMG channel counts with thresholds of their own (ascending)."""
        return tuple(sorted({g for k in self.thresholds if (g := _emg_group(k)) is not None}))

    # ------------------------------------------------------------------ (de)serialise

    def to_props(self) -> dict[str, str]:
        """The ``metadata_props`` map (all values are strings)."""
        return {
            "spasmwatch_format": FORMAT_VERSION,
            "model_id": self.model_id,
            "version": self.version,
            "input_layout": self.input_layout,
            "feature_names": json.dumps(list(self.feature_names)),
            "feature_set": self.feature_set,
            "stream_kinds": json.dumps(list(self.stream_kinds)),
            "rates_hz": json.dumps(dict(self.rates_hz), sort_keys=True),
            "min_rates_hz": json.dumps(dict(self.min_rates_hz), sort_keys=True),
            "min_channels": json.dumps(dict(self.min_channels), sort_keys=True),
            "window_s": repr(self.window_s),
            "hop_s": repr(self.hop_s),
            "class_names": json.dumps(list(self.class_names)),
            "negative_class": self.negative_class,
            "output_name": self.output_name,
            "thresholds": json.dumps(dict(self.thresholds), sort_keys=True),
            "training_data": self.training_data,
            "seed": "" if self.seed is None else str(self.seed),
            "metrics": json.dumps(dict(self.metrics), sort_keys=True),
            "emg_notch_hz": json.dumps(list(self.emg_notch_hz)),
        }

    @classmethod
    def from_props(cls, props: Mapping[str, str], *, source: str = "model") -> ModelMetadata:
        """Parse a ``metadata_props`` map.

        Parameters
        ----------
        props : mapping str -> str
            As read from the ONNX file (``onnx`` ``metadata_props`` or onnxruntime's
            ``custom_metadata_map``).
        source : str
            Named in error messages (usually the file path).

        Raises
        ------
        ModelError
            The map is not a spasmwatch model description, or a value is malformed.
        """
        if props.get("spasmwatch_format") != FORMAT_VERSION:
            raise ModelError(
                f"{source}: not a spasmwatch model (metadata_props 'spasmwatch_format' is "
                f"{props.get('spasmwatch_format')!r}, expected {FORMAT_VERSION!r}); export it "
                "with spasmwatch's training tools or attach ModelMetadata.to_props()",
                reason="no_metadata",
            )

        def req(key: str) -> str:
            if key not in props:
                raise ModelError(f"{source}: metadata_props lacks {key!r}", reason="bad_metadata")
            return props[key]

        def js(key: str, default: str | None = None) -> Any:
            raw = props.get(key, default) if default is not None else req(key)
            try:
                return json.loads(raw)
            except (TypeError, json.JSONDecodeError) as exc:
                raise ModelError(
                    f"{source}: metadata_props {key!r} is not valid JSON (got {raw!r})",
                    reason="bad_metadata",
                ) from exc

        def num(key: str) -> float:
            raw = req(key)
            try:
                return float(raw)
            except ValueError as exc:
                raise ModelError(
                    f"{source}: metadata_props {key!r} must be a number (got {raw!r})",
                    reason="bad_metadata",
                ) from exc

        seed_raw = props.get("seed", "")
        try:
            seed = int(seed_raw) if seed_raw else None
        except ValueError as exc:
            raise ModelError(
                f"{source}: metadata_props 'seed' must be an int (got {seed_raw!r})",
                reason="bad_metadata",
            ) from exc
        try:
            return cls(
                model_id=req("model_id"),
                version=req("version"),
                input_layout=req("input_layout"),
                stream_kinds=tuple(js("stream_kinds")),
                rates_hz=js("rates_hz"),
                window_s=num("window_s"),
                hop_s=num("hop_s"),
                class_names=tuple(js("class_names")),
                feature_names=tuple(js("feature_names", "[]")),
                feature_set=props.get("feature_set", ""),
                min_channels=js("min_channels", "{}"),
                negative_class=props.get("negative_class", "none"),
                output_name=props.get("output_name", "probabilities"),
                thresholds=js("thresholds", '{"onset": 0.6, "offset": 0.4}'),
                training_data=props.get("training_data", ""),
                seed=seed,
                metrics=js("metrics", "{}"),
                min_rates_hz=js("min_rates_hz", "{}"),
                emg_notch_hz=tuple(_as_list(js("emg_notch_hz", "[50.0]"))),
            )
        except ModelError as exc:
            raise ModelError(f"{source}: {exc}", reason=exc.reason) from exc

    def attach_to(self, model: Any) -> Any:
        """Write :meth:`to_props` into an ``onnx.ModelProto`` (replacing these keys).

        Needs the ``onnx`` package (the ``train`` extra). Returns the same proto.
        """
        props = self.to_props()
        keep = [p for p in model.metadata_props if p.key not in props]
        del model.metadata_props[:]
        for p in keep:
            model.metadata_props.add(key=p.key, value=p.value)
        for k, v in props.items():
            model.metadata_props.add(key=k, value=v)
        return model
