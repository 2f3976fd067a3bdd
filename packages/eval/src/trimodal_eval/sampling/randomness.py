"""Per-row random streams: a row's samples depend on its own seed and history only, never on its batch.

Each row owns a CPU ``torch.Generator`` seeded with ``derive_seed(seed, "sampling", row_seed)``. At every
step the row takes, it draws exactly ``2 * T_r`` float64 uniforms (``T_r`` = its number of target
positions): the first ``T_r`` feed the categorical draw of each target position, the second ``T_r`` are
the scores of the random selection rule (and any rule that wants randomness, e.g. a learned policy's
Bernoulli actions). The draw does not depend on how many positions are still masked, so the same row gives
the same tokens alone or in a ragged batch, with or without logit reuse. float64 ``rand`` gives 53-bit
uniforms on the ``2^-53`` grid of [0, 1).
"""

from __future__ import annotations

import torch

from trimodal_core import derive_seed


class RowRandom:
    """Independent generators for the rows of one sampling call."""

    def __init__(self, seed: int, row_seeds_B: torch.Tensor, lengths_B: torch.Tensor, device: torch.device) -> None:
        self.lengths = [int(n) for n in lengths_B.tolist()]
        self.device = device
        self.generators = [
            torch.Generator().manual_seed(derive_seed(seed, "sampling", int(s))) for s in row_seeds_B.tolist()
        ]

    def draw(self, rows: list[int], width: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Uniforms ``(token_BT, score_BT)`` for the given rows (float64, ``[len(rows), width]``; 0 past a row's T)."""
        out = torch.zeros(len(rows), 2, width, dtype=torch.float64)
        for i, row in enumerate(rows):
            n = self.lengths[row]
            out[i, :, :n] = torch.rand(2, n, dtype=torch.float64, generator=self.generators[row])
        out = out.to(self.device, non_blocking=True)
        return out[:, 0], out[:, 1]
