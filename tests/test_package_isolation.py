"""Each package installs and imports on its own, with only the dependencies it declares.

Every package is synced from the lock into its own fresh environment (``uv sync --package``, hard
links from uv's cache, about a second each) and every one of its modules is imported there, so a
module importing an undeclared dependency fails here. Beam must never reach train or eval.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["core", "tokenizers", "data", "train", "eval"]
IMPORT_ALL = """
import importlib, importlib.util, pkgutil, sys
pkg = importlib.import_module(sys.argv[1])
for info in pkgutil.walk_packages(pkg.__path__, prefix=pkg.__name__ + "."):
    importlib.import_module(info.name)
for forbidden in sys.argv[2:]:
    assert importlib.util.find_spec(forbidden) is None, f"{forbidden} is installed with {sys.argv[1]}"
print("ok")
"""
FORBIDDEN = {
    "core": ["torch", "apache_beam", "tokenizers", "tqdm"],
    "tokenizers": ["apache_beam", "torchdata"],
    "data": ["torchdata", "submitit"],
    "train": ["apache_beam", "dac", "open_clip"],
    # eval loads checkpoints through trimodal-train (torchdata) and decodes through trimodal-tokenizers (dac).
    "eval": ["apache_beam"],
}


@pytest.mark.skipif(shutil.which("uv") is None, reason="needs uv")
@pytest.mark.parametrize("package", PACKAGES)
def test_package_imports_alone(package: str, tmp_path: Path) -> None:
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(tmp_path / "venv")}
    env.pop("VIRTUAL_ENV", None)
    subprocess.run(
        ["uv", "sync", "--locked", "--offline", "--package", f"trimodal-{package}", "--no-dev", "--quiet"],
        cwd=ROOT, env=env, check=True, timeout=600,
    )
    python = tmp_path / "venv" / "bin" / "python"
    result = subprocess.run(
        [str(python), "-c", IMPORT_ALL, f"trimodal_{package}", *FORBIDDEN[package]],
        cwd=tmp_path, env={**env, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().endswith("ok")
