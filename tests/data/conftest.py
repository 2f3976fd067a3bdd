"""Fixtures shared by the data tests: a tiny random-init CLIP checkpoint in open_clip's ``local-dir`` layout."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest


def _save_random_clip(folder: str | Path, *, seed: int = 0, embed_dim: int = 32, image_size: int = 32) -> Path:
    import open_clip
    import torch
    from safetensors.torch import save_model

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    model_cfg = {
        "embed_dim": embed_dim,
        "vision_cfg": {"image_size": image_size, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 32, "heads": 2, "layers": 1},
    }
    (out / "open_clip_config.json").write_text(json.dumps({"model_cfg": model_cfg}, indent=2, sort_keys=True))
    torch.manual_seed(seed)
    save_model(open_clip.CLIP(**model_cfg), str(out / "open_clip_model.safetensors"))
    return out


@pytest.fixture
def save_random_clip() -> Callable[..., Path]:
    """``save_random_clip(folder, seed=0)`` writes a tiny random-init open_clip model and returns the folder."""
    return _save_random_clip
