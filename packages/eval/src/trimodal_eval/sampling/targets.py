"""Target coordinates: each row's target positions numbered ``0 .. T_r - 1`` in sequence order.

The sampler works on ``[B, T]`` tensors (``T = max_r T_r``) so that rows with different prompt and target
lengths share one batch without any averaging: position ``j`` of row ``b`` is the row's ``j``-th target
position (``position_BT``), blocks are ``j // block_length`` per row, and the ``eot`` truncation run of
``j`` ends at ``run_end_BT[b, j]``: the end of the maximal run of consecutive ``TEXT``-class target
positions (adjacent in the sequence) holding ``j``.
"""

from __future__ import annotations

import dataclasses

import torch

from trimodal_eval.sampling.vocab import TEXT


@dataclasses.dataclass(frozen=True, kw_only=True)
class Targets:
    """Geometry of the target positions of one batch."""

    position_BT: torch.Tensor
    """Sequence position of each target coordinate (int64; 0 on padding)."""
    valid_BT: torch.Tensor
    """Real target coordinates."""
    class_BT: torch.Tensor
    """Vocabulary class (int64; 0 on padding)."""
    block_BT: torch.Tensor
    """Block index (int64)."""
    run_end_BT: torch.Tensor
    """Exclusive end of the ``eot`` truncation run (int64; ``j + 1`` outside text runs)."""
    length_B: torch.Tensor
    """``T_r`` (int64)."""
    num_blocks_B: torch.Tensor
    """Blocks per row (int64)."""
    block_length: int
    """Block length in target coordinates (``T`` for full diffusion)."""

    @property
    def width(self) -> int:
        return int(self.position_BT.shape[1])


def find_targets(target_BL: torch.Tensor, class_BL: torch.Tensor, block_length: int | None) -> Targets:
    """Target coordinates of a batch (``block_length=None``: one block per row)."""
    device = target_BL.device
    b = target_BL.shape[0]
    length_B = target_BL.sum(-1).to(torch.int64)
    t = max(1, int(length_B.max())) if b else 1
    rank_BL = target_BL.to(torch.int64).cumsum(-1) - 1
    position_BT = torch.zeros(b, t, dtype=torch.int64, device=device)
    rows_B, cols_B = target_BL.nonzero(as_tuple=True)
    position_BT[rows_B, rank_BL[rows_B, cols_B]] = cols_B
    j_T = torch.arange(t, device=device)
    valid_BT = j_T[None, :] < length_B[:, None]
    class_BT = torch.where(valid_BT, class_BL.gather(1, position_BT), 0)
    size = block_length or t
    block_BT = (j_T // size).expand(b, t).contiguous()
    num_blocks_B = (length_B + size - 1) // size
    # Runs of TEXT targets that are adjacent in the sequence; run_end = index after the run's last member.
    is_text_BT = valid_BT & (class_BT == TEXT)
    joined_BT = torch.zeros_like(is_text_BT)  # j continues the run of j - 1
    joined_BT[:, 1:] = is_text_BT[:, 1:] & is_text_BT[:, :-1] & (position_BT[:, 1:] == position_BT[:, :-1] + 1)
    joined_next_BT = torch.zeros_like(is_text_BT)
    joined_next_BT[:, :-1] = joined_BT[:, 1:]
    last_BT = torch.where(is_text_BT & ~joined_next_BT, j_T, t)  # j is the last member of its run
    run_last_BT = last_BT.flip(-1).cummin(-1).values.flip(-1)  # the first run end at or after j
    run_end_BT = torch.where(is_text_BT, run_last_BT + 1, j_T + 1)
    return Targets(position_BT=position_BT, valid_BT=valid_BT, class_BT=class_BT, block_BT=block_BT,
                   run_end_BT=run_end_BT, length_B=length_B, num_blocks_B=num_blocks_B, block_length=size)
