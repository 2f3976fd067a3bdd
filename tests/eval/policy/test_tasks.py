"""Tasks: deterministic examples from the demo text, a stable hash split, and the judge."""

from __future__ import annotations

from pathlib import Path

import pytest

from trimodal_eval.policy import TASKS, TaskConfig, build_examples, correct
from trimodal_eval.policy.tasks import encode, lexicon


@pytest.mark.parametrize("task", TASKS)
def test_examples_are_deterministic_and_well_formed(task: str) -> None:
    config = TaskConfig(task=task, length=6)
    a = build_examples(config, 20, split="train")
    assert a == build_examples(config, 20, split="train")
    test = build_examples(config, 20, split="test")
    assert not {e.id for e in a} & {e.id for e in test}
    for ex in a + test:
        assert len(ex.answer) == 6 and ex.answer in ex.accepted
        encode(ex.prompt + ex.answer)  # inside the alphabet
        assert correct(ex.answer, ex)
        assert not correct("#" * 6, ex)


def test_task_rules() -> None:
    rev = build_examples(TaskConfig(task="reverse", length=9), 5)
    for ex in rev:
        assert ex.answer.split(" ") == ex.prompt[:-1].split(" ")[::-1]
    add = build_examples(TaskConfig(task="add", length=4), 5)
    for ex in add:
        a, b = ex.prompt[:-1].split("+")
        assert int(ex.answer) == int(a) + int(b)
    words = lexicon(5, 12)
    for ex in build_examples(TaskConfig(task="word", length=5, lexicon_size=12), 30):
        assert ex.answer in words and ex.prompt == ex.answer[0] + ">"
        assert set(ex.accepted) == {w for w in words if w[0] == ex.answer[0]}


def test_bad_config_names_the_field() -> None:
    with pytest.raises(ValueError, match="TaskConfig.task"):
        TaskConfig(task="sum")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="TaskConfig.length"):
        TaskConfig(length=1)


def test_own_text_folder(tmp_path: Path) -> None:
    import gzip
    import json

    with gzip.open(tmp_path / "docs.jsonl.gz", "wt") as handle:
        handle.write(json.dumps({"text": "Alpha beta GAMMA delta, alpha beta! " * 40}) + "\n")
    ex = build_examples(TaskConfig(task="word", length=5, lexicon_size=4, text_dir=tmp_path), 10)
    assert {e.answer for e in ex} <= {"alpha", "gamma", "delta"}
    with pytest.raises(ValueError, match="TaskConfig.text_dir"):
        build_examples(TaskConfig(task="copy", text_dir=tmp_path / "none"), 1)
