"""The ``trimodal-tokenizers`` subcommands: one frozen config per command (parsed by tyro) and its runner.

Examples::

    trimodal-tokenizers train-text --input pipelines/demo_data/text --vocab-size 4096 --out runs/tok/text
    trimodal-tokenizers train-image --images /usr/share/tuxpaint/stamps --preset tiny --steps 300 --out runs/tok/image
    trimodal-tokenizers build-bundle --text runs/tok/text --image runs/tok/image --audio-random-init tiny \\
        --out runs/tok/bundle
    trimodal-tokenizers build-bundle --text runs/tok/text --audio-codec2 3200 --out runs/tok/bundle_speech
    trimodal-tokenizers inspect runs/tok/bundle --text "A giraffe." --image giraffe.png --recon-out /tmp/recon
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import tyro

from trimodal_core.logs import setup_logging
from trimodal_tokenizers.bundle import TokenizerBundle
from trimodal_tokenizers.sequence import SequenceLayoutConfig
from trimodal_tokenizers.text_bpe import TextBPEConfig, TextTokenizer
from trimodal_tokenizers.text_inputs import expand_text_inputs, iter_texts

_log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainTextCommand:
    """Train a byte-level BPE text tokenizer on text files (.txt lines, .jsonl records; .gz allowed) or folders."""

    input: tuple[Path, ...]
    """Text files or folders (searched for *.txt, *.jsonl and their .gz)."""
    out: Path
    """Output directory (tokenizer.json + text_tokenizer.json)."""
    bpe: TextBPEConfig = dataclasses.field(default_factory=TextBPEConfig)
    """BPE training settings."""
    text_field: str = "text"
    """Field holding the text in .jsonl records."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class TrainImageCommand:
    """Train the FSQ image tokenizer on a folder of images (files and .tar shards); prints held-out PSNR."""

    images: Path
    """Folder of images (searched recursively; .tar shards are read too)."""
    out: Path
    """Output directory: the tokenizer, metrics.json and checkpoints/ (rerunning resumes)."""
    preset: Literal["tiny", "demo", "base"] = "tiny"
    """Architecture: tiny (32 px, 240 codes), demo (64 px, 1000 codes), base (256 px, 15,360 codes)."""
    quantizer: Literal["fsq", "vq"] = "fsq"
    """Bottleneck type."""
    steps: int = 300
    """Optimizer steps."""
    batch_size: int = 32
    """Images per step."""
    learning_rate: float = 2e-3
    """Peak learning rate."""
    num_heldout: int = 8
    """Images held out for the PSNR report."""
    max_images: int | None = None
    """Use at most this many images."""
    checkpoint_every: int = 100
    """Checkpoint interval in steps."""
    seed: int = 0
    """Root seed."""
    device: str = "auto"
    """auto, cpu or cuda[:i]."""
    num_threads: int | None = None
    """CPU threads for torch (None: default)."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class BuildBundleCommand:
    """Assemble a tokenizer bundle (token space + layout + tokenizers) into one directory."""

    text: Path
    """Text tokenizer directory (or any HF tokenizer.json)."""
    out: Path
    """Bundle directory to write."""
    image: Path | None = None
    """Image tokenizer directory (from train-image), if any."""
    audio: Path | None = None
    """Audio tokenizer directory (from an earlier bundle's audio/), if any."""
    codec_weights: Path | None = None
    """Official DAC weights (.pth, local path; never downloaded) to import as the audio tokenizer."""
    audio_random_init: Literal["tiny", "16khz", "24khz", "44khz"] | None = None
    """Use a randomly initialised DAC of this variant (tests without real codec weights; its codes mean nothing)."""
    audio_codec2: Literal[3200, 2400, 1600, 1400, 1300, 1200, 700] | None = None
    """Use the Codec 2 speech codec at this bit rate (no weights; intelligible speech offline)."""
    codec2_bits_per_code: int = 8
    """Bits per Codec 2 code (with --audio-codec2): 8 gives 8 codebooks of 256 codes at 3200 bit/s."""
    num_codebooks: int = 4
    """Residual audio codebooks kept (with --codec-weights or --audio-random-init)."""
    audio_shared_codebooks: bool = False
    """One shared id range for all audio codebooks instead of one per codebook."""
    audio_interleave: Literal["frame_major", "codebook_major"] = "frame_major"
    """Order of audio codes in sequences."""
    seed: int = 0
    """Seed of a random-init codec."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class InspectCommand:
    """Summarize a tokenizer bundle; optionally run a text, an image or an audio file through it."""

    bundle: Annotated[Path, tyro.conf.Positional]
    """Bundle directory."""
    text: str | None = None
    """Encode this text, show its formatted sequence and check the round trip."""
    image: Path | None = None
    """Encode this image file (with --text as caption, or a placeholder caption)."""
    audio: Path | None = None
    """Encode this audio file (any format soundfile reads; channels are averaged to mono)."""
    recon_out: Path | None = None
    """Write reconstructions (image.png, audio.wav) into this folder."""


def _summary(bundle: TokenizerBundle) -> dict[str, Any]:
    space = bundle.token_space
    info: dict[str, Any] = {
        "fingerprint": space.fingerprint,
        "tokenizer_fingerprint": bundle.tokenizer_fingerprint,
        "vocab_size": space.vocab_size,
        "parts": bundle.parts(),
        "ranges": {m: list(space.id_range(m)) for m in ("special", "text", "image", "audio")},
        "text_vocab_size": bundle.text.vocab_size,
        "layout": dataclasses.asdict(bundle.layout.config),
    }
    if bundle.image is not None:
        image = bundle.image
        info["image"] = {"kind": image.kind, "resolution": image.resolution, "tokens_per_image": image.tokens_per_image,
                         "codebook_size": image.codebook_size}  # fmt: skip
    if bundle.audio is not None:
        audio = bundle.audio
        info["audio"] = {"kind": audio.kind, "sample_rate": audio.sample_rate, "num_codebooks": audio.num_codebooks,
                         "codebook_size": audio.codebook_size, "frames_per_second": audio.frame_rate}  # fmt: skip
    return info


def run_train_text(argv: list[str]) -> int:
    cmd = tyro.cli(TrainTextCommand, args=argv, prog="trimodal-tokenizers train-text")
    setup_logging()
    files = expand_text_inputs(cmd.input)
    plain = all(not f.name.endswith((".gz", ".jsonl")) for f in files)
    tok = TextTokenizer.train(files if plain else iter_texts(files, text_field=cmd.text_field), cmd.bpe)
    tok.save(cmd.out)
    print(json.dumps({"out": str(cmd.out), "vocab_size": tok.vocab_size, "files": len(files)}))
    return 0


def run_train_image(argv: list[str]) -> int:
    from trimodal_tokenizers.image_fsq import ImageTokenizerConfig
    from trimodal_tokenizers.image_train import ImageTrainConfig, train_image_tokenizer

    cmd = tyro.cli(TrainImageCommand, args=argv, prog="trimodal-tokenizers train-image")
    setup_logging()
    fields = {f.name for f in dataclasses.fields(ImageTrainConfig)}
    config = ImageTrainConfig(
        tokenizer=dataclasses.replace(ImageTokenizerConfig.preset(cmd.preset), quantizer=cmd.quantizer),
        **{k: v for k, v in dataclasses.asdict(cmd).items() if k in fields},
    )
    result = train_image_tokenizer(cmd.images, config, cmd.out)
    print(json.dumps({"out": str(cmd.out), "heldout_psnr_db": round(result.heldout_psnr, 2),
                      "train_psnr_db": round(result.train_psnr, 2), "code_usage": round(result.code_usage, 3),
                      "images": result.num_train + result.num_heldout, "rejected": result.num_rejected,
                      "seconds": round(result.seconds, 1)}))  # fmt: skip
    return 0


def run_build_bundle(argv: list[str]) -> int:
    cmd = tyro.cli(BuildBundleCommand, args=argv, prog="trimodal-tokenizers build-bundle")
    setup_logging()
    if sum(x is not None for x in (cmd.audio, cmd.codec_weights, cmd.audio_random_init, cmd.audio_codec2)) > 1:
        raise ValueError("give at most one of --audio, --codec-weights, --audio-random-init and --audio-codec2")
    image = audio = None
    if cmd.image is not None:
        from trimodal_tokenizers.image_protocol import load_image_tokenizer

        image = load_image_tokenizer(cmd.image)
    if cmd.audio is not None:
        from trimodal_tokenizers.audio_protocol import load_audio_tokenizer

        audio = load_audio_tokenizer(cmd.audio)
    elif cmd.audio_codec2 is not None:
        from trimodal_tokenizers.audio_codec2 import Codec2Config, Codec2Tokenizer

        audio = Codec2Tokenizer(Codec2Config(mode=cmd.audio_codec2, bits_per_code=cmd.codec2_bits_per_code))
    elif cmd.codec_weights is not None or cmd.audio_random_init is not None:
        from trimodal_tokenizers.audio_dac import AudioTokenizer, AudioTokenizerConfig

        if cmd.codec_weights is not None:
            audio = AudioTokenizer.from_dac_weights(cmd.codec_weights, num_codebooks=cmd.num_codebooks)
        else:
            assert cmd.audio_random_init is not None
            config = AudioTokenizerConfig(variant=cmd.audio_random_init, num_codebooks=cmd.num_codebooks, seed=cmd.seed)
            audio = AudioTokenizer.from_random_init(config)
    bundle = TokenizerBundle.build(
        text=TextTokenizer.load(cmd.text),
        image=image,
        audio=audio,
        audio_shared_codebooks=cmd.audio_shared_codebooks,
        layout_config=SequenceLayoutConfig(audio_interleave=cmd.audio_interleave),
    )
    bundle.save(cmd.out)
    print(json.dumps({"out": str(cmd.out), **_summary(bundle)}))
    return 0


def run_inspect(argv: list[str]) -> int:
    cmd = tyro.cli(InspectCommand, args=argv, prog="trimodal-tokenizers inspect")
    bundle = TokenizerBundle.load(cmd.bundle)
    info = _summary(bundle)
    space, layout = bundle.token_space, bundle.layout
    caption = bundle.text.encode(cmd.text if cmd.text is not None else "(no caption)")
    if cmd.text is not None:
        seq = layout.text(caption)
        info["text_example"] = {"tokens": len(seq), "round_trip_ok": bundle.text.decode(caption) == cmd.text,
                                "sequence": " ".join(space.id_name(i) for i in seq.tokens[:40])}  # fmt: skip
    if cmd.image is not None:
        if bundle.image is None:
            raise ValueError(f"{cmd.bundle}: the bundle has no image tokenizer")
        codes = bundle.image.encode_batch([cmd.image])
        seq = layout.image_text(caption, codes[0])
        grid = codes[0].reshape(-1, math.isqrt(codes.shape[1]))
        info["image_example"] = {"code_grid": [" ".join(map(str, row)) for row in grid], "sequence_tokens": len(seq)}
        if cmd.recon_out is not None:
            cmd.recon_out.mkdir(parents=True, exist_ok=True)
            bundle.image.decode_batch(layout.parse(seq.tokens).image_codes[None])[0].save(cmd.recon_out / "image.png")
    if cmd.audio is not None:
        if bundle.audio is None:
            raise ValueError(f"{cmd.bundle}: the bundle has no audio tokenizer")
        import soundfile as sf

        wave, rate = sf.read(cmd.audio, dtype="float32", always_2d=True)
        codes = bundle.audio.encode(wave.mean(axis=1), rate)
        seq = layout.audio_text(caption, codes)
        info["audio_example"] = {"seconds": len(wave) / rate, "codes_shape": list(codes.shape),
                                 "sequence_tokens": len(seq)}  # fmt: skip
        if cmd.recon_out is not None:
            cmd.recon_out.mkdir(parents=True, exist_ok=True)
            recon = bundle.audio.decode(layout.parse(seq.tokens).audio_codes)
            sf.write(cmd.recon_out / "audio.wav", recon, bundle.audio.sample_rate)
    print(json.dumps(info, indent=2, default=lambda x: x.tolist() if isinstance(x, np.ndarray) else str(x)))
    return 0


def guarded(run: Any) -> Any:
    """Turn a user error (ValueError) into a one-line message and exit code 1 instead of a traceback."""

    def wrapper(argv: list[str]) -> int:
        try:
            return run(argv)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

    return wrapper
