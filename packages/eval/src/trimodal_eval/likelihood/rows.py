"""Evaluation rows: every example of a (held-out) corpus exactly once, in manifest order, as model rows.

The training loader is endless and shuffled; evaluation needs one deterministic pass. Pair examples (t2i,
i2t, t2s, s2t) become one row each, padded to ``seq_len``; a longer pair keeps its first ``seq_len`` tokens
(``overlong="truncate"``, as the training loader does by default, so the evaluated rows look like the
trained ones) or is skipped (``"skip"``); either way it is counted. Text documents are packed end to end
into rows of ``seq_len`` with a document id per position, as the loader packs them (a document may continue
in the next row), so text NELBO is measured on the same kind of rows the model was trained on.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from trimodal_core import CorpusManifest, Modality
from trimodal_core.shard_reader import ShardReader


@dataclasses.dataclass(frozen=True)
class Example:
    example_id: str
    task: str
    tokens: np.ndarray
    modality: np.ndarray


@dataclasses.dataclass(frozen=True)
class EvalRows:
    """Rows ready for a denoiser, with the example behind each pair row."""

    tokens_BL: torch.Tensor
    modality_BL: torch.Tensor
    loss_mask_BL: torch.Tensor
    document_ids_BL: torch.Tensor
    tasks: tuple[str, ...]
    """Task of each row (``text`` for packed rows)."""
    example_ids: tuple[str, ...]
    """Example id of each pair row; for a packed text row, the id of its first document."""
    skipped: int = 0
    """Pair examples left out (empty, or longer than ``seq_len`` under ``overlong="skip"``)."""
    truncated: int = 0
    """Pair examples cut to ``seq_len``."""

    @property
    def num_rows(self) -> int:
        return int(self.tokens_BL.shape[0])

    def select(self, index: torch.Tensor | list[int]) -> EvalRows:
        idx = torch.as_tensor(index, dtype=torch.long)
        pick = idx.tolist()
        return EvalRows(self.tokens_BL[idx], self.modality_BL[idx], self.loss_mask_BL[idx],
                        self.document_ids_BL[idx], tuple(self.tasks[i] for i in pick),
                        tuple(self.example_ids[i] for i in pick), self.skipped, self.truncated)


def read_examples(manifest_path: str | Path, *, max_examples: int | None = None) -> Iterator[Example]:
    """The manifest's examples in shard order (each shard validated against the manifest's fingerprint)."""
    manifest = CorpusManifest.load(manifest_path)
    count = 0
    for shard in manifest.shards:
        reader = ShardReader(manifest.shard_path(shard), expected_fingerprint=manifest.fingerprint)
        try:
            for batch in reader.iter_batches(["example_id", "task", "tokens", "modality"]):
                ids, tasks = batch.column(0).to_pylist(), batch.column(1).to_pylist()
                tokens, modality = batch.column(2), batch.column(3)
                for i in range(batch.num_rows):
                    if max_examples is not None and count >= max_examples:
                        return
                    yield Example(ids[i], tasks[i], np.asarray(tokens[i].values, dtype=np.int64),
                                  np.asarray(modality[i].values, dtype=np.uint8))
                    count += 1
        finally:
            reader.close()


def build_rows(examples: list[Example], *, seq_len: int, pad_id: int, max_text_rows: int | None = None,
               overlong: str = "truncate") -> EvalRows:
    """Pack text examples and pad pair examples into rows of ``seq_len`` (module docstring); at most
    ``max_text_rows`` packed text rows (long documents fill many rows)."""
    if seq_len < 2:
        raise ValueError(f"seq_len must be at least 2, got {seq_len}")
    rows_t: list[np.ndarray] = []
    rows_m: list[np.ndarray] = []
    rows_d: list[np.ndarray] = []
    tasks: list[str] = []
    ids: list[str] = []
    if overlong not in ("truncate", "skip"):
        raise ValueError(f"overlong must be 'truncate' or 'skip', got {overlong!r}")
    skipped = truncated = 0

    def new_row() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return (np.full(seq_len, pad_id, np.int64), np.full(seq_len, int(Modality.SPECIAL), np.uint8),
                np.full(seq_len, -1, np.int32))

    text = [e for e in examples if e.task == "text"]
    for example in (e for e in examples if e.task != "text"):
        if example.tokens.size == 0 or (example.tokens.size > seq_len and overlong == "skip"):
            skipped += 1
            continue
        truncated += int(example.tokens.size > seq_len)
        t, m, d = new_row()
        n = min(example.tokens.size, seq_len)
        t[:n], m[:n], d[:n] = example.tokens[:n], example.modality[:n], 0
        rows_t.append(t)
        rows_m.append(m)
        rows_d.append(d)
        tasks.append(example.task)
        ids.append(example.example_id)
    if text:
        stream_t = np.concatenate([e.tokens for e in text])
        stream_m = np.concatenate([e.modality for e in text])
        doc_of = np.repeat(np.arange(len(text)), [e.tokens.size for e in text])
        for start in range(0, stream_t.size, seq_len):
            if max_text_rows is not None and start // seq_len >= max_text_rows:
                break
            stop = min(start + seq_len, stream_t.size)
            t, m, d = new_row()
            n = stop - start
            t[:n], m[:n] = stream_t[start:stop], stream_m[start:stop]
            docs = doc_of[start:stop]
            d[:n] = (docs - docs[0]).astype(np.int32)  # document number inside the row: 0, 1, ...
            rows_t.append(t)
            rows_m.append(m)
            rows_d.append(d)
            tasks.append("text")
            ids.append(text[int(docs[0])].example_id)
    if not rows_t:
        raise ValueError(f"no example fits in seq_len={seq_len} ({skipped} skipped)")
    tokens = torch.from_numpy(np.stack(rows_t))
    return EvalRows(
        tokens_BL=tokens, modality_BL=torch.from_numpy(np.stack(rows_m)), loss_mask_BL=tokens != pad_id,
        document_ids_BL=torch.from_numpy(np.stack(rows_d)), tasks=tuple(tasks), example_ids=tuple(ids),
        skipped=skipped, truncated=truncated,
    )
