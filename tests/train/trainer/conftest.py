"""Trainer tests: one torch thread per test (see :func:`one_torch_thread`); the shared fixtures
(``tiny_mixture``, ``make_config``, ``reference_run``) are in ``tests/train/conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread() -> Iterator[None]:
    """One intra-op thread: on a shared 2-core machine two OpenMP threads run these tiny steps ~10x slower."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
