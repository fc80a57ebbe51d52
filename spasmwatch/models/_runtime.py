"""ONNX runtime wrapper: load a self-describing spasm classifier, check it fits, predict.

Only ``onnxruntime`` and ``numpy`` are needed here (not ``onnx``), so the monitor stays
light. Sessions run single-threaded and sequential by default: background monitoring must
not compete with the wearer's phone or laptop for cores.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from spasmwatch.core import StreamSpec
from spasmwatch.errors import ModelError
from spasmwatch.models._metadata import ModelMetadata

__all__ = ["BUNDLED_DIR", "Probabilities", "SpasmModel", "choose_bundled_model", "read_metadata"]

#: Folder of the bundled default models.
BUNDLED_DIR = Path(__file__).resolve().parent / "bundled"

#: Relative slack allowed below a model's required rate (device clocks are not exact:
#: a Polar "52 Hz" stream measures 51.6 Hz).
RATE_TOLERANCE = 0.02


@dataclass(frozen=True, slots=True, eq=False)
class Probabilities:
    """Classifier output for ``n`` windows.

    Attributes
    ----------
    p_spasm : numpy.ndarray
        float64 ``(n,)``: probability that the window contains a spasm,
        ``1 - p[negative_class]``.
    p_types : numpy.ndarray
        float64 ``(n, n_types)``: probability of each spasm type *given* a spasm (rows sum
        to 1; uniform where the model gives no type mass).
    type_names : tuple of str
        Column names of ``p_types``.
    """

    p_spasm: np.ndarray
    p_types: np.ndarray
    type_names: tuple[str, ...]

    def __len__(self) -> int:
        return int(self.p_spasm.shape[0])


def _session(path: Path, intra_op_threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = intra_op_threads
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3
    try:
        return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(
            f"{path}: onnxruntime cannot load this file as an ONNX model ({exc}); "
            "re-export it or pick another model",
            reason="invalid",
        ) from exc


def read_metadata(path: str | Path) -> ModelMetadata:
    """Read only the :class:`ModelMetadata` of an ONNX file.

    Raises
    ------
    ModelError
        File missing, not ONNX, or without a spasmwatch description.
    """
    p = Path(path)
    if not p.is_file():
        raise ModelError(f"model file {p} does not exist", reason="missing")
    sess = _session(p, 1)
    return ModelMetadata.from_props(sess.get_modelmeta().custom_metadata_map, source=str(p))


class SpasmModel:
    """A loaded spasm classifier.

    Parameters
    ----------
    path : str or Path
        ONNX file carrying :class:`ModelMetadata` in its ``metadata_props``.
    intra_op_threads : int
        Threads onnxruntime may use inside one operator (default 1). Inter-op threads are
        always 1 and execution is sequential.

    Raises
    ------
    ModelError
        Missing or invalid file, no/malformed metadata, or a graph whose input/output does
        not agree with the metadata.
    """

    def __init__(self, path: str | Path, *, intra_op_threads: int = 1) -> None:
        if isinstance(intra_op_threads, bool) or not isinstance(intra_op_threads, int):
            raise ModelError(f"intra_op_threads must be an int >= 1 (got {intra_op_threads!r})")
        if intra_op_threads < 1:
            raise ModelError(f"intra_op_threads must be >= 1 (got {intra_op_threads})")
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelError(f"model file {self.path} does not exist", reason="missing")
        self._sess = _session(self.path, intra_op_threads)
        self.metadata = ModelMetadata.from_props(
            self._sess.get_modelmeta().custom_metadata_map, source=str(self.path)
        )
        md = self.metadata
        if md.input_layout != "features":
            raise ModelError(
                f"{self.path}: input_layout {md.input_layout!r} is not supported by this "
                "runtime (expected 'features')",
                reason="unsupported",
            )
        inputs = self._sess.get_inputs()
        if len(inputs) != 1:
            raise ModelError(
                f"{self.path}: expected a graph with 1 input (got {len(inputs)})",
                reason="invalid",
            )
        self._input_name = inputs[0].name
        shape = inputs[0].shape
        if len(shape) != 2 or (isinstance(shape[1], int) and shape[1] != md.n_features):
            raise ModelError(
                f"{self.path}: graph input {self._input_name!r} has shape {shape}, but the "
                f"metadata lists {md.n_features} features (expected [n, {md.n_features}])",
                reason="invalid",
            )
        names = [o.name for o in self._sess.get_outputs()]
        if md.output_name not in names:
            raise ModelError(
                f"{self.path}: metadata output_name {md.output_name!r} is not a graph output "
                f"(outputs: {names})",
                reason="invalid",
            )
        self._neg = md.class_names.index(md.negative_class)
        self._type_idx = [i for i, c in enumerate(md.class_names) if c != md.negative_class]

    def __repr__(self) -> str:
        md = self.metadata
        return f"SpasmModel({md.model_id!r} v{md.version}, kinds={list(md.stream_kinds)})"

    @property
    def session_options(self):
        """The onnxruntime session options in effect (threads, execution mode)."""
        return self._sess.get_session_options()

    # ------------------------------------------------------------------ checks

    def check_streams(self, specs: Sequence[StreamSpec]) -> None:
        """Refuse streams this model cannot use.

        Parameters
        ----------
        specs : sequence of StreamSpec
            The streams that will feed the model. Extra streams are ignored.

        Raises
        ------
        ModelError
            ``reason="stream_mismatch"``; the message lists every problem found (missing
            kind, rate below ``metadata.min_rates_hz`` - EMG >= 200 Hz, ACC >= 25 Hz for
            the bundled models; streams at other rates are resampled to
            ``metadata.rates_hz`` by the pipeline -, too few channels).
        """
        md = self.metadata
        problems: list[str] = []
        for kind in md.stream_kinds:
            cands = [s for s in specs if s.kind == kind]
            if not cands:
                have = sorted({s.key for s in specs}) or ["none"]
                problems.append(f"needs a {kind!r} stream, none given (streams: {have})")
                continue
            need_rate = md.min_rates_hz[kind]
            need_ch = md.min_channels[kind]
            ok = [
                s
                for s in cands
                if s.rate_hz >= need_rate * (1 - RATE_TOLERANCE) and s.n_channels >= need_ch
            ]
            if ok:
                continue
            for s in cands:
                if s.rate_hz < need_rate * (1 - RATE_TOLERANCE):
                    problems.append(
                        f"stream {s.key} runs at {s.rate_hz:g} Hz, the model needs >= "
                        f"{need_rate:g} Hz for {kind!r} (resampled to "
                        f"{md.rates_hz[kind]:g} Hz)"
                    )
                if s.n_channels < need_ch:
                    problems.append(
                        f"stream {s.key} has {s.n_channels} channel(s), the model needs >= "
                        f"{need_ch} for {kind!r}"
                    )
        if problems:
            raise ModelError(
                f"model {md.model_id!r} ({self.path.name}) does not fit the streams: "
                + "; ".join(problems)
                + ". Configure the device accordingly or choose a model for these streams "
                "(choose_bundled_model).",
                reason="stream_mismatch",
            )

    # ------------------------------------------------------------------ inference

    def predict(self, X: np.ndarray) -> Probabilities:
        """Classify windows.

        Parameters
        ----------
        X : numpy.ndarray
            ``(n_windows, n_features)`` feature rows in ``metadata.feature_names`` order, or
            one window ``(n_features,)`` (treated as ``n_windows = 1``). Cast to float32.

        Returns
        -------
        Probabilities
            ``p_spasm`` ``(n_windows,)`` and ``p_types`` ``(n_windows, n_types)``.

        Raises
        ------
        ModelError
            ``reason="bad_input"`` for a wrong shape or a non-numeric array.
        """
        md = self.metadata
        a = np.asarray(X)
        if a.dtype.kind not in "fiub":
            raise ModelError(
                f"predict: X must be a numeric array (got dtype {a.dtype})", reason="bad_input"
            )
        if a.ndim == 1:
            a = a.reshape(1, -1)
        if a.ndim != 2 or a.shape[1] != md.n_features:
            raise ModelError(
                f"predict: X must have shape (n_windows, {md.n_features}) with columns "
                f"{list(md.feature_names[:4])}{'...' if md.n_features > 4 else ''} for model "
                f"{md.model_id!r} (got shape {np.shape(X)})",
                reason="bad_input",
            )
        n = a.shape[0]
        if n == 0:
            return Probabilities(np.zeros(0), np.zeros((0, len(self._type_idx))), md.type_names)
        a = np.ascontiguousarray(a, dtype=np.float32)
        (probs,) = self._sess.run([md.output_name], {self._input_name: a})
        probs = np.asarray(probs, dtype=np.float64)
        if probs.shape != (n, len(md.class_names)):
            raise ModelError(
                f"model {md.model_id!r}: output {md.output_name!r} has shape {probs.shape}, "
                f"expected ({n}, {len(md.class_names)}) for classes {list(md.class_names)}",
                reason="invalid",
            )
        p_spasm = np.clip(1.0 - probs[:, self._neg], 0.0, 1.0)
        t = np.clip(probs[:, self._type_idx], 0.0, None)
        s = t.sum(axis=1, keepdims=True)
        k = t.shape[1]
        p_types = np.where(s > 0, t / np.where(s > 0, s, 1.0), 1.0 / k)
        return Probabilities(p_spasm, p_types, md.type_names)


def choose_bundled_model(
    available_kinds: Iterable[str], models_dir: str | Path | None = None
) -> Path:
    """Pick the model that uses the most of the available streams.

    Every ``*.onnx`` in ``models_dir`` (default :data:`BUNDLED_DIR`) whose ``stream_kinds``
    are all available is a candidate; the one needing the most kinds wins (EMG+ACC before
    EMG-only before ACC-only; among equals EMG-using models first, then by file name).

    Raises
    ------
    ModelError
        ``reason="no_model"`` when no model fits; the message lists what each needs.
    """
    avail = set(available_kinds)
    d = Path(models_dir) if models_dir is not None else BUNDLED_DIR
    files = sorted(d.glob("*.onnx")) if d.is_dir() else []
    ranked: list[tuple[int, int, str, Path]] = []
    seen: list[str] = []
    for f in files:
        try:
            md = read_metadata(f)
        except ModelError as exc:
            seen.append(f"{f.name}: unreadable ({exc.reason})")
            continue
        seen.append(f"{f.name} needs {list(md.stream_kinds)}")
        if set(md.stream_kinds) <= avail:
            ranked.append((-len(md.stream_kinds), 0 if "emg" in md.stream_kinds else 1, f.name, f))
    if not ranked:
        raise ModelError(
            f"no model in {d} fits the available streams {sorted(avail)} "
            f"({'; '.join(seen) if seen else 'no .onnx files found'}); connect a device with "
            "the missing stream or pass a model explicitly",
            reason="no_model",
        )
    return min(ranked)[3]
