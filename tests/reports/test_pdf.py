"""The PDF report: a real PDF with the numbers, the disclaimers and the diary in it."""

from __future__ import annotations

import datetime as dt
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from report_fixtures import D0, TZ, W, at

from spasmwatch.reports import clinical_summary, render_pdf
from spasmwatch.reports.example import build_example_store
from spasmwatch.reports.example import main as example_main
from spasmwatch.store import EventStore

END = D0 + dt.timedelta(days=2)


def _pages(pdf: bytes) -> int:
    # ReportLab writes no object streams: page objects are visible in the file
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def _text(path: Path) -> str:
    exe = shutil.which("pdftotext")
    if exe is None:
        pytest.skip("pdftotext (poppler-utils) is not installed")
    out = subprocess.run([exe, str(path), "-"], check=True, capture_output=True, text=True)
    # one line per page: table cells wrap, so compare with collapsed white space
    return "\f".join(" ".join(page.split()) for page in out.stdout.split("\f"))


def test_pdf_has_the_headline_numbers_disclaimers_and_diary(store, tmp_path):
    s = clinical_summary(store, W, D0, END, TZ, now_ns=at(3, 9))
    out = tmp_path / "r.pdf"
    data = render_pdf(s, out)
    assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    assert out.read_bytes() == data
    assert _pages(data) >= 2
    assert render_pdf(s) == data  # deterministic
    text = _text(out)
    page1 = text.split("\f")[0]
    assert "Spasm summary: P-07" in page1 and "2024-06-03 to 2024-06-05" in page1
    assert "Spasms per worn day" in page1 and "3.0" in page1
    assert "6 spasms on 2 of 3 days worn" in page1 and "38 h usable" in page1
    assert "grade 2" in page1 and "Derived, not a clinical PSFS assessment" in page1
    assert "not a diagnostic device" in page1 and "no medication advice" in page1
    assert "tonic 3 (43 %)" in page1
    rest = "\f".join(text.split("\f")[1:])
    assert "Day by day" in rest and "Episodes" in rest and "Method notes" in rest
    assert "baclofen" in rest and "10 mg" in rest
    assert "Jo Example" not in text  # the local display name is never printed


def test_pdf_flags_a_two_hour_day_as_not_worn(store, tmp_path):
    from spasmwatch.store import WearTime

    store.set_wear_time(WearTime(W, END, "myo", 3 * 3600.0, 2 * 3600.0))
    s = clinical_summary(store, W, D0, END, TZ, now_ns=at(3, 9))
    render_pdf(s, tmp_path / "r.pdf")
    assert "A worn day has at least 10 usable hours" in _text(tmp_path / "r.pdf")
    # the day-by-day rows, read with the page layout kept: date, usable h, worn day, spasms
    out = subprocess.run(
        [shutil.which("pdftotext"), "-layout", str(tmp_path / "r.pdf"), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    rows: dict[str, list[str]] = {}
    for ln in out.splitlines():
        m = re.match(r"\s*\w{3} (2024-06-0[345])\s+(\d+\.\d)\s+(yes|no)\s+(\d+)\s", ln)
        if m:
            rows[m[1]] = [m[2], m[3], m[4]]
    assert rows["2024-06-05"] == ["2.0", "no", "1"], out
    assert rows["2024-06-04"] == ["18.0", "yes", "3"]


def test_pdf_of_an_empty_range_still_renders(store, tmp_path):
    s = clinical_summary(store, W, dt.date(2020, 1, 1), dt.date(2020, 1, 2), TZ)
    data = render_pdf(s, tmp_path / "e.pdf")
    assert _pages(data) >= 2
    assert "No spasms were counted" in _text(tmp_path / "e.pdf")


def test_example_report_is_reproducible(tmp_path, capsys):
    a, b = tmp_path / "a.db", tmp_path / "b.db"
    w, d0, d1, tz = build_example_store(a, seed=3, days=4)
    build_example_store(b, seed=3, days=4)
    with EventStore(a) as sa, EventStore(b) as sb:
        x = clinical_summary(sa, w, d0, d1, tz, now_ns=0).to_dict()
        y = clinical_summary(sb, w, d0, d1, tz, now_ns=0).to_dict()
    assert x == y and x["headline"]["n_total"] > 20 and x["diary"]
    out = tmp_path / "ex.pdf"
    assert example_main(["--out", str(out), "--days", "4", "--seed", "3"]) == 0
    assert "PSFS-style frequency grade" in capsys.readouterr().out
    assert _pages(out.read_bytes()) >= 2
