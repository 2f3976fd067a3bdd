"""Suite-wide settings: offline hubs, no progress bars, the ``gpu`` marker's automatic skip, and the parallel run.

The suite runs on ``pytest-xdist`` workers (``-n auto --dist loadfile`` in ``pyproject.toml``: a file's tests stay
on one worker, so its module fixtures are built once): at most 4 workers [ours], never more than the cores, and
each worker's torch gets its share of the cores so workers do not oversubscribe them. ``-n 0`` runs serially.
"""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TRIMODAL_NO_PROGRESS", "1")

MAX_WORKERS = 4


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    return max(1, min(MAX_WORKERS, len(os.sched_getaffinity(0))))


def pytest_configure(config: pytest.Config) -> None:
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0"))
    if workers > 1:
        share = max(1, len(os.sched_getaffinity(0)) // workers)
        os.environ.setdefault("OMP_NUM_THREADS", str(share))  # subprocesses (DDP ranks, submitit jobs) too
        try:
            import torch
        except ImportError:
            return
        torch.set_num_threads(share)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if has_cuda:
        return
    skip = pytest.mark.skip(reason="needs CUDA")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
