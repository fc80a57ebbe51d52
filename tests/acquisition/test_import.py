"""``spasmwatch import``: CSV/text and EDF files to recordings, bad input refused or counted."""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path

import numpy as np
import pytest

from spasmwatch.acquisition import import_csv, import_edf
from spasmwatch.cli import main
from spasmwatch.errors import ImportFormatError
from spasmwatch.store import open_recording

T0 = 1_700_000_000_000_000_000
MYO_EXCERPT = Path(__file__).resolve().parents[1] / "data" / "myo-excerpt"
MYO_FILE = MYO_EXCERPT / "64917-1_2_rows951-1150.txt"
MYO_OPTS = {"kind": "emg", "rate_hz": 200.0, "units": "counts", "ignore_columns": [8]}


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def _myo_rows() -> list[list[int]]:
    return [[int(v) for v in ln.split(",")] for ln in MYO_FILE.read_text().splitlines()]


# --------------------------------------------------------------------------- real excerpt


def test_malformed_myo_rows_are_refused_with_the_row_named(tmp_path):
    with pytest.raises(ImportFormatError) as exc:
        import_csv(MYO_FILE, tmp_path / "r", **MYO_OPTS)
    msg = str(exc.value)
    assert MYO_FILE.name in msg and "row 82:" in msg
    assert "expected 9 fields, found 11" in msg and "--skip-bad-rows" in msg
    assert exc.value.reason == "ragged"
    assert not (tmp_path / "r").exists()  # nothing half-written


def test_malformed_myo_rows_are_skipped_counted_and_become_a_gap(tmp_path):
    rec, report = import_csv(MYO_FILE, tmp_path / "r", skip_bad_rows=True, start_ns=T0, **MYO_OPTS)
    assert report.rows_read == 200 and report.rows_imported == 198 and report.rows_skipped == 2
    assert report.skipped_by_reason == {"ragged": 2}
    assert [r for r, _ in report.bad_rows] == [82, 83]
    assert rec.specs["import.emg"].channels == tuple(f"ch{i}" for i in range(1, 9))
    assert rec.specs["import.emg"].units == "counts"
    t, d = rec.read("import.emg")
    good = [r for r in _myo_rows() if len(r) == 9]
    np.testing.assert_array_equal(d, np.array(good, dtype=np.float32)[:, :8])
    # the two rows are two missing samples at 5 ms: times keep their place, no gluing
    assert t[0] == T0 and t[81] == T0 + 83 * 5_000_000
    (gap,) = rec.gaps("import.emg")
    assert gap.n_missing == 2 and gap.cause == "import"
    assert gap.start_ns == T0 + 81 * 5_000_000 and gap.end_ns == T0 + 83 * 5_000_000
    blocks = list(rec.iter_blocks("import.emg", 1000))
    assert [(b.first_index, b.n_samples) for b in blocks] == [(0, 81), (83, 117)]
    assert rec.manifest["meta"]["import"]["report"]["rows_skipped"] == 2


def test_full_real_files_import(tmp_path, shared_data):
    myo = shared_data / "myo-readings" / "right_hand" / "64917-1" / "2.txt"
    rec, report = import_csv(myo, tmp_path / "myo", skip_bad_rows=True, **MYO_OPTS)
    assert report.rows_skipped == 2 and [r for r, _ in report.bad_rows] == [1032, 1033]
    assert rec.n_samples("import.emg") == report.rows_read - 2 > 11_000
    assert 55 < rec.duration_s() < 65
    daphnet = shared_data / "daphnet-fog" / "S03R02.txt"
    rec, report = import_csv(
        daphnet,
        tmp_path / "daphnet",
        kind="acc",
        units="mG",
        rate_hz=64.0,
        time_column=0,
        time_unit="ms",
        ignore_columns=[10],
    )
    assert report.rows_skipped == 0 and rec.specs["import.acc"].n_channels == 9
    assert rec.gaps("import.acc") == []


# --------------------------------------------------------------------------- CSV formats


def test_header_time_column_scale_and_absolute_start(tmp_path):
    t_s = T0 / 1e9 + np.arange(50) / 50.0
    rows = "\n".join(f"{t:.3f},{i},{-i * 0.5}" for i, t in enumerate(t_s))
    f = _write(tmp_path / "a.csv", "time_s,x,y\n" + rows + "\n\n")
    rec, report = import_csv(f, tmp_path / "r", kind="acc", units="mG", scale=2.0)
    spec = rec.specs["import.acc"]
    assert spec.rate_hz == 50.0 and spec.channels == ("x", "y")
    t, d = rec.read("import.acc")
    np.testing.assert_array_equal(t, T0 + np.arange(50) * 20_000_000)
    np.testing.assert_array_equal(d[:, 0], 2.0 * np.arange(50))
    np.testing.assert_array_equal(d[:, 1], -np.arange(50, dtype=np.float32))
    assert report.start_source == "time_column" and rec.start_ns == T0


@pytest.mark.parametrize("sep", [";", "\t", "   ", " "])
def test_delimiters_are_detected(tmp_path, sep):
    lines = [sep.join(str(i * 10 + c) for c in range(4)) for i in range(30)]
    f = _write(tmp_path / "a.txt", "\n".join(lines))
    rec, _ = import_csv(f, tmp_path / "r", kind="emg", units="uV", rate_hz=100, start_ns=T0)
    t, d = rec.read("import.emg")
    assert d.shape == (30, 4) and d[3, 2] == 32
    np.testing.assert_array_equal(t, T0 + np.arange(30) * 10_000_000)


def test_daphnet_like_ms_time_column_with_quantised_intervals(tmp_path):
    # 64 Hz stamped in whole ms: intervals of 15 and 16 ms (median 16 ms, 2.4 % off 64 Hz)
    ms = np.floor(np.arange(1, 641) * 1000 / 64).astype(int)
    lines = [f"{m} {i} {-i} 0 1" for i, m in enumerate(ms)]
    f = _write(tmp_path / "S01R02.txt", "\n".join(lines) + "\n")
    opts = {"kind": "acc", "units": "mG", "time_column": 0, "time_unit": "ms"}
    rec, report = import_csv(f, tmp_path / "r", rate_hz=64, ignore_columns=[4], start_ns=T0, **opts)
    assert rec.specs["import.acc"].channels == ("ch1", "ch2", "ch3")
    t, _ = rec.read("import.acc")
    np.testing.assert_array_equal(t, T0 + ms.astype(np.int64) * 1_000_000)
    assert rec.gaps("import.acc") == [] and report.gaps == 0
    rec2, _ = import_csv(f, tmp_path / "r2", ignore_columns=[4], start_ns=T0, **opts)
    assert rec2.specs["import.acc"].rate_hz == 64.0  # estimated from the time column
    with pytest.raises(ImportFormatError, match=r"--rate 70 Hz contradicts the time column"):
        import_csv(f, tmp_path / "r3", rate_hz=70, **opts)
    with pytest.raises(ImportFormatError, match=r"--time-unit"):
        import_csv(f, tmp_path / "r4", rate_hz=64, **{**opts, "time_unit": "s"})


def test_relative_start_defaults_to_file_mtime(tmp_path):
    f = _write(tmp_path / "a.csv", "\n".join(f"{i},{i}" for i in range(10)))
    os.utime(f, ns=(T0, T0))
    rec, report = import_csv(f, tmp_path / "r", kind="emg", units="uV", rate_hz=10)
    assert rec.start_ns == T0 and report.start_source == "file_mtime"


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("text", "row", "fragment", "reason"),
    [
        ("1,2,3\n4,5,6\n7,8\n10,11,12\n", 3, "expected 3 fields, found 2", "ragged"),
        ("1,2,3\n4,5,6\n7,8,9\n10,11,12,13\n", 4, "expected 3 fields, found 4", "ragged"),
        ("1,2,3\n4,x5,6\n7,8,9\n", 2, "cell 'x5' is not a number", "non_numeric"),
        ("1,2,3\n4,nan,6\n7,8,9\n", 2, "NaN or infinite", "non_finite"),
        (
            "t,a,b\n0.00,1,2\n0.01,1,2\n0.02,1,2\n\n0.015,1,2\n0.03,1,2\n",
            6,
            "goes backwards",
            "time_backwards",
        ),
        ("t,a,b\n0.00,1,2\n0.01,1,2\n0.01,1,2\n", 4, "repeats the previous time", "time_repeated"),
    ],
)
def test_bad_rows_are_refused_naming_file_row_and_problem(tmp_path, text, row, fragment, reason):
    f = _write(tmp_path / "bad.csv", text)
    with pytest.raises(ImportFormatError) as exc:
        import_csv(f, tmp_path / "r", kind="emg", units="uV", rate_hz=100)
    msg = str(exc.value)
    assert f"{f}: row {row}: " in msg and fragment in msg, msg
    assert exc.value.reason == reason
    # and skipped + counted on request
    rec, report = import_csv(
        f, tmp_path / "ok", kind="emg", units="uV", rate_hz=100, skip_bad_rows=True, start_ns=T0
    )
    assert report.rows_skipped == 1 and report.skipped_by_reason == {reason: 1}
    assert report.bad_rows[0][0] == row
    assert rec.n_samples("import.emg") == report.rows_imported == report.rows_read - 1


@pytest.mark.parametrize(
    ("text", "fragment"),
    [("", "the file is empty"), ("\n \n", "the file is empty"), ("a,b,c\n", "no data rows")],
)
def test_empty_files_are_refused(tmp_path, text, fragment):
    f = _write(tmp_path / "empty.csv", text)
    with pytest.raises(ImportFormatError, match=fragment) as exc:
        import_csv(f, tmp_path / "r", kind="emg", units="uV", rate_hz=100, skip_bad_rows=True)
    assert str(f) in str(exc.value)


def test_only_bad_rows_is_refused_even_when_skipping(tmp_path):
    f = _write(tmp_path / "junk.csv", "1,2\n3,4\nfoo,bar\n")
    f.write_text("x,y\nfoo,bar\nbaz,qux\n")
    with pytest.raises(ImportFormatError, match="no valid data rows"):
        import_csv(f, tmp_path / "r", kind="emg", units="uV", rate_hz=100, skip_bad_rows=True)


def test_missing_rate_and_unknown_columns_are_refused(tmp_path):
    f = _write(tmp_path / "a.csv", "1,2\n3,4\n")
    with pytest.raises(ImportFormatError, match="pass --rate"):
        import_csv(f, tmp_path / "r", kind="emg", units="uV")
    with pytest.raises(ImportFormatError, match="time column 5 does not exist"):
        import_csv(f, tmp_path / "r", kind="emg", units="uV", time_column=5)
    with pytest.raises(ImportFormatError, match="'label' not found"):
        import_csv(f, tmp_path / "r", kind="emg", units="uV", rate_hz=1, ignore_columns=["label"])
    with pytest.raises(ImportFormatError, match="--channels names 3 channels"):
        import_csv(f, tmp_path / "r", kind="emg", units="uV", rate_hz=1, channels=["a", "b", "c"])
    with pytest.raises(ImportFormatError, match="--kind must be one of"):
        import_csv(f, tmp_path / "r", kind="eeg", units="uV", rate_hz=1)


def test_skipped_rows_with_time_column_become_import_gaps(tmp_path):
    lines = ["t_ms,a"] + [f"{10 * i},{i}" for i in range(20)]
    lines[6] = "50,oops"  # row 7 of the file, sample 5
    lines[7] = "60,1,2"  # ragged, sample 6
    del lines[15]  # a hole in the source itself (sample 14), no bad row there
    f = _write(tmp_path / "a.csv", "\n".join(lines))
    rec, report = import_csv(
        f, tmp_path / "r", kind="emg", units="uV", skip_bad_rows=True, start_ns=T0
    )
    assert rec.specs["import.emg"].rate_hz == 100.0
    assert report.skipped_by_reason == {"non_numeric": 1, "ragged": 1}
    g1, g2 = rec.gaps("import.emg")
    assert (g1.n_missing, g1.cause, g1.start_ns, g1.end_ns) == (
        2,
        "import",
        T0 + 50_000_000,
        T0 + 70_000_000,
    )
    assert (g2.n_missing, g2.cause) == (1, "unknown")
    blocks = list(rec.iter_blocks("import.emg"))
    assert [b.first_index for b in blocks] == [0, 7, 15]
    np.testing.assert_array_equal(
        np.concatenate([b.data[:, 0] for b in blocks]),
        [i for i in range(20) if i not in (5, 6, 14)],
    )


def test_import_refuses_to_overwrite(tmp_path):
    f = _write(tmp_path / "a.csv", "1,2\n3,4\n")
    import_csv(f, tmp_path / "r", kind="emg", units="uV", rate_hz=1)
    with pytest.raises(Exception, match="refusing to overwrite"):
        import_csv(f, tmp_path / "r", kind="emg", units="uV", rate_hz=1)


# --------------------------------------------------------------------------- EDF


def _write_edf(path: Path, start: datetime.datetime) -> dict:
    pyedflib = pytest.importorskip("pyedflib")
    rng = np.random.default_rng(3)
    emg = rng.normal(0, 80, (2, 1000 * 4))  # 4 s at 1000 Hz, uV
    acc = rng.normal(0, 300, (3, 50 * 4))  # 4 s at 50 Hz, mg
    headers = [
        {"label": f"EMG {m}", "dimension": "uV", "sample_frequency": 1000,
         "physical_min": -1000.0, "physical_max": 1000.0,
         "digital_min": -32768, "digital_max": 32767}
        for m in ("soleus", "tibialis")
    ] + [
        {"label": f"Acc {a}", "dimension": "mg", "sample_frequency": 50,
         "physical_min": -4000.0, "physical_max": 4000.0,
         "digital_min": -32768, "digital_max": 32767}
        for a in "xyz"
    ]  # fmt: skip
    w = pyedflib.EdfWriter(str(path), 5, file_type=pyedflib.FILETYPE_EDFPLUS)
    try:
        w.setSignalHeaders(headers)
        w.setStartdatetime(start)
        w.writeSamples([*emg, *acc])
        w.writeAnnotation(1.5, 0.5, "spasm onset")
        w.writeAnnotation(3.0, -1, "note")
    finally:
        w.close()
    return {"emg": emg.T, "acc": acc.T}


def test_edf_round_trip_streams_units_annotations(tmp_path):
    start = datetime.datetime(2024, 5, 1, 8, 30, 0)
    src = _write_edf(tmp_path / "rec.edf", start)
    rec, report = import_edf(tmp_path / "rec.edf", tmp_path / "r")
    assert sorted(rec.specs) == ["import.acc", "import.emg"]
    emg, acc = rec.specs["import.emg"], rec.specs["import.acc"]
    assert (emg.rate_hz, emg.units, emg.channels) == (1000.0, "uV", ("EMG soleus", "EMG tibialis"))
    assert (acc.rate_hz, acc.units, acc.n_channels) == (50.0, "mg", 3)
    start_ns = int(start.replace(tzinfo=datetime.UTC).timestamp()) * 1_000_000_000
    assert rec.start_ns == start_ns and report.start_source == "edf_header"
    t, d = rec.read("import.emg")
    np.testing.assert_array_equal(t, start_ns + np.arange(4000) * 1_000_000)
    q_emg = 2000.0 / 65535  # EDF quantisation step of the EMG signals
    np.testing.assert_allclose(d, src["emg"], atol=q_emg)
    np.testing.assert_allclose(rec.read("import.acc")[1], src["acc"], atol=8000.0 / 65535)
    ann = rec.manifest["annotations"]
    assert ann[0]["text"] == "spasm onset" and ann[0]["duration_s"] == pytest.approx(0.5)
    assert ann[0]["onset_ns"] == start_ns + 1_500_000_000
    assert [a["text"] for a in ann] == ["spasm onset", "note"]


def test_edf_unknown_signal_kind_and_non_edf_are_refused(tmp_path):
    pyedflib = pytest.importorskip("pyedflib")
    w = pyedflib.EdfWriter(str(tmp_path / "x.edf"), 1, file_type=pyedflib.FILETYPE_EDFPLUS)
    try:
        w.setSignalHeaders([
            {"label": "Fp1", "dimension": "uV", "sample_frequency": 100,
             "physical_min": -100.0, "physical_max": 100.0,
             "digital_min": -32768, "digital_max": 32767}
        ])  # fmt: skip
        w.writeSamples([np.zeros(100)])
    finally:
        w.close()
    with pytest.raises(ImportFormatError, match="cannot tell the stream kind of signal 0 'Fp1'"):
        import_edf(tmp_path / "x.edf", tmp_path / "r")
    rec, _ = import_edf(tmp_path / "x.edf", tmp_path / "r2", kind="emg")
    assert rec.specs["import.emg"].channels == ("Fp1",)
    _write(tmp_path / "fake.edf", "not an edf file at all")
    with pytest.raises(ImportFormatError, match="not a readable EDF"):
        import_edf(tmp_path / "fake.edf", tmp_path / "r3")


# --------------------------------------------------------------------------- CLI


def test_cli_import_json_report(tmp_path, capsys):
    out = tmp_path / "r"
    code = main(
        [
            "import", str(MYO_FILE), "--out", str(out), "--kind", "emg", "--rate", "200",
            "--units", "counts", "--ignore-column", "8", "--skip-bad-rows",
            "--start", "2024-05-01T08:30:00Z", "--json",
        ]
    )  # fmt: skip
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["rows_skipped"] == 2 and report["bad_rows"][0]["row"] == 82
    assert report["streams"] == ["import.emg"] and report["recording"] == str(out)
    rec = open_recording(out)
    assert (
        rec.start_ns
        == int(datetime.datetime(2024, 5, 1, 8, 30, tzinfo=datetime.UTC).timestamp()) * 10**9
    )


def test_cli_import_errors_exit_1_with_the_row(tmp_path, capsys):
    code = main(
        ["import", str(MYO_FILE), "--out", str(tmp_path / "r"), "--kind", "emg",
         "--rate", "200", "--units", "counts"]
    )  # fmt: skip
    assert code == 1
    err = capsys.readouterr().err
    assert "row 82" in err and "--skip-bad-rows" in err
    assert main(["import", str(MYO_FILE), "--out", str(tmp_path / "r2"), "--kind", "emg"]) == 1
    assert "needs --units" in capsys.readouterr().err
