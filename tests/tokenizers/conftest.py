"""Shared fixtures: real multilingual text (vim's tutor files) and a tokenizer trained on it inside the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from trimodal_tokenizers.text_bpe import TextBPEConfig, TextTokenizer

TUTOR_DIR = Path("/usr/share/vim/vim90/tutor")
PACKAGE_SRC = Path(__file__).resolve().parents[2] / "packages" / "tokenizers" / "src" / "trimodal_tokenizers"


def _corpus_files() -> list[Path]:
    files = sorted(TUTOR_DIR.glob("tutor.*.utf-8"))
    # Fall back to this package's own sources (real text too) where vim's tutor is not installed.
    return files[:12] if files else sorted(PACKAGE_SRC.glob("*.py"))


@pytest.fixture(scope="session")
def corpus_files() -> list[Path]:
    return _corpus_files()


@pytest.fixture(scope="session")
def corpus_lines(corpus_files: list[Path]) -> list[str]:
    lines: list[str] = []
    for path in corpus_files:
        lines += [line for line in path.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
    return lines


@pytest.fixture(scope="session")
def text_tokenizer(corpus_lines: list[str]) -> TextTokenizer:
    return TextTokenizer.train(corpus_lines, TextBPEConfig(vocab_size=1000, min_frequency=2))


STAMPS_DIR = Path("/usr/share/tuxpaint/stamps")
DEMO_IMAGES = Path(__file__).resolve().parents[2] / "pipelines" / "demo_data" / "image_text"


@pytest.fixture(scope="session")
def real_images() -> list[object]:
    """30 real photo cut-outs: Tux Paint stamps (Debian tuxpaint-stamps-default) or the committed demo shards."""
    from trimodal_tokenizers.image_train import collect_images

    if STAMPS_DIR.is_dir():
        paths = sorted((STAMPS_DIR / "animals").rglob("*.png")) + sorted((STAMPS_DIR / "food").rglob("*.png"))
        if len(paths) >= 30:
            return [paths[i] for i in range(0, len(paths), max(1, len(paths) // 30))][:30]
    if DEMO_IMAGES.is_dir():
        from trimodal_tokenizers.image_decode import decode_image

        # Tar members come back as encoded bytes; the tests want decoded images, as from the stamp files.
        return [decode_image(item, name=name) if isinstance(item, bytes) else item
                for name, item in collect_images(DEMO_IMAGES, max_images=30)]
    pytest.skip("no real images on this machine (install tuxpaint-stamps-default)")
