"""Image and text embeddings from an open_clip model loaded from a local checkpoint folder (never the hub).

The folder is open_clip's own ``local-dir`` layout (the same files as its hub repos):
``open_clip_config.json`` (``model_cfg`` and optional ``preprocess_cfg``) and the weights as
``*.safetensors``. Pickled ``.bin``/``.pt`` weights are refused, so loading a checkpoint can never run
code. Embeddings are L2-normalized float32; :meth:`ClipEmbedder.scores` is the per-pair cosine
similarity used by the alignment filter, and image embeddings double as the dedupe embedding.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import numpy as np
from PIL import Image

log = logging.getLogger(__name__)


def check_clip_checkpoint(path: str | Path) -> Path:
    """Validate the checkpoint folder; raises ``ValueError`` naming what is missing."""
    folder = Path(path)
    config = folder / "open_clip_config.json"
    if not folder.is_dir():
        raise ValueError(f"--clip-checkpoint {folder}: not a folder")
    if not config.is_file():
        raise ValueError(f"--clip-checkpoint {folder}: missing open_clip_config.json")
    try:
        data = json.loads(config.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"{config}: not valid JSON ({exc})") from None
    if not isinstance(data, dict) or "model_cfg" not in data:
        raise ValueError(f"{config}: lacks 'model_cfg'")
    if not list(folder.glob("*.safetensors")):
        raise ValueError(f"--clip-checkpoint {folder}: no *.safetensors weights (pickled weights are not loaded)")
    return folder


class ClipEmbedder:
    """A CLIP model on one device with its preprocessing and tokenizer."""

    def __init__(self, checkpoint: str | Path, *, device: str | None = None, batch_size: int = 64) -> None:
        folder = check_clip_checkpoint(checkpoint)
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import open_clip
        import torch

        self.device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.batch_size = batch_size
        name = f"local-dir:{folder.resolve()}"
        model, _, preprocess = open_clip.create_model_and_transforms(name, device=self.device)
        self.model = model.eval()
        self.preprocess = preprocess
        self.tokenizer = open_clip.get_tokenizer(name)
        self._torch = torch
        log.info("CLIP model from %s on %s", folder, self.device)

    def embed_images(self, images: list[Image.Image]) -> np.ndarray:
        """``[N, D]`` normalized image embeddings."""
        torch = self._torch
        out = []
        with torch.inference_mode():
            for start in range(0, len(images), self.batch_size):
                pixels = torch.stack([self.preprocess(im) for im in images[start : start + self.batch_size]])
                features = self.model.encode_image(pixels.to(self.device), normalize=True)
                out.append(features.float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """``[N, D]`` normalized text embeddings."""
        torch = self._torch
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                tokens = self.tokenizer(texts[start : start + self.batch_size])
                features = self.model.encode_text(tokens.to(self.device), normalize=True)
                out.append(features.float().cpu().numpy())
        return np.concatenate(out) if out else np.zeros((0, 0), np.float32)

    @staticmethod
    def scores(image_embeddings: np.ndarray, text_embeddings: np.ndarray) -> np.ndarray:
        """Per-pair cosine similarity of matching rows."""
        return np.einsum("nd,nd->n", image_embeddings, text_embeddings).astype(np.float32)
