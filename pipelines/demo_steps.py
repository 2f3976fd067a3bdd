"""The demo's steps, each a call into a package's public API returning a small JSON-able result.

Tokenizer steps return ``fingerprint``: the content digest of the folder they wrote
(``trimodal_tokenizers.fingerprint.directory_digest``); the bundle step returns the bundle's
``tokenizer_fingerprint``. The ``*_changed`` factories are the step cache's staleness checks on those.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from trimodal_core import CorpusManifest

_log = logging.getLogger("trimodal.demo")


def _say(step: str, line: str) -> None:
    print(f"[{step}] {line}", flush=True)


def _part_digest(out: Path) -> str:
    from trimodal_tokenizers.fingerprint import directory_digest

    return directory_digest(out)


def part_changed(out: Path) -> Callable[[dict[str, Any]], str | None]:
    """Staleness check of a tokenizer step: its folder no longer hashes to the recorded fingerprint."""

    def check(result: dict[str, Any]) -> str | None:
        recorded = result.get("fingerprint")
        if not (isinstance(recorded, str) and len(recorded) == 64):
            return "recorded before tokenizer content fingerprints"
        if not out.is_dir() or _part_digest(out) != recorded:
            return f"{out} differs from the tokenizer this step wrote"
        return None

    return check


def bundle_changed(out: Path) -> Callable[[dict[str, Any]], str | None]:
    """Staleness check of the bundle step: its files no longer hash to the recorded tokenizer fingerprint."""

    def check(result: dict[str, Any]) -> str | None:
        from trimodal_tokenizers.fingerprint import bundle_fingerprint

        try:
            actual = bundle_fingerprint(out)
        except ValueError as exc:
            return str(exc)
        recorded = result.get("tokenizer_fingerprint")
        if actual != recorded:
            return f"{out} hashes to tokenizer fingerprint {actual}, the step recorded {recorded}"
        return None

    return check


def corpus_tokenizer_changed(manifest: Path, tokenizer_fingerprint: str) -> Callable[[dict[str, Any]], str | None]:
    """Staleness check of a corpus step: its manifest records another tokenizer than the current bundle's."""

    def check(result: dict[str, Any]) -> str | None:
        try:
            recorded = CorpusManifest.load(manifest).tokenizer_fingerprint
        except ValueError as exc:
            return str(exc)
        if recorded != tokenizer_fingerprint:
            return (f"tokenizer changed: {manifest} records tokenizer fingerprint {recorded}, the bundle is "
                    f"{tokenizer_fingerprint}")
        return None

    return check


def train_text(files: list[Path], out: Path, *, vocab_size: int) -> dict[str, Any]:
    from trimodal_core import progress
    from trimodal_tokenizers.text_bpe import TextBPEConfig, TextTokenizer
    from trimodal_tokenizers.text_inputs import iter_texts

    texts = list(progress(iter_texts(files), desc="reading demo text", unit="doc"))
    tokenizer = TextTokenizer.train(texts, TextBPEConfig(vocab_size=vocab_size, show_progress=True))
    tokenizer.save(out)
    sample = texts[0][:2000]
    ids = tokenizer.encode(sample)
    if tokenizer.decode(ids) != sample:
        raise ValueError("text tokenizer round trip failed on the demo text")
    chars_per_token = len(sample) / max(1, len(ids))
    _say("text_tokenizer", f"BPE with {tokenizer.vocab_size} tokens from {len(texts)} documents "
                           f"({chars_per_token:.2f} chars/token) -> {out}")
    return {"vocab_size": tokenizer.vocab_size, "documents": len(texts), "chars_per_token": round(chars_per_token, 3),
            "fingerprint": _part_digest(out)}


def train_image(tars: list[Path], out: Path, *, steps: int, seed: int) -> dict[str, Any]:
    from trimodal_tokenizers.image_fsq import ImageTokenizerConfig
    from trimodal_tokenizers.image_train import ImageTrainConfig, train_image_tokenizer

    config = ImageTrainConfig(tokenizer=ImageTokenizerConfig.tiny(), steps=steps, seed=seed, device="cpu",
                              checkpoint_every=max(steps, 1))
    folders = {tar.parent for tar in tars}
    if len(folders) != 1:
        raise ValueError(f"image tars must share one folder, got {sorted(map(str, folders))}")
    result = train_image_tokenizer(folders.pop(), config, out)
    _say("image_tokenizer", f"{result.tokenizer.codebook_size} codes, {result.tokenizer.tokens_per_image} tokens/image,"
                            f" {steps} steps on {result.num_train} images; held-out PSNR {result.heldout_psnr:.2f} dB "
                            f"(train {result.train_psnr:.2f} dB), code usage {result.code_usage:.0%} -> {out}")
    return {"codebook_size": result.tokenizer.codebook_size, "tokens_per_image": result.tokenizer.tokens_per_image,
            "heldout_psnr_db": round(result.heldout_psnr, 3), "train_psnr_db": round(result.train_psnr, 3),
            "num_train": result.num_train, "num_heldout": result.num_heldout, "code_usage": round(result.code_usage, 4),
            "fingerprint": _part_digest(out)}


def make_codec(out: Path, *, kind: str, weights: Path | None, variant: str, num_codebooks: int, seed: int,
               codec2_mode: int = 1200) -> dict[str, Any]:
    """The audio tokenizer: Codec 2 (no weights; codes decode to intelligible speech offline) or DAC (official
    weights from ``weights``, else a seeded random init whose codes carry no trained meaning)."""
    if kind == "codec2":
        from trimodal_tokenizers.audio_codec2 import Codec2Config, build_codec2_tokenizer

        codec2 = build_codec2_tokenizer(Codec2Config(mode=codec2_mode))  # type: ignore[arg-type]
        codec2.save(out)
        origin = f"Codec 2 at {codec2_mode} bit/s (no weights needed)"
        _say("audio_codec", f"{origin}: {codec2.sample_rate} Hz, {codec2.num_codebooks} codebooks x "
                            f"{codec2.codebook_size}, {codec2.frame_rate:.1f} frames/s -> {out}")
        return {"kind": "codec2", "sample_rate": codec2.sample_rate, "num_codebooks": codec2.num_codebooks,
                "codebook_size": codec2.codebook_size, "random_init": False, "origin": origin,
                "fingerprint": _part_digest(out)}
    if kind != "dac":
        raise ValueError(f"audio codec kind must be codec2 or dac, got {kind!r}")
    from trimodal_tokenizers.audio_dac import AudioTokenizer, AudioTokenizerConfig

    if weights is not None:
        codec = AudioTokenizer.from_dac_weights(weights, num_codebooks=num_codebooks, device="cpu")
        origin = f"official weights from {weights}"
    else:
        codec = AudioTokenizer.from_random_init(
            AudioTokenizerConfig(variant=variant, num_codebooks=num_codebooks, device="cpu", seed=seed)  # type: ignore[arg-type]
        )
        origin = f"RANDOM INIT ({variant}, seed {seed}): no --codec-weights given, codes carry no trained meaning"
    codec.save(out)
    _say("audio_codec", f"DAC {codec.sample_rate} Hz, {codec.num_codebooks} codebooks x {codec.codebook_size}, "
                        f"{codec.frame_rate:.1f} frames/s; {origin} -> {out}")
    return {"kind": "dac", "sample_rate": codec.sample_rate, "num_codebooks": codec.num_codebooks,
            "codebook_size": codec.codebook_size, "random_init": weights is None, "origin": origin,
            "fingerprint": _part_digest(out)}


def make_bundle(parts: Path, out: Path) -> dict[str, Any]:
    from trimodal_tokenizers.audio_protocol import load_audio_tokenizer
    from trimodal_tokenizers.bundle import TokenizerBundle
    from trimodal_tokenizers.image_protocol import load_image_tokenizer
    from trimodal_tokenizers.text_bpe import TextTokenizer

    bundle = TokenizerBundle.build(
        text=TextTokenizer.load(parts / "text"),
        image=load_image_tokenizer(parts / "image"),
        audio=load_audio_tokenizer(parts / "audio"),
    )
    bundle.save(out)
    space = bundle.token_space
    _say("bundle", f"token space {space.fingerprint}: {space.vocab_size:,} ids (text {space.config.text_vocab_size}, "
                   f"image {space.config.image_codebook_size}, audio {space.config.audio_num_codebooks} x "
                   f"{space.config.audio_codebook_size}) -> {out}")
    return {"fingerprint": space.fingerprint, "tokenizer_fingerprint": bundle.tokenizer_fingerprint,
            "vocab_size": space.vocab_size}


def _corpus_result(step: str, summary: dict[str, Any], out: Path) -> dict[str, Any]:
    manifest = CorpusManifest.load(out / "manifest.json")
    _say(step, f"read {summary['read']:,}, kept {summary['kept']:,}, rejected {summary['rejected']:,}, "
               f"duplicates {summary['duplicates_removed']:,}; {len(manifest.shards)} shards -> {out}")
    return {"summary": summary, "manifest": str(out / "manifest.json"), "shards": len(manifest.shards)}


def build_text(inputs: list[Path], out: Path, bundle: Path, *, num_buckets: int, beam_args: list[str]) -> dict:
    import dataclasses

    from trimodal_data.pipelines.text import TextPipelineConfig, run_text_pipeline

    base = TextPipelineConfig()
    config = dataclasses.replace(base, write=dataclasses.replace(base.write, num_buckets=num_buckets))
    summary = run_text_pipeline(inputs=[str(p) for p in inputs], output=out, tokenizer=bundle, config=config,
                                beam_args=beam_args, name="text", overwrite=True)
    return _corpus_result("corpus_text", summary, out)


def _build_media(kind: str, step: str, inputs: list[Path], out: Path, bundle: Path, *, num_buckets: int,
                 beam_args: list[str]) -> dict:
    import dataclasses

    from trimodal_data.pipelines.audio_text import AudioTextConfig
    from trimodal_data.pipelines.image_text import ImageTextConfig
    from trimodal_data.pipelines.media import run_media_pipeline

    base = ImageTextConfig() if kind == "image" else AudioTextConfig()
    config = dataclasses.replace(base, write=dataclasses.replace(base.write, num_buckets=num_buckets))
    summary = run_media_pipeline(kind=kind, inputs=[str(p) for p in inputs], output=out, tokenizer=bundle,  # type: ignore[arg-type]
                                 config=config, beam_args=beam_args, name=out.name, overwrite=True)
    return _corpus_result(step, summary, out)


def build_image_text(inputs: list[Path], out: Path, bundle: Path, *, num_buckets: int, beam_args: list[str]) -> dict:
    return _build_media("image", "corpus_image_text", inputs, out, bundle, num_buckets=num_buckets,
                        beam_args=beam_args)


def build_audio_text(inputs: list[Path], out: Path, bundle: Path, *, num_buckets: int, beam_args: list[str]) -> dict:
    return _build_media("audio", "corpus_audio_text", inputs, out, bundle, num_buckets=num_buckets,
                        beam_args=beam_args)


def write_mixture(out: Path, components: dict[str, tuple[Path, float]]) -> dict[str, Any]:
    from trimodal_data.mixing import MixConfig, build_mixture

    config = MixConfig(component=tuple(f"{name}={path}:{weight}" for name, (path, weight) in components.items()),
                       out=out, weight_unit="tokens", check_sha256=True)
    mixture = build_mixture(config)
    mixture.save(out)
    _say("mixture", "weights by tokens: " + ", ".join(f"{c.name} {c.weight:g}" for c in mixture.components)
         + f" -> {out}")
    return {"path": str(out), "components": {c.name: c.weight for c in mixture.components}}
