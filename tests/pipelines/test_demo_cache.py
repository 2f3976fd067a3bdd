"""The demo's step cache reuses work only while its tokenizers are the ones it recorded (issue 12, item 5).

Before content fingerprints, a retrained BPE of the same size kept the bundle step's key ("text-4096") and the
corpora's key (the token-space fingerprint), so a rerun reused a bundle and corpora of the old tokenizer.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines import demo_steps
from pipelines.demo import StepCache
from trimodal_core import CorpusManifest
from trimodal_tokenizers.bundle import TokenizerBundle
from trimodal_tokenizers.text_bpe import TextBPEConfig, TextTokenizer

TEXTS = [f"line {i}: the quick brown fox {i % 7} jumps over the lazy dog {i % 5}" for i in range(60)]


def _tokenizer(texts: list[str]) -> TextTokenizer:
    return TextTokenizer.train(texts, TextBPEConfig(vocab_size=300, min_frequency=1))


def _steps(root: Path, texts: list[str], built: list[str]) -> dict:
    """The demo's chain in small: a text tokenizer part, a bundle over it, a corpus keyed by the bundle."""
    cache = StepCache(root, force=False)
    part, bundle_dir, corpus = root / "parts" / "text", root / "bundle", root / "corpus"

    def train() -> dict:
        built.append("text")
        _tokenizer(texts).save(part)
        return {"fingerprint": demo_steps._part_digest(part)}

    def bundle() -> dict:
        built.append("bundle")
        b = TokenizerBundle.build(text=TextTokenizer.load(part))
        b.save(bundle_dir)
        return {"fingerprint": b.fingerprint, "tokenizer_fingerprint": b.tokenizer_fingerprint}

    def build_corpus() -> dict:
        built.append("corpus")
        b = TokenizerBundle.load(bundle_dir)
        corpus.mkdir(parents=True, exist_ok=True)
        CorpusManifest(name="c", token_space=b.token_space.to_dict(), shards=[],
                       tokenizer_fingerprint=b.tokenizer_fingerprint).save(corpus / "manifest.json")
        return {"manifest": str(corpus / "manifest.json")}

    text = cache.run("text", {"in": texts}, [part], train, stale=demo_steps.part_changed(part))
    b = cache.run("bundle", {"parts": [text["fingerprint"]]}, [bundle_dir], bundle,
                  stale=demo_steps.bundle_changed(bundle_dir))
    key = b["tokenizer_fingerprint"]
    cache.run("corpus", {"bundle": key}, [corpus], build_corpus,
              stale=demo_steps.corpus_tokenizer_changed(corpus / "manifest.json", key))
    return b


def test_rerun_reuses_everything(tmp_path: Path) -> None:
    built: list[str] = []
    first = _steps(tmp_path, TEXTS, built)
    assert built == ["text", "bundle", "corpus"]
    assert _steps(tmp_path, TEXTS, built) == {**first, "reused": True}
    assert built == ["text", "bundle", "corpus"]


def test_a_retrained_tokenizer_of_the_same_size_rebuilds_bundle_and_corpus(tmp_path: Path) -> None:
    built: list[str] = []
    first = _steps(tmp_path, TEXTS, built)
    second = _steps(tmp_path, [t.upper() for t in TEXTS], built)
    assert built == ["text", "bundle", "corpus"] * 2
    assert second["fingerprint"] == first["fingerprint"]  # same token space: the old keys could not tell
    assert second["tokenizer_fingerprint"] != first["tokenizer_fingerprint"]
    manifest = CorpusManifest.load(tmp_path / "corpus" / "manifest.json")
    assert manifest.tokenizer_fingerprint == second["tokenizer_fingerprint"]


def test_a_part_replaced_by_hand_is_redone(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    built: list[str] = []
    _steps(tmp_path, TEXTS, built)
    _tokenizer([t[::-1] for t in TEXTS]).save(tmp_path / "parts" / "text")  # same inputs key, other content
    _steps(tmp_path, TEXTS, built)
    assert built == ["text", "bundle", "corpus", "text"]  # the retrained part equals the first: bundle reused
    assert "[text] redone:" in capsys.readouterr().out


def test_a_corpus_of_another_tokenizer_is_rebuilt(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    built: list[str] = []
    b = _steps(tmp_path, TEXTS, built)
    manifest = tmp_path / "corpus" / "manifest.json"
    other = CorpusManifest.load(manifest)
    other.tokenizer_fingerprint = "f" * 64
    other.save(manifest)
    check = demo_steps.corpus_tokenizer_changed(manifest, b["tokenizer_fingerprint"])
    assert check({}) == (f"tokenizer changed: {manifest} records tokenizer fingerprint {'f' * 64}, the bundle is "
                         f"{b['tokenizer_fingerprint']}")
    _steps(tmp_path, TEXTS, built)
    assert built == ["text", "bundle", "corpus", "corpus"]
    assert "[corpus] redone: tokenizer changed" in capsys.readouterr().out


def test_a_bundle_changed_by_hand_is_redone(tmp_path: Path) -> None:
    built: list[str] = []
    _steps(tmp_path, TEXTS, built)
    _tokenizer([t[::-1] for t in TEXTS]).save(tmp_path / "bundle" / "text")
    assert "hashes to tokenizer fingerprint" in demo_steps.bundle_changed(tmp_path / "bundle")(
        {"tokenizer_fingerprint": "0" * 64})
    _steps(tmp_path, TEXTS, built)
    assert built == ["text", "bundle", "corpus", "bundle"]  # rebuilt to the same content: corpus reused
