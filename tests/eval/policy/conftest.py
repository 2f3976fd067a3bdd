"""Policy tests: one torch thread (tiny tensors on a shared 2-core machine), and the slow tests' base model."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from trimodal_eval.policy import BaseModelConfig, TaskConfig, train_base_model

BASE_STEPS = int(os.environ.get("TRIMODAL_POLICY_BASE_STEPS", "300"))


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


# The policy's environment for the slow tests: a tiny base model (width 32) trained with the real trainer on
# the ``word`` task (lexicon of 12 five-letter demo words); greedy confidence-order decoding solves it
# almost always, one-step decoding about 60% of the time (measured), so the unmasking order matters.
BASE_TASK = TaskConfig(task="word", length=5, lexicon_size=12)


@pytest.fixture(scope="session")
def base_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        config = BaseModelConfig(out_dir=tmp_path_factory.mktemp("policy_base"), task=BASE_TASK,
                                 length_multipliers=(1,), num_examples=1000, steps=BASE_STEPS, batch_size=16,
                                 seq_len=32, lr=1e-2, d_model=32)
        return train_base_model(config)
    finally:
        torch.set_num_threads(before)
