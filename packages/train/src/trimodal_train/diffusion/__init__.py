"""Masked (absorbing-state) diffusion objective: schedules, time sampling, masking and the ELBO loss."""

from trimodal_train.diffusion.config import (
    MODALITY_NAMES,
    NUM_MODALITIES,
    PAIR_TASKS,
    DiffusionConfig,
    TimeSampling,
)
from trimodal_train.diffusion.loss import (
    LossSums,
    backprop_loss,
    eligible_count,
    loss_sums,
    nelbo_metrics,
    nelbo_per_token,
    selected_loss_sums,
)
from trimodal_train.diffusion.masking import (
    ConditionMode,
    CorruptedBatch,
    corrupt,
    duplicate_rows,
    modality_presence,
)
from trimodal_train.diffusion.schedules import (
    SCHEDULES,
    CosineSchedule,
    LinearSchedule,
    LogLinearSchedule,
    PolynomialSchedule,
    Schedule,
    ScheduleConfig,
    build_schedule,
)
from trimodal_train.diffusion.spans import SPECIAL_SPAN_MODALITY, condition_span, pair_rows, span_modality
from trimodal_train.diffusion.time_sampling import global_row_offset, sample_times, sample_uniforms

__all__ = [
    "MODALITY_NAMES",
    "NUM_MODALITIES",
    "PAIR_TASKS",
    "SCHEDULES",
    "SPECIAL_SPAN_MODALITY",
    "ConditionMode",
    "CorruptedBatch",
    "CosineSchedule",
    "DiffusionConfig",
    "LinearSchedule",
    "LogLinearSchedule",
    "LossSums",
    "PolynomialSchedule",
    "Schedule",
    "ScheduleConfig",
    "TimeSampling",
    "backprop_loss",
    "build_schedule",
    "condition_span",
    "corrupt",
    "duplicate_rows",
    "eligible_count",
    "global_row_offset",
    "loss_sums",
    "modality_presence",
    "nelbo_metrics",
    "nelbo_per_token",
    "pair_rows",
    "sample_times",
    "sample_uniforms",
    "selected_loss_sums",
    "span_modality",
]
