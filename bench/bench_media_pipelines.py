"""Benchmark the image-text and audio-text pipelines on the demo corpora, on CPU.

For each modality, in one run:

* **baseline**: the raw decode rate (``PIL.Image.open(...).convert("RGB")`` / ``soundfile.read``) over the
  same bytes: the ceiling for any pipeline that has to look at every pixel/sample;
* **stages** (Beam-free, one process, same data): guarded decode, filters (rules), dedupe (hashes,
  thumbnail embeddings, phash banding + faiss / PCM hash + acoustic fingerprints with their LSH), tokenize (the
  bundle's image tokenizer or DAC codec plus BPE and the sequence layout), each timed, with its share;
* **end to end**: the Beam pipeline on the DirectRunner (in process), images/s or audio seconds/s.

Tokenizers are random-init (no pretrained weights offline): ``ImageTokenizerConfig.tiny()`` (32 px, 64
codes) and the DAC ``tiny`` variant by default; ``--image-preset default`` uses the 256 px / 16x16-code
architecture and ``--audio-variant 16khz`` the full 16 kHz DAC architecture. Run from the repo root::

    uv run python bench/bench_media_pipelines.py [--repeat 1] [--image-preset tiny] [--audio-variant tiny]
"""

from __future__ import annotations

import argparse
import glob
import io
import logging
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf
from PIL import Image

DEMO = Path(__file__).resolve().parents[1] / "pipelines" / "demo_data"


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def _bundle(out: Path, image_preset: str, audio_variant: str, texts: list[str]) -> Path:
    from trimodal_tokenizers.audio_dac import AudioTokenizer, AudioTokenizerConfig
    from trimodal_tokenizers.bundle import TokenizerBundle
    from trimodal_tokenizers.image_fsq import ImageTokenizer, ImageTokenizerConfig
    from trimodal_tokenizers.text_bpe import TextBPEConfig, TextTokenizer

    image_config = ImageTokenizerConfig.tiny() if image_preset == "tiny" else ImageTokenizerConfig()
    TokenizerBundle.build(
        text=TextTokenizer.train(texts, TextBPEConfig(vocab_size=1000)),
        image=ImageTokenizer.from_random_init(image_config, seed=0, device="cpu"),
        audio=AudioTokenizer.from_random_init(AudioTokenizerConfig(variant=audio_variant, device="cpu")),
    ).save(out)
    return out


def _print_stages(title: str, unit: str, amount: float, stages: dict[str, float], baseline: float) -> None:
    total = sum(stages.values())
    print(f"\n{title}: {amount:,.1f} {unit}")
    print(f"  baseline raw decode      {amount / baseline:10,.1f} {unit}/s")
    for name, seconds in stages.items():
        print(f"  {name:<24} {amount / seconds:10,.1f} {unit}/s   {100 * seconds / total:5.1f}% of stage time")
    print(f"  all stages (1 process)   {amount / total:10,.1f} {unit}/s   = {baseline / total:.3f} x raw decode")


def bench_images(bundle_dir: Path, work: Path) -> dict[str, float]:
    from trimodal_data.dedup import embedding, perceptual
    from trimodal_data.hashing import pixel_digest
    from trimodal_data.pipelines.image_text import ImageTextConfig
    from trimodal_data.pipelines.media import run_media_pipeline
    from trimodal_data.rules.image import ImageRulesConfig, image_reason
    from trimodal_data.rules.media_text import MediaTextRulesConfig, media_text_reason
    from trimodal_data.transforms.media_decode import shrink
    from trimodal_tokenizers.bundle import TokenizerBundle
    from trimodal_tokenizers.image_decode import decode_image

    pairs: list[tuple[bytes, str]] = []
    for tar in sorted((DEMO / "image_text").glob("*.tar")):
        with tarfile.open(tar) as handle:
            files = {m.name: handle.extractfile(m).read() for m in handle if m.isfile()}  # type: ignore[union-attr]
        pairs += [(files[k], files[k[:-4] + ".txt"].decode()) for k in sorted(files) if k.endswith(".jpg")]
    n = len(pairs)
    baseline, _ = _timed(lambda: [Image.open(io.BytesIO(b)).convert("RGB") for b, _ in pairs])
    t_decode, images = _timed(lambda: [decode_image(b) for b, _ in pairs])
    rules, text_rules = ImageRulesConfig(), MediaTextRulesConfig()
    media_text_reason("warm up langid's model once", text_rules)
    t_filter, _ = _timed(lambda: [(image_reason(im.width, im.height, rules), media_text_reason(c, text_rules))
                                  for im, (_, c) in zip(images, pairs, strict=True)])

    def dedupe() -> None:
        digests = [pixel_digest(im) for im in images]
        hashes = [perceptual.phash64(im) for im in images]
        vectors = np.stack([embedding.thumbnail_embedding(im) for im in images])
        perceptual.near_duplicate_pairs(hashes, perceptual.PerceptualDedupConfig())
        embedding.near_duplicate_pairs(vectors, embedding.EmbeddingDedupConfig())
        assert len(digests) == n

    t_dedupe, _ = _timed(dedupe)
    bundle = TokenizerBundle.load(bundle_dir)
    assert bundle.image is not None
    side = bundle.image.resolution

    def tokenize() -> None:
        for start in range(0, n, 64):
            chunk = [shrink(im, side) for im in images[start : start + 64]]
            codes = bundle.image.encode_batch(chunk)  # type: ignore[union-attr]
            ids = bundle.text.encode_batch([c for _, c in pairs[start : start + 64]])
            for caption_ids, image_codes in zip(ids, codes, strict=True):
                bundle.layout.image_text(caption_ids, image_codes)

    t_tokenize, _ = _timed(tokenize)
    stages = {"decode (guarded)": t_decode, "filter": t_filter, "dedupe": t_dedupe, "tokenize": t_tokenize}
    _print_stages("image-text", "images", n, stages, baseline)
    t_e2e, summary = _timed(lambda: run_media_pipeline(
        kind="image", inputs=[str(DEMO / "image_text")], output=work / "image_corpus", tokenizer=bundle_dir,
        config=ImageTextConfig(), overwrite=True))
    print(f"  Beam DirectRunner e2e    {n / t_e2e:10,.1f} images/s   ({t_e2e:.1f} s incl. pipeline start; "
          f"kept {summary['kept']}, rejected {summary['rejected']}, duplicates {summary['duplicates_removed']})")
    return {"n": n, "baseline": baseline, **stages, "e2e": t_e2e}


def bench_audio(bundle_dir: Path, work: Path) -> dict[str, float]:
    from trimodal_data.decode.audio import AudioDecodeConfig, decode_audio
    from trimodal_data.dedup import acoustic
    from trimodal_data.hashing import pcm_digest
    from trimodal_data.pipelines.audio_text import AudioTextConfig
    from trimodal_data.pipelines.media import run_media_pipeline
    from trimodal_data.rules.audio import AudioRulesConfig, audio_reason
    from trimodal_data.rules.media_text import MediaTextRulesConfig, media_text_reason
    from trimodal_tokenizers.bundle import TokenizerBundle

    paths = sorted(glob.glob(str(DEMO / "audio_text" / "clips" / "*.ogg")))
    clips = [(Path(p).read_bytes(), Path(p).with_suffix(".txt").read_text()) for p in paths]
    bundle = TokenizerBundle.load(bundle_dir)
    assert bundle.audio is not None
    codec_rate = bundle.audio.sample_rate
    baseline, raw = _timed(lambda: [sf.read(io.BytesIO(b), dtype="float32") for b, _ in clips])
    seconds = sum(len(x) / rate for x, rate in raw)
    decode_config = AudioDecodeConfig(target_rate=codec_rate)
    t_decode, audios = _timed(lambda: [decode_audio(b, decode_config) for b, _ in clips])
    rules, text_rules = AudioRulesConfig(), MediaTextRulesConfig()
    media_text_reason("warm up langid's model once", text_rules)
    t_filter, _ = _timed(lambda: [
        (audio_reason(a.samples, a.sample_rate, a.source_rate, rules), media_text_reason(t, text_rules))
        for a, (_, t) in zip(audios, clips, strict=True)])
    config = AudioTextConfig()

    def dedupe() -> None:
        """PCM hashes, acoustic fingerprints, LSH bands and the Hamming checks of the candidates."""
        digests = [pcm_digest(a) for a in audios]
        prints = [acoustic.fingerprint(a.samples, a.sample_rate, config.acoustic) for a in audios]
        buckets: dict[bytes, list[int]] = {}
        for i, fp in enumerate(prints):
            for key in acoustic.band_keys(fp, config.acoustic):
                buckets.setdefault(key, []).append(i)
        pairs = {(a, b) for members in buckets.values() for k, a in enumerate(members) for b in members[k + 1 :]
                 if acoustic.hamming(prints[a], prints[b]) <= config.acoustic.max_bits}
        assert len(digests) == len(prints) and pairs is not None

    t_dedupe, _ = _timed(dedupe)

    def tokenize() -> None:
        import torch

        torch.set_flush_denormal(True)
        codec = bundle.audio
        grid = round(config.pad_to_seconds * codec_rate)
        for start in range(0, len(audios), config.batch_size):
            chunk = audios[start : start + config.batch_size]
            codes = codec.encode_batch([np.pad(a.samples, (0, -len(a.samples) % grid)) for a in chunk], codec_rate)
            ids = bundle.text.encode_batch([t for _, t in clips[start : start + config.batch_size]])
            for text_ids, audio_codes, a in zip(ids, codes, chunk, strict=True):
                bundle.layout.audio_text(text_ids, audio_codes[:, : -(-len(a.samples) // codec.hop_length)])

    t_tokenize, _ = _timed(tokenize)
    stages = {"decode (guarded)": t_decode, "filter": t_filter, "dedupe": t_dedupe, "tokenize": t_tokenize}
    _print_stages("audio-text", "audio s", seconds, stages, baseline)
    t_e2e, summary = _timed(lambda: run_media_pipeline(
        kind="audio", inputs=[str(DEMO / "audio_text" / "transcripts.tsv")], output=work / "audio_corpus",
        tokenizer=bundle_dir, config=config, overwrite=True))
    print(f"  Beam DirectRunner e2e    {seconds / t_e2e:10,.1f} audio s/s  ({t_e2e:.1f} s incl. pipeline start; "
          f"kept {summary['kept']}, rejected {summary['rejected']}, duplicates {summary['duplicates_removed']})")
    return {"seconds": seconds, "baseline": baseline, **stages, "e2e": t_e2e}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--image-preset", choices=["tiny", "default"], default="tiny")
    parser.add_argument("--audio-variant", choices=["tiny", "16khz"], default="tiny")
    parser.add_argument("--only", choices=["image", "audio", "both"], default="both")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    import torch

    print(f"torch threads {torch.get_num_threads()}, CUDA {torch.cuda.is_available()} (benchmark runs on CPU)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        texts = [p.read_text() for p in sorted((DEMO / "audio_text" / "clips").glob("*.txt"))]
        bundle_dir = _bundle(work / "bundle", args.image_preset, args.audio_variant, texts)
        print(f"image tokenizer preset {args.image_preset}, DAC variant {args.audio_variant} (random init)")
        if args.only in ("image", "both"):
            bench_images(bundle_dir, work)
        if args.only in ("audio", "both"):
            bench_audio(bundle_dir, work)


if __name__ == "__main__":
    main()
