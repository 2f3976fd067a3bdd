"""The mixture loader's configuration: sequence shape, distribution, mixing and packing choices.

One frozen dataclass, :class:`LoaderConfig`, holds every knob of :func:`trimodal_train.data.build_loader`;
:class:`WeightPoint` is one knot of the piecewise-linear mixing-weight schedule.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

MixingMode = Literal["exact", "stochastic"]
OverlongPairPolicy = Literal["truncate", "skip", "error"]
ShuffleMode = Literal["global", "window"]
WorkerMethod = Literal["thread", "process"]


@dataclasses.dataclass(frozen=True, kw_only=True)
class WeightPoint:
    """One knot of the mixing-weight schedule: the weights that hold at ``step``.

    Between knots the weights are interpolated linearly (after normalizing each knot); before the first
    knot the first knot's weights hold, after the last the last's.
    """

    step: int
    """Global batch index (0-based) at which these weights hold exactly."""
    weights: dict[str, float]
    """Weight per mixture component name, in the mixture's ``weight_unit``; every component must be named."""

    def __post_init__(self) -> None:
        if not isinstance(self.step, int) or self.step < 0:
            raise ValueError(f"WeightPoint.step must be a non-negative integer, got {self.step!r}")
        if not self.weights:
            raise ValueError(f"WeightPoint(step={self.step}).weights is empty")
        for name, weight in self.weights.items():
            if not (isinstance(weight, int | float) and math.isfinite(weight) and weight >= 0):
                raise ValueError(f"WeightPoint(step={self.step}).weights[{name!r}] must be >= 0, got {weight!r}")
        if sum(self.weights.values()) <= 0:
            raise ValueError(f"WeightPoint(step={self.step}).weights must not all be zero")


@dataclasses.dataclass(frozen=True, kw_only=True)
class LoaderConfig:
    """How the mixture loader turns a mixture manifest into training batches."""

    seq_len: int = 1024
    """Tokens per row (L). Text is packed to exactly this length; pairs are padded to it."""
    global_batch_size: int = 8
    """Rows per global batch, summed over all data-parallel ranks; must be a multiple of ``world_size``."""
    rank: int = 0
    """This process's data-parallel rank."""
    world_size: int = 1
    """Number of data-parallel ranks; each rank gets ``global_batch_size // world_size`` rows per step."""
    num_workers: int = 0
    """Workers that read and assemble batches (0: in the iterating thread's pipeline, no worker pool)."""
    worker_method: WorkerMethod = "thread"
    """Worker kind: threads (the compiled copy loops release the GIL) or processes."""
    prefetch: int = 4
    """Groups of batches assembled ahead of the consumer (0 disables the prefetch thread); a group holds up to 8
    consecutive batches and at most 2^20 token slots (see ``nodes.group_size``)."""
    seed: int = 0
    """Root seed of shard orders, shuffles, stochastic mixing and row order."""
    shuffle: ShuffleMode = "global"
    """Example order within each epoch of a component. ``global``: a seeded pseudo-random permutation of all its
    examples, across every shard (each batch draws from the whole component, as a uniform shuffle would; rows
    are read in random order, so keep shards on local disk or in the page cache). ``window``: shards in a seeded
    order, examples permuted in consecutive windows of ``shuffle_buffer`` (sequential reads, but a batch sees a
    narrow slice: shards are sorted by example id, so neighbouring rows share a source); also what runs started
    before this field used. Both are pure functions of the seed: resuming needs no buffer contents."""
    shuffle_buffer: int = 8192
    """``shuffle="window"`` only: examples permuted together; 1 disables example shuffling (shard order is still
    seeded)."""
    mixing: MixingMode = "exact"
    """``exact``: every global batch holds each component's share (largest remainder, carried between
    batches); ``stochastic``: each row's component is drawn from the weights with a seeded RNG."""
    weight_schedule: tuple[WeightPoint, ...] = ()
    """Piecewise-linear mixing weights over global steps; empty uses the manifest's weights throughout."""
    split_documents: bool = True
    """Pack text contiguously, splitting documents at row ends. False: a document that does not fit in the
    rest of a row starts the next row (the gap is padding); only documents longer than ``seq_len`` split."""
    overlong_pairs: OverlongPairPolicy = "truncate"
    """A non-text example longer than ``seq_len``: keep its first ``seq_len`` tokens (counted and logged),
    skip it (counted and logged), or raise ``ValueError``."""
    document_attention: bool = True
    """Number the documents inside packed rows in ``document_ids_BL`` (for document-limited attention).
    False: every non-padding token of a row gets document id 0 (full attention within the row)."""
    interleave_rows: bool = True
    """Shuffle the rows of each global batch (seeded per step) so every rank sees a mix of components;
    False keeps them grouped by component in mixture order."""
    pad_id: int | None = None
    """Padding token id; None uses the token space's ``pad``."""
    check_sha256: bool = False
    """Verify every shard's sha256 against its manifest when the loader is built (reads every byte)."""

    def __post_init__(self) -> None:
        for name in ("seq_len", "global_batch_size", "world_size", "shuffle_buffer"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"LoaderConfig.{name} must be a positive integer, got {value!r}")
        for name in ("num_workers", "prefetch", "rank"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"LoaderConfig.{name} must be a non-negative integer, got {value!r}")
        if self.rank >= self.world_size:
            raise ValueError(f"LoaderConfig.rank={self.rank} must be < world_size={self.world_size}")
        if self.global_batch_size % self.world_size:
            raise ValueError(
                f"LoaderConfig.global_batch_size={self.global_batch_size} is not a multiple of "
                f"world_size={self.world_size}"
            )
        if self.mixing not in ("exact", "stochastic"):
            raise ValueError(f"LoaderConfig.mixing must be 'exact' or 'stochastic', got {self.mixing!r}")
        if self.overlong_pairs not in ("truncate", "skip", "error"):
            raise ValueError(f"LoaderConfig.overlong_pairs must be truncate|skip|error, got {self.overlong_pairs!r}")
        if self.shuffle not in ("global", "window"):
            raise ValueError(f"LoaderConfig.shuffle must be 'global' or 'window', got {self.shuffle!r}")
        if self.worker_method not in ("thread", "process"):
            raise ValueError(f"LoaderConfig.worker_method must be 'thread' or 'process', got {self.worker_method!r}")
        steps = [p.step for p in self.weight_schedule]
        if steps != sorted(set(steps)):
            raise ValueError(f"LoaderConfig.weight_schedule steps must be strictly increasing, got {steps}")
        if self.pad_id is not None and self.pad_id < 0:
            raise ValueError(f"LoaderConfig.pad_id must be non-negative, got {self.pad_id}")

    @property
    def local_batch_size(self) -> int:
        """Rows per rank per step."""
        return self.global_batch_size // self.world_size
