"""A real (tiny, random) transformer's ELBO sums and condition gap read out at the masked positions only equal
those of its dense logits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from trimodal_eval.likelihood import ElboConfig, condition_gap, row_sums
from trimodal_train.diffusion import DiffusionConfig
from trimodal_train.model import DiffusionTransformer, ModelConfig, build_model


class Dense:
    """The same model behind the plain ``Denoiser`` call (not a ``DiffusionTransformer``: dense logits)."""

    def __init__(self, model: DiffusionTransformer) -> None:
        self.model = model
        self.allowed_mask_MV = model.allowed_mask_MV

    def __call__(self, tokens_BL, *, document_ids_BL=None, span_modality_BL=None):  # type: ignore[no-untyped-def]
        return self.model(tokens_BL, document_ids_BL=document_ids_BL, span_modality_BL=span_modality_BL)


@pytest.fixture
def model(space) -> DiffusionTransformer:  # type: ignore[no-untyped-def]
    torch.manual_seed(0)
    return build_model(ModelConfig(d_model=32, n_layers=1, n_heads=2, ffn_hidden=64, max_seq_len=64), space).eval()


def test_row_sums_through_the_masked_readout_equal_the_dense_ones(space, model, t2i_rows, text_rows) -> None:
    config = ElboConfig(num_t_samples=2)
    for rows in (t2i_rows, text_rows):
        for condition in ("joint", "visible"):
            fast = row_sums(model, rows, diffusion=DiffusionConfig(), token_space=space, config=config,
                            condition=condition)
            dense = row_sums(Dense(model), rows, diffusion=DiffusionConfig(), token_space=space, config=config,
                             condition=condition)
            assert fast.nll_RM.sum() > 0
            np.testing.assert_allclose(fast.nll_RM, dense.nll_RM, rtol=1e-5)
            assert (fast.n_RM == dense.n_RM).all()


def test_condition_gap_through_the_masked_readout_equals_the_dense_one(space, model, t2i_rows) -> None:
    config = ElboConfig(num_t_samples=2, num_bootstrap=50)
    fast = condition_gap(model, t2i_rows, "t2i", diffusion=DiffusionConfig(), token_space=space, config=config)
    dense = condition_gap(Dense(model), t2i_rows, "t2i", diffusion=DiffusionConfig(), token_space=space,
                          config=config)
    assert fast.gap.value != 0.0
    assert fast.gap.value == pytest.approx(dense.gap.value, rel=1e-4, abs=1e-7)
    assert fast.matched.value == pytest.approx(dense.matched.value, rel=1e-6)
