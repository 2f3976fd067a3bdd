"""Named training configs (``TRAIN_PRESETS``) and :func:`load_config` (preset or file, then CLI overrides).

=======  ===========  =======  =====  ==================  ====================  ==========================
preset   model        seq_len  B      horizon             optimizer             where
=======  ===========  =======  =====  ==================  ====================  ==========================
tiny     tiny (1.3M)  128      8      50 steps            accumulate, lr 2e-3   CPU, seconds (tests, CI)
demo     demo (18M)   512      32     2,000 steps         accumulate, lr 1e-3   the demo corpora, one GPU
350m     350m         2048     256    7e9 tokens (~20N)   sde from B=256/13e9   GPUs, DDP, bf16
1b       1b           2048     512    2e10 tokens (~20N)  sde from B=256/13e9   GPUs, FSDP2, bf16
3b       3b           2048     1024   6.4e12 tokens       sde from B=256/13e9   GPUs, FSDP2, bf16
=======  ===========  =======  =====  ==================  ====================  ==========================

The large presets transfer AdamW from the paper's pilot setting (base batch 256 sequences, 13B tokens [2nd];
base lr 3e-4, betas (0.9, 0.95), eps 1e-8, wd 0.1 [ours]) with the SDE rule, and their horizons follow
about 20 tokens per parameter [ours] (3b: the paper's 6.4T tokens [paper]). ``demo`` expects the output of
``trimodal demo`` in ``demo_out/``. Every value can be overridden from a file or the command line.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from trimodal_train.batch_scaling import AdamWBase
from trimodal_train.checkpoint import CheckpointConfig
from trimodal_train.config import DataConfig, RunConfig, TrainConfig
from trimodal_train.config_io import from_dict, load_file
from trimodal_train.lr_schedule import LRScheduleConfig
from trimodal_train.model.config import ModelConfig
from trimodal_train.model.presets import MODEL_PRESETS
from trimodal_train.optim import OptimConfig


def tiny() -> TrainConfig:
    return TrainConfig(
        model=MODEL_PRESETS["tiny"],
        optim=OptimConfig(mode="accumulate", adamw=AdamWBase(lr=2e-3, beta2=0.99, weight_decay=0.0),
                          schedule=LRScheduleConfig(warmup_steps=5)),
        data=DataConfig(seq_len=128, global_batch_size=8, prefetch=2, shuffle_buffer=1024),
        checkpoint=CheckpointConfig(interval=25, keep_last=2),
        run=RunConfig(run_dir=Path("runs/tiny"), steps=50, log_interval=5),
    )


def demo() -> TrainConfig:
    return TrainConfig(
        model=MODEL_PRESETS["demo"],
        optim=OptimConfig(mode="accumulate", adamw=AdamWBase(lr=1e-3, beta2=0.99),
                          schedule=LRScheduleConfig(warmup_steps=100)),
        data=DataConfig(mixture=Path("demo_out/mixture.json"), seq_len=512, global_batch_size=32),
        checkpoint=CheckpointConfig(interval=250, keep_last=2),
        run=RunConfig(run_dir=Path("runs/demo"), steps=2000, log_interval=20),
    )


def _large(model: str, *, batch: int, tokens: float, micro: int, parallelism: str) -> TrainConfig:
    return TrainConfig(
        model=MODEL_PRESETS[model],
        optim=OptimConfig(mode="sde", adamw=AdamWBase(lr=3e-4, batch_size=256, tokens=13e9)),
        data=DataConfig(seq_len=2048, global_batch_size=batch, micro_batch_size=micro, num_workers=2),
        checkpoint=CheckpointConfig(interval=500, keep_last=3, permanent_interval=5000),
        run=RunConfig(run_dir=Path(f"runs/{model}"), tokens=tokens, parallelism=parallelism,  # type: ignore[arg-type]
                      log_interval=10),
    )


TRAIN_PRESETS: dict[str, Callable[[], TrainConfig]] = {
    "tiny": tiny,
    "demo": demo,
    "350m": lambda: _large("350m", batch=256, tokens=7e9, micro=16, parallelism="ddp"),
    "1b": lambda: _large("1b", batch=512, tokens=2e10, micro=8, parallelism="fsdp"),
    "3b": lambda: _large("3b", batch=1024, tokens=6.4e12, micro=4, parallelism="fsdp"),
}


def _model_from(value: Any, base: ModelConfig) -> ModelConfig:
    if isinstance(value, str):
        if value not in MODEL_PRESETS:
            raise ValueError(f"config model: unknown model preset {value!r}; known: {', '.join(MODEL_PRESETS)}")
        return MODEL_PRESETS[value]
    if not isinstance(value, dict):
        raise ValueError(f"config model: expected a preset name or a table of ModelConfig fields, got {value!r}")
    fields = dict(value)
    name = fields.pop("preset", None)
    if name is not None:
        base = _model_from(name, base)
    return from_dict(ModelConfig, fields, where="model", default=base)


def config_from_dict(data: dict[str, Any], *, where: str = "config") -> TrainConfig:
    """A :class:`TrainConfig` from a (partial) dict over the preset named by its ``preset`` key (default tiny)."""
    fields = dict(data)
    name = fields.pop("preset", "tiny")
    if name not in TRAIN_PRESETS:
        raise ValueError(f"{where}: unknown preset {name!r}; known: {', '.join(TRAIN_PRESETS)}")
    base = TRAIN_PRESETS[name]()
    if "model" in fields:
        base = dataclasses.replace(base, model=_model_from(fields.pop("model"), base.model))
    if "run" in fields and isinstance(fields["run"], dict) and ({"steps", "tokens"} & set(fields["run"])):
        # One horizon replaces the other (RunConfig allows exactly one).
        run = dict(fields["run"])
        run.setdefault("steps", None)
        run.setdefault("tokens", None)
        fields["run"] = run
    try:
        return from_dict(TrainConfig, fields, default=base)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def load_config(name_or_file: str | Path, overrides: Sequence[str] = ()) -> TrainConfig:
    """A preset name or a ``.json``/``.toml`` file, then tyro-style ``overrides`` (``--optim.adamw.lr 1e-3``)."""
    text = str(name_or_file)
    if text in TRAIN_PRESETS and not Path(text).is_file():
        config = TRAIN_PRESETS[text]()
    elif Path(text).suffix in (".json", ".toml"):
        config = config_from_dict(load_file(text), where=f"config file {text}")
    else:
        raise ValueError(f"--config {text!r}: neither a preset ({', '.join(TRAIN_PRESETS)}) nor a .json/.toml file")
    if overrides:
        import tyro

        config = tyro.cli(TrainConfig, default=config, args=list(overrides), prog="trimodal-train run")
    return config
