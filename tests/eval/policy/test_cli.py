"""``trimodal-eval policy``: nested dispatch, the ``--task NAME`` alias, user errors as exit code 2."""

from __future__ import annotations

from pathlib import Path

from trimodal_eval.cli import main
from trimodal_eval.commands.policy import task_alias


def test_task_alias() -> None:
    assert task_alias(["--model", "m", "--task", "copy", "--task.length", "7"]) == [
        "--model", "m", "--task.task", "copy", "--task.length", "7"]
    assert task_alias(["--task=add"]) == ["--task.task=add"]


def test_policy_subcommands_listed_and_errors_exit_2(capsys, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert main(["policy", "--help"]) == 0
    out = capsys.readouterr().out
    assert "train" in out and "compare" in out
    code = main(["policy", "train", "--model", str(tmp_path / "missing"), "--task", "copy", "--iterations", "1",
                 "--out-dir", str(tmp_path / "out")])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "missing" in err
