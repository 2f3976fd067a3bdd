"""``build_loader`` refuses a mixture whose corpora were made by other tokenizers of the same layout."""

from __future__ import annotations

import json
import logging
import types
from pathlib import Path

import pytest

from trimodal_train.data import LoaderConfig, build_loader

FP_A, FP_B = "a" * 64, "b" * 64
CONFIG = LoaderConfig(seq_len=64, global_batch_size=4, prefetch=0)


def _stamp(manifest: Path, fingerprint: str | None) -> None:
    data = json.loads(manifest.read_text())
    data["tokenizer_fingerprint"] = fingerprint
    manifest.write_text(json.dumps(data))


def _mixture(tmp_path: Path, helpers: types.SimpleNamespace, fp_text: str | None, fp_pairs: str | None,
             fp_mix: str | None) -> tuple[Path, Path, Path]:
    text = helpers.write_corpus(tmp_path / "text", "text", "text", [40] * 12)
    pairs = helpers.write_corpus(tmp_path / "pairs", "pairs", "t2i", [30] * 12, seed=2)
    _stamp(text, fp_text)
    _stamp(pairs, fp_pairs)
    mix = helpers.write_mixture(tmp_path / "mix.json", {"text": (text, 1.0), "pairs": (pairs, 1.0)})
    _stamp(mix, fp_mix)
    return mix, text, pairs


def test_components_of_other_tokenizers_are_refused(tmp_path: Path, helpers: types.SimpleNamespace) -> None:
    mix, text, pairs = _mixture(tmp_path, helpers, FP_A, FP_B, None)
    with pytest.raises(ValueError, match=f"{pairs} was tokenized by {FP_B}, {text} by {FP_A}"):
        build_loader(mix, CONFIG)


def test_mixture_and_component_disagreeing_is_refused(tmp_path: Path, helpers: types.SimpleNamespace) -> None:
    mix, text, _ = _mixture(tmp_path, helpers, FP_A, FP_A, FP_B)
    with pytest.raises(ValueError, match=f"{text} was tokenized by {FP_A}, {mix} by {FP_B}"):
        build_loader(mix, CONFIG)


def test_matching_and_old_manifests_load(tmp_path: Path, helpers: types.SimpleNamespace,
                                         caplog: pytest.LogCaptureFixture) -> None:
    mix, _, _ = _mixture(tmp_path / "same", helpers, FP_A, FP_A, FP_A)
    assert next(iter(build_loader(mix, CONFIG))).tokens_BL.shape == (4, 64)
    old, text, _ = _mixture(tmp_path / "old", helpers, None, FP_A, FP_A)
    with caplog.at_level(logging.WARNING):
        loader = build_loader(old, CONFIG)
    assert f"their tokenizer cannot be checked (rebuild them to record it): {text}" in caplog.text
    assert next(iter(loader)).tokens_BL.shape == (4, 64)
