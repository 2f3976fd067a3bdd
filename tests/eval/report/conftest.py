"""Shared report fixtures: a page with every kind of block."""

from __future__ import annotations

import io
import wave

import numpy as np
import pytest

from trimodal_eval.report import Audio, Figure, Paragraph, ReportPage, Section, Table, TextSample, line_plot_png


def wav_bytes(seconds: float = 0.2, rate: int = 8000) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    pcm = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype("<i2")
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm.tobytes())
    return buffer.getvalue()


def sample_page() -> ReportPage:
    png = line_plot_png({"loss": ([0, 1, 2], [3.0, 2.5, 2.2])}, title="loss", xlabel="step", ylabel="nelbo")
    return ReportPage(title="run <report>", sections=[
        Section("metrics", [Table(["modality", "nelbo"], [["text", 4.25], ["image", float("nan")]]),
                            Figure(png, caption="loss curve")]),
        Section("samples", [TextSample("<script>alert(1)</script>", "out & about", "nfe 8"),
                            Audio(wav_bytes(), caption="tone"), Paragraph("skipped: no checkpoint", note=True)]),
    ])


@pytest.fixture
def page() -> ReportPage:
    return sample_page()
