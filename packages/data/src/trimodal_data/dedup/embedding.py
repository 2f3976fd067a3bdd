"""Embedding near-duplicate detection with faiss: pairs of L2-normalized vectors above a cosine threshold.

Small corpora use an exact flat inner-product index (``IndexFlatIP``); from ``ivf_min_rows`` rows on, an
``IndexIVFFlat`` with ``nlist ~ 4 sqrt(n)`` lists, trained with a fixed seed and searched with ``nprobe``
lists (measured on this project's machines: all-pairs on 100k x 512 takes about a minute, IVF1024 with
nprobe 8 about 5 s with full recall on planted duplicates). ``range_search`` returns every neighbour
above the threshold, so no ``k`` has to be guessed.

Without a CLIP checkpoint, :func:`thumbnail_embedding` is the cheap fallback for images: a 16x16 RGB
box-filtered thumbnail, mean-removed and L2-normalized (768 numbers). It is invariant to JPEG
re-encoding, resizing and uniform brightness/contrast changes, and nothing more semantic — good for
copies, not for "two photos of the same cat".
(Audio embedding dedupe is not offered: band-energy statistics tried here could not tell one flite voice's
utterances apart from each other, and no pretrained audio encoder is available offline; audio relies on
the PCM hash and transcript MinHash.)
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

if TYPE_CHECKING:
    import faiss


@dataclasses.dataclass(frozen=True, kw_only=True)
class EmbeddingDedupConfig:
    """Embedding near-duplicate settings."""

    threshold: float = 0.98
    """Cosine similarity at or above which two elements are near duplicates."""
    ivf_min_rows: int = 50_000
    """From this many rows on, search an IVF index instead of the exact flat one."""
    nprobe: int = 8
    """IVF lists searched per query."""
    seed: int = 0
    """Seed of the IVF k-means training."""

    def __post_init__(self) -> None:
        if not -1.0 <= self.threshold <= 1.0:
            raise ValueError(f"EmbeddingDedupConfig.threshold must be in [-1, 1], got {self.threshold}")
        if self.ivf_min_rows < 1 or self.nprobe < 1:
            raise ValueError("EmbeddingDedupConfig.ivf_min_rows and nprobe must be positive")


def normalize_rows(x: np.ndarray) -> np.ndarray:
    """Float32 rows scaled to unit L2 norm (zero rows stay zero)."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def build_index(embeddings: np.ndarray, config: EmbeddingDedupConfig) -> faiss.Index:
    """A flat or IVF inner-product index holding ``embeddings`` (already normalized)."""
    import faiss  # the [image] extra; imported here so the stage configs import without it

    n, dim = embeddings.shape
    if n < config.ivf_min_rows:
        index = faiss.IndexFlatIP(dim)
    else:
        nlist = max(1, min(n // 39, int(4 * np.sqrt(n))))
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.cp.seed = config.seed
        index.train(embeddings)
        index.nprobe = config.nprobe
    index.add(embeddings)
    return index


def near_duplicate_pairs(embeddings: np.ndarray, config: EmbeddingDedupConfig) -> list[tuple[int, int]]:
    """Index pairs ``(i, j)``, ``i < j``, with cosine similarity >= ``config.threshold``, sorted."""
    if embeddings.ndim != 2:
        raise ValueError(f"embeddings must be 2-D [N, D], got shape {embeddings.shape}")
    if len(embeddings) < 2:
        return []
    x = normalize_rows(embeddings)
    index = build_index(x, config)
    # Float round-off can put an exact copy a hair under 1.0; search slightly below the threshold and
    # re-check with the exact dot product, so the decision does not depend on the index type.
    lims, _, labels = index.range_search(x, config.threshold - 1e-4)
    pairs: set[tuple[int, int]] = set()
    for i in range(len(x)):
        for j in labels[lims[i] : lims[i + 1]]:
            j = int(j)
            if i != j and float(x[i] @ x[j]) >= config.threshold:
                pairs.add((min(i, j), max(i, j)))
    return sorted(pairs)


def thumbnail_embedding(image: Image.Image, side: int = 16) -> np.ndarray:
    """The cheap fallback image embedding: a mean-removed, normalized ``side x side`` RGB thumbnail."""
    thumb = np.asarray(image.convert("RGB").resize((side, side), Image.Resampling.BOX), dtype=np.float32)
    flat = thumb.reshape(-1) - thumb.mean()
    norm = float(np.linalg.norm(flat))
    return flat / norm if norm > 0 else flat
