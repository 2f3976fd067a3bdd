"""Coordinate check of the parameterization: activation RMS after a few AdamW steps across widths and depths.

Under a parameterization that transfers hyperparameters, every activation keeps the same size when the
model grows: the same base ``lr``/``eps`` must move a 512-wide or 16-deep model exactly as much, per
coordinate, as the base model. For each shape we train ``steps`` AdamW steps (groups from
:func:`trimodal_train.model.param_groups`) on one fixed batch with a masked-token loss, then measure on that
batch the RMS of

* ``embedding``: the embedding output ``h_0``;
* ``attention`` / ``ffn``: the raw branch outputs ``F(RMSNorm(h))`` before the residual multiplier, averaged
  over layers (the multiplier ``m_L^-alpha`` is part of the parameterization, the branch itself is not);
* ``residual``: the residual stream after the last block;
* ``logits``: the readout over the text ids.

The *spread* of a statistic is ``max / min`` over all shapes; :func:`spread` takes the worst statistic.
The batch is real-ish: Zipf-distributed ids drawn from a fixed random bigram chain (so there is structure
to learn), two documents per row, half the positions masked (the masked-diffusion objective without the
``1/t`` weight). ``bench/coord_check.py`` prints the table; ``tests/train/model/test_coord_check.py``
asserts on it.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from trimodal_core.token_space import Modality, TokenSpace, TokenSpaceConfig
from trimodal_train.model import ModelConfig, build_model, param_groups

STATISTICS: tuple[str, ...] = ("embedding", "attention", "ffn", "residual", "logits")
COORD_TOKEN_SPACE = TokenSpaceConfig(
    text_vocab_size=256, image_codebook_size=64, audio_codebook_size=32, audio_num_codebooks=2
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class CoordRow:
    """Activation RMS of one trained shape."""

    parameterization: str
    d_model: int
    n_layers: int
    rms: dict[str, float]


def coord_batch(token_space: TokenSpace, *, batch: int, seq_len: int, seed: int) -> dict[str, torch.Tensor]:
    """A fixed masked batch: tokens, inputs (half masked), targets, document ids, span modality."""
    gen = torch.Generator().manual_seed(seed)
    start, stop = token_space.id_range(Modality.TEXT)
    vocab = stop - start
    zipf_V = 1.0 / torch.arange(1, vocab + 1, dtype=torch.float64)
    # Bigram chain: each id prefers a random set of successors, weighted by the Zipf law.
    successors_VV = zipf_V[torch.argsort(torch.rand(vocab, vocab, generator=gen), dim=1)]
    local_BL = torch.empty(batch, seq_len, dtype=torch.long)
    local_BL[:, 0] = torch.multinomial(zipf_V, batch, replacement=True, generator=gen)
    for i in range(1, seq_len):
        local_BL[:, i] = torch.multinomial(successors_VV[local_BL[:, i - 1]], 1, generator=gen)[:, 0]
    tokens_BL = local_BL + start
    document_ids_BL = (torch.arange(seq_len) >= seq_len // 2).int().expand(batch, seq_len).contiguous()
    masked_BL = torch.rand(batch, seq_len, generator=gen) < 0.5
    inputs_BL = torch.where(masked_BL, token_space.mask_id, tokens_BL)
    span_BL = torch.full((batch, seq_len), int(Modality.TEXT), dtype=torch.uint8)
    return {"inputs": inputs_BL, "targets": tokens_BL, "masked": masked_BL, "docs": document_ids_BL, "span": span_BL}


def _rms(x: torch.Tensor) -> float:
    return float(x.detach().float().pow(2).mean().sqrt())


def measure(
    config: ModelConfig,
    *,
    steps: int = 5,
    lr: float = 1e-2,
    eps: float = 1e-8,
    batch: int = 4,
    seq_len: int = 32,
    seed: int = 0,
) -> CoordRow:
    """Train ``config`` for ``steps`` AdamW steps on the fixed batch and return its activation RMS."""
    token_space = TokenSpace(COORD_TOKEN_SPACE)
    data = coord_batch(token_space, batch=batch, seq_len=seq_len, seed=seed)
    torch.manual_seed(seed)
    model = build_model(config, token_space)
    optimizer = torch.optim.AdamW(param_groups(model, lr=lr, eps=eps, weight_decay=0.0), betas=(0.9, 0.95))
    kwargs = {"document_ids_BL": data["docs"], "span_modality_BL": data["span"]}
    masked = data["masked"]
    for _ in range(steps):
        logits_BLV = model(data["inputs"], **kwargs)
        loss = F.cross_entropy(logits_BLV[masked], data["targets"][masked])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    seen: dict[str, list[float]] = {name: [] for name in ("embedding", "attention", "ffn", "residual")}
    hooks = [model.embedding.register_forward_hook(lambda m, i, o: seen["embedding"].append(_rms(o)))]
    for block in model.blocks:
        hooks.append(block.attention.register_forward_hook(lambda m, i, o: seen["attention"].append(_rms(o))))
        hooks.append(block.ffn.register_forward_hook(lambda m, i, o: seen["ffn"].append(_rms(o))))
        hooks.append(block.register_forward_hook(lambda m, i, o: seen["residual"].append(_rms(o))))
    with torch.no_grad():
        logits_BLV = model(data["inputs"], **kwargs)
    for hook in hooks:
        hook.remove()
    start, stop = token_space.id_range(Modality.TEXT)
    rms = {
        "embedding": seen["embedding"][0],
        "attention": sum(seen["attention"]) / len(seen["attention"]),
        "ffn": sum(seen["ffn"]) / len(seen["ffn"]),
        "residual": seen["residual"][-1],
        "logits": _rms(logits_BLV[..., start:stop]),
    }
    return CoordRow(parameterization=config.parameterization, d_model=config.d_model, n_layers=config.n_layers, rms=rms)


def coord_check(
    parameterization: str,
    *,
    widths: Sequence[int] = (64, 128, 256, 512),
    depths: Sequence[int] = (2, 4, 8, 16),
    base_width: int = 128,
    base_depth: int = 4,
    head_dim: int = 32,
    **measure_kwargs: float | int,
) -> list[CoordRow]:
    """Measure every width at ``base_depth`` and every depth at ``base_width`` (one shared shape)."""
    shapes = [(w, base_depth) for w in widths] + [(base_width, d) for d in depths if d != base_depth]
    rows = []
    for width, depth in shapes:
        config = ModelConfig(
            d_model=width, n_layers=depth, n_heads=width // head_dim, ffn_hidden=int(8 * width / 3) // 8 * 8,
            max_seq_len=128, parameterization=parameterization,  # type: ignore[arg-type]
            base_d_model=base_width, base_n_layers=base_depth,
        )
        rows.append(measure(config, **measure_kwargs))  # type: ignore[arg-type]
    return rows


def spreads(rows: Sequence[CoordRow]) -> dict[str, float]:
    """``max / min`` of each statistic over the shapes."""
    return {name: max(r.rms[name] for r in rows) / min(r.rms[name] for r in rows) for name in STATISTICS}


def spread(rows: Sequence[CoordRow]) -> float:
    """Worst spread over the statistics."""
    values = spreads(rows)
    return max(values.values()) if all(math.isfinite(v) for v in values.values()) else math.inf
