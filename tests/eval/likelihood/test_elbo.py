"""ELBO estimates: a uniform model's NELBO per token is log |V_m| for every modality; rows and errors."""

from __future__ import annotations

import math

import pytest
import torch

from trimodal_core import Modality
from trimodal_eval.likelihood import ElboConfig, build_rows, modality_estimates, row_sums
from trimodal_eval.likelihood.rows import Example
from trimodal_train.diffusion import DiffusionConfig, ScheduleConfig


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_uniform_model_nelbo_is_log_vocab_per_modality(space, uniform, t2i_rows, make_text_rows, schedule) -> None:
    # eps = 0.02 keeps the estimator's tail (weight up to 1/eps) short enough for a 3% check with 64 times;
    # the expectation of the clamped estimator is log|V_m| * (alpha(eps) - alpha(1)) / (1 - eps) exactly.
    eps = 0.02
    diffusion = DiffusionConfig(schedules={m: ScheduleConfig(name=schedule, eps=eps)
                                           for m in ("text", "image", "audio")})
    sched = diffusion.build_schedules()[0]
    ends = sched.alpha(torch.tensor([eps, 1.0], dtype=torch.float64))
    factor = float(ends[0] - ends[1]) / (1 - eps)
    config = ElboConfig(num_t_samples=64, num_bootstrap=200, batch_size=64)
    sizes = uniform.allowed_mask_MV.sum(dim=1)
    seen = set()
    for rows in (t2i_rows, make_text_rows(60)):
        estimates = modality_estimates(row_sums(uniform, rows, diffusion=diffusion, token_space=space,
                                                config=config), config)
        for name, est in estimates.items():
            expected = math.log(int(sizes[int(Modality[name.upper()])])) * factor
            assert est.value == pytest.approx(expected, rel=0.03), (name, est, expected)
            assert est.low <= expected <= est.high, (name, est, expected)
            seen.add(name)
    assert seen == {"text", "image"}


def test_estimate_is_a_function_of_the_seed(space, uniform, t2i_rows) -> None:
    diffusion = DiffusionConfig()
    a = row_sums(uniform, t2i_rows, diffusion=diffusion, token_space=space, config=ElboConfig(num_t_samples=2))
    b = row_sums(uniform, t2i_rows, diffusion=diffusion, token_space=space,
                 config=ElboConfig(num_t_samples=2, batch_size=5))
    c = row_sums(uniform, t2i_rows, diffusion=diffusion, token_space=space,
                 config=ElboConfig(num_t_samples=2, seed=1))
    assert (a.nll_RM == b.nll_RM).all() and (a.n_RM == b.n_RM).all()  # batching does not change the estimate
    assert not (a.nll_RM == c.nll_RM).all()


def test_visible_condition_leaves_only_the_target_in_the_sums(space, uniform, t2i_rows) -> None:
    config = ElboConfig(num_t_samples=2)
    sums = row_sums(uniform, t2i_rows, diffusion=DiffusionConfig(), token_space=space, config=config,
                    condition="visible")
    assert sums.n_RM[:, 0].sum() == 0 and sums.nll_RM[:, 0].sum() == 0  # caption (text) visible, not scored
    assert (sums.n_RM[:, 1] == 12).all()  # every image code of every row is eligible


def test_rows_pack_text_and_skip_overlong_pairs(space) -> None:
    tokens = torch.arange(10, 30, dtype=torch.int64).numpy()
    modality = torch.full((20,), int(Modality.TEXT), dtype=torch.uint8).numpy()
    docs = [Example("a", "text", tokens[:7], modality[:7]), Example("b", "text", tokens[7:], modality[7:])]
    pair = Example("p", "t2i", tokens, modality)
    rows = build_rows([*docs, pair], seq_len=8, pad_id=space.pad_id, overlong="skip")
    assert rows.skipped == 1 and rows.tasks == ("text", "text", "text")
    assert rows.tokens_BL.flatten()[:20].tolist() == tokens.tolist()
    assert rows.document_ids_BL[0].tolist() == [0] * 7 + [1]
    assert rows.document_ids_BL[1].tolist() == [0] * 8
    assert rows.document_ids_BL[2].tolist() == [0] * 4 + [-1] * 4
    with pytest.raises(ValueError, match="no example fits"):
        build_rows([pair], seq_len=8, pad_id=space.pad_id, overlong="skip")
    cut = build_rows([pair], seq_len=8, pad_id=space.pad_id)
    assert cut.truncated == 1 and cut.tokens_BL[0].tolist() == tokens[:8].tolist()
