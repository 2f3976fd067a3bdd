"""Held-out ELBO for studies: schedule-invariance of the bound, the common evaluation schedule, paired
differences on identical rows."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from trimodal_core import Modality
from trimodal_eval.experiments.data import SPACE
from trimodal_eval.experiments.heldout_elbo import HeldoutElboConfig, eval_diffusion, paired_difference
from trimodal_eval.likelihood import ElboConfig, Example, RowSums, build_rows, ratio_estimate, row_sums
from trimodal_tokenizers.sequence import SequenceLayout
from trimodal_train.diffusion import DiffusionConfig, ScheduleConfig


class UniformModel(torch.nn.Module):
    """Uniform over the ids of each position's span modality: exactly log|V_m| nats per masked token."""

    def forward(self, tokens_BL: torch.Tensor, *, document_ids_BL: torch.Tensor | None = None,
                span_modality_BL: torch.Tensor | None = None) -> torch.Tensor:
        assert span_modality_BL is not None
        logits = torch.full((*tokens_BL.shape, SPACE.vocab_size), -math.inf)
        for modality in (Modality.TEXT, Modality.IMAGE, Modality.AUDIO):
            allowed = torch.from_numpy(SPACE.allowed_mask(modality))
            if modality == Modality.TEXT:
                allowed[SPACE.special_id("eot")] = True
            logits[(span_modality_BL == int(modality))[..., None] & allowed] = 0.0
        return logits


def _image_rows() -> object:
    layout = SequenceLayout(SPACE)
    rng = np.random.default_rng(0)
    examples = []
    for i in range(8):
        seq = layout.image_text(rng.integers(97, 103, 4), rng.integers(0, 16, (8, 8)))
        examples.append(Example(f"i{i}", seq.task, seq.tokens, seq.modality))
    return build_rows(examples, seq_len=96, pad_id=SPACE.pad_id)


@pytest.mark.parametrize("name", ["linear", "cosine", "polynomial"])
def test_the_bound_does_not_depend_on_the_schedule(name: str) -> None:
    """E[NELBO] = int_{s(eps)}^1 (1/s) * s * log|V| ds = (1 - s(eps)) log 16 per image token, for every schedule."""
    torch.set_num_threads(1)
    schedule = ScheduleConfig(name=name, k=2.0)
    diffusion = DiffusionConfig(schedules=dict.fromkeys(("text", "image", "audio"), schedule))
    sums = row_sums(UniformModel(), _image_rows(), diffusion=diffusion, token_space=SPACE,
                    config=ElboConfig(num_t_samples=128, batch_size=8, num_bootstrap=0))
    value = sums.nll_RM[:, 1].sum() / sums.n_RM[:, 1].sum()
    s_eps = float(diffusion.build_schedules()[1].mask_prob(torch.tensor([schedule.eps], dtype=torch.float64)))
    assert value == pytest.approx((1 - s_eps) * math.log(16), rel=0.03)


def test_eval_diffusion_replaces_every_schedule_and_keeps_the_rest() -> None:
    train = {"diffusion": {"schedules": {"image": {"name": "polynomial", "k": 3.0, "eps": 0.01}},
                           "condition_dropout": 0.2}}
    own = eval_diffusion(train, None)
    assert own.schedules["image"].name == "polynomial" and own.condition_dropout == 0.2
    common = eval_diffusion(train, "linear")
    assert {m: s.name for m, s in common.schedules.items()} == dict.fromkeys(("text", "image", "audio"), "linear")
    assert common.schedules["image"].eps == 0.01 and common.condition_dropout == 0.2
    with pytest.raises(ValueError, match="unknown schedule"):
        HeldoutElboConfig(eval_schedule="nope")


def test_paired_difference_is_the_difference_of_ratios_with_a_paired_interval() -> None:
    rng = np.random.default_rng(1)
    n = rng.integers(5, 50, (40, 3)).astype(float)
    base = rng.gamma(3.0, 1.0, (40, 3)) * n
    a = RowSums(nll_RM=base + 0.1 * n + rng.normal(0, 0.05, (40, 3)) * n, n_RM=n)
    b = RowSums(nll_RM=base, n_RM=n)
    config = HeldoutElboConfig(estimate=ElboConfig(num_bootstrap=400))
    d = paired_difference(a, b, "image", config)
    separate = [ratio_estimate(x.nll_RM[:, 1], n[:, 1], config.estimate) for x in (a, b)]
    assert d.value == pytest.approx(separate[0].value - separate[1].value)
    assert 0 < d.low < d.value < d.high  # the shared row effects cancel: the pair is resolved...
    assert separate[0].low < separate[1].high  # ...while the separate intervals overlap
    with pytest.raises(ValueError, match="same rows"):
        paired_difference(a, RowSums(nll_RM=base[:-1], n_RM=n[:-1]), "image", config)
