"""The clinical report as a PDF (ReportLab; the ``report`` extra).

Page 1 is meant to be read at a glance: who, which days, the headline numbers with the wear
time behind them, a days x hours heat strip with diary entries overlaid, the type mix and
the disclaimers. The following pages hold the day-by-day table, every counted episode, the
diary and the method notes. Rendering is deterministic (``invariant`` PDF): the same
summary gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import io
import os
from pathlib import Path
from typing import IO, Any
from xml.sax.saxutils import escape

from spasmwatch.errors import ConfigError
from spasmwatch.reports._penn import (
    FREQUENCY_GRADES,
    GRADE_1_NOTE,
    PSFS_DISCLAIMER,
    SEVERITY_GRADES,
)
from spasmwatch.reports._summary import ClinicalSummary

__all__ = ["DISCLAIMER", "render_pdf"]

DISCLAIMER = (
    "spasmwatch is a self-monitoring and research tool, not a diagnostic device. Counts come "
    "from an automatic detector and the wearer's own reports and can be wrong. This report "
    "gives no medication advice; diary entries are shown as the wearer wrote them."
)

#: Colours (hex) used on page 1.
_TYPE_COLOURS = {
    "tonic": "#1f77b4",
    "clonic": "#d62728",
    "mixed": "#9467bd",
    "myoclonic": "#ff7f0e",
    "unknown": "#7f7f7f",
}
_DIARY_COLOURS = {
    "medication": "#0057b8",
    "stretching": "#2ca02c",
    "exercise": "#17becf",
    "heat": "#e6550d",
    "cold": "#6baed6",
    "fluids": "#8c6d31",
    "note": "#555555",
}
_MAX_EPISODE_ROWS = 3000


def _need_reportlab() -> None:
    try:
        import reportlab  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            "the PDF report needs ReportLab: pip install 'spasmwatch[report]' "
            "(or use --format text/json)",
            reason="missing_extra",
        ) from exc


def _fmt(v: float | None, spec: str = ".1f", none: str = "n/a") -> str:
    return none if v is None else format(v, spec)


def _local(t_ns: int, tz: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return dt.datetime.fromtimestamp(t_ns // 10**9, tz).strftime(fmt)


def render_pdf(
    summary: ClinicalSummary, out: str | os.PathLike[str] | IO[bytes] | None = None
) -> bytes:
    """Render ``summary`` as a PDF report.

    Parameters
    ----------
    summary : ClinicalSummary
        From :func:`~spasmwatch.reports.clinical_summary`.
    out : path or binary file, optional
        Where to write the PDF as well (a path is written atomically).

    Returns
    -------
    bytes
        The PDF document (A4, at least two pages).

    Raises
    ------
    ConfigError
        ReportLab is not installed (``reason="missing_extra"``).
    """
    if not isinstance(summary, ClinicalSummary):
        raise ConfigError(f"summary must be a ClinicalSummary (got {type(summary).__name__})")
    _need_reportlab()
    data = _build(summary)
    if out is not None:
        if hasattr(out, "write"):
            out.write(data)  # type: ignore[union-attr]
        else:
            p = Path(out)  # type: ignore[arg-type]
            tmp = p.with_name(p.name + ".tmp")
            tmp.write_bytes(data)
            os.replace(tmp, p)
    return data


# --------------------------------------------------------------------------- building


def _build(s: ClinicalSummary) -> bytes:
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import (
        KeepTogether,
        PageBreak,
        Paragraph,
        SimpleDocTemplate,
        Spacer,
        Table,
        TableStyle,
    )

    from spasmwatch.store import resolve_tz

    tz = resolve_tz(s.tz)
    styles = getSampleStyleSheet()
    base = styles["BodyText"]
    h1 = ParagraphStyle(
        "h1", parent=styles["Title"], fontSize=17, leading=20, alignment=0, spaceAfter=2
    )
    h2 = ParagraphStyle(
        "h2", parent=styles["Heading2"], fontSize=12, leading=14, spaceBefore=6, spaceAfter=3
    )
    small = ParagraphStyle("small", parent=base, fontSize=8, leading=10)
    tiny = ParagraphStyle("tiny", parent=base, fontSize=7, leading=8.5)
    big = ParagraphStyle("big", parent=base, fontName="Helvetica-Bold", fontSize=20, leading=23)
    cap = ParagraphStyle(
        "cap", parent=base, fontSize=7.5, leading=9, textColor=colors.HexColor("#333333")
    )
    label = ParagraphStyle(
        "label", parent=base, fontName="Helvetica-Bold", fontSize=8.5, leading=10
    )

    range_txt = f"{s.start.isoformat()} to {s.end.isoformat()}"
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=14 * mm,
        rightMargin=14 * mm,
        topMargin=12 * mm,
        bottomMargin=16 * mm,
        title=f"spasmwatch clinical summary {s.pseudonym} {range_txt}",
        author="spasmwatch",
        subject="Spasm log summary (self-monitoring and research tool, not a diagnostic device)",
        invariant=1,
    )
    width = doc.width

    def footer(canvas: Any, d: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 7)
        canvas.setFillColor(colors.HexColor("#555555"))
        canvas.drawString(
            doc.leftMargin,
            9 * mm,
            f"spasmwatch clinical summary - {s.pseudonym} - {range_txt} - "
            "self-monitoring and research tool, not a diagnostic device",
        )
        canvas.drawRightString(doc.leftMargin + width, 9 * mm, f"page {d.page}")
        canvas.restoreState()

    story: list[Any] = []
    # ---------------------------------------------------------------- page 1: header
    story.append(Paragraph(f"Spasm summary: {escape(s.pseudonym)}", h1))
    story.append(
        Paragraph(
            f"<b>{range_txt}</b> ({s.n_days} days) &nbsp; times in {escape(s.tz)} &nbsp; "
            f"wearer id {escape(s.wearer_id)} &nbsp; generated "
            f"{_local(s.generated_ns, tz)}",
            small,
        )
    )
    story.append(Spacer(1, 3 * mm))

    # ---------------------------------------------------------------- headline cards
    p = s.psfs
    night_window = f"{int(s.night_start_h):02d}:00-{int(s.night_end_h):02d}:00"

    def card(value: str, title: str, detail: str) -> list[Any]:
        return [Paragraph(title, label), Paragraph(value, big), Paragraph(detail, cap)]

    row1 = [
        card(
            _fmt(s.per_worn_day),
            "Spasms per worn day",
            f"{s.n_on_worn_days} spasms on {s.n_worn_days} of {s.n_days} days worn at least "
            f"{s.min_worn_h:g} h; {s.worn_days_usable_h:.0f} h usable wear",
        ),
        card(
            _fmt(s.per_worn_night),
            f"Spasms per worn night ({night_window})",
            f"{s.n_on_worn_nights} spasms in {s.n_worn_nights} of {len(s.nights)} nights worn "
            f"at least {s.min_night_worn_h:g} h; {s.worn_nights_usable_h:.0f} h usable",
        ),
        card(
            "n/a" if p.frequency is None else f"grade {p.frequency}",
            "PSFS-style frequency",
            (
                "no usable wear time"
                if p.rate_per_h is None
                else f"{p.rate_per_h:.2f} spasms per worn hour: {FREQUENCY_GRADES[p.frequency]}"
            )  # type: ignore[index]
            + ". Derived, not a clinical PSFS assessment.",
        ),
        card(
            "n/a" if p.severity is None else f"{p.severity} {SEVERITY_GRADES[p.severity]}",
            "PSFS-style severity",
            f"upper median of {sum(p.severity_counts.values())} episode severities "
            f"(mild {p.severity_counts[1]}, moderate {p.severity_counts[2]}, "
            f"severe {p.severity_counts[3]})",
        ),
    ]
    d = s.durations
    row2 = [
        card(
            _fmt(d.median_s, ".0f") + (" s" if d.median_s is not None else ""),
            "Median duration",
            f"90th percentile {_fmt(d.p90_s, '.0f')} s; total {d.total_s / 60:.0f} min over "
            f"{d.n} detected or labeled episodes",
        ),
        card(
            _fmt(s.intensity_median) + (" \u00d7" if s.intensity_median is not None else ""),
            "Median peak intensity",
            f"peak muscle activity as a multiple of the wearer's resting baseline "
            f"({s.intensity_n} detected episodes)",
        ),
        card(
            str(s.n_total),
            "Spasms counted in the range",
            f"detected {s.by_source['auto']}, labeled {s.by_source['labeled']}, self-reported "
            f"{s.by_source['self-report']} (+{s.n_self_reports_merged} self-reports that "
            f"matched a detected one)",
        ),
        card(
            str(s.n_false_alarms_excluded),
            "False alarms excluded",
            "detections the wearer or a researcher marked as not a spasm; not counted anywhere",
        ),
    ]
    cw = [width / 4] * 4
    t = Table([row1, row2], colWidths=cw)
    t.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("BOX", (0, 0), (-1, -1), 0.6, colors.HexColor("#999999")),
                ("INNERGRID", (0, 0), (-1, -1), 0.4, colors.HexColor("#cccccc")),
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f3f6fa")),
                ("LEFTPADDING", (0, 0), (-1, -1), 4),
                ("RIGHTPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    story.append(t)
    story.append(Spacer(1, 2 * mm))

    # ---------------------------------------------------------------- heat strip
    story.append(Paragraph("When spasms happened, with diary entries", h2))
    story.append(_heat_strip(s, width, tz))
    story.append(Spacer(1, 1 * mm))
    story.append(_type_mix(s, width))
    story.append(Spacer(1, 2 * mm))
    disc = Table(
        [
            [
                Paragraph(
                    f"<b>Please note.</b> {DISCLAIMER} PSFS-style grades are {PSFS_DISCLAIMER}.",
                    small,
                )
            ]
        ],
        colWidths=[width],
    )
    disc.setStyle(
        TableStyle(
            [
                ("BOX", (0, 0), (-1, -1), 0.8, colors.HexColor("#b00020")),
                ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#fff5f5")),
            ]
        )
    )
    story.append(disc)

    # ---------------------------------------------------------------- day by day
    story.append(PageBreak())
    story.append(Paragraph("Day by day", h2))
    nights = {n.night_of: n for n in s.nights}
    diary_by_day: dict[dt.date, list[str]] = {}
    for e in s.diary:
        day = dt.datetime.fromtimestamp(e.t_ns // 10**9, tz).date()
        diary_by_day.setdefault(day, []).append(e.kind)
    rows: list[list[Any]] = [
        [
            "date",
            "usable h",
            "worn day",
            "spasms",
            "detected",
            "self-rep.",
            "active min",
            "night spasms",
            "night h",
            "diary",
        ]
    ]
    for r in s.days:
        n = nights.get(r.day)
        kinds = diary_by_day.get(r.day, [])
        summary_kinds = ", ".join(
            f"{k} x{kinds.count(k)}" if kinds.count(k) > 1 else k for k in sorted(set(kinds))
        )
        rows.append(
            [
                r.day.strftime("%a %Y-%m-%d"),
                f"{r.usable_s / 3600:.1f}",
                "yes" if r.worn else "no",
                str(r.n),
                str(r.n_auto + r.n_labeled),
                str(r.n_self_report),
                f"{r.duration_s / 60:.1f}",
                "" if n is None else (str(n.n) + ("" if n.worn else " (not worn)")),
                "" if n is None else f"{n.usable_s / 3600:.1f}",
                Paragraph(escape(summary_kinds), tiny),
            ]
        )
    story.append(_table(rows, width, [0.13, 0.07, 0.07, 0.07, 0.07, 0.07, 0.07, 0.11, 0.06, 0.28]))
    story.append(
        Paragraph(
            f"Usable h: hours with usable signal (best-covered device). A worn day has at least "
            f"{s.min_worn_h:g} usable hours; a worn night ({night_window}, named after the "
            f"evening) at least {s.min_night_worn_h:g}. Rates count worn days and nights only.",
            tiny,
        )
    )

    # ---------------------------------------------------------------- episodes
    story.append(Paragraph("Episodes", h2))
    eps = list(s.episodes)
    rows = [["start", "duration s", "type", "severity", "peak x baseline", "source"]]
    for e in eps[:_MAX_EPISODE_ROWS]:
        src = e.source + (" + self-report" if e.also_self_reported else "")
        rows.append(
            [
                _local(e.start_ns, tz, "%a %Y-%m-%d %H:%M:%S"),
                f"{e.duration_s:.1f}",
                e.type,
                "" if e.severity is None else SEVERITY_GRADES[e.severity],
                "" if e.peak_intensity is None else f"{e.peak_intensity:.1f}",
                src,
            ]
        )
    if not eps:
        story.append(Paragraph("No spasms were counted in this range.", small))
    else:
        story.append(_table(rows, width, [0.26, 0.12, 0.14, 0.12, 0.14, 0.22], font_size=7))
        if len(eps) > _MAX_EPISODE_ROWS:
            story.append(
                Paragraph(
                    f"Only the first {_MAX_EPISODE_ROWS} of {len(eps)} episodes are listed; "
                    "`spasmwatch report --format json` has all of them.",
                    small,
                )
            )

    # ---------------------------------------------------------------- diary
    story.append(Paragraph("Diary", h2))
    if not s.diary:
        story.append(Paragraph("No diary entries in this range.", small))
    else:
        rows = [["when", "kind", "what (as written)", "dose / amount (as written)"]]
        for e in s.diary:
            rows.append(
                [
                    _local(e.t_ns, tz, "%a %Y-%m-%d %H:%M"),
                    e.kind,
                    Paragraph(escape(e.text), tiny),
                    Paragraph(escape(e.dose or ""), tiny),
                ]
            )
        story.append(_table(rows, width, [0.22, 0.12, 0.44, 0.22], font_size=7))
        story.append(
            Paragraph(
                "Medication entries are what the wearer recorded; spasmwatch never suggests "
                "a medication or a dose.",
                tiny,
            )
        )

    # ---------------------------------------------------------------- method notes
    notes = [
        f"<b>Counting.</b> A spasm is an episode found by the detector (detected), one marked "
        f"by a researcher (labeled) or one the wearer reported (self-report). Episodes that a "
        f"label marks as a false alarm are left out ({s.n_false_alarms_excluded} here). A "
        f"labeled or self-reported spasm overlapping a counted one, or within "
        f"{s.merge_tolerance_s:g} s of it, is the same spasm and is counted once.",
        f"<b>Days and nights.</b> Days are local calendar days in {escape(s.tz)}; an episode "
        f"belongs to the day and hour it started. A night runs {night_window} and is named "
        f"after its evening; only nights wholly inside the range are listed.",
        "<b>Wear time.</b> A day's usable time is that of its best-covered device from the "
        "monitor's wear-time log (devices worn together are not added up), or, without such "
        "a log, the indexed recordings minus signal losses. A night's usable time comes from "
        "the recordings minus signal losses, or pro rata from the two days' usable time.",
        "<b>Durations and intensity</b> describe detected and labeled episodes only "
        "(self-reported durations are estimates). Intensity is the peak muscle activity as "
        "a multiple of the wearer's resting baseline. The 90th percentile interpolates "
        "linearly.",
        f"<b>PSFS-style score ({PSFS_DISCLAIMER}).</b> Spasms on worn days divided by the "
        "usable hours of those days give a rate r per worn hour: grade 0 if there is no "
        "spasm, grade 2 if 0 &lt; r &lt; 1, grade 3 if 1 &lt;= r &lt;= 10, grade 4 if "
        f"r &gt; 10. {GRADE_1_NOTE} Severity is the upper median of the counted spasms' "
        "severities (1 mild, 2 moderate, 3 severe). The night score uses worn nights only: "
        + (
            "no worn night."
            if s.psfs_night.frequency is None
            else f"grade {s.psfs_night.frequency} ({s.psfs_night.rate_per_h:.2f} per worn "
            f"night hour)."
        ),
        f"<b>Please note.</b> {DISCLAIMER}",
    ]
    story.append(
        KeepTogether([Paragraph("Method notes", h2)] + [Paragraph(n, small) for n in notes])
    )

    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return buf.getvalue()


def _table(
    rows: list[list[Any]], width: float, fractions: list[float], font_size: float = 7.5
) -> Any:
    from reportlab.lib import colors
    from reportlab.platypus import Table, TableStyle

    t = Table(rows, colWidths=[width * f for f in fractions], repeatRows=1)
    t.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), "Helvetica", font_size),
                ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", font_size),
                ("LINEBELOW", (0, 0), (-1, 0), 0.6, colors.black),
                ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f2f2f2")]),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 1),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ]
        )
    )
    return t


def _heat_strip(s: ClinicalSummary, width: float, tz: Any) -> Any:
    """Days (rows) x local hours (columns), shaded by spasm count; diary marks on top."""
    from reportlab.graphics.shapes import Circle, Drawing, Line, Polygon, Rect, String
    from reportlab.lib import colors

    n = len(s.days)
    row_h = max(4.0, min(12.0, 300.0 / max(n, 1)))
    left, right_bar, top_pad, bottom_pad = 62.0, 70.0, 12.0, 30.0
    grid_w = width - left - right_bar - 6
    cell_w = grid_w / 24
    height = top_pad + n * row_h + bottom_pad
    dr = Drawing(width, height)
    peak = max((max(r.by_hour) for r in s.days), default=0) or 1
    max_day = max((r.n for r in s.days), default=0) or 1
    y_top = height - top_pad

    def shade(c: int) -> Any:
        if c == 0:
            return colors.white
        f = 0.25 + 0.75 * min(c / peak, 1.0)
        return colors.Color(1.0, 1.0 - 0.85 * f, 1.0 - 0.9 * f)

    for h in range(0, 24, 3):
        dr.add(String(left + h * cell_w, y_top + 3, f"{h:02d}", fontSize=6.5, fontName="Helvetica"))
    dr.add(String(left + grid_w + 8, y_top + 3, "spasms/day", fontSize=6.5, fontName="Helvetica"))
    label_every = 1 if row_h >= 7 else 2
    for i, r in enumerate(s.days):
        y = y_top - (i + 1) * row_h
        if i % label_every == 0:
            dr.add(
                String(
                    2,
                    y + row_h * 0.2,
                    r.day.strftime("%a %d %b"),
                    fontSize=min(6.5, row_h),
                    fontName="Helvetica",
                )
            )
        for h, c in enumerate(r.by_hour):
            fill = shade(c) if r.worn else (colors.HexColor("#d9d9d9") if c == 0 else shade(c))
            dr.add(
                Rect(
                    left + h * cell_w,
                    y,
                    cell_w,
                    row_h,
                    fillColor=fill,
                    strokeColor=colors.HexColor("#e6e6e6"),
                    strokeWidth=0.25,
                )
            )
        bw = (right_bar - 22) * r.n / max_day
        dr.add(
            Rect(
                left + grid_w + 8,
                y + row_h * 0.15,
                bw,
                row_h * 0.7,
                fillColor=colors.HexColor("#c0392b") if r.worn else colors.HexColor("#aaaaaa"),
                strokeColor=None,
            )
        )
        dr.add(
            String(
                left + grid_w + 10 + bw,
                y + row_h * 0.2,
                str(r.n),
                fontSize=min(6.5, row_h),
                fontName="Helvetica",
            )
        )
    # night shading guides
    for h in (s.night_start_h, s.night_end_h):
        x = left + h * cell_w
        dr.add(
            Line(
                x,
                y_top,
                x,
                y_top - n * row_h,
                strokeColor=colors.HexColor("#444444"),
                strokeWidth=0.6,
                strokeDashArray=[2, 2],
            )
        )
    # diary markers
    day_index = {r.day: i for i, r in enumerate(s.days)}
    for e in s.diary:
        local = dt.datetime.fromtimestamp(e.t_ns // 10**9, tz)
        i = day_index.get(local.date())
        if i is None:
            continue
        x = left + (local.hour + local.minute / 60) * cell_w
        yc = y_top - (i + 0.5) * row_h
        col = colors.HexColor(_DIARY_COLOURS.get(e.kind, "#000000"))
        r_ = min(row_h * 0.42, 3.2)
        if e.kind == "medication":
            dr.add(
                Polygon(
                    [x - r_, yc - r_, x + r_, yc - r_, x, yc + r_],
                    fillColor=col,
                    strokeColor=colors.white,
                    strokeWidth=0.3,
                )
            )
        else:
            dr.add(
                Circle(x, yc, r_ * 0.8, fillColor=col, strokeColor=colors.white, strokeWidth=0.3)
            )
    # legend
    ly = 14.0
    x = left
    dr.add(
        Polygon(
            [x, ly - 2.5, x + 5, ly - 2.5, x + 2.5, ly + 2.5],
            fillColor=colors.HexColor(_DIARY_COLOURS["medication"]),
            strokeColor=None,
        )
    )
    dr.add(String(x + 7, ly - 2, "medication", fontSize=6.5, fontName="Helvetica"))
    x += 48
    for kind in ("stretching", "exercise", "heat", "cold", "fluids", "note"):
        dr.add(
            Circle(
                x + 2.5, ly, 2.3, fillColor=colors.HexColor(_DIARY_COLOURS[kind]), strokeColor=None
            )
        )
        dr.add(String(x + 7, ly - 2, kind, fontSize=6.5, fontName="Helvetica"))
        x += 14 + 4.2 * len(kind)
    ly2 = 4.0
    dr.add(
        String(
            left,
            ly2,
            f"cell shade: spasms in that hour (darkest = {peak}); grey rows: "
            f"day not worn; dashed lines: night window",
            fontSize=6.5,
            fontName="Helvetica",
        )
    )
    return dr


def _type_mix(s: ClinicalSummary, width: float) -> Any:
    """A stacked bar of the type mix with counts and percentages."""
    from reportlab.graphics.shapes import Drawing, Rect, String
    from reportlab.lib import colors

    dr = Drawing(width, 30)
    total = sum(s.type_counts.values())
    dr.add(String(0, 20, "Type mix", fontSize=8.5, fontName="Helvetica-Bold"))
    left = 62.0
    bar_w = width - left - 6
    if total == 0:
        dr.add(String(left, 20, "no spasms counted", fontSize=7.5, fontName="Helvetica"))
        return dr
    x = left
    pct = s.type_percent()
    for t, c in s.type_counts.items():
        if c == 0:
            continue
        w = bar_w * c / total
        dr.add(
            Rect(
                x, 16, w, 12, fillColor=colors.HexColor(_TYPE_COLOURS[t]), strokeColor=colors.white
            )
        )
        x += w
    x = left
    for t, c in s.type_counts.items():
        txt = f"{t} {c} ({pct[t]:.0f} %)"
        dr.add(Rect(x, 3, 7, 7, fillColor=colors.HexColor(_TYPE_COLOURS[t]), strokeColor=None))
        dr.add(String(x + 9, 4, txt, fontSize=7, fontName="Helvetica"))
        x += 14 + 3.6 * len(txt)
    return dr
