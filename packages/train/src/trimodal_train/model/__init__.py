"""The bidirectional diffusion transformer (architecture only): config, presets, CompleteP, FLOPs."""

from trimodal_train.model.completep import ParamKind, param_groups, parameter_kind
from trimodal_train.model.config import ModelConfig
from trimodal_train.model.flops import flops_per_step, flops_per_token
from trimodal_train.model.logit_masks import DEFAULT_MASKABLE_SPECIALS, allowed_mask_MV
from trimodal_train.model.presets import MODEL_PRESETS, REFERENCE_TOKEN_SPACE, ParameterCount, count_parameters
from trimodal_train.model.readout import LogitGroup, SelectedLogits
from trimodal_train.model.transformer import DiffusionTransformer, build_model

__all__ = [
    "DEFAULT_MASKABLE_SPECIALS",
    "MODEL_PRESETS",
    "REFERENCE_TOKEN_SPACE",
    "DiffusionTransformer",
    "LogitGroup",
    "ModelConfig",
    "ParamKind",
    "ParameterCount",
    "SelectedLogits",
    "allowed_mask_MV",
    "build_model",
    "count_parameters",
    "flops_per_step",
    "flops_per_token",
    "param_groups",
    "parameter_kind",
]
