"""spasmwatch.reports: clinical summaries, a PSFS-style score and the PDF report.

The PDF needs the ``report`` extra (ReportLab); the summary and the score do not.
See ``docs/clinical-report.md`` for every definition.
"""

from spasmwatch.reports._pdf import render_pdf
from spasmwatch.reports._penn import (
    FREQUENCY_GRADES,
    GRADE_1_NOTE,
    PSFS_DISCLAIMER,
    SEVERITY_GRADES,
    PennScore,
    frequency_grade,
    penn_score,
    severity_grade,
)
from spasmwatch.reports._summary import (
    ClinicalSummary,
    CountedEpisode,
    DaySummary,
    DurationStats,
    NightSummary,
    clinical_summary,
)

__all__ = [
    "FREQUENCY_GRADES",
    "GRADE_1_NOTE",
    "PSFS_DISCLAIMER",
    "SEVERITY_GRADES",
    "ClinicalSummary",
    "CountedEpisode",
    "DaySummary",
    "DurationStats",
    "NightSummary",
    "PennScore",
    "clinical_summary",
    "frequency_grade",
    "penn_score",
    "render_pdf",
    "severity_grade",
]
