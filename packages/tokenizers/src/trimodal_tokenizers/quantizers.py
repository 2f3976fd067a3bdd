"""Discrete bottlenecks for the image autoencoder: finite scalar quantization (FSQ, default) and a VQ option.

Hand-written because no quantizer library is a dependency here (``vector-quantize-pytorch`` is not
installed) and both are short. FSQ follows Mentzer et al. 2023 ("Finite Scalar Quantization: VQ-VAE Made
Simple", reference code in their appendix): each latent channel is squashed with ``tanh`` to ``L_i`` levels
and rounded with a straight-through gradient; the code index is the mixed-radix number of the per-channel
levels, so the codebook is implicit (``prod(levels)`` codes), has no loss terms and never collapses. VQ is the
classic nearest-neighbour codebook (van den Oord et al. 2017) with l2-normalized codes (Yu et al. 2022,
ViT-VQGAN) and the usual codebook + commitment losses.

Both take latents ``z_BDHW`` and return ``(quantized_BDHW, indices_BHW, aux_loss)``.
"""

from __future__ import annotations

from trimodal_core.extras import missing_extra

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError as exc:
    raise missing_extra(
        package="trimodal-tokenizers", extra="image", feature="the image tokenizer's quantizers", cause=exc
    ) from exc


def _round_ste(x: torch.Tensor) -> torch.Tensor:
    return x + (x.round() - x).detach()


class FSQ(nn.Module):
    """Finite scalar quantizer with per-channel level counts ``levels``."""

    def __init__(self, levels: tuple[int, ...]) -> None:
        super().__init__()
        if not levels or min(levels) < 2:
            raise ValueError(f"FSQ levels must be integers >= 2, got {levels}")
        self.levels = tuple(int(v) for v in levels)
        self.register_buffer("_levels", torch.tensor(self.levels, dtype=torch.int64), persistent=False)
        basis = torch.cumprod(torch.tensor([1, *self.levels[:-1]], dtype=torch.int64), dim=0)
        self.register_buffer("_basis", basis, persistent=False)

    @property
    def dim(self) -> int:
        return len(self.levels)

    @property
    def codebook_size(self) -> int:
        size = 1
        for level in self.levels:
            size *= level
        return size

    def _bound(self, z_BHWD: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
        levels = self._levels.to(z_BHWD.dtype)
        half = (levels - 1) * (1 + eps) / 2
        offset = torch.where(self._levels % 2 == 0, 0.5, 0.0).to(z_BHWD.dtype)
        shift = torch.atanh(offset / half)
        return torch.tanh(z_BHWD + shift) * half - offset

    def forward(self, z_BDHW: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z_BHWD = z_BDHW.permute(0, 2, 3, 1).float()
        half_width = (self._levels // 2).to(z_BHWD.dtype)
        q_BHWD = _round_ste(self._bound(z_BHWD)) / half_width  # in [-1, 1]
        indices = ((q_BHWD * half_width + half_width).round().long() * self._basis).sum(-1)
        return q_BHWD.permute(0, 3, 1, 2), indices, z_BDHW.new_zeros(())

    def indices_to_latent(self, indices_BHW: torch.Tensor) -> torch.Tensor:
        half_width = (self._levels // 2).float()
        digits = (indices_BHW[..., None] // self._basis) % self._levels
        return ((digits.float() - half_width) / half_width).permute(0, 3, 1, 2)


class VQ(nn.Module):
    """Nearest-neighbour vector quantizer with l2-normalized codes and straight-through gradients."""

    def __init__(self, codebook_size: int, dim: int, *, commitment: float = 0.25) -> None:
        super().__init__()
        if codebook_size < 2 or dim < 1:
            raise ValueError(f"VQ needs codebook_size >= 2 and dim >= 1, got {codebook_size}, {dim}")
        self.embedding = nn.Embedding(codebook_size, dim)
        nn.init.normal_(self.embedding.weight)
        self.commitment = commitment

    @property
    def dim(self) -> int:
        return self.embedding.embedding_dim

    @property
    def codebook_size(self) -> int:
        return self.embedding.num_embeddings

    def forward(self, z_BDHW: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        z_BHWD = F.normalize(z_BDHW.permute(0, 2, 3, 1).float(), dim=-1)
        codes_KD = F.normalize(self.embedding.weight, dim=-1)
        indices = (z_BHWD @ codes_KD.T).argmax(-1)  # max cosine = min distance for unit vectors
        q_BHWD = codes_KD[indices]
        loss = F.mse_loss(q_BHWD, z_BHWD.detach()) + self.commitment * F.mse_loss(z_BHWD, q_BHWD.detach())
        q_BHWD = z_BHWD + (q_BHWD - z_BHWD).detach()
        return q_BHWD.permute(0, 3, 1, 2), indices, loss

    def indices_to_latent(self, indices_BHW: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.embedding.weight, dim=-1)[indices_BHW].permute(0, 3, 1, 2)
