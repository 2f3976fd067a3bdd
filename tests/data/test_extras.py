"""A media pipeline launched without its extra stops before reading anything, naming the extra."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from trimodal_core.extras import MissingExtraError
from trimodal_data.commands import run
from trimodal_data.extras import require_media_extra


@pytest.mark.parametrize(("kind", "module"), [("image", "faiss"), ("audio", "soundfile")])
def test_missing_extra_is_named_at_launch(
    kind: str, module: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # as if the extra were not installed
    with pytest.raises(MissingExtraError, match=rf"the {kind}-text pipeline needs .*trimodal-data\[{kind}\].*{module}"):
        require_media_extra(kind)
    # The command line turns it into a one-line message and exit code 2, before the inputs are even read.
    argv = ["--input", str(tmp_path / "none"), "--output", str(tmp_path / "out"), "--tokenizer", str(tmp_path)]
    assert run(argv, f"{kind}-text") == 2
    err = capsys.readouterr().err
    assert f"pip install 'trimodal-data[{kind}]'" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_installed_extras_pass_and_unknown_kinds_are_value_errors() -> None:
    require_media_extra("image")
    require_media_extra("audio")
    with pytest.raises(ValueError, match="unknown media kind"):
        require_media_extra("video")
