"""DAC audio tokenizer throughput: seconds of audio encoded (and decoded) per second, ours vs bare ``dac``.

Run from the repo root: ``uv run python bench/bench_audio_codec.py [--variants 16khz tiny] [--clips 16]``

Inputs are the real flite speech clips committed under ``pipelines/demo_data/audio_text/clips`` (16 kHz OGG),
decoded once. The weights are randomly initialised (official weights cannot be downloaded here; throughput
depends on the architecture, not the weights); ``16khz`` is the official 16 kHz architecture. Interleaved over
``--repeats`` rounds, for each variant:

* ours encode: ``AudioTokenizer.encode_batch(clips, 16000)`` (validation, grouping by frame count, padding,
  encoder + residual quantizer, codes to numpy);
* bare encode: ``dac.DAC.preprocess`` + ``DAC.encode`` clip by clip on ready tensors (the library's own path);
* ours resample: the same clips declared at 22,050 Hz, so each is resampled to 16 kHz first;
* ours decode / bare decode: ``AudioTokenizer.decode`` vs ``quantizer.from_codes`` + ``DAC.decode``.

Prints audio seconds per wall second (best round, median in brackets) and ours / bare.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch

from trimodal_tokenizers.audio_dac import AudioTokenizer, AudioTokenizerConfig

CLIPS = Path(__file__).resolve().parents[1] / "pipelines" / "demo_data" / "audio_text" / "clips"


def load_clips(count: int) -> list[np.ndarray]:
    paths = sorted(CLIPS.glob("*.ogg"))[:count]
    if not paths:
        raise SystemExit(f"no clips under {CLIPS}")
    clips = []
    for path in paths:
        wave, rate = sf.read(path, dtype="float32")
        if rate != 16000:
            raise SystemExit(f"{path}: expected 16 kHz demo clips, got {rate}")
        clips.append(wave)
    return clips


def bench_variant(variant: str, clips: list[np.ndarray], device: str, repeats: int) -> list[str]:
    tok = AudioTokenizer.from_random_init(AudioTokenizerConfig(variant=variant, num_codebooks=4, device=device))  # type: ignore[arg-type]
    seconds = sum(len(c) for c in clips) / 16000
    tensors = [torch.from_numpy(c).to(tok.device)[None, None] for c in clips]
    codes = tok.encode_batch(clips, 16000)

    def sync() -> None:
        if tok.device.type == "cuda":
            torch.cuda.synchronize()

    @torch.inference_mode()
    def bare_encode() -> None:
        for x in tensors:
            tok.model.encode(tok.model.preprocess(x, 16000), n_quantizers=4)
        sync()

    @torch.inference_mode()
    def bare_decode() -> None:
        for c in codes:
            z = tok.model.quantizer.from_codes(torch.from_numpy(c)[None].to(tok.device))[0]
            tok.model.decode(z).cpu()
        sync()

    paths = {
        "ours encode": lambda: tok.encode_batch(clips, 16000),
        "bare encode": bare_encode,
        "ours encode + resample 22.05k": lambda: tok.encode_batch(clips, 22050),
        "ours decode": lambda: tok.decode_batch(codes),
        "bare decode": bare_decode,
    }
    durations = {k: seconds * (16000 / 22050 if "resample" in k else 1.0) for k in paths}
    rates: dict[str, list[float]] = {k: [] for k in paths}
    bare_encode()  # warm-up
    names = list(paths)
    for round_index in range(repeats):
        shift = round_index % len(names)  # rotate the order so no path always runs first
        for name in names[shift:] + names[:shift]:
            start = time.perf_counter()
            paths[name]()
            rates[name].append(durations[name] / (time.perf_counter() - start))
    rows = []
    for name, values in rates.items():
        kind = "decode" if "decode" in name else "encode"
        ratio = max(values) / max(rates[f"bare {kind}"])
        text = f"{max(values):,.2f} ({statistics.median(values):,.2f})"
        rows.append(f"| {tok.device} | {variant} ({tok.hop_length}-sample hop) | {name} | {text} | {ratio:.2f}x |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--variants", nargs="+", default=["16khz", "tiny"])
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--devices", nargs="+", default=["cpu", *(["cuda"] if torch.cuda.is_available() else [])])
    args = parser.parse_args()
    clips = load_clips(args.clips)
    total = sum(len(c) for c in clips) / 16000
    print(f"machine: {platform.node()} {os.cpu_count()} cpus, torch threads {torch.get_num_threads()}; "
          f"{len(clips)} real speech clips, {total:.1f} s of audio, 4 codebooks kept")  # fmt: skip
    print("| device | variant | path | audio s per s, best (median) | ratio ours / bare dac |")
    print("|---|---|---|---|---|")
    for device in args.devices:
        for variant in args.variants:
            for row in bench_variant(variant, clips, device, args.repeats):
                print(row, flush=True)


if __name__ == "__main__":
    main()
