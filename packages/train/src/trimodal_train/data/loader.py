"""``build_loader``: a mixture manifest and a :class:`LoaderConfig` in, an endless, resumable stream of
:class:`Batch` out.

Resume contract. ``state_dict()`` is the global position after the last batch handed out (the global
step, one stream cursor per component, the exact-mixing carries and the overlong counters) plus what
must not change. It is the same on every rank, so saving rank 0's is enough. Loading it into a loader
with the same configuration yields bit-for-bit the batches the uninterrupted run would have yielded.

World-size change. ``rank``, ``world_size`` and ``global_batch_size`` may differ on resume: the next global
batches are exactly those the old run would have planned (if ``global_batch_size`` is unchanged), only
sliced across the new ranks, so at the global level no example is lost or repeated. Changing
``global_batch_size`` continues every component's stream where it stopped (still no loss or repeat), but
the batches are then planned for the new size. Changing anything that defines the streams (data, seed,
``seq_len``, shuffle or packing options, mixing mode, schedule) raises ``ValueError`` naming the field.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from trimodal_core import MixtureManifest
from trimodal_train.data.batch import Batch
from trimodal_train.data.config import LoaderConfig
from trimodal_train.data.materialize import BatchAssembler
from trimodal_train.data.mixing import WeightSchedule
from trimodal_train.data.nodes import build_pipeline, group_size
from trimodal_train.data.planner import GlobalPlanner, Layout
from trimodal_train.data.streams import ComponentStream, ShardStore

log = logging.getLogger(__name__)
LOADER_STATE_FORMAT = 1
# Fields whose change would alter the example streams or the plan: a resumed run must match them.
_FIXED_FIELDS = ("seq_len", "seed", "shuffle", "shuffle_buffer", "mixing", "weight_schedule", "split_documents",
                 "overlong_pairs", "interleave_rows")
# States saved before a fixed field existed: the value their streams were built with.
_FIXED_DEFAULTS_BEFORE = {"shuffle": "window"}


class MixtureLoader:
    """Iterable of :class:`Batch` (endless) with ``state_dict()`` / ``load_state_dict()``."""

    def __init__(
        self,
        planner: GlobalPlanner,
        assembler: BatchAssembler,
        config: LoaderConfig,
        *,
        component_names: tuple[str, ...],
        data_signature: str,
    ) -> None:
        self.config = config
        self.component_names = component_names
        self._planner = planner
        self._assembler = assembler
        self._signature = data_signature
        self._state: dict[str, Any] = planner.state_dict()
        self._pipeline: Any = None

    def __iter__(self) -> Iterator[Batch]:
        """Batches from the current position on (a new ``iter()`` continues after the last batch yielded)."""
        self._stop_pipeline()
        # A fresh planner per pipeline: an abandoned pipeline's prefetch thread may still be planning.
        pipeline = self._pipeline = build_pipeline(
            self._planner.clone(), self._assembler, start_state=copy.deepcopy(self._state),
            num_workers=self.config.num_workers, worker_method=self.config.worker_method,
            prefetch=self.config.prefetch, group=group_size(self.config.local_batch_size, self.config.seq_len),
        )
        try:
            for arrays in pipeline:
                if pipeline is not self._pipeline:  # superseded by load_state_dict or a new iter()
                    return
                self._state = arrays["resume_state"]
                yield Batch.from_arrays(arrays)
        finally:
            if pipeline is self._pipeline:
                self._stop_pipeline()

    def _stop_pipeline(self) -> None:
        if self._pipeline is not None:
            self._pipeline.close()
            self._pipeline = None

    # ------------------------------------------------------------------------------- state
    def _meta(self) -> dict[str, Any]:
        fixed = {name: getattr(self.config, name) for name in _FIXED_FIELDS}
        fixed["weight_schedule"] = [dataclasses.asdict(p) for p in self.config.weight_schedule]
        return {"data_signature": self._signature, "components": list(self.component_names), **fixed}

    def state_dict(self) -> dict[str, Any]:
        """The global position after the last batch yielded (identical on every rank)."""
        return {
            "format": LOADER_STATE_FORMAT,
            "plan": copy.deepcopy(self._state),
            "fixed": self._meta(),
            "world_size": self.config.world_size,
            "global_batch_size": self.config.global_batch_size,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state``; the next ``iter()`` starts right after the batch it was saved after."""
        if not isinstance(state, dict) or state.get("format") != LOADER_STATE_FORMAT:
            found = state.get("format") if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"loader state: unknown format {found!r} (expected {LOADER_STATE_FORMAT})")
        ours = self._meta()
        theirs = {**_FIXED_DEFAULTS_BEFORE, **state["fixed"]}
        for key, value in ours.items():
            if theirs.get(key) != value:
                raise ValueError(
                    f"loader state was saved with {key}={theirs.get(key)!r}, this loader has {value!r}; "
                    f"{key} must not change when resuming"
                )
        if state["world_size"] != self.config.world_size or state["global_batch_size"] != self.config.global_batch_size:
            log.info(
                "resuming loader at step %d with world_size %d -> %d, global_batch_size %d -> %d",
                state["plan"]["step"], state["world_size"], self.config.world_size,
                state["global_batch_size"], self.config.global_batch_size,
            )
        self._planner.load_state_dict(state["plan"])  # validates the plan state
        self._state = copy.deepcopy(state["plan"])
        self._stop_pipeline()

    # ------------------------------------------------------------------------------- status
    @property
    def step(self) -> int:
        """Global step of the next batch."""
        return int(self._state["step"])

    def epochs(self) -> dict[str, float]:
        """Passes made over each component so far (fractional)."""
        streams = {s.name: s for s in self._planner.streams}
        return {n: self._state["cursors"][n][0] / streams[n].num_examples for n in self.component_names}

    def counters(self) -> dict[str, dict[str, int]]:
        """Examples truncated or skipped (overlong or empty pairs) per component, over the whole run."""
        return {"truncated": dict(self._state["truncated"]), "skipped": dict(self._state["skipped"])}

    def close(self) -> None:
        """Stop the workers and release the memory maps."""
        self._stop_pipeline()
        self._assembler.store.close()


def _layout(name: str, tasks: set[str], where: str) -> Layout:
    if tasks == {"text"}:
        return "packed"
    if "text" not in tasks:
        return "pair"
    raise ValueError(
        f"{where}: component {name!r} mixes packed text with paired tasks {sorted(tasks - {'text'})}; "
        "put text and pairs in separate mixture components"
    )


def build_loader(mixture_manifest_path: str | Path, config: LoaderConfig) -> MixtureLoader:
    """Open a mixture manifest's shards (memory-mapped) and build this rank's loader.

    Raises ``ValueError`` naming the file for a missing, corrupt or mismatched manifest or shard.
    """
    mixture = MixtureManifest.load(mixture_manifest_path)
    corpora = mixture.load_components()
    if config.check_sha256:
        mixture.validate(check_sha256=True)
    names = tuple(c.name for c in mixture.components)
    first = corpora[names[0]]
    fingerprint = mixture.token_space_fingerprint or first.fingerprint
    for name in names:
        if corpora[name].fingerprint != fingerprint:
            raise ValueError(f"{corpora[name].path}: token-space fingerprint differs from {first.path}")
    paths, rows, shard_ids = [], [], {}
    signature = hashlib.sha256()
    for name in names:
        corpus = corpora[name]
        shard_ids[name] = []
        for shard in corpus.shards:
            path = corpus.shard_path(shard)
            if not path.is_file():
                raise ValueError(f"shard not found: {path} (listed in {corpus.path})")
            shard_ids[name].append(len(paths))
            paths.append(path)
            rows.append(shard.rows)
            signature.update(json.dumps([name, shard.path, shard.rows, shard.sha256]).encode())
    store = ShardStore(paths, rows, fingerprint)
    streams, layouts, tokens_per_row = [], [], []
    for name in names:
        ids = shard_ids[name]
        tasks = set().union(*(store.get(i).tasks for i in ids))  # opens every shard: errors surface now
        layouts.append(_layout(name, tasks, str(corpora[name].path)))
        streams.append(ComponentStream(name, ids, store, seed=config.seed, shuffle=config.shuffle,
                                       shuffle_buffer=config.shuffle_buffer))
        lengths = np.concatenate([store.all_lengths(i) for i in ids])
        if layouts[-1] == "packed":
            if not lengths.any():
                raise ValueError(f"{corpora[name].path}: component {name!r} has no tokens to pack")
            tokens_per_row.append(float(config.seq_len))
            continue
        kept = lengths[(lengths > 0) & ((lengths <= config.seq_len) | (config.overlong_pairs != "skip"))]
        if kept.size == 0:
            raise ValueError(
                f"{corpora[name].path}: component {name!r} has no usable example for seq_len={config.seq_len}"
            )
        tokens_per_row.append(float(np.minimum(kept, config.seq_len).mean()))
    schedule = WeightSchedule(
        names, [c.weight for c in mixture.components],
        tokens_per_row if mixture.weight_unit == "tokens" else None, config.weight_schedule,
    )
    planner = GlobalPlanner(streams, layouts, schedule, config)
    pad_id = config.pad_id if config.pad_id is not None else first.load_token_space().pad_id
    assembler = BatchAssembler(store, seq_len=config.seq_len, pad_id=pad_id)
    log.info("mixture loader: %s", ", ".join(
        f"{n} ({lay}, {s.num_examples} examples)" for n, lay, s in zip(names, layouts, streams, strict=True)))
    return MixtureLoader(planner, assembler, config, component_names=names, data_signature=signature.hexdigest())
