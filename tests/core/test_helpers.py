from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trimodal_core import atomic_write_text, derive_seed, numpy_rng


def test_derive_seed_is_stable_across_processes() -> None:
    here = derive_seed(1234, "loader", "rank", 3)
    code = "from trimodal_core import derive_seed; print(derive_seed(1234, 'loader', 'rank', 3))"
    there = int(subprocess.check_output([sys.executable, "-c", code], text=True))
    assert here == there
    assert derive_seed(1234, "loader", "rank", 4) != here
    assert 0 <= here < 2**63
    expected = np.random.default_rng(derive_seed(1, "a")).integers(0, 1 << 30, size=4)
    assert np.array_equal(numpy_rng(1, "a").integers(0, 1 << 30, size=4), expected)


def test_atomic_write_keeps_old_file_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    atomic_write_text(target, "old")

    from trimodal_core import atomic_open

    with pytest.raises(RuntimeError), atomic_open(target) as handle:
        handle.write(b"half")
        raise RuntimeError
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]
