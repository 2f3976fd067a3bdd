"""The demo finds held-out clips whatever form the corpus gives their ids (with or without the extension)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from pipelines import demo_model

TABLE = Path(__file__).resolve().parents[2] / "pipelines" / "demo_data" / "audio_text" / "transcripts.tsv"


@pytest.mark.parametrize("form", ["transcripts.tsv/clips/{stem}.ogg", "audio_text_tiny/{stem}.ogg", "{stem}"])
def test_speech_rows_match_ids_by_clip_stem(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, form: str) -> None:
    stems = [line.split("\t")[0].rsplit("/", 1)[-1][:-4] for line in TABLE.read_text().splitlines()[1:4]]
    examples = [SimpleNamespace(example_id=form.format(stem=s)) for s in stems]
    monkeypatch.setattr(demo_model, "_val_examples", lambda manifest, count: examples[:count])
    rows = demo_model._speech_rows(tmp_path / "unused.json", TABLE, tmp_path / "wav", 3, max_seconds=1.0)
    assert [r["wav"].stem for r in rows] == stems
    assert all(r["transcript"] and len(r["wave"]) <= r["rate"] for r in rows)
