"""Training observability: JSONL metrics, optional TensorBoard, loss-spike detection, throughput and MFU.

* ``metrics.jsonl``: one JSON object per logged step (rank 0 only), keys as in the contract (``step``,
  ``loss``, ``nelbo_{text,image,audio}``, ``exp_nelbo_*``, ``lr``, ``grad_norm``, ``tokens_per_s``, ``mfu``,
  ``kappa``, ``logical_step``, ...). Lines are flushed as written, so a killed run keeps every finished line; a
  resumed run appends.
* Loss spikes: a step whose loss exceeds ``mean + k * std`` of the previous ``window`` finite losses (at least
  ``min_history`` of them) is reported (a warning, ``"spike": true`` in its metrics line, a line in
  ``spikes.jsonl``). The window is part of the trainer state, so a resumed run reports the same spikes.
* MFU = ``model FLOPs per step / (step time * peak FLOP/s * world size)``: FLOPs from the model's analytic
  count (forward + backward), peak from ``run.peak_flops`` or :func:`peak_flops` (the card's dense bf16 peak;
  None on CPU, where MFU is not reported).
"""

from __future__ import annotations

import collections
import json
import logging
import math
from pathlib import Path
from typing import Any

import torch

log = logging.getLogger(__name__)

# Dense (no sparsity) bf16 tensor-core peaks, FLOP/s, by a substring of torch.cuda.get_device_name().
_BF16_PEAKS: tuple[tuple[str, float], ...] = (
    ("H200", 989e12), ("H100 SXM", 989e12), ("H100 NVL", 835e12), ("H100 PCIe", 756e12), ("H100", 989e12),
    ("GH200", 989e12), ("B200", 2250e12), ("B100", 1750e12), ("A100", 312e12), ("A10G", 70e12),
    ("L40S", 362e12), ("L4", 121e12), ("A6000", 155e12), ("4090", 165e12),
)


def peak_flops(device: torch.device) -> float | None:
    """The dense bf16 peak of ``device`` (None for CPUs and unknown cards)."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    for key, value in _BF16_PEAKS:
        if key in name:
            return value
    log.warning("unknown GPU %r: set run.peak_flops to report MFU", name)
    return None


class SpikeDetector:
    """Flags losses above ``mean + k * std`` of a trailing window."""

    def __init__(self, *, window: int = 100, k: float = 4.0, min_history: int = 10) -> None:
        self.window = window
        self.k = k
        self.min_history = min_history
        self.history: collections.deque[float] = collections.deque(maxlen=window)

    def update(self, loss: float) -> tuple[bool, float | None]:
        """Whether ``loss`` is a spike, and the threshold it was compared with; then adds it to the window."""
        threshold = None
        if len(self.history) >= self.min_history:
            n = len(self.history)
            mean = sum(self.history) / n
            var = sum((x - mean) ** 2 for x in self.history) / max(n - 1, 1)
            threshold = mean + self.k * math.sqrt(var)
        spike = threshold is not None and loss > threshold
        if math.isfinite(loss):
            self.history.append(loss)
        return spike, threshold

    def state_dict(self) -> dict[str, Any]:
        return {"history": list(self.history)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.history = collections.deque((float(x) for x in state["history"]), maxlen=self.window)


class MetricsWriter:
    """Writes metric records on rank 0 (JSONL, optionally TensorBoard); a no-op elsewhere."""

    def __init__(self, run_dir: Path, *, enabled: bool, tensorboard: bool = False) -> None:
        self.enabled = enabled
        self.path = run_dir / "metrics.jsonl"
        self.spikes_path = run_dir / "spikes.jsonl"
        self._file = None
        self._tb = None
        if not enabled:
            return
        self._file = self.path.open("a", encoding="utf-8")
        if tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self._tb = SummaryWriter(str(run_dir / "tensorboard"))

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled or self._file is None:
            return
        self._file.write(json.dumps(record, allow_nan=True) + "\n")
        self._file.flush()
        if self._tb is not None:
            step = int(record["step"])
            for key, value in record.items():
                if key != "step" and isinstance(value, int | float) and not isinstance(value, bool):
                    self._tb.add_scalar(f"train/{key}", value, step)

    def spike(self, record: dict[str, Any]) -> None:
        if self.enabled:
            with self.spikes_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._tb is not None:
            self._tb.close()
            self._tb = None


def read_metrics(path: str | Path, *, latest: bool = True) -> list[dict[str, Any]]:
    """The records of a ``metrics.jsonl``, a torn line from a killed run ignored.

    ``latest``: one record per step, the last one written (a run resumed after a crash logs again the steps
    after its checkpoint), in step order; False: every line as written.
    """
    records = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    if not latest:
        return records
    by_step = {int(r["step"]): r for r in records}
    return [by_step[s] for s in sorted(by_step)]
