"""Tokenizer content fingerprints: same layout, other merges or weights -> another fingerprint; stale bundles
refused."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from trimodal_tokenizers.bundle import TokenizerBundle
from trimodal_tokenizers.fingerprint import bundle_fingerprint, directory_digest, file_digest
from trimodal_tokenizers.text_bpe import TextBPEConfig, TextTokenizer


def test_json_digest_ignores_formatting_not_content(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.json", tmp_path / "b.json", tmp_path / "c.json"
    a.write_text('{"x": 1, "y": [1, 2]}')
    b.write_text('{\n  "y": [1,2],\n  "x": 1\n}\n')
    c.write_text('{"x": 1, "y": [2, 1]}')
    assert file_digest(a) == file_digest(b)
    assert file_digest(a) != file_digest(c)
    raw = tmp_path / "a.bin"
    raw.write_bytes(a.read_bytes())
    assert file_digest(raw) != file_digest(a)  # other kinds hash their bytes, under another prefix


def test_safetensors_digest_covers_tensors_not_header_layout(tmp_path: Path) -> None:
    import numpy as np
    from safetensors.numpy import save_file

    w = {"b": np.arange(6, dtype=np.float32).reshape(2, 3), "a": np.ones(4, dtype=np.int64)}
    save_file(w, str(tmp_path / "one.safetensors"))
    save_file(dict(reversed(w.items())), str(tmp_path / "two.safetensors"), metadata={"note": "other metadata"})
    assert file_digest(tmp_path / "one.safetensors") == file_digest(tmp_path / "two.safetensors")
    changed = {**w, "b": w["b"] + np.float32(1e-3)}
    save_file(changed, str(tmp_path / "three.safetensors"))
    assert file_digest(tmp_path / "three.safetensors") != file_digest(tmp_path / "one.safetensors")
    reshaped = {**w, "b": w["b"].reshape(3, 2)}  # same bytes, other shape
    save_file(reshaped, str(tmp_path / "four.safetensors"))
    assert file_digest(tmp_path / "four.safetensors") != file_digest(tmp_path / "one.safetensors")
    (tmp_path / "bad.safetensors").write_bytes(b"\xff" * 12)
    with pytest.raises(ValueError, match="bad.safetensors"):
        file_digest(tmp_path / "bad.safetensors")


def test_directory_digest_skips_hidden_and_sees_renames(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.txt").write_text("x")
    before = directory_digest(tmp_path / "d")
    (tmp_path / "d" / ".x.txt.tmp").write_text("unfinished")
    assert directory_digest(tmp_path / "d") == before
    (tmp_path / "d" / "x.txt").rename(tmp_path / "d" / "y.txt")
    assert directory_digest(tmp_path / "d") != before
    with pytest.raises(ValueError, match="not a directory"):
        directory_digest(tmp_path / "missing")


def _same_size_tokenizer(reference: TextTokenizer, lines: list[str]) -> TextTokenizer:
    """Another BPE of exactly ``reference``'s size, trained on other text (other merges)."""
    other = TextTokenizer.train(lines, TextBPEConfig(vocab_size=reference.vocab_size, min_frequency=1))
    assert other.vocab_size == reference.vocab_size
    return other


def test_same_layout_other_merges_get_another_fingerprint(
    tmp_path: Path, text_tokenizer: TextTokenizer, corpus_lines: list[str]
) -> None:
    a = TokenizerBundle.build(text=text_tokenizer)
    b = TokenizerBundle.build(text=_same_size_tokenizer(text_tokenizer, [line[::-1] for line in corpus_lines]))
    a.save(tmp_path / "a")
    b.save(tmp_path / "b")
    assert a.fingerprint == b.fingerprint  # the token-space layout cannot tell them apart
    assert a.tokenizer_fingerprint != b.tokenizer_fingerprint
    meta = json.loads((tmp_path / "a" / "bundle.json").read_text())
    assert meta["tokenizer_fingerprint"] == a.tokenizer_fingerprint == bundle_fingerprint(tmp_path / "a")
    assert TokenizerBundle.load(tmp_path / "a").tokenizer_fingerprint == a.tokenizer_fingerprint
    a.save(tmp_path / "a2")  # the path plays no part
    assert bundle_fingerprint(tmp_path / "a2") == a.tokenizer_fingerprint
    with pytest.raises(ValueError, match="save the bundle first"):
        _ = TokenizerBundle.build(text=text_tokenizer).tokenizer_fingerprint


def test_layout_config_is_part_of_the_fingerprint(tmp_path: Path, text_tokenizer: TextTokenizer) -> None:
    from trimodal_tokenizers.sequence import SequenceLayoutConfig

    TokenizerBundle.build(text=text_tokenizer).save(tmp_path / "a")
    layout = SequenceLayoutConfig(audio_interleave="codebook_major")
    other = TokenizerBundle.build(text=text_tokenizer, layout_config=layout)
    other.save(tmp_path / "b")
    assert bundle_fingerprint(tmp_path / "a") != bundle_fingerprint(tmp_path / "b")


def test_a_part_changed_after_saving_is_refused(
    tmp_path: Path, text_tokenizer: TextTokenizer, corpus_lines: list[str]
) -> None:
    bundle = TokenizerBundle.build(text=text_tokenizer)
    bundle.save(tmp_path / "b")
    recorded = bundle.tokenizer_fingerprint
    # Swap in another tokenizer of the same size behind the bundle's back (the demo's stale-cache case).
    _same_size_tokenizer(text_tokenizer, [line.upper() for line in corpus_lines]).save(tmp_path / "b" / "text")
    with pytest.raises(ValueError, match=f"records tokenizer fingerprint {recorded}, the files hash to [0-9a-f]{{64}}"):
        TokenizerBundle.load(tmp_path / "b")


def test_bundle_from_before_the_field_loads_with_a_warning(
    tmp_path: Path, text_tokenizer: TextTokenizer, caplog: pytest.LogCaptureFixture
) -> None:
    bundle = TokenizerBundle.build(text=text_tokenizer)
    bundle.save(tmp_path / "b")
    meta_path = tmp_path / "b" / "bundle.json"
    meta = json.loads(meta_path.read_text())
    del meta["tokenizer_fingerprint"]
    meta_path.write_text(json.dumps(meta))
    with caplog.at_level(logging.WARNING, logger="trimodal_tokenizers.bundle"):
        loaded = TokenizerBundle.load(tmp_path / "b")
    assert "saved before tokenizer fingerprints" in caplog.text
    assert loaded.tokenizer_fingerprint == bundle.tokenizer_fingerprint


def test_image_and_audio_weights_of_the_same_sizes_are_told_apart(
    tmp_path: Path, text_tokenizer: TextTokenizer
) -> None:
    from trimodal_tokenizers.audio_dac import AudioTokenizer, AudioTokenizerConfig
    from trimodal_tokenizers.image_fsq import ImageTokenizer, ImageTokenizerConfig

    images = [ImageTokenizer.from_random_init(ImageTokenizerConfig.tiny(), seed=s, device="cpu") for s in (0, 1)]
    audios = [AudioTokenizer.from_random_init(AudioTokenizerConfig(variant="tiny", num_codebooks=2, device="cpu",
                                                                   seed=s)) for s in (0, 1)]

    def bundle(image: int, audio: int, out: Path) -> TokenizerBundle:
        b = TokenizerBundle.build(text=text_tokenizer, image=images[image], audio=audios[audio])
        b.save(out)
        return b

    base = bundle(0, 0, tmp_path / "base")
    again = bundle(0, 0, tmp_path / "again")
    other_image = bundle(1, 0, tmp_path / "image")
    other_audio = bundle(0, 1, tmp_path / "audio")
    assert {b.fingerprint for b in (base, again, other_image, other_audio)} == {base.fingerprint}
    assert again.tokenizer_fingerprint == base.tokenizer_fingerprint  # deterministic over a re-save
    assert len({base.tokenizer_fingerprint, other_image.tokenizer_fingerprint,
                other_audio.tokenizer_fingerprint}) == 3
    assert TokenizerBundle.load(tmp_path / "image").tokenizer_fingerprint == other_image.tokenizer_fingerprint
