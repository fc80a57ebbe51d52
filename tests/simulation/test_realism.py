"""Realism comparison: loaders on a tiny fake data folder; real data when present."""

from __future__ import annotations

import numpy as np
import pytest

from spasmwatch.errors import ConfigError
from spasmwatch.simulation._realism import (
    acc_walking_stats,
    compare,
    emg_stats,
    load_myo,
    simulate_walking,
)


def test_load_myo_skips_and_counts_malformed_rows(tmp_path):
    d = tmp_path / "myo-readings" / "right_hand" / "1-1"
    d.mkdir(parents=True)
    (d / "0.txt").write_text("1,2,3,4,5,6,7,8,0\n1,2,3\nx,2,3,4,5,6,7,8,0\n-1,0,0,0,0,0,0,0,0\n")
    out = load_myo(tmp_path)
    assert out["_skipped"] == 2
    assert out["right_hand/1-1"]["0"].shape == (2, 9)
    with pytest.raises(ConfigError, match="myo-readings"):
        load_myo(tmp_path / "nowhere")


def test_stats_on_known_signals():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2000, 8)) * 10.0
    s = emg_stats([x])
    assert 8.0 < s["rms_1s_pct"]["50.0"] < 12.0
    walk = simulate_walking(1, duration_s=40.0)
    a = acc_walking_stats([walk])
    assert a["n_windows"] > 3
    assert 1.5 <= a["step_hz_pct"]["50.0"] <= 2.5


def test_simulation_close_to_real_recordings(shared_data, tmp_path):
    rep = compare(shared_data, n_sim=3, max_participants=3, out_dir=tmp_path)
    e = rep.emg
    for kind in ("rest", "contraction"):
        real, sim = e[f"real {kind}"], e[f"sim {kind}"]
        ratio = sim["rms_1s_pct"]["50.0"] / real["rms_1s_pct"]["50.0"]
        assert 0.33 < ratio < 3.0, (kind, ratio)
    r, s = rep.acc["real (Daphnet ankle)"], rep.acc["sim (leg, 64 Hz)"]
    assert abs(r["step_hz_pct"]["50.0"] - s["step_hz_pct"]["50.0"]) <= 0.5
    assert 0.5 < s["mag_std_pct"]["50.0"] / r["mag_std_pct"]["50.0"] < 2.0
    assert (tmp_path / "img" / "simulation-emg.png").exists()
