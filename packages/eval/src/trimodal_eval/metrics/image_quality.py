"""Image metrics from local checkpoints: CLIP score (open_clip) and FID / KID (a local Inception-v3).

Nothing is downloaded: each metric takes the path of a checkpoint the user has; without one it is skipped
with a message naming the option to set.

* **CLIP score** [ours: the common ``100 * max(cos, 0)`` form]: mean over pairs of 100 times the clipped cosine
  between the image and caption embeddings of an open_clip model (``model_name`` + local ``checkpoint``).
* **FID**: ``|mu_r - mu_g|^2 + Tr(S_r + S_g - 2 (S_r S_g)^{1/2})`` between 2048-d pool features of real and
  generated images, from torchvision's Inception-v3 with weights loaded from a local file (e.g. torchvision's
  ``inception_v3_google-0cc3c7bd.pth``). These are not pytorch-fid's TF-ported weights, so values are
  comparable across our runs, not with published FIDs.
* **KID**: the unbiased MMD^2 with the cubic polynomial kernel ``k(x, y) = (x.y / d + 1)^3``, averaged over
  ``num_subsets`` random subsets (seeded), with its standard deviation.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from trimodal_eval.metrics.result import MetricResult


def _missing(path: Path | None, name: str, option: str) -> str | None:
    if path is None:
        return f"{name}: no checkpoint given (set {option} to a local file; nothing is downloaded)"
    if not Path(path).is_file():
        return f"{name}: checkpoint not found: {path}"
    return None


def clip_score(images: Sequence[np.ndarray], captions: Sequence[str], *, checkpoint: Path | None,
               model_name: str = "ViT-B-32", device: str = "cpu") -> MetricResult:
    """Mean CLIP score of uint8 HxWx3 ``images`` against ``captions``."""
    why = _missing(checkpoint, "CLIP score", "--clip-checkpoint")
    if why:
        return MetricResult.skipped("CLIP score", why)
    if len(images) != len(captions) or not images:
        raise ValueError(f"need equal, non-zero numbers of images and captions, got {len(images)}, {len(captions)}")
    import open_clip
    import torch
    from PIL import Image

    model, _, preprocess = open_clip.create_model_and_transforms(model_name, pretrained=str(checkpoint),
                                                                 device=device)
    tokenizer = open_clip.get_tokenizer(model_name)
    model.eval()
    with torch.no_grad():
        pixels = torch.stack([preprocess(Image.fromarray(np.asarray(im, dtype=np.uint8))) for im in images])
        image_emb = torch.nn.functional.normalize(model.encode_image(pixels.to(device)).float(), dim=-1)
        text_emb = torch.nn.functional.normalize(model.encode_text(tokenizer(list(captions)).to(device)).float(),
                                                 dim=-1)
        scores = 100 * (image_emb * text_emb).sum(dim=-1).clamp(min=0)
    return MetricResult("CLIP score", float(scores.mean()), reason=f"{len(images)} pairs, {model_name}",
                        details={"per_pair": scores.tolist()})


def inception_features(images: Sequence[np.ndarray], checkpoint: Path, *, batch_size: int = 32,
                       device: str = "cpu") -> np.ndarray:
    """2048-d pool features (float64 ``[N, 2048]``) of uint8 HxWx3 images, resized to 299 px."""
    import torch
    from torchvision.models import inception_v3

    model = inception_v3(weights=None, aux_logits=True, init_weights=False)
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    model.load_state_dict(state)
    model.fc = torch.nn.Identity()
    model.eval().to(device)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            batch = torch.stack([torch.from_numpy(np.asarray(im, dtype=np.uint8)).permute(2, 0, 1)
                                 for im in images[start:start + batch_size]]).float() / 255
            batch = torch.nn.functional.interpolate(batch, size=(299, 299), mode="bilinear", align_corners=False)
            out.append(model(((batch - mean) / std).to(device)).double().cpu().numpy())
    return np.concatenate(out)


def frechet_distance(real: np.ndarray, fake: np.ndarray) -> float:
    from scipy import linalg

    if real.shape[0] < 2 or fake.shape[0] < 2:
        raise ValueError("FID needs at least 2 real and 2 generated images")
    mu_r, mu_f = real.mean(axis=0), fake.mean(axis=0)
    cov_r, cov_f = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    root, _ = linalg.sqrtm(cov_r @ cov_f, disp=False)
    if np.iscomplexobj(root):
        root = root.real  # numerical noise from a near-singular product
    return float(((mu_r - mu_f) ** 2).sum() + np.trace(cov_r + cov_f - 2 * root))


def kernel_inception_distance(real: np.ndarray, fake: np.ndarray, *, num_subsets: int = 50,
                              subset_size: int = 100, seed: int = 0) -> tuple[float, float]:
    """Mean and standard deviation of the unbiased polynomial-kernel MMD^2 over random subsets."""
    n = min(subset_size, real.shape[0], fake.shape[0])
    if n < 2:
        raise ValueError("KID needs at least 2 real and 2 generated images")
    d = real.shape[1]
    rng = np.random.default_rng(seed)
    values = []
    for _ in range(num_subsets):
        x = real[rng.choice(real.shape[0], n, replace=False)]
        y = fake[rng.choice(fake.shape[0], n, replace=False)]
        kxx, kyy, kxy = ((x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3)
        off = n * (n - 1)
        values.append((kxx.sum() - np.trace(kxx)) / off + (kyy.sum() - np.trace(kyy)) / off - 2 * kxy.mean())
    return float(np.mean(values)), float(np.std(values))


def fid_kid(real: Sequence[np.ndarray], generated: Sequence[np.ndarray], *, checkpoint: Path | None,
            device: str = "cpu", option: str = "--inception-checkpoint", seed: int = 0) -> list[MetricResult]:
    """FID and KID of ``generated`` against ``real`` images (skipped without a checkpoint; ``option`` is the flag
    the skip message names, ``seed`` draws the KID subsets)."""
    why = _missing(checkpoint, "FID/KID", option)
    if why:
        return [MetricResult.skipped("FID", why), MetricResult.skipped("KID", why)]
    assert checkpoint is not None
    feats_r = inception_features(real, checkpoint, device=device)
    feats_g = inception_features(generated, checkpoint, device=device)
    kid, kid_std = kernel_inception_distance(feats_r, feats_g, seed=seed)
    note = f"{len(real)} real, {len(generated)} generated"
    return [MetricResult("FID", frechet_distance(feats_r, feats_g), reason=note),
            MetricResult("KID", kid, reason=note, details={"std": kid_std})]
