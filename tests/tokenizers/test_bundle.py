from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from trimodal_tokenizers.bundle import TokenizerBundle
from trimodal_tokenizers.text_bpe import TextTokenizer


def test_text_only_bundle_round_trip(tmp_path: Path, text_tokenizer: TextTokenizer, corpus_lines: list[str]) -> None:
    bundle = TokenizerBundle.build(text=text_tokenizer)
    assert bundle.image is None and bundle.audio is None
    assert bundle.token_space.config.text_vocab_size == text_tokenizer.vocab_size
    bundle.save(tmp_path / "b")
    loaded = TokenizerBundle.load(tmp_path / "b")
    assert loaded.fingerprint == bundle.fingerprint
    for line in corpus_lines[:20]:
        seq = loaded.layout.text(loaded.text.encode(line))
        parsed = bundle.layout.parse(seq.tokens)
        assert bundle.text.decode(parsed.text_ids) == line


def test_loading_a_text_only_bundle_does_not_import_torch(tmp_path: Path, text_tokenizer: TextTokenizer) -> None:
    TokenizerBundle.build(text=text_tokenizer).save(tmp_path / "b")
    code = (
        "import sys; from trimodal_tokenizers import TokenizerBundle; "
        f"b = TokenizerBundle.load({str(tmp_path / 'b')!r}); "
        "assert 'torch' not in sys.modules, 'torch imported'; print(b.text.vocab_size)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == str(text_tokenizer.vocab_size)


def test_bundle_load_errors_name_the_problem(tmp_path: Path, text_tokenizer: TextTokenizer) -> None:
    with pytest.raises(ValueError, match="not a tokenizer bundle"):
        TokenizerBundle.load(tmp_path)
    TokenizerBundle.build(text=text_tokenizer).save(tmp_path / "b")
    meta_path = tmp_path / "b" / "bundle.json"
    meta = json.loads(meta_path.read_text())
    meta["fingerprint"] = "0" * 16
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="fingerprint"):
        TokenizerBundle.load(tmp_path / "b")


def test_size_mismatch_is_rejected(text_tokenizer: TextTokenizer) -> None:
    from trimodal_core import TokenSpace, TokenSpaceConfig

    space = TokenSpace(
        TokenSpaceConfig(text_vocab_size=10, image_codebook_size=1, audio_codebook_size=1, audio_num_codebooks=1)
    )
    with pytest.raises(ValueError, match="text vocab_size"):
        TokenizerBundle(token_space=space, text=text_tokenizer)


def test_bundle_fingerprint_is_deterministic(text_tokenizer: TextTokenizer, tmp_path: Path) -> None:
    """A saved bundle loads with the same fingerprint and layout in a fresh process."""
    a = TokenizerBundle.build(text=text_tokenizer)
    a.save(tmp_path / "bundle")
    code = ("import sys; from trimodal_tokenizers.bundle import TokenizerBundle; import numpy as np; "
            "b = TokenizerBundle.load(sys.argv[1]); print(b.fingerprint, *b.layout.text(np.array([1])).tokens)")
    out = subprocess.check_output([sys.executable, "-c", code, str(tmp_path / "bundle")], text=True).split()
    assert out[0] == a.fingerprint
    assert [int(t) for t in out[1:]] == a.layout.text(np.array([1])).tokens.tolist()
