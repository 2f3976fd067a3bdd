"""The masked-position readout (``model(..., select_BL=masked)`` + ``selected_loss_sums``) gives the dense
readout's loss sums and gradients, restricted or not, and refuses a selection that misses masked positions."""

from __future__ import annotations

import dataclasses
import types

import pytest
import torch

from trimodal_core import Modality, TokenSpace
from trimodal_train.diffusion import DiffusionConfig, corrupt, loss_sums, sample_times, selected_loss_sums
from trimodal_train.model import ModelConfig, SelectedLogits, build_model

TINY = ModelConfig(d_model=32, n_layers=2, n_heads=2, ffn_hidden=64, max_seq_len=64)


def _setup(space: TokenSpace, rows: types.SimpleNamespace, *, restrict: bool, untied: bool = False):
    torch.manual_seed(0)
    config = dataclasses.replace(TINY, restrict_logits=restrict, tie_embeddings=not untied)
    model = build_model(config, space)
    batch = rows.make_batch(space, rows.mixed_rows(space, 10, 48, seed=3), 48)
    diffusion = DiffusionConfig()
    t = sample_times(diffusion, seed=1, step=0, num_rows=10)
    corrupted = corrupt(batch, config=diffusion, token_space=space, seed=1, step=0, num_global_rows=10, t_BM=t)
    return model, batch, corrupted


def _grads(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    out = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad(set_to_none=True)
    return out


@pytest.mark.parametrize(("restrict", "untied"), [(True, False), (False, False), (True, True)])
def test_selected_readout_equals_dense(space: TokenSpace, rows: types.SimpleNamespace, restrict: bool,
                                       untied: bool) -> None:
    model, batch, c = _setup(space, rows, restrict=restrict, untied=untied)
    assert 0 < int(c.masked_BL.sum()) < c.masked_BL.numel()
    kwargs = {"document_ids_BL": batch.document_ids_BL, "span_modality_BL": c.span_modality_BL}
    dense = loss_sums(model(c.inputs_BL, **kwargs), c)
    dense.nll_sum_M.sum().backward()
    dense_grads = _grads(model)
    out = model(c.inputs_BL, select_BL=c.masked_BL, **kwargs)
    assert isinstance(out, SelectedLogits)
    assert out.num_positions == int(c.masked_BL.sum())
    if restrict:  # one group per span modality present, each over that modality's ids only
        assert {g.modality for g in out.groups} <= {int(Modality.TEXT), int(Modality.IMAGE), int(Modality.AUDIO)}
        text = next(g for g in out.groups if g.modality == int(Modality.TEXT))
        assert text.ids_V.numel() == space.local_size(Modality.TEXT) + 1  # + eot
    else:
        assert len(out.groups) == 1 and out.groups[0].ids_V.numel() == space.vocab_size - 2
    sparse = selected_loss_sums(out, c)
    sparse.nll_sum_M.sum().backward()
    sparse_grads = _grads(model)
    torch.testing.assert_close(sparse.nll_sum_M, dense.nll_sum_M, rtol=1e-5, atol=1e-5)
    assert torch.equal(sparse.eligible_M, dense.eligible_M) and torch.equal(sparse.masked_M, dense.masked_M)
    assert sparse_grads.keys() == dense_grads.keys()
    for name, grad in dense_grads.items():
        # float summation order differs: tolerances relative to the gradient's scale
        torch.testing.assert_close(sparse_grads[name], grad, rtol=1e-3, atol=1e-4 * float(grad.abs().max()))


def test_empty_selection_keeps_the_readout_weight_in_the_graph(space: TokenSpace,
                                                                rows: types.SimpleNamespace) -> None:
    model, batch, c = _setup(space, rows, restrict=True, untied=True)
    none = dataclasses.replace(c, masked_BL=torch.zeros_like(c.masked_BL))
    out = model(c.inputs_BL, document_ids_BL=batch.document_ids_BL, span_modality_BL=c.span_modality_BL,
                select_BL=none.masked_BL)
    sums = selected_loss_sums(out, none)
    sums.nll_sum_M.sum().backward()
    assert float(sums.nll_sum_M.detach().abs().sum()) == 0.0
    assert model.output is not None and model.output.weight.grad is not None
    assert float(model.output.weight.grad.abs().sum()) == 0.0


def test_selection_must_cover_the_masked_positions(space: TokenSpace, rows: types.SimpleNamespace) -> None:
    model, batch, c = _setup(space, rows, restrict=True)
    partial = c.masked_BL.clone()
    partial[0] = False
    assert int(partial.sum()) < int(c.masked_BL.sum())
    out = model(c.inputs_BL, document_ids_BL=batch.document_ids_BL, span_modality_BL=c.span_modality_BL,
                select_BL=partial)
    with pytest.raises(ValueError, match="covers"):
        selected_loss_sums(out, c)
    with pytest.raises(ValueError, match="select_BL"):
        model(c.inputs_BL, select_BL=c.masked_BL[:, :10])


def test_target_outside_its_modality_costs_infinity(space: TokenSpace, rows: types.SimpleNamespace) -> None:
    model, batch, c = _setup(space, rows, restrict=True)
    image = (c.span_modality_BL == int(Modality.IMAGE)) & c.masked_BL
    assert bool(image.any())
    wrong = c.targets_BL.clone()
    wrong[image] = space.to_global(Modality.TEXT, [0])[0]  # a text id at an image position
    bad = dataclasses.replace(c, targets_BL=wrong)
    kwargs = {"document_ids_BL": batch.document_ids_BL, "span_modality_BL": c.span_modality_BL}
    with torch.no_grad():
        sparse = selected_loss_sums(model(c.inputs_BL, select_BL=c.masked_BL, **kwargs), bad)
        dense = loss_sums(model(c.inputs_BL, **kwargs), bad)
        good = loss_sums(model(c.inputs_BL, **kwargs), c)
    assert float(sparse.nll_sum_M[1]) == float(dense.nll_sum_M[1]) == float("inf")
    # the other modalities keep their finite sums (the dense per-modality sum turns inf * 0 into NaN there)
    torch.testing.assert_close(sparse.nll_sum_M[[0, 2]], good.nll_sum_M[[0, 2]])
