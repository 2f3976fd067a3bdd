"""The piece-cached byte-level BPE encoder gives exactly HF ``encode_batch_fast``'s ids (its direct definition)."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, normalizers

from trimodal_tokenizers import bpe_pieces
from trimodal_tokenizers.bpe_pieces import PieceEncoder, supports
from trimodal_tokenizers.text_bpe import TextTokenizer

# Letters, digits, spaces and symbols of several scripts, the GPT-2 contractions, whitespace runs; plus
# characters the encoder leaves to HF (CJK, emoji, a private-use one).
ALPHABET = [
    *"abcXYZ019 '’\t\n\r\x0b\x0c\x85\xa0\u2009\u3000.,;!?-–—\"…½²éÉßøłİıσςΣжЖא١٢ع",
    "'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "  ", "   ", " \n", "\n\n", "e\u0301", "世界", "🙂", "\ue000",
]


def _hf_ids(tok: Tokenizer, texts: list[str]) -> list[list[int]]:
    return [enc.ids for enc in tok.encode_batch_fast(texts, add_special_tokens=False)]


def _random_texts(seed: int, count: int) -> list[str]:
    rng = random.Random(seed)
    return ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 40))) for _ in range(count)]


def test_piece_encoder_equals_hf_on_real_and_random_text(
    text_tokenizer: TextTokenizer, corpus_lines: list[str]
) -> None:
    tok = text_tokenizer.hf_tokenizer
    encoder = PieceEncoder(tok, cache_size=200)  # small: the cache is cleared and refilled on the way
    paragraphs = ["\n".join(corpus_lines[i : i + 30]) for i in range(0, 300, 30)]
    texts = corpus_lines[:400] + _random_texts(0, 400) + paragraphs
    expected = _hf_ids(tok, texts)
    covered = 0
    for text, ids in zip(texts, expected, strict=True):
        got = encoder.encode(text)
        if got is None:  # characters outside the checked set: HF encodes it
            assert not encoder.covers(text)
            continue
        covered += 1
        assert got.dtype == np.int64 and got.tolist() == ids, repr(text)
    assert covered > 0.7 * len(texts)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(ALPHABET) | st.text(max_size=4), max_size=30).map("".join))
def test_piece_encoder_equals_hf_on_generated_text(text_tokenizer: TextTokenizer, text: str) -> None:
    tok = text_tokenizer.hf_tokenizer
    try:
        (expected,) = _hf_ids(tok, [text])
    except Exception:  # lone surrogates: HF refuses them, and they are never covered
        assert not PieceEncoder(tok).covers(text)
        return
    got = PieceEncoder(tok).encode(text)
    assert got is None or got.tolist() == expected


def test_text_tokenizer_mixes_fast_and_hf_paths_in_order(text_tokenizer: TextTokenizer) -> None:
    texts = ["plain ascii text", "世界 and emoji 🙂", "", "Grüße, ναί   12½ don't", "🙂"]
    assert [ids.tolist() for ids in text_tokenizer.encode_batch(texts)] == _hf_ids(text_tokenizer.hf_tokenizer, texts)
    assert text_tokenizer._piece_encoder() is not None  # the trained tokenizer takes the fast path


def test_every_checked_character_splits_as_hf_does() -> None:
    """The character classes spelled out for ``re`` agree with the installed tokenizers' Oniguruma pattern."""
    pattern, outside, ascii_checked = bpe_pieces._checked()
    assert ascii_checked
    checked = [cp for cp in range(bpe_pieces._LIMIT) if not outside.match(chr(cp))]
    assert len(checked) > 10_000
    for start in range(0, len(checked), 2000):
        probe = "".join(map(bpe_pieces._probe, checked[start : start + 2000]))
        assert bpe_pieces._agrees(pattern, probe)


def test_a_character_that_disagrees_is_left_to_hf(monkeypatch: pytest.MonkeyPatch) -> None:
    real = bpe_pieces._char_class
    monkeypatch.setattr(bpe_pieces, "_char_class", lambda cp: "O" if cp == ord("é") else real(cp))
    bpe_pieces._checked.cache_clear()
    try:
        _, outside, ascii_checked = bpe_pieces._checked()
        assert outside.search("café") and not outside.search("cafe") and ascii_checked
    finally:
        bpe_pieces._checked.cache_clear()


def test_only_plain_byte_level_bpe_is_supported(text_tokenizer: TextTokenizer) -> None:
    tok = Tokenizer.from_str(text_tokenizer.hf_tokenizer.to_str())
    assert supports(tok)
    tok.normalizer = normalizers.NFKC()
    assert not supports(tok)
    with pytest.raises(ValueError, match="byte-level"):
        PieceEncoder(tok)
    with_added = Tokenizer.from_str(text_tokenizer.hf_tokenizer.to_str())
    with_added.add_special_tokens(["<|endoftext|>"])
    assert not supports(with_added)
    wrapped = TextTokenizer(with_added)
    texts = ["a <|endoftext|> b", "plain"]
    assert wrapped._piece_encoder() is None
    assert [ids.tolist() for ids in wrapped.encode_batch(texts)] == _hf_ids(with_added, texts)
