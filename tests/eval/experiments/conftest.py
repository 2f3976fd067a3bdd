"""Shared by the study tests: one study-data cache per session (building the study mixture from the demo files
takes ~15 s on a loaded 2-core machine; every smoke test reuses it)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def study_data_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder for ``StudyConfig.data_cache``: the first study builds the mixture there, the others reuse it."""
    return tmp_path_factory.mktemp("study_data")
