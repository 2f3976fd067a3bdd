"""``TrainConfig``: everything one training run needs, as one frozen tree of dataclasses.

``TrainConfig(model, diffusion, optim, data, checkpoint, run)``; named presets are in :mod:`.configs`. A
config comes from :func:`load_config`: a preset name or a JSON/TOML file (a partial tree over a preset given
by its top-level ``preset`` key, default ``tiny``), then command-line overrides through tyro
(``--optim.adamw.lr 1e-3``). In a file, ``model`` may be a model preset name (``"350m"``) or a table of
:class:`ModelConfig` fields over one (``{preset = "tiny", d_model = 128}``). Unknown keys raise
``ValueError`` naming the key.

Batch vocabulary. ``data.global_batch_size`` = ``B``, the rows of one optimizer step over all ranks (the
physical batch of the SDE reparameterization). Each rank loads ``B / world_size`` rows per step and runs them
in micro-batches of ``data.micro_batch_size`` (gradient accumulation; None: one micro-batch). The horizon is
``run.steps`` optimizer steps or ``run.tokens`` token slots (``steps = tokens // (B * seq_len)``).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Literal

from trimodal_train.checkpoint import CheckpointConfig
from trimodal_train.data import LoaderConfig, WeightPoint
from trimodal_train.data.config import MixingMode, OverlongPairPolicy, WorkerMethod
from trimodal_train.diffusion import DiffusionConfig
from trimodal_train.distributed import Parallelism
from trimodal_train.model.config import ModelConfig
from trimodal_train.model.presets import MODEL_PRESETS
from trimodal_train.optim import OptimConfig

Precision = Literal["auto", "bf16", "fp32"]
NanPolicy = Literal["skip", "stop"]
Readout = Literal["masked", "dense"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class DataConfig:
    """The mixture and how the loader turns it into batches (see :class:`trimodal_train.data.LoaderConfig`)."""

    mixture: Path | None = None
    """Mixture manifest (JSON) to train on; required to train."""
    token_space: Path | None = None
    """The token space the model is built for (a ``token_space.json``, e.g. the tokenizer bundle's); its
    fingerprint must equal the mixture's. None: the mixture's own token space."""
    seq_len: int = 1024
    """Tokens per row; at most the model's ``max_seq_len``."""
    global_batch_size: int = 256
    """Rows per optimizer step over all ranks (``B``); a multiple of the world size."""
    micro_batch_size: int | None = None
    """Rows per forward/backward on one rank; must divide ``global_batch_size / world_size`` (None: all of them)."""
    num_workers: int = 0
    """Loader worker threads/processes (0: assemble in the loader's pipeline thread)."""
    worker_method: WorkerMethod = "thread"
    """Loader worker kind."""
    prefetch: int = 4
    """Groups of batches assembled ahead."""
    shuffle_buffer: int = 8192
    """Examples permuted together in each component's stream."""
    mixing: MixingMode = "exact"
    """Exact per-batch component counts or stochastic draws."""
    weight_schedule: tuple[WeightPoint, ...] = ()
    """Mixing weights over steps (empty: the manifest's)."""
    split_documents: bool = True
    """Pack text across row ends (False: a document that does not fit starts the next row)."""
    overlong_pairs: OverlongPairPolicy = "truncate"
    """What to do with a pair longer than ``seq_len``."""
    document_attention: bool = True
    """Attention limited to the document inside packed rows."""
    interleave_rows: bool = True
    """Shuffle the rows of each global batch (seeded per step)."""
    check_sha256: bool = False
    """Verify every shard's checksum when the loader is built."""

    def __post_init__(self) -> None:
        for name in ("seq_len", "global_batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"DataConfig.{name} must be a positive integer, got {value!r}")
        if self.micro_batch_size is not None and self.micro_batch_size < 1:
            raise ValueError(f"DataConfig.micro_batch_size must be positive or None, got {self.micro_batch_size!r}")

    def loader_config(self, *, seed: int, rank: int, world_size: int, rows_per_step: int) -> LoaderConfig:
        """The loader's configuration for this rank (``rows_per_step``: examples per optimizer step)."""
        return LoaderConfig(
            seq_len=self.seq_len, global_batch_size=rows_per_step, rank=rank, world_size=world_size,
            num_workers=self.num_workers, worker_method=self.worker_method, prefetch=self.prefetch, seed=seed,
            shuffle_buffer=self.shuffle_buffer, mixing=self.mixing, weight_schedule=self.weight_schedule,
            split_documents=self.split_documents, overlong_pairs=self.overlong_pairs,
            document_attention=self.document_attention, interleave_rows=self.interleave_rows,
            check_sha256=self.check_sha256,
        )


@dataclasses.dataclass(frozen=True, kw_only=True)
class RunConfig:
    """Where the run lives, how long it is, and how it executes and reports."""

    run_dir: Path = Path("runs/tiny")
    """Output folder: config, metrics, checkpoints, model."""
    seed: int = 0
    """Root seed: model init, loader order, diffusion times and masks."""
    steps: int | None = None
    """Optimizer steps; exactly one of ``steps`` and ``tokens`` must be set."""
    tokens: float | None = None
    """Token horizon ``D`` (token slots, padding included): ``steps = tokens // (global_batch_size * seq_len)``."""
    device: str = "auto"
    """``auto`` (this rank's GPU if any, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    precision: Precision = "auto"
    """``auto``: bf16 autocast on GPU, fp32 on CPU; ``bf16``; ``fp32``. The loss is always fp32."""
    compile: bool = False
    """``torch.compile`` the model."""
    readout: Readout = "masked"
    """Logits the loss is computed from (:mod:`trimodal_train.model.readout`). ``masked``: only at masked
    positions, each over its span modality's ids: the same loss and gradients as ``dense`` up to float
    summation order, at a fraction of the readout's cost (it dominates small models). ``dense``: the full
    ``[B, L, V]`` logits (static shapes, e.g. for ``compile`` without graph breaks)."""
    cpu_threads: int | None = None
    """``torch.set_num_threads`` for this process (None: torch's default, one per core). On a shared CPU
    machine 1 avoids OpenMP threads waiting for each other under contention."""
    parallelism: Parallelism = "ddp"
    """Data parallelism with several processes: ``ddp`` or ``fsdp`` (FSDP2 ``fully_shard``)."""
    log_interval: int = 10
    """Write a metrics line every this many steps (and at the first and last step)."""
    nan_policy: NanPolicy = "skip"
    """A non-finite loss or gradient norm: ``skip`` the update (counted, logged) or ``stop`` the run (raises
    ``FloatingPointError`` after the step, no checkpoint of the bad state)."""
    max_nonfinite_steps: int = 100
    """Under ``skip``, stop after this many skipped steps in total [ours]."""
    spike_window: int = 100
    """Loss-spike report: trailing window of losses [ours]."""
    spike_sigma: float = 4.0
    """Loss-spike report: a loss above mean + this many standard deviations of the window [ours]."""
    tensorboard: bool = False
    """Also write TensorBoard scalars to ``run_dir/tensorboard``."""
    progress: bool = True
    """Progress bar on rank 0 (``trimodal_core.progress``; off when stderr is not a terminal)."""
    peak_flops: float | None = None
    """Peak FLOP/s per device for MFU (None: the GPU's dense bf16 peak from a table; no MFU on CPU)."""
    log_level: str = "INFO"
    """Logging level (ranks other than 0 log warnings only)."""

    def __post_init__(self) -> None:
        if (self.steps is None) == (self.tokens is None):
            raise ValueError("RunConfig: set exactly one of run.steps and run.tokens")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"RunConfig.steps must be positive, got {self.steps}")
        if self.tokens is not None and not self.tokens > 0:
            raise ValueError(f"RunConfig.tokens must be positive, got {self.tokens}")
        if self.cpu_threads is not None and self.cpu_threads < 1:
            raise ValueError(f"RunConfig.cpu_threads must be positive or None, got {self.cpu_threads}")
        if self.log_interval < 1:
            raise ValueError(f"RunConfig.log_interval must be positive, got {self.log_interval}")
        if self.nan_policy not in ("skip", "stop"):
            raise ValueError(f"RunConfig.nan_policy must be 'skip' or 'stop', got {self.nan_policy!r}")
        if self.readout not in ("masked", "dense"):
            raise ValueError(f"RunConfig.readout must be 'masked' or 'dense', got {self.readout!r}")
        if self.precision not in ("auto", "bf16", "fp32"):
            raise ValueError(f"RunConfig.precision must be auto, bf16 or fp32, got {self.precision!r}")


def _tiny_model() -> ModelConfig:
    return MODEL_PRESETS["tiny"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """One training run (see the module docstring)."""

    model: ModelConfig = dataclasses.field(default_factory=_tiny_model)
    """Transformer shape and parameterization (``MODEL_PRESETS`` name in files)."""
    diffusion: DiffusionConfig = dataclasses.field(default_factory=DiffusionConfig)
    """The masked-diffusion objective."""
    optim: OptimConfig = dataclasses.field(default_factory=OptimConfig)
    """AdamW, its batch-size transfer, the LR schedule and clipping."""
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    """Mixture and loader."""
    checkpoint: CheckpointConfig = dataclasses.field(default_factory=CheckpointConfig)
    """Checkpoint cadence, retention and resume."""
    run: RunConfig = dataclasses.field(default_factory=lambda: RunConfig(steps=100))
    """Run folder, horizon, device and reporting."""

    @property
    def total_steps(self) -> int:
        """Optimizer steps of the run."""
        if self.run.steps is not None:
            return self.run.steps
        assert self.run.tokens is not None
        return max(1, int(self.run.tokens // (self.data.global_batch_size * self.data.seq_len)))

    def check(self, *, world_size: int = 1) -> None:
        """Cross-field checks (``ValueError`` naming the fields); run before step 0."""
        data = self.data
        if data.seq_len > self.model.max_seq_len:
            raise ValueError(f"data.seq_len={data.seq_len} is longer than the model can hold "
                             f"(model.max_seq_len={self.model.max_seq_len})")
        if data.global_batch_size % world_size:
            raise ValueError(f"data.global_batch_size={data.global_batch_size} is not divisible by the world size "
                             f"{world_size}")
        local = data.global_batch_size // world_size
        if data.micro_batch_size is not None and local % data.micro_batch_size:
            raise ValueError(f"data.micro_batch_size={data.micro_batch_size} does not divide the "
                             f"{local} rows per rank (global_batch_size={data.global_batch_size}, world size "
                             f"{world_size})")
        if self.diffusion.anti_masking and (local % 2 or (data.micro_batch_size or 2) % 2):
            raise ValueError("diffusion.anti_masking needs an even number of rows per rank and per micro-batch "
                             f"(data.global_batch_size={data.global_batch_size}, world size {world_size}, "
                             f"data.micro_batch_size={data.micro_batch_size})")
        if data.mixture is None:
            raise ValueError("data.mixture: no mixture manifest given (set data.mixture or --data.mixture)")

    def grad_accum(self, world_size: int) -> int:
        local = self.data.global_batch_size // world_size
        return local // (self.data.micro_batch_size or local)
