"""``trimodal experiment NAME``: the dispatch table and each recipe's generated CLI."""

from __future__ import annotations

import pytest

from pipelines.cli import EXPERIMENTS, main


def test_experiment_list_and_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["experiment", "--help"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in EXPERIMENTS)
    assert main(["experiment", "no_such_study"]) == 2


@pytest.mark.parametrize("name", ["batch_size", "gamma", "schedules", "mixing", "scaling_law"])
def test_recipe_help(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["experiment", name, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert "--study.size" in text and "--study.executor" in text


def test_recipe_rejects_bad_size(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["experiment", "gamma", "--study.size", "huge"])
    assert exc.value.code != 0
