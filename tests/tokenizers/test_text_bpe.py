from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, models, pre_tokenizers

from trimodal_tokenizers.text_bpe import TextBPEConfig, TextTokenizer


def test_train_from_iterator_is_deterministic_and_sized(corpus_lines: list[str]) -> None:
    config = TextBPEConfig(vocab_size=600, min_frequency=2)
    a = TextTokenizer.train(corpus_lines, config)
    b = TextTokenizer.train(iter(corpus_lines), config)
    assert a.vocab_size == b.vocab_size == 600
    assert a.hf_tokenizer.to_str() == b.hf_tokenizer.to_str()


def test_train_from_files_matches_real_text(corpus_files: list[Path], corpus_lines: list[str]) -> None:
    tok = TextTokenizer.train(corpus_files, TextBPEConfig(vocab_size=800))
    assert 256 < tok.vocab_size <= 800
    ids = tok.encode_batch(corpus_lines[:50])
    assert all(x.dtype == np.int64 for x in ids)
    # Merges compress real text well below one token per byte.
    assert sum(map(len, ids)) < 0.6 * sum(len(t.encode()) for t in corpus_lines[:50])
    assert tok.decode_batch(ids) == corpus_lines[:50]


def test_missing_training_file_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not found"):
        TextTokenizer.train([tmp_path / "nope.txt"], TextBPEConfig(vocab_size=300))


def test_empty_corpus_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        TextTokenizer.train([], TextBPEConfig(vocab_size=300))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=60), min_size=1, max_size=8))
def test_round_trip_is_exact_on_arbitrary_unicode(text_tokenizer: TextTokenizer, texts: list[str]) -> None:
    ids = text_tokenizer.encode_batch(texts)
    assert text_tokenizer.decode_batch(ids) == texts
    for row in ids:
        assert row.size == 0 or (row.min() >= 0 and row.max() < text_tokenizer.vocab_size)


def test_empty_text_gives_no_tokens(text_tokenizer: TextTokenizer) -> None:
    ids = text_tokenizer.encode_batch(["", "a"])
    assert ids[0].shape == (0,) and ids[0].dtype == np.int64
    assert text_tokenizer.decode_batch(ids) == ["", "a"]


def test_bad_inputs_name_the_item(text_tokenizer: TextTokenizer) -> None:
    with pytest.raises(ValueError, match=r"texts\[1\].*surrogate"):
        text_tokenizer.encode_batch(["ok", "bad \ud800"])
    with pytest.raises(TypeError, match=r"texts\[0\]"):
        text_tokenizer.encode_batch([b"bytes"])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="not one str"):
        text_tokenizer.encode_batch("abc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"ids\[0\]"):
        text_tokenizer.decode_batch([np.array([text_tokenizer.vocab_size])])


def test_save_load_round_trip(tmp_path: Path, text_tokenizer: TextTokenizer, corpus_lines: list[str]) -> None:
    text_tokenizer.save(tmp_path / "tok")
    loaded = TextTokenizer.load(tmp_path / "tok")
    assert loaded.vocab_size == text_tokenizer.vocab_size
    assert loaded.config == text_tokenizer.config
    for a, b in zip(
        loaded.encode_batch(corpus_lines[:20]), text_tokenizer.encode_batch(corpus_lines[:20]), strict=True
    ):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="no tokenizer.json"):
        TextTokenizer.load(tmp_path)


def test_special_tokens_of_a_loaded_tokenizer_are_plain_text(tmp_path: Path, corpus_lines: list[str]) -> None:
    hf = Tokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    from tokenizers import decoders, trainers

    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    hf.train_from_iterator(corpus_lines, trainer)
    special = hf.token_to_id("<|endoftext|>")
    hf.save(str(tmp_path / "tokenizer.json"))
    tok = TextTokenizer.load(tmp_path / "tokenizer.json")
    text = "before <|endoftext|> after"
    ids = tok.encode(text)
    assert special not in ids.tolist()
    assert tok.decode(ids) == text


def test_bad_config_names_the_field() -> None:
    with pytest.raises(ValueError, match="vocab_size"):
        TextBPEConfig(vocab_size=10)
