"""Image tokenizer throughput: ``ImageTokenizer.encode_batch`` / ``decode_batch`` vs the bare model, in one run.

Run from the repo root: ``uv run python bench/bench_image_tokenizer.py [--presets tiny demo] [--images 256]``
(add ``base``, 256 px, on a GPU machine: on 2 CPU cores it runs at about 1 image/s)

Inputs are real photo cut-outs (Tux Paint stamps from ``/usr/share/tuxpaint/stamps`` or the committed demo
shards under ``pipelines/demo_data/image_text``), decoded to PIL images once. Weights are randomly initialised
(throughput does not depend on them). Per preset, interleaved over ``--repeats`` rounds:

* ours encode: ``encode_batch(list of PIL images)`` -> codes, i.e. mode conversion, square fit, resize,
  tensor conversion, encoder and quantizer;
* baseline encode: the same model's encoder + quantizer on a ready float tensor (no preprocessing);
* ours decode: ``decode_batch(codes)`` -> PIL images; baseline decode: the model's decoder on code tensors.

Prints images/s (best round, median in brackets) and the ratio ours / baseline, on CPU (and CUDA if present).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from trimodal_tokenizers.image_decode import ANY_FORMAT, ImageDecodeConfig, decode_image, open_image
from trimodal_tokenizers.image_fsq import ImageTokenizer, ImageTokenizerConfig
from trimodal_tokenizers.image_io import uint8_to_unit
from trimodal_tokenizers.image_train import collect_images

STAMPS = Path("/usr/share/tuxpaint/stamps")
DEMO_IMAGES = Path(__file__).resolve().parents[1] / "pipelines" / "demo_data" / "image_text"


def load_inputs(count: int) -> list:
    source = STAMPS if STAMPS.is_dir() else DEMO_IMAGES
    items = collect_images(source, max_images=count)
    config = ImageDecodeConfig(formats=ANY_FORMAT)
    images = [decode_image(x, config, name=n) if isinstance(x, bytes) else open_image(x, config) for n, x in items]
    return (images * (count // len(images) + 1))[:count]


def best_and_median(values: list[float]) -> str:
    return f"{max(values):,.1f} ({statistics.median(values):,.1f})"


def bench_preset(device: str, preset: str, images: list, repeats: int) -> list[str]:
    """Table rows for one device and preset."""
    config = ImageTokenizerConfig.preset(preset)
    tok = ImageTokenizer.from_random_init(config, device=device)
    n = len(images)
    pixels = uint8_to_unit(tok.preprocess(images), tok.device)
    codes = tok.encode_batch(images)
    codes_t = torch.from_numpy(codes).to(tok.device).reshape(-1, tok.grid_size, tok.grid_size)

    def sync() -> None:
        if tok.device.type == "cuda":
            torch.cuda.synchronize()

    @torch.inference_mode()
    def bare_encode() -> None:
        for s in range(0, n, config.batch_size):
            tok.model.encode(pixels[s : s + config.batch_size])
        sync()

    @torch.inference_mode()
    def bare_decode() -> None:
        for s in range(0, n, config.batch_size):
            tok.model.decode_indices(codes_t[s : s + config.batch_size]).clamp(-1, 1).cpu()
        sync()

    paths = {"ours encode": lambda: tok.encode_batch(images), "bare encode": bare_encode,
             "ours decode": lambda: tok.decode_batch(codes), "bare decode": bare_decode}  # fmt: skip
    rates: dict[str, list[float]] = {k: [] for k in paths}
    bare_encode()  # warm-up
    names = list(paths)
    for round_index in range(repeats):
        shift = round_index % len(names)  # rotate the order so no path always runs first
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            paths[name]()
            rates[name].append(n / (time.perf_counter() - start))
    shape = f"{config.resolution} / {tok.tokens_per_image} / {tok.codebook_size}"
    rows = []
    for kind in ("encode", "decode"):
        ratio = max(rates[f"ours {kind}"]) / max(rates[f"bare {kind}"])
        rows.append(f"| {device} | {preset} | {shape} | ours {kind} | {best_and_median(rates[f'ours {kind}'])} "
                    f"| {ratio:.2f}x |")  # fmt: skip
        rows.append(f"| {device} | {preset} | {shape} | bare {kind} | {best_and_median(rates[f'bare {kind}'])} | 1 |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--presets", nargs="+", default=["tiny", "demo"])
    parser.add_argument("--images", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--devices", nargs="+", default=["cpu", *(["cuda"] if torch.cuda.is_available() else [])])
    args = parser.parse_args()
    images = load_inputs(args.images)
    print(f"machine: {platform.node()} {os.cpu_count()} cpus, torch threads {torch.get_num_threads()}; "
          f"{len(images)} real images (modes: {sorted({im.mode for im in images})})")  # fmt: skip
    print("| device | preset | px / tokens / codes | path | images/s best (median) | ratio ours / bare model |")
    print("|---|---|---|---|---|---|")
    for device in args.devices:
        for preset in args.presets:
            for row in bench_preset(device, preset, images, args.repeats):
                print(row, flush=True)


if __name__ == "__main__":
    main()
