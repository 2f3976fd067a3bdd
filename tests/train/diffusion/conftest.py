"""Tiny token space and batches for the diffusion tests: packed text rows and the four pair tasks.

Rows follow the sequence layout (``[t2i] [bot] caption [eot] [boi] image [eoi]`` ...) and are padded to
``seq_len``; ``make_batch`` turns them into a :class:`trimodal_train.data.Batch`.
"""

from __future__ import annotations

import types

import numpy as np
import pytest
import torch

from trimodal_core import Modality, TokenSpace, TokenSpaceConfig
from trimodal_train.data import Batch

SPACE = TokenSpace(
    TokenSpaceConfig(text_vocab_size=40, image_codebook_size=24, audio_codebook_size=8, audio_num_codebooks=2)
)
_BOUNDS = {Modality.TEXT: ("bot", "eot"), Modality.IMAGE: ("boi", "eoi"), Modality.AUDIO: ("boa", "eoa")}
SPANS = {
    "t2i": (Modality.TEXT, Modality.IMAGE),
    "i2t": (Modality.IMAGE, Modality.TEXT),
    "t2s": (Modality.TEXT, Modality.AUDIO),
    "s2t": (Modality.AUDIO, Modality.TEXT),
}


def _content(space: TokenSpace, modality: Modality, n: int, rng: np.random.Generator) -> np.ndarray:
    if modality == Modality.AUDIO:
        codes = rng.integers(0, space.config.audio_codebook_size, size=n)
        return space.to_global(modality, codes, np.arange(n) % space.config.audio_num_codebooks)
    return space.to_global(modality, rng.integers(0, space.local_size(modality), size=n))


def text_row(space: TokenSpace, doc_lengths: list[int], rng: np.random.Generator) -> np.ndarray:
    """A packed text row: ``[text] [bot] doc [eot]`` per document."""
    parts = []
    for n in doc_lengths:
        parts += [[space.task_id("text"), space.special_id("bot")], _content(space, Modality.TEXT, n, rng),
                  [space.special_id("eot")]]
    return np.concatenate([np.asarray(p, dtype=np.int64) for p in parts])


def pair_row(space: TokenSpace, task: str, lengths: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """One pair example of ``task`` with ``lengths`` content tokens in its first and second span."""
    parts: list = [[space.task_id(task)]]
    for modality, n in zip(SPANS[task], lengths, strict=True):
        begin, end = (space.special_id(name) for name in _BOUNDS[modality])
        parts += [[begin], _content(space, modality, n, rng), [end]]
    return np.concatenate([np.asarray(p, dtype=np.int64) for p in parts])


def make_batch(space: TokenSpace, rows: list[np.ndarray], seq_len: int, step: int = 0) -> Batch:
    """Pad rows to ``seq_len`` and fill every Batch field (text documents numbered, pairs document 0)."""
    tokens = np.full((len(rows), seq_len), space.pad_id, dtype=np.int64)
    docs = np.full((len(rows), seq_len), -1, dtype=np.int32)
    for i, row in enumerate(rows):
        tokens[i, : len(row)] = row
        starts = (row == space.task_id("text")).astype(np.int32)
        docs[i, : len(row)] = np.maximum(np.cumsum(starts) - 1, 0)
    return Batch(
        step=step,
        tokens_BL=torch.from_numpy(tokens),
        modality_BL=torch.from_numpy(space.modality_of(tokens)),
        loss_mask_BL=torch.from_numpy(tokens != space.pad_id),
        document_ids_BL=torch.from_numpy(docs),
        component_B=torch.zeros(len(rows), dtype=torch.int64),
    )


def mixed_rows(space: TokenSpace, num_rows: int, seq_len: int, seed: int = 0) -> list[np.ndarray]:
    """Cycle through text, t2i, i2t, t2s, s2t rows of random lengths that fit ``seq_len``."""
    rng = np.random.default_rng(seed)
    kinds = ["text", "t2i", "i2t", "t2s", "s2t"]
    rows = []
    for i in range(num_rows):
        kind = kinds[i % len(kinds)]
        if kind == "text":
            first = int(rng.integers(4, seq_len // 2))
            rows.append(text_row(space, [first, seq_len - first - 6], rng))
        else:
            a = int(rng.integers(3, seq_len // 3))
            b = int(rng.integers(3, seq_len - a - 6))
            rows.append(pair_row(space, kind, (a, b), rng))
    return rows


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """These tests run small tensors; on a busy 2-core machine torch's second thread only spins (15x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def space() -> TokenSpace:
    return SPACE


@pytest.fixture
def rows() -> types.SimpleNamespace:
    """The builders, as a namespace (``rows.make_batch(...)``)."""
    return types.SimpleNamespace(
        text_row=text_row, pair_row=pair_row, make_batch=make_batch, mixed_rows=mixed_rows, SPANS=SPANS
    )
