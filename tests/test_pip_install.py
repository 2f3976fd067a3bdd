"""The built wheels install with plain pip into a fresh virtual environment (as Beam workers install them).

``uv build --all-packages --wheel`` writes the six wheels; ``python -m venv`` + ``pip install --find-links``
installs them with the package index for everything else, outside the uv workspace (no lock, no override).

* **Base ``trimodal-data``**, installed for real: every module of core, tokenizers and data imports (the ones
  that need an extra raise ``MissingExtraError`` naming it), torch/dac/faiss/open_clip are absent, and a text
  corpus is built end to end with the console scripts (BPE, bundle, Beam text pipeline); the image-text command
  stops with the ``pip install 'trimodal-data[image]'`` hint.
* **Extras and the torch packages** (``trimodal-data[image]``, ``trimodal-data[audio]``, and ``trimodal``, which
  needs data[all], tokenizers[all], train and eval) are resolved with ``pip install --dry-run --report``: a real
  install pulls 5-6 GB of torch and CUDA libraries (README: sizes and times measured by hand), too slow for every
  CI run. The report must hold torch, the ``-unofficial`` DAC, pycodec2, protobuf below 5 where audiotools
  comes along, and a current Beam and pyarrow (pip used to backtrack to old Beam releases needing ``pyarrow<17``).

Both need the package index, so they are ``slow``; timings are in the README.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("uv") is None, reason="needs uv")]

ROOT = Path(__file__).resolve().parents[1]
DEMO_TEXT = ROOT / "pipelines" / "demo_data" / "text" / "docs-000.jsonl.gz"
TORCH_STACK = ["torch", "torchaudio", "torchvision", "open_clip", "faiss", "dac", "pycodec2", "imagehash"]
IMPORT_BASE = """
import importlib, importlib.util, json, pkgutil, sys
from trimodal_core.extras import MissingExtraError
imported, refused = 0, []
for name in ("trimodal_core", "trimodal_tokenizers", "trimodal_data"):
    pkg = importlib.import_module(name)
    for info in pkgutil.walk_packages(pkg.__path__, prefix=name + "."):
        try:
            importlib.import_module(info.name)
            imported += 1
        except MissingExtraError as exc:
            refused.append([info.name, str(exc)])
present = [m for m in sys.argv[1:] if importlib.util.find_spec(m) is not None]
print(json.dumps({"imported": imported, "refused": refused, "present": present}))
"""


def _run(cmd: list[str], *, timeout: int = 900, **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kwargs)  # type: ignore[call-overload]
    assert result.returncode == 0, f"{' '.join(map(str, cmd))}\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}"
    return result


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheels")
    _run(["uv", "build", "--all-packages", "--wheel", "-o", str(out)], cwd=ROOT)
    wheels = sorted(p.name.split("-")[0] for p in out.glob("*.whl"))
    assert wheels == ["trimodal", *(f"trimodal_{p}" for p in ("core", "data", "eval", "tokenizers", "train"))]
    return out


@pytest.fixture(scope="module")
def base_env(wheelhouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with ``pip install trimodal-data`` (the base install) done for real."""
    venv = tmp_path_factory.mktemp("pip_env") / "venv"
    python = Path(sys.base_prefix) / "bin" / "python3"
    _run([str(python if python.exists() else sys.executable), "-m", "venv", str(venv)])
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    _run([str(venv / "bin" / "pip"), "install", "--quiet", "--find-links", str(wheelhouse), "trimodal-data"], env=env)
    return venv


def test_base_data_install_imports_without_torch_and_builds_a_text_corpus(base_env: Path, tmp_path: Path) -> None:
    bin_dir = base_env / "bin"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env.update(HF_HUB_OFFLINE="1", TRIMODAL_NO_PROGRESS="1", PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}")
    result = _run([str(bin_dir / "python"), "-c", IMPORT_BASE, *TORCH_STACK], cwd=tmp_path, env=env)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["present"] == [], f"the base install pulled {report['present']}"
    assert report["imported"] > 40
    refused = dict(report["refused"])
    needs_extra = {f"trimodal_tokenizers.{m}" for m in ("image_fsq", "image_train", "audio_dac", "audio_codec2")}
    assert needs_extra <= set(refused)
    assert all("pip install 'trimodal-tokenizers[" in message for message in refused.values())

    # A text-only Beam job with the console scripts of the pip install (no torch anywhere).
    docs = tmp_path / "docs.jsonl"
    with gzip.open(DEMO_TEXT, "rt", encoding="utf-8") as handle:
        docs.write_text("".join(line for line, _ in zip(handle, range(40), strict=False)))
    _run([str(bin_dir / "trimodal-tokenizers"), "train-text", "--input", str(docs), "--bpe.vocab-size", "300",
          "--out", str(tmp_path / "text")], cwd=tmp_path, env=env)  # fmt: skip
    _run([str(bin_dir / "trimodal-tokenizers"), "build-bundle", "--text", str(tmp_path / "text"),
          "--out", str(tmp_path / "bundle")], cwd=tmp_path, env=env)  # fmt: skip
    _run([str(bin_dir / "trimodal-data"), "text", "--input", str(docs), "--output", str(tmp_path / "corpus"),
          "--tokenizer", str(tmp_path / "bundle")], cwd=tmp_path, env=env)  # fmt: skip
    manifest = json.loads((tmp_path / "corpus" / "manifest.json").read_text())
    assert sum(shard["rows"] for shard in manifest["shards"]) > 0
    image = subprocess.run(
        [str(bin_dir / "trimodal-data"), "image-text", "--input", str(docs), "--output", str(tmp_path / "img"),
         "--tokenizer", str(tmp_path / "bundle")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert image.returncode == 2 and "pip install 'trimodal-data[image]'" in image.stderr, image.stderr[-2000:]


def _versions(report_path: Path) -> dict[str, str]:
    report = json.loads(report_path.read_text())
    items = report["install"]
    return {item["metadata"]["name"].lower().replace("_", "-"): item["metadata"]["version"] for item in items}


def _major_minor(version: str) -> tuple[int, int]:
    major, minor = version.split(".")[:2]
    return int(major), int("".join(ch for ch in minor if ch.isdigit()) or 0)


@pytest.mark.parametrize(
    ("spec", "must_have", "must_not_have"),
    [
        ("trimodal-data[image]", ["torch", "open-clip-torch", "faiss-cpu", "imagehash"], ["pycodec2"]),
        ("trimodal-data[audio]", ["torch", "torchaudio", "descript-audio-codec-unofficial", "pycodec2"], ["faiss-cpu"]),
        # The root package: data[all], tokenizers[all], train and eval in one resolution.
        ("trimodal", ["torch", "apache-beam", "descript-audio-codec-unofficial", "open-clip-torch", "torchdata"], []),
    ],
)
def test_extras_and_torch_packages_resolve_with_plain_pip(
    base_env: Path, wheelhouse: Path, tmp_path: Path, spec: str, must_have: list[str], must_not_have: list[str]
) -> None:
    report = tmp_path / "report.json"
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    _run([str(base_env / "bin" / "pip"), "install", "--dry-run", "--ignore-installed", "--quiet", "--report",
          str(report), "--find-links", str(wheelhouse), spec], env=env)  # fmt: skip
    versions = _versions(report)
    assert not [name for name in must_have if name not in versions], versions
    assert not [name for name in must_not_have if name in versions]
    assert "descript-audio-codec" not in versions and "descript-audiotools" not in versions
    if "protobuf" in versions:
        assert _major_minor(versions["protobuf"]) >= (3, 20)
        if "descript-audiotools-unofficial" in versions:
            assert _major_minor(versions["protobuf"]) < (5, 0)  # audiotools' cap, which Beam accepts
    if "apache-beam" in versions:
        assert _major_minor(versions["apache-beam"]) >= (2, 60)
    if "pyarrow" in versions:
        assert _major_minor(versions["pyarrow"]) >= (17, 0)
