"""Self-contained HTML reports (tables, PNG figures, audio players, text samples) and their plots."""

from trimodal_eval.report.figures import line_plot_png, metric_curves_png
from trimodal_eval.report.page import Audio, Figure, Paragraph, Preformatted, ReportPage, Section, Table, TextSample

__all__ = [
    "Audio",
    "Figure",
    "Paragraph",
    "Preformatted",
    "ReportPage",
    "Section",
    "Table",
    "TextSample",
    "line_plot_png",
    "metric_curves_png",
]
