"""Train the FSQ/VQ image tokenizer on a folder of images; report reconstruction PSNR on held-out images.

Images come from a folder (searched recursively; image files and the image members of ``.tar`` shards such
as ``pipelines/demo_data/image_text/pairs-*.tar``), or a list of paths / PIL images. They are preprocessed
once to ``uint8`` tensors held in memory (fine for demo and pilot sets; a streaming loader is the next step
for millions of images). Unreadable images are skipped and counted. A seeded split holds out
``num_heldout`` images; training minimizes pixel MSE (+ the VQ loss) with AdamW and a warmup + cosine
schedule, with random horizontal flips. Checkpoints (model, optimizer, step, batch-sampler RNG) are
safetensors files under ``out_dir/checkpoints``; a rerun with the same ``out_dir`` resumes from the newest one
and gives the same weights, bit for bit, as an uninterrupted run. ``out_dir`` ends up as a loadable
tokenizer directory plus ``metrics.json``.

Run: ``trimodal-tokenizers train-image --images /usr/share/tuxpaint/stamps --out runs/tok/image --steps 300``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import tarfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from trimodal_core.atomic import atomic_write_text
from trimodal_core.extras import missing_extra
from trimodal_core.progress import progress
from trimodal_core.seeding import derive_seed, numpy_rng

try:
    import torch
    import torch.nn.functional as F
    from safetensors.torch import load_file, save_file
except ImportError as exc:
    raise missing_extra(
        package="trimodal-tokenizers", extra="image", feature="image tokenizer training", cause=exc
    ) from exc

from trimodal_tokenizers.devices import resolve_device
from trimodal_tokenizers.image_decode import ANY_FORMAT, ImageDecodeConfig, decode_image, open_image, to_rgb
from trimodal_tokenizers.image_fsq import ImageAutoencoder, ImageTokenizer, ImageTokenizerConfig, config_to_dict
from trimodal_tokenizers.image_io import fit_square, uint8_to_unit

_log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif", ".tif", ".tiff")
MAX_TAR_MEMBER_BYTES = 64 * 2**20


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImageTrainConfig:
    """How to train the image tokenizer."""

    tokenizer: ImageTokenizerConfig = dataclasses.field(default_factory=ImageTokenizerConfig.tiny)
    """Architecture being trained."""
    steps: int = 300
    """Optimizer steps."""
    batch_size: int = 32
    """Images per step (sampled with replacement)."""
    learning_rate: float = 2e-3
    """Peak AdamW learning rate."""
    warmup_steps: int = 20
    """Linear warmup steps; cosine decay to ``min_lr_ratio * learning_rate`` after."""
    min_lr_ratio: float = 0.1
    """Final learning rate as a fraction of the peak."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    hflip: bool = True
    """Randomly mirror training images."""
    num_heldout: int = 8
    """Images kept out of training for the PSNR report."""
    max_images: int | None = None
    """Use at most this many images (the first ones in sorted order)."""
    checkpoint_every: int = 100
    """Write a checkpoint every this many steps (and at the end)."""
    keep_checkpoints: int = 2
    """Newest checkpoints kept on disk."""
    seed: int = 0
    """Root seed of initialization, split, batch sampling and flips."""
    device: str = "auto"
    """``auto`` (CUDA when available), ``cpu`` or ``cuda[:i]``."""
    num_threads: int | None = None
    """CPU threads for torch during training (None: torch's default); 1 is fastest on a busy shared machine."""

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "checkpoint_every", "keep_checkpoints", "num_heldout"):
            if getattr(self, name) < 1:
                raise ValueError(f"ImageTrainConfig.{name} must be positive, got {getattr(self, name)}")
        if self.num_threads is not None and self.num_threads < 1:
            raise ValueError(f"ImageTrainConfig.num_threads must be positive or None, got {self.num_threads}")
        if not self.learning_rate > 0:
            raise ValueError(f"ImageTrainConfig.learning_rate must be positive, got {self.learning_rate}")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ImageTrainResult:
    tokenizer: ImageTokenizer
    heldout_psnr: float
    """Mean PSNR (dB, 8-bit pixels) of encode -> decode on the held-out images."""
    train_psnr: float
    """The same on (up to 64) training images."""
    num_train: int
    num_heldout: int
    num_rejected: int
    code_usage: float
    """Fraction of the codebook used on the held-out + training images evaluated."""
    seconds: float


def collect_images(
    source: str | Path | list[Image.Image | str | Path], max_images: int | None = None
) -> list[tuple[str, object]]:
    """``(name, image-or-path-or-bytes)`` items from a folder (with ``.tar`` shards) or a list, sorted by name."""
    if isinstance(source, list):
        items: list[tuple[str, object]] = [(str(x) if not isinstance(x, Image.Image) else f"images[{i}]", x)
                                           for i, x in enumerate(source)]  # fmt: skip
        return items[:max_images]
    root = Path(source)
    if not root.is_dir():
        raise ValueError(f"image folder not found: {root}")
    items = []
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file():
            items.append((str(path), path))
        elif path.suffix == ".tar" and path.is_file():
            items += _tar_images(path)
        if max_images is not None and len(items) >= max_images:
            break
    if not items:
        raise ValueError(f"{root}: no images found ({', '.join(IMAGE_SUFFIXES)} files or .tar shards)")
    return items[:max_images]


def _tar_images(path: Path) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    with tarfile.open(path) as archive:
        for member in archive:
            # Only regular files are read (no links); the member name is used as a label, never as a path.
            if not member.isfile() or Path(member.name).suffix.lower() not in IMAGE_SUFFIXES:
                continue
            if member.size > MAX_TAR_MEMBER_BYTES:
                _log.warning("%s:%s: skipped, %d bytes is over the limit", path, member.name, member.size)
                continue
            handle = archive.extractfile(member)
            if handle is not None:
                out.append((f"{path}:{member.name}", handle.read()))
    return out


def preprocess_items(
    items: list[tuple[str, object]], config: ImageTokenizerConfig
) -> tuple[np.ndarray, list[str], int]:
    """``uint8 [N, 3, R, R]``, the names kept, and the number of rejected images (bad files are logged)."""
    pixels, names, rejected = [], [], 0
    decode = ImageDecodeConfig(max_pixels=config.max_pixels, formats=ANY_FORMAT, background=config.background)
    for name, item in progress(items, desc="preprocess images", total=len(items), unit="img"):
        try:
            if isinstance(item, bytes):
                rgb = decode_image(item, decode, name=name)
            elif isinstance(item, Image.Image):
                rgb = to_rgb(item, background=config.background, name=name)
            else:
                rgb = open_image(item, decode)  # type: ignore[arg-type]
            square = fit_square(rgb, config.resolution, fit=config.fit, background=config.background)
        except ValueError as exc:
            rejected += 1
            _log.warning("skipping image: %s", exc)
            continue
        pixels.append(np.asarray(square, dtype=np.uint8).transpose(2, 0, 1))
        names.append(name)
    if not pixels:
        return np.zeros((0, 3, config.resolution, config.resolution), np.uint8), names, rejected
    return np.stack(pixels), names, rejected


def psnr_uint8(reference: np.ndarray, reconstruction: np.ndarray) -> np.ndarray:
    """Per-image PSNR in dB of 8-bit images ``[N, ...]`` (identical images are capped at 100 dB)."""
    diff = reference.reshape(len(reference), -1).astype(np.float64) - reconstruction.reshape(len(reference), -1)
    mse = np.maximum((diff**2).mean(axis=1), 255.0**2 * 1e-10)
    return 10.0 * np.log10(255.0**2 / mse)


def reconstruct_uint8(tokenizer: ImageTokenizer, pixels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes and 8-bit reconstructions of preprocessed pixels (through the quantizer)."""
    codes = tokenizer.encode_uint8(pixels)
    recon = tokenizer.decode_to_unit(codes)
    return codes, ((recon + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).cpu().numpy()


def _lr_at(step: int, config: ImageTrainConfig) -> float:
    if step < config.warmup_steps:
        return config.learning_rate * (step + 1) / config.warmup_steps
    span = max(1, config.steps - config.warmup_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, (step - config.warmup_steps) / span)))
    return config.learning_rate * (config.min_lr_ratio + (1 - config.min_lr_ratio) * cosine)


def _save_checkpoint(
    path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, step: int, rng: torch.Generator
) -> None:
    tensors = {f"model/{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    opt_state = opt.state_dict()
    for index, state in opt_state["state"].items():
        for key, value in state.items():
            tensors[f"opt/{index}/{key}"] = torch.as_tensor(value).detach().cpu().contiguous()
    tensors["rng"] = rng.get_state()
    meta = {"step": str(step), "param_groups": json.dumps(opt_state["param_groups"])}
    tmp = path.with_name(f".{path.name}.tmp")
    save_file(tensors, str(tmp), metadata=meta)
    tmp.replace(path)


def _load_checkpoint(path: Path, model: torch.nn.Module, opt: torch.optim.Optimizer, rng: torch.Generator) -> int:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as handle:
        meta = handle.metadata()
    tensors = load_file(str(path))
    model.load_state_dict({k[len("model/") :]: v for k, v in tensors.items() if k.startswith("model/")}, strict=True)
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, value in tensors.items():
        if key.startswith("opt/"):
            _, index, name = key.split("/", 2)
            state.setdefault(int(index), {})[name] = value
    opt.load_state_dict({"state": state, "param_groups": json.loads(meta["param_groups"])})
    rng.set_state(tensors["rng"])
    return int(meta["step"])


def train_image_tokenizer(
    images_dir_or_list: str | Path | list[Image.Image | str | Path], config: ImageTrainConfig, out_dir: str | Path
) -> ImageTrainResult:
    """Train, checkpoint, evaluate held-out PSNR and save a loadable tokenizer into ``out_dir``."""
    previous_threads = torch.get_num_threads()
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    try:
        return _train(images_dir_or_list, config, Path(out_dir))
    finally:
        torch.set_num_threads(previous_threads)


def _train(
    images_dir_or_list: str | Path | list[Image.Image | str | Path], config: ImageTrainConfig, out: Path
) -> ImageTrainResult:
    start_time = time.perf_counter()
    tok_cfg = config.tokenizer
    device = resolve_device(config.device)
    pixels, names, rejected = preprocess_items(collect_images(images_dir_or_list, config.max_images), tok_cfg)
    ckpt_dir = out / "checkpoints"
    ckpt_dir.mkdir(parents=True, exist_ok=True)
    if len(pixels) < 2:
        raise ValueError(f"need at least 2 readable images (1 to train, 1 held out), got {len(pixels)}")
    order = numpy_rng(config.seed, "image_train", "split").permutation(len(pixels))
    num_heldout = min(config.num_heldout, len(pixels) - 1)
    heldout, train = pixels[np.sort(order[:num_heldout])], pixels[np.sort(order[num_heldout:])]
    _log.info("image tokenizer: %d train, %d held-out, %d rejected images", len(train), num_heldout, rejected)

    torch.manual_seed(derive_seed(config.seed, "image_train", "init"))
    model = ImageAutoencoder(tok_cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
    rng = torch.Generator().manual_seed(derive_seed(config.seed, "image_train", "batches"))
    train_t = torch.from_numpy(train)
    start_step = 0
    checkpoints = sorted(ckpt_dir.glob("step-*.safetensors"))
    if checkpoints:
        start_step = _load_checkpoint(checkpoints[-1], model, opt, rng)
        _log.info("resumed from %s (step %d)", checkpoints[-1], start_step)
    model.train()
    steps = range(start_step, config.steps)
    for step in progress(steps, desc="train image tokenizer", total=len(steps), unit="step"):
        idx = torch.randint(len(train_t), (config.batch_size,), generator=rng)
        flip = torch.rand(config.batch_size, generator=rng) < 0.5
        x = uint8_to_unit(train_t[idx], device)
        if config.hflip:
            x = torch.where(flip.to(device)[:, None, None, None], x.flip(-1), x)
        for group in opt.param_groups:
            group["lr"] = _lr_at(step, config)
        recon, _, aux = model(x)
        loss = F.mse_loss(recon, x) + aux
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if (step + 1) % config.checkpoint_every == 0 or step + 1 == config.steps:
            _save_checkpoint(ckpt_dir / f"step-{step + 1:08d}.safetensors", model, opt, step + 1, rng)
            for old in sorted(ckpt_dir.glob("step-*.safetensors"))[: -config.keep_checkpoints]:
                old.unlink()
            _log.info("step %d loss %.5f", step + 1, loss.item())

    tokenizer = ImageTokenizer(model.eval(), tok_cfg, device=str(device))
    held_codes, held_recon = reconstruct_uint8(tokenizer, heldout)
    train_codes, train_recon = reconstruct_uint8(tokenizer, train[:64])
    used = np.unique(np.concatenate([held_codes.ravel(), train_codes.ravel()])).size
    result = ImageTrainResult(
        tokenizer=tokenizer,
        heldout_psnr=float(psnr_uint8(heldout, held_recon).mean()),
        train_psnr=float(psnr_uint8(train[:64], train_recon).mean()),
        num_train=len(train),
        num_heldout=num_heldout,
        num_rejected=rejected,
        code_usage=used / tokenizer.codebook_size,
        seconds=time.perf_counter() - start_time,
    )
    metrics = {f.name: getattr(result, f.name) for f in dataclasses.fields(result) if f.name != "tokenizer"}
    metrics.update(
        steps=config.steps,
        seed=config.seed,
        config=config_to_dict(tok_cfg),
        heldout_images=[names[i] for i in np.sort(order[:num_heldout])],
    )
    tokenizer.save(out, extra={"training": metrics})
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    _log.info("held-out PSNR %.2f dB, train PSNR %.2f dB", result.heldout_psnr, result.train_psnr)
    return result
