"""The policy's environment: a base model trained with the real trainer on a task's sequences.

:func:`write_task_corpus` writes the train split of one task at several answer lengths as a text corpus
(``[text] [bot] prompt answer [eot]`` per example, ``trimodal_core`` shards, a one-component mixture
manifest); :func:`train_base_model` trains on it with ``trimodal_train.trainer.train`` (the ``tiny``
preset, packed rows, documents never split across rows) and returns the run folder, which
``trimodal_train.model_export.load_model`` reads. Training on several lengths (default ``L`` and ``2L``) is
what lets a policy trained at ``L`` be evaluated at ``2L`` on the same model [ours].
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

from trimodal_core import (
    CorpusManifest,
    MixtureComponent,
    MixtureManifest,
    ShardWriter,
    ShardWriterConfig,
)
from trimodal_eval.policy.tasks import TaskConfig, build_examples, encode, task_token_space
from trimodal_tokenizers.sequence import SequenceLayout

FINGERPRINT = hashlib.sha256(b"trimodal_eval.policy.tasks: character alphabet v1").hexdigest()


@dataclasses.dataclass(frozen=True, kw_only=True)
class BaseModelConfig:
    """A tiny base model for one task."""

    out_dir: Path = Path("runs/policy_base")
    """Corpus in ``out_dir/corpus``, the run in ``out_dir/run``."""
    task: TaskConfig = dataclasses.field(default_factory=TaskConfig)
    """The task (its ``length`` is ``L``)."""
    length_multipliers: tuple[int, ...] = (1, 2)
    """Answer lengths trained on, as multiples of ``task.length`` [ours: L and 2L]."""
    num_examples: int = 6000
    """Train-split examples per length."""
    steps: int = 1500
    """Optimizer steps."""
    batch_size: int = 32
    """Rows per step."""
    seq_len: int = 96
    """Tokens per packed row."""
    lr: float = 3e-3
    """Peak learning rate (the ``tiny`` preset's schedule and AdamW otherwise)."""
    d_model: int = 64
    """Model width (the ``tiny`` preset: 2 layers, 2 heads)."""
    seed: int = 0
    """Training seed."""
    threads: int = 1
    """CPU threads of the training run."""

    def __post_init__(self) -> None:
        if not self.length_multipliers or min(self.length_multipliers) < 1:
            raise ValueError(f"BaseModelConfig.length_multipliers must be positive, got {self.length_multipliers}")
        for name in ("num_examples", "steps", "batch_size", "seq_len", "d_model", "threads"):
            if getattr(self, name) < 1:
                raise ValueError(f"BaseModelConfig.{name} must be >= 1, got {getattr(self, name)!r}")


def write_task_corpus(config: BaseModelConfig) -> Path:
    """Shards of the train split at every length and their mixture manifest; returns the manifest path."""
    space = task_token_space()
    layout = SequenceLayout(space)
    root = Path(config.out_dir) / "corpus"
    records = []
    for m in config.length_multipliers:
        task = dataclasses.replace(config.task, length=config.task.length * m)
        for ex in build_examples(task, config.num_examples, split="train"):
            seq = layout.text(encode(ex.prompt + ex.answer))
            if len(seq.tokens) > config.seq_len:
                raise ValueError(f"BaseModelConfig.seq_len {config.seq_len} is shorter than example {ex.id} "
                                 f"({len(seq.tokens)} tokens)")
            records.append(seq.to_record(ex.id, f"policy-{task.task}"))
    text_dir = root / "text"
    text_dir.mkdir(parents=True, exist_ok=True)
    with ShardWriter(text_dir, prefix="text", fingerprint=space.fingerprint,
                     config=ShardWriterConfig(rows_per_batch=256)) as writer:
        writer.write_all(records)
    shards = writer.close()
    CorpusManifest(name="text", token_space=space.to_dict(), shards=shards,
                   tokenizer_fingerprint=FINGERPRINT).save(text_dir / "manifest.json")
    path = root / "mixture.json"
    MixtureManifest(components=[MixtureComponent(name="text", manifest="text/manifest.json", weight=1.0)],
                    weight_unit="examples", token_space_fingerprint=space.fingerprint).save(path)
    return path


def base_train_config(config: BaseModelConfig, mixture: Path):  # type: ignore[no-untyped-def]
    """The ``TrainConfig`` of the base model (the trainer's ``tiny`` preset, resized)."""
    from trimodal_train.configs import tiny

    base = tiny()
    model = dataclasses.replace(base.model, d_model=config.d_model, ffn_hidden=3 * config.d_model,
                                max_seq_len=max(config.seq_len, 128))
    return dataclasses.replace(
        base, model=model,
        optim=dataclasses.replace(base.optim, adamw=dataclasses.replace(base.optim.adamw, lr=config.lr),
                                  schedule=dataclasses.replace(base.optim.schedule,
                                                               warmup_steps=max(1, config.steps // 20))),
        data=dataclasses.replace(base.data, mixture=mixture, seq_len=config.seq_len,
                                 global_batch_size=config.batch_size, prefetch=0, split_documents=False),
        checkpoint=dataclasses.replace(base.checkpoint, interval=config.steps, keep_last=1),
        run=dataclasses.replace(base.run, run_dir=Path(config.out_dir) / "run", steps=config.steps,
                                seed=config.seed, device="cpu", log_interval=max(1, config.steps // 20),
                                cpu_threads=config.threads, log_level="WARNING"),
    )


def train_base_model(config: BaseModelConfig) -> Path:
    """Write the corpus, train, return the run folder (``load_model`` reads it)."""
    from trimodal_train.trainer import train

    result = train(base_train_config(config, write_task_corpus(config)))
    return Path(result.run_dir)
