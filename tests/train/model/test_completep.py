"""CompleteP: residual multipliers, width-scaled init, per-group lr/eps/weight decay; standard baseline."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch

from trimodal_train.model import ModelConfig, ParamKind, build_model, param_groups, parameter_kind
from trimodal_train.model.completep import group_scales, output_scale, residual_scale

LR, EPS, WD = 1e-3, 1e-8, 0.1


def by_name(groups):
    return {g["name"]: g for g in groups}


def test_every_parameter_in_exactly_one_group(space, tiny):
    for tie in (True, False):
        model = build_model(dataclasses.replace(tiny, tie_embeddings=tie), space)
        groups = param_groups(model, lr=LR, eps=EPS, weight_decay=WD)
        grouped = [id(p) for g in groups for p in g["params"]]
        assert len(grouped) == len(set(grouped))
        assert set(grouped) == {id(p) for p in model.parameters()}
        assert ("unembedding" in by_name(groups)) is not tie
        torch.optim.AdamW(groups).step()  # the groups are valid AdamW groups


def test_multipliers_at_twice_the_base_width_and_depth(space):
    base = ModelConfig(d_model=64, n_layers=2, n_heads=2, ffn_hidden=128, base_d_model=32, base_n_layers=1,
                       tie_embeddings=False)  # m_d = 2, m_L = 2
    for alpha in (1.0, 0.5):
        config = dataclasses.replace(base, residual_alpha=alpha)
        groups = by_name(param_groups(build_model(config, space), lr=LR, eps=EPS, weight_decay=WD))
        depth_lr = 2 ** (alpha - 1)
        expected = {  # name: (lr, eps, weight decay)
            "hidden": (LR / 2 * depth_lr, EPS / 2 * 2**-alpha, WD * 2),
            "embedding": (LR, EPS / 2, 0.0),
            "unembedding": (LR, EPS / 2, WD),
            "block_norm": (LR * depth_lr, EPS / 2 * 2**-alpha, 0.0),
            "qk_norm": (LR * depth_lr, EPS * 2**-alpha, 0.0),
            "final_norm": (LR, EPS / 2, 0.0),
        }
        assert set(groups) == set(expected)
        for name, (lr, eps, wd) in expected.items():
            group = groups[name]
            assert math.isclose(group["lr"], lr) and math.isclose(group["eps"], eps), name
            assert math.isclose(group["weight_decay"], wd, abs_tol=0.0), name
            assert math.isclose(group["lr_multiplier"], lr / LR), name
        assert math.isclose(residual_scale(config), 2**-alpha)
        assert math.isclose(output_scale(config), 0.5)


def test_base_shape_and_standard_have_unit_multipliers(space, tiny):
    base = dataclasses.replace(tiny, base_d_model=tiny.d_model, base_n_layers=tiny.n_layers)
    wide = dataclasses.replace(tiny, d_model=128, n_heads=4, base_d_model=32, parameterization="standard")
    for config in (base, wide):
        for group in param_groups(build_model(config, space), lr=LR, eps=EPS, weight_decay=WD):
            assert group["lr"] == LR and group["eps"] == EPS, group["name"]
            decayed = group["name"] in ("hidden", "unembedding")
            assert group["weight_decay"] == (WD if decayed else 0.0), group["name"]
    assert residual_scale(wide) == 1.0 and output_scale(wide) == 1.0
    assert all(block.residual_scale == 1.0 for block in build_model(wide, space).blocks)


def test_width_scaled_init(space):
    config = ModelConfig(d_model=512, n_layers=1, n_heads=8, ffn_hidden=1024, base_d_model=128, init_std=0.02)
    torch.manual_seed(0)
    model = build_model(config, space)
    hidden = model.blocks[0].ffn.gate_up.weight
    assert math.isclose(float(hidden.detach().std()), 0.02 / 2, rel_tol=0.02)  # m_d = 4: std / sqrt(4)
    assert math.isclose(float(model.embedding.weight.detach().std()), 0.02, rel_tol=0.05)
    assert torch.equal(model.blocks[0].attention.q_norm.weight, torch.ones(64))
    standard = build_model(dataclasses.replace(config, parameterization="standard"), space)
    assert math.isclose(float(standard.blocks[0].ffn.gate_up.weight.detach().std()), 0.02, rel_tol=0.02)


def test_residual_branches_are_scaled(space, tiny):
    config = dataclasses.replace(tiny, n_layers=8, base_n_layers=2, residual_alpha=0.75)
    model = build_model(config, space)
    assert all(math.isclose(block.residual_scale, 4**-0.75) for block in model.blocks)


def test_kinds_and_unknown_parameters():
    assert parameter_kind("embedding.weight") is ParamKind.EMBEDDING
    assert parameter_kind("blocks.3.attention.k_norm.weight") is ParamKind.QK_NORM
    assert parameter_kind("blocks.0.ffn_norm.weight") is ParamKind.BLOCK_NORM
    assert parameter_kind("blocks.0.ffn.down.weight") is ParamKind.HIDDEN
    with pytest.raises(ValueError, match="no CompleteP rule"):
        parameter_kind("blocks.0.ffn.bias")
    assert group_scales(ModelConfig(d_model=64, n_layers=2, n_heads=2, ffn_hidden=64), ParamKind.HIDDEN).lr == 4.0


@pytest.mark.parametrize(
    ("field", "value"),
    [("residual_alpha", 0.4), ("residual_alpha", 1.1), ("n_heads", 3), ("parameterization", "mup"),
     ("attention", "xformers"), ("d_model", 0), ("init_std", 0.0)],
)
def test_config_validation(tiny, field, value):
    with pytest.raises(ValueError, match=field if field != "n_heads" else "n_heads"):
        dataclasses.replace(tiny, **{field: value})
