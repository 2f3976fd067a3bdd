"""Tiny token space, prompt rows and toy denoisers whose answers are known, for the sampler tests.

- ``OracleDenoiser`` knows each row's answer (looked up by the row's prompt prefix, which the sampler never
  changes; with the condition masked it knows nothing and returns uniform logits) and gives it logit 0
  against ``-gap_l`` for every other id, with a gap that varies by position so that confidence, margin
  and entropy orders differ from left to right. It also checks every input: a
  visible target token is never wrong, padding has document id -1.
- ``HashDenoiser``: logits that depend on every visible token through an exact integer hash and are
  computed elementwise, so a row's logits are bit-identical alone or in any batch (for the ragged test).
- ``ConditionDenoiser``: a one-position target whose distribution is ``softmax(a * [x = x*])`` when the
  condition token is visible and uniform when it is masked (for guidance).
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from trimodal_core import Modality, TokenSpace, TokenSpaceConfig
from trimodal_eval.sampling import PromptRow
from trimodal_eval.sampling.vocab import AUDIO_BOOK, IMAGE, TEXT, TEXT_CONTENT


@pytest.fixture(autouse=True)
def _one_thread():
    """Tiny tensors: one intra-op thread avoids waiting on a busy second core (restored afterwards)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def space() -> TokenSpace:
    return TokenSpace(TokenSpaceConfig(text_vocab_size=24, image_codebook_size=16, audio_codebook_size=8,
                                       audio_num_codebooks=2))


def text_row(space: TokenSpace, key: list[int], n_target: int, *, seed: int = 0, eot_allowed: bool = False,
             suffix: list[int] | None = None) -> PromptRow:
    """``[text] [bot] key... M*n_target [suffix...]`` (key and suffix are local text ids)."""
    head = [space.task_id("text"), space.special_id("bot"), *(space.text_offset + k for k in key)]
    tail = [space.text_offset + k for k in (suffix or [])]
    tokens = np.array(head + [space.mask_id] * n_target + tail, dtype=np.int64)
    span = np.full(len(tokens), int(Modality.TEXT), dtype=np.uint8)
    span[:2] = Modality.SPECIAL
    target = np.zeros(len(tokens), dtype=bool)
    target[len(head): len(head) + n_target] = True
    klass = np.where(target, TEXT if eot_allowed else TEXT_CONTENT, 0).astype(np.int64)
    return PromptRow(tokens=tokens, span_modality=span, target=target, vocab_class=klass,
                     condition=np.zeros(len(tokens), dtype=bool), seed=seed)


def image_row(space: TokenSpace, caption: list[int], n_image: int, *, seed: int = 0) -> PromptRow:
    """``[t2i] [bot] caption [eot] [boi] M*n_image [eoi]``: caption is the condition."""
    cap = [space.text_offset + c for c in caption]
    tokens = [space.task_id("t2i"), space.special_id("bot"), *cap, space.special_id("eot"),
              space.special_id("boi"), *([space.mask_id] * n_image), space.special_id("eoi")]
    n = len(tokens)
    span = np.zeros(n, dtype=np.uint8)
    span[2: 3 + len(cap)] = Modality.TEXT
    start = 4 + len(cap)
    span[start: start + n_image] = Modality.IMAGE
    target = np.zeros(n, dtype=bool)
    target[start: start + n_image] = True
    condition = np.zeros(n, dtype=bool)
    condition[2: 3 + len(cap)] = True
    return PromptRow(tokens=np.array(tokens, dtype=np.int64), span_modality=span, target=target,
                     vocab_class=np.where(target, IMAGE, 0).astype(np.int64), condition=condition, seed=seed)


def audio_row(space: TokenSpace, transcript: list[int], n_frames: int, *, seed: int = 0) -> PromptRow:
    """``[t2s] [bot] transcript [eot] [boa] M*(2*n_frames) [eoa]``, frame-major, per-codebook classes."""
    row = image_row(space, transcript, 2 * n_frames, seed=seed)
    tokens = row.tokens.copy()
    tokens[0], tokens[len(transcript) + 3], tokens[-1] = (space.task_id("t2s"), space.special_id("boa"),
                                                          space.special_id("eoa"))
    span = np.where(row.target, int(Modality.AUDIO), row.span_modality).astype(np.uint8)
    book = np.cumsum(row.target) - 1
    klass = np.where(row.target, AUDIO_BOOK + book % 2, 0).astype(np.int64)
    return PromptRow(tokens=tokens, span_modality=span, target=row.target, vocab_class=klass,
                     condition=row.condition, seed=seed)


def random_answer(space: TokenSpace, row: PromptRow, rng: np.random.Generator) -> np.ndarray:
    """A full answer row: the prompt with each target filled by a random id of its class."""
    answer = row.tokens.copy()
    for i in np.flatnonzero(row.target):
        klass = int(row.vocab_class[i])
        if klass in (TEXT, TEXT_CONTENT):
            lo, hi = space.id_range("text")
        elif klass == IMAGE:
            lo, hi = space.id_range("image")
        else:
            lo, hi = space.id_range("audio", codebook=klass - AUDIO_BOOK)
        answer[i] = rng.integers(lo, hi)
    return answer


class OracleDenoiser:
    """Predicts the known answer of each row (identified by its first ``prefix`` tokens)."""

    def __init__(self, space: TokenSpace, answers: list[np.ndarray], prefix: int, *, sharp: bool = False) -> None:
        self.space, self.prefix, self.sharp = space, prefix, sharp
        self.answers = {tuple(a[:prefix].tolist()): torch.as_tensor(a) for a in answers}
        assert len(self.answers) == len(answers), "row prefixes must be unique"
        self.calls = 0
        self.rows_seen = 0

    def __call__(self, tokens_BL: torch.Tensor, *, document_ids_BL: torch.Tensor | None = None,
                 span_modality_BL: torch.Tensor | None = None) -> torch.Tensor:
        self.calls += 1
        self.rows_seen += tokens_BL.shape[0]
        b, length = tokens_BL.shape
        v = self.space.vocab_size
        gap_L = torch.tensor([1e4 if self.sharp else 2.0 + (7 * i) % 11 for i in range(length)])
        logits = -gap_L[None, :, None].expand(b, length, v).clone()
        assert document_ids_BL is not None and span_modality_BL is not None
        for r in range(b):
            key = tuple(tokens_BL[r, : self.prefix].tolist())
            if key not in self.answers:  # the condition is masked (guidance): the oracle knows nothing
                assert self.space.mask_id in key
                logits[r] = 0.0
                continue
            answer = self.answers[key]
            real = document_ids_BL[r] >= 0
            assert torch.equal(real, tokens_BL[r] != self.space.pad_id), "document id -1 exactly on padding"
            n = min(len(answer), length)
            visible = (tokens_BL[r, :n] != self.space.mask_id) & real[:n]
            assert torch.equal(tokens_BL[r, :n][visible], answer[:n][visible]), "a visible token is wrong"
            logits[r, torch.arange(n), answer[:n]] = 0.0
        logits[:, :, self.space.mask_id] = float("-inf")
        logits[:, :, self.space.pad_id] = float("-inf")
        return logits


class HashDenoiser:
    """Input-dependent logits, exactly row-independent (integer hash of the visible tokens, elementwise)."""

    def __init__(self, space: TokenSpace, scale: float = 3.0) -> None:
        self.space, self.scale, self.calls = space, scale, 0

    def __call__(self, tokens_BL: torch.Tensor, *, document_ids_BL: torch.Tensor | None = None,
                 span_modality_BL: torch.Tensor | None = None) -> torch.Tensor:
        self.calls += 1
        length = tokens_BL.shape[1]
        assert document_ids_BL is not None
        weights_L = (torch.arange(length, dtype=torch.int64) * 7919 + 104729) % 2_147_483_647
        h_B = ((tokens_BL * weights_L) * (document_ids_BL >= 0)).sum(-1) % 10_007
        phase = (h_B.to(torch.float32) * 1e-3)[:, None, None]
        pos = torch.arange(length, dtype=torch.float32)[None, :, None] * 0.37
        ids = torch.arange(self.space.vocab_size, dtype=torch.float32)[None, None, :] * 1.3
        return self.scale * torch.sin(phase + pos + ids)


class ConditionDenoiser:
    """Target distribution ``softmax(a * [x = x*])`` over its class when the condition is visible, else uniform."""

    def __init__(self, space: TokenSpace, favourite: int, strength: float) -> None:
        self.space, self.favourite, self.strength = space, favourite, strength
        self.calls = self.rows_seen = 0

    def __call__(self, tokens_BL: torch.Tensor, *, document_ids_BL: torch.Tensor | None = None,
                 span_modality_BL: torch.Tensor | None = None) -> torch.Tensor:
        self.calls += 1
        b, length = tokens_BL.shape
        self.rows_seen += b
        logits = torch.zeros(b, length, self.space.vocab_size)
        visible_B = tokens_BL[:, 2] != self.space.mask_id  # the caption's first token
        logits[visible_B, :, self.favourite] = self.strength
        return logits


@pytest.fixture(scope="session")
def toys() -> SimpleNamespace:
    """The helpers of this module (test files cannot import a conftest under ``--import-mode=importlib``)."""
    return SimpleNamespace(text_row=text_row, image_row=image_row, audio_row=audio_row, random_answer=random_answer,
                           OracleDenoiser=OracleDenoiser, HashDenoiser=HashDenoiser,
                           ConditionDenoiser=ConditionDenoiser)
