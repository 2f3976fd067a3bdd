"""Each package installs and imports on its own, with only the dependencies it declares, base and extras.

Every package (and each extra of trimodal-tokenizers and trimodal-data) is synced from the lock into its own
fresh environment (``uv sync --package [--extra]``, hard links from uv's cache, a few seconds each) and every
one of its modules is imported there, so a module importing an undeclared dependency fails here. A module that
needs an extra must, in the base install, raise ``MissingExtraError`` naming the extra
(``pip install 'trimodal-data[image]'``); every other module must import. The base installs of data and
tokenizers must not hold torch, and Beam must never reach train or eval. (The same wheels installed with plain
pip are tested in ``tests/test_pip_install.py``.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IMPORT_ALL = """
import importlib, importlib.util, json, pkgutil, sys
from trimodal_core.extras import MissingExtraError
spec = json.loads(sys.argv[1])
pkg = importlib.import_module(spec["module"])
imported, refused = [], []
for info in pkgutil.walk_packages(pkg.__path__, prefix=pkg.__name__ + "."):
    needs = spec["needs"].get(info.name)
    if needs is None or set(needs) & set(spec["extras"]):
        importlib.import_module(info.name)
        imported.append(info.name)
        continue
    try:
        importlib.import_module(info.name)
    except MissingExtraError as exc:
        hints = [f"{spec['dist']}[{extra}]" for extra in needs]
        assert any(h in str(exc) for h in hints), f"{info.name}: {exc} does not name {hints}"
        refused.append(info.name)
    else:
        # Another extra may bring what it needs (torch comes with [audio] too); the base install never does.
        assert spec["extras"], f"{info.name} imported without any of the extras {needs}"
        imported.append(info.name)
for forbidden in spec["forbidden"]:
    assert importlib.util.find_spec(forbidden) is None, f"{forbidden} is installed with {spec['dist']}"
print(json.dumps({"imported": len(imported), "refused": sorted(refused)}))
"""
# Modules that need one of these extras (any one suffices); all others import with the base install.
NEEDS: dict[str, dict[str, list[str]]] = {
    "tokenizers": {
        "trimodal_tokenizers.devices": ["image", "audio"],
        "trimodal_tokenizers.quantizers": ["image"],
        "trimodal_tokenizers.image_io": ["image"],
        "trimodal_tokenizers.image_fsq": ["image"],
        "trimodal_tokenizers.image_train": ["image"],
        "trimodal_tokenizers.audio_dac": ["audio"],
        "trimodal_tokenizers.audio_codec2": ["audio"],
    },
}
TORCH_STACK = ["torch", "torchaudio", "torchvision", "open_clip", "faiss", "dac", "pycodec2"]
# (package, extras, modules that must not be installed)
ENVIRONMENTS: list[tuple[str, tuple[str, ...], list[str]]] = [
    ("core", (), ["torch", "apache_beam", "tokenizers", "tqdm"]),
    ("tokenizers", (), [*TORCH_STACK, "apache_beam", "torchdata"]),
    ("tokenizers", ("image",), ["dac", "pycodec2", "apache_beam", "torchdata"]),
    ("tokenizers", ("audio",), ["open_clip", "apache_beam", "torchdata"]),
    ("data", (), [*TORCH_STACK, "imagehash", "soundfile", "torchdata", "submitit"]),
    ("data", ("image",), ["dac", "pycodec2", "torchdata", "submitit"]),
    ("data", ("audio",), ["open_clip", "faiss", "torchdata", "submitit"]),
    ("train", (), ["apache_beam", "dac", "open_clip"]),
    # eval loads checkpoints through trimodal-train (torchdata) and decodes through trimodal-tokenizers.
    ("eval", (), ["apache_beam"]),
]


def _env_id(env: tuple[str, tuple[str, ...], list[str]]) -> str:
    package, extras, _ = env
    return f"{package}[{','.join(extras)}]" if extras else package


@pytest.mark.skipif(shutil.which("uv") is None, reason="needs uv")
@pytest.mark.parametrize(
    "environment",
    # Extras, train and eval import torch (and dac): 20-90 s each on the shared 2-core machine, so they are `slow`;
    # the base installs of core, tokenizers and data (no torch) stay in the quick subset.
    [
        pytest.param(e, id=_env_id(e), marks=[pytest.mark.slow] if e[1] or e[0] in ("train", "eval") else [])
        for e in ENVIRONMENTS
    ],
)
def test_package_imports_alone(environment: tuple[str, tuple[str, ...], list[str]], tmp_path: Path) -> None:
    package, extras, forbidden = environment
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(tmp_path / "venv")}
    env.pop("VIRTUAL_ENV", None)
    extra_args = [arg for extra in extras for arg in ("--extra", extra)]
    subprocess.run(
        ["uv", "sync", "--locked", "--offline", "--package", f"trimodal-{package}", *extra_args, "--no-dev", "--quiet"],
        cwd=ROOT, env=env, check=True, timeout=600,
    )  # fmt: skip
    spec = {
        "module": f"trimodal_{package}",
        "dist": f"trimodal-{package}",
        "extras": list(extras),
        "needs": NEEDS.get(package, {}),
        "forbidden": forbidden,
    }
    python = tmp_path / "venv" / "bin" / "python"
    result = subprocess.run(
        [str(python), "-c", IMPORT_ALL, json.dumps(spec)],
        cwd=tmp_path, env={**env, "HF_HUB_OFFLINE": "1"}, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    if not extras:
        assert report["refused"] == sorted(spec["needs"])
    assert not set(report["refused"]) & {m for m, needs in spec["needs"].items() if set(needs) & set(extras)}
    assert report["imported"] > 0
