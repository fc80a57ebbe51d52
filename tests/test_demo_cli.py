"""``spasmwatch demo`` (what ``make demo`` runs): a simulated wearer through the real monitor."""

from __future__ import annotations

import csv
import re

from spasmwatch.cli import main
from spasmwatch.store import EventStore, open_recording


def test_demo_logs_the_simulated_spasms_and_says_what_it_found(tmp_path, capsys):
    data = tmp_path / "demo"
    # 6 simulated minutes (the first is the rest calibration) of a wearer with about one
    # spasm a minute; 60x is a ceiling: the simulated clock waits for a slower host
    argv = ["demo", "--minutes", "6", "--speed", "60", "--no-serve", "--data-dir", str(data)]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "Not a diagnostic device" in out
    m = re.search(r"summary: (\d+) episodes logged; the simulated wearer had (\d+) spasms in "
                  r"that time, (\d+) of them found; (\d+) breathing prompts offered "
                  r"\(suggestions you can dismiss\)", out)  # fmt: skip
    assert m, out[-2000:]
    logged, spasms, found, _prompts = map(int, m.groups())
    assert spasms >= 3 and found >= 0.6 * spasms, m.group(0)
    # (one episode can hold two spasms close together: the detector merges short gaps)
    # what it says is what it stored: the event store, the recording, the ground truth
    store = EventStore(data / "spasmwatch.db")
    eps = [e for e in store.episodes() if e.final]
    store.close()
    assert len(eps) == logged and all(e.model_id for e in eps)
    (rec_dir,) = (data / "recordings").iterdir()
    rec = open_recording(rec_dir)
    assert rec.n_samples("myo.emg") > 0.9 * 5 * 60 * 200  # 200 Hz EMG for about 6 minutes
    with open(data / "ground_truth.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) >= spasms
