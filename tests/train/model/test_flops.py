"""flops_per_step agrees with torch.utils.flop_counter.FlopCounterMode on a tiny model."""

from __future__ import annotations

import dataclasses

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from trimodal_train.model import build_model, flops_per_step, flops_per_token
from trimodal_train.model.flops import matmul_params


def measured_flops(model, tokens, docs) -> int:
    # The math backend decomposes attention into bmm's that FlopCounterMode sees (it has no formula for the
    # fused CPU kernel); its autograd backward is the 4 bmm's of the model-FLOPs convention.
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        logits = model(tokens, document_ids_BL=docs)
        logits.logsumexp(-1).sum().backward()
    return counter.get_total_flops()


@pytest.mark.parametrize("tie", [True, False])
def test_flops_per_step_matches_flop_counter(space, tiny, tie):
    config = dataclasses.replace(tiny, d_model=64, n_heads=2, ffn_hidden=192, tie_embeddings=tie)
    batch, seq_len = 2, 64
    torch.manual_seed(0)
    model = build_model(config, space)
    tokens = torch.randint(space.text_offset, space.image_offset, (batch, seq_len))
    docs = torch.zeros(batch, seq_len, dtype=torch.int32)
    measured = measured_flops(model, tokens, docs)
    predicted = flops_per_step(config, space.vocab_size, seq_len, batch)
    assert abs(predicted - measured) / measured < 0.05
    assert abs(predicted - measured) / measured < 0.01  # in fact exact up to what neither counts
    with_recompute = flops_per_step(config, space.vocab_size, seq_len, batch, attention_recompute=True)
    assert with_recompute - predicted == 2 * seq_len * config.d_model * config.n_layers * seq_len * batch


def test_formula_terms(tiny):
    vocab, seq_len = 1000, 128
    n_mm = tiny.n_layers * (4 * tiny.d_model**2 + 3 * tiny.d_model * tiny.ffn_hidden) + tiny.d_model * vocab
    assert matmul_params(tiny, vocab) == n_mm
    assert flops_per_token(tiny, vocab, seq_len) == 6 * n_mm + 12 * tiny.n_layers * seq_len * tiny.d_model
    with pytest.raises(ValueError, match="batch"):
        flops_per_step(tiny, vocab, seq_len, 0)
