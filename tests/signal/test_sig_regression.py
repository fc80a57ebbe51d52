"""Pinned feature outputs: optimisations of the signal stage must not change its numbers.

``data/fs1_regression.npz`` holds the outputs of the signal stage on fixed, seeded signals as
computed by the implementation before the performance work (the reference). Every case is
recomputed here and compared within float tolerance; counts (ZC, SSC), bin frequencies (MDF,
DOMF), NaN patterns, grid times, flags and *when* (at which ``update`` call) each frame is
emitted must be identical.

Regenerate only when the feature definitions change on purpose (and bump the feature-set
version then): ``python tests/signal/test_sig_regression.py --write``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from spasmwatch.core import Gap, SampleBlock, StreamSpec
from spasmwatch.signal import (
    EmgFeatures,
    SignalPipeline,
    acc_window_features,
    emg_window_features,
)

DATA = Path(__file__).resolve().parent / "data" / "fs1_regression.npz"
#: The pinned feature set (fs-2 and fs-3 add columns, tested against plain numpy in
#: test_sig_features; their fs-1 columns are these).
V = "fs-1"
T0 = 1_700_000_000_000_000_000
EMG8 = StreamSpec("myo", "emg", tuple(f"c{i}" for i in range(8)), 200.0, "counts")
ACC100 = StreamSpec("polar-h10", "acc", ("x", "y", "z"), 100.0, "mG")
EMG1K = StreamSpec("nus", "emg", ("a", "b"), 1000.0, "uV")
ACC25 = StreamSpec("nus", "acc", ("x", "y", "z"), 25.0, "g")


def _times(n: int, rate: float, offset_ns: int, jitter_seed: int | None = None) -> np.ndarray:
    t = T0 + offset_ns + np.round(np.arange(n) * 1e9 / rate).astype(np.int64)
    if jitter_seed is not None:  # host-time jitter of up to +-0.3 periods, kept monotonic
        rng = np.random.default_rng(jitter_seed)
        t = t + np.round(rng.uniform(-0.3, 0.3, n) * 1e9 / rate).astype(np.int64)
        t = np.maximum.accumulate(t)
    return t


def _emg(n: int, c: int, rate: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    burst = 1.0 + 5.0 * (np.sin(2 * np.pi * 0.2 * t) > 0.7)
    clonus = 1.0 + 0.8 * np.sin(2 * np.pi * 5.5 * t) * (t > 0.6 * t[-1])
    x = rng.normal(size=(n, c)) * (8.0 * burst * clonus)[:, None] + 40.0 * np.arange(c)
    x += 6.0 * np.sin(2 * np.pi * 50.0 * t)[:, None]  # mains
    return x.astype(np.float32)


def _acc(n: int, rate: float, seed: int, unit: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(n) / rate
    x = rng.normal(size=(n, 3)) * 0.03
    ang = np.clip((t - 0.3 * t[-1]) / 2.0, 0, 1) * np.pi / 3  # slow tilt
    x[:, 1] += np.sin(ang)
    x[:, 2] += np.cos(ang)
    x[:, 0] += 0.25 * np.sin(2 * np.pi * 4.5 * t) * (t > 0.5 * t[-1])
    return (x * unit).astype(np.float32)


def _blocks(spec: StreamSpec, t: np.ndarray, x: np.ndarray, sizes: list[int]) -> list[SampleBlock]:
    out, a, i = [], 0, 0
    while a < len(t):
        b = min(len(t), a + sizes[i % len(sizes)])
        out.append(SampleBlock(spec, t[a:b], x[a:b], first_index=a))
        a, i = b, i + 1
    return out


def _interleave(*lists: list[SampleBlock]) -> list[SampleBlock]:
    return sorted((b for lst in lists for b in lst), key=lambda b: int(b.t_ns[-1]))


def _stream(pipe: SignalPipeline, blocks: list[SampleBlock]) -> dict[str, np.ndarray]:
    t, x, gap, miss, call = [], [], [], [], []
    for i, blk in enumerate([*blocks, None]):
        frames = pipe.update(blk) if blk is not None else pipe.flush()
        for f in frames:
            t.append(f.t_end_ns)
            x.append(f.values)
            gap.append(f.has_gap)
            miss.append("|".join(f.missing))
            call.append(i)
    return {
        "t": np.array(t, np.int64),
        "X": np.array(x, np.float64).reshape(len(t), -1),
        "has_gap": np.array(gap, bool),
        "missing": np.array(miss, dtype="U16"),
        "call": np.array(call, np.int64),
    }


def _extract(pipe: SignalPipeline, streams: dict) -> dict[str, np.ndarray]:
    t, x, flags = pipe.extract(streams)
    out = {"t": t, "X": x.astype(np.float64)}
    out.update({k.replace(".", "_"): v for k, v in flags.items()})
    return out


def _gapped_blocks() -> list[SampleBlock]:
    """EMG 1 kHz with a packet loss (index jump + Gap) and a discontinuity; ACC 25 Hz."""
    ne, na = 14_000, 350
    te, xe = _times(ne, 1000.0, 1_000_000, jitter_seed=3), _emg(ne, 2, 1000.0, seed=3)
    ta, xa = _times(na, 25.0, 13_000_000), _acc(na, 25.0, seed=4, unit=1.0)
    emg = []
    for a, b, gaps in [
        (0, 4000, ()),
        (4000, 6000, ()),
        (6120, 9000, (Gap(int(te[5999]), int(te[6120]), 120, "packet_loss"),)),
        (9000, 9100, (Gap(int(te[8999]), int(te[9000]), 0, "disconnect"),)),
        (9100, 14_000, ()),
    ]:
        step = 37 if a == 9100 else b - a
        for c in range(a, b, step):
            emg.append(
                SampleBlock(
                    EMG1K,
                    te[c : min(b, c + step)],
                    xe[c : min(b, c + step)],
                    first_index=c,
                    gaps=gaps if c == a else (),
                )
            )
    return _interleave(emg, _blocks(ACC25, ta, xa, [11, 3, 40]))


def compute_all() -> dict[str, np.ndarray]:
    """Every pinned output, keyed ``<case>.<array>``."""
    out: dict[str, np.ndarray] = {}

    def put(case: str, d: dict[str, np.ndarray]) -> None:
        for k, v in d.items():
            out[f"{case}.{k}"] = np.asarray(v)

    secs = 30
    ne, na = secs * 200, secs * 100
    te, xe = _times(ne, 200.0, 2_000_000, jitter_seed=1), _emg(ne, 8, 200.0, seed=1)
    ta, xa = _times(na, 100.0, 7_000_000, jitter_seed=2), _acc(na, 100.0, seed=2, unit=1000.0)
    both = {"emg": (te, xe), "acc": (ta, xa)}
    for hop in (0.25, 0.5):
        key = f"extract_hop{int(hop * 1000)}"
        put(key, _extract(SignalPipeline([EMG8, ACC100], hop_s=hop, feature_set_version=V), both))
    # live-sized notifications (Myo 2 EMG samples, H10 ~36 ACC samples) and mixed sizes
    live = _interleave(_blocks(EMG8, te, xe, [2]), _blocks(ACC100, ta, xa, [36]))
    put("live_2_36", _stream(SignalPipeline([EMG8, ACC100], feature_set_version=V), live))
    mixed = _interleave(_blocks(EMG8, te, xe, [8, 1, 50, 3, 333]), _blocks(ACC100, ta, xa, [4, 97]))
    put(
        "mixed_hop500",
        _stream(SignalPipeline([EMG8, ACC100], hop_s=0.5, feature_set_version=V), mixed),
    )
    put(
        "emg_only",
        _extract(
            SignalPipeline([EMG8], window_s=1.0, hop_s=0.1, feature_set_version=V),
            {"emg": (te, xe)},
        ),
    )
    put(
        "gapped_1k",
        _stream(
            SignalPipeline(
                [EMG1K, ACC25],
                mains_hz=60.0,
                stale_timeout_s=0.5,
                feature_set_version=V,
                same_device_stale_s=None,  # pinned before streams were grouped by device
            ),
            _gapped_blocks(),
        ),
    )
    # the window functions on their own
    rng = np.random.default_rng(9)
    for dtype in (np.float32, np.float64):
        w = (rng.normal(size=(5, 400, 3)) * [1.0, 4.0, 0.2]).astype(dtype)
        thr = rng.uniform(0.05, 0.8, size=(5, 3))
        per, agg = emg_window_features(w, 200.0, thr, V)
        put(f"emg_windows_{np.dtype(dtype).name}", {"per": per, "agg": agg})
    wa = rng.normal(size=(4, 200, 9)) * 0.05
    wa[:, :, 5] += 1.0
    wa[1, :, 0] += 0.3 * np.sin(2 * np.pi * 6.0 * np.arange(200) / 100.0)
    put("acc_windows", {"out": acc_window_features(wa, 100.0, V)})
    ef = EmgFeatures(200.0, 3, V)
    wf = (rng.normal(size=(6, 400, 3)) * rng.uniform(0.5, 3.0, size=(6, 1, 1))).astype(np.float32)
    a = ef.update(wf[:2])
    b = ef.update(wf[2:], has_gap=np.array([False, True, False, False]))
    put("emg_features_state", {"out": np.vstack([a, b]), "floor": ef.noise_floor})
    return out


@pytest.fixture(scope="module")
def pinned() -> dict[str, np.ndarray]:
    with np.load(DATA) as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def now() -> dict[str, np.ndarray]:
    return compute_all()


def test_same_cases_as_pinned(pinned, now):
    assert sorted(now) == sorted(pinned)
    for key in pinned:
        assert now[key].shape == pinned[key].shape, key


def _keys(floating: bool) -> list[str]:
    if not DATA.exists():  # test_same_cases_as_pinned fails then
        return []
    with np.load(DATA) as z:
        return sorted(k for k in z.files if (z[k].dtype.kind == "f") == floating)


@pytest.mark.parametrize("key", _keys(floating=False))
def test_grid_flags_and_emission_are_identical(pinned, now, key):
    np.testing.assert_array_equal(now[key], pinned[key])


@pytest.mark.parametrize("key", _keys(floating=True))
def test_features_equal_pinned(pinned, now, key):
    ref, got = pinned[key], now[key]
    assert got.shape == ref.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    # per column: relative 2e-5, absolute 1e-6 of the column's scale (float32 windows)
    cols = ref.reshape(ref.shape[0], -1) if ref.ndim > 1 else ref.reshape(-1, 1)
    scale = np.nanmax(np.abs(cols), axis=0, initial=0.0)
    atol = np.broadcast_to(1e-6 * scale, cols.shape).reshape(ref.shape)
    g = got.reshape(ref.shape)
    ok = np.isclose(g, ref, rtol=2e-5, atol=0.0) | (np.abs(g - ref) <= atol)
    ok |= np.isnan(ref)
    bad = np.argwhere(~ok)
    assert ok.all(), f"{key}: {len(bad)} values differ, first at {bad[:3].tolist()}"


def test_discrete_features_are_exact(pinned, now):
    """Counts and bin frequencies must not move by a bin (a real change, not rounding)."""
    for key in ("extract_hop250.X", "live_2_36.X", "gapped_1k.X"):
        for col in (3, 4, 7):  # emg.ZC, emg.SSC, emg.MDF
            np.testing.assert_array_equal(now[key][:, col], pinned[key][:, col])
        np.testing.assert_array_equal(now[key][:, 14], pinned[key][:, 14])  # acc.DOMF


if __name__ == "__main__":
    if "--write" not in sys.argv:
        sys.exit("usage: python tests/signal/test_sig_regression.py --write")
    DATA.parent.mkdir(exist_ok=True)
    np.savez_compressed(DATA, **compute_all())
    print(f"wrote {DATA}")
