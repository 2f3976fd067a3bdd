"""Build and run the image-text and audio-text pipelines on any Beam runner.

:func:`build_media_pipeline` wires read -> filter/dedupe (:mod:`.image_text` / :mod:`.audio_text`) ->
tokenize -> ``WriteCorpus`` into a pipeline; :func:`run_media_pipeline` checks the inputs (their filesystems,
that each matches something; listing them into read units is the pipeline's first step, on the workers), the
tokenizer bundle and CLIP checkpoint before any worker starts, prepares the output folder, runs on the runner
named by the Beam options and returns the summary stored in the manifest. Every input element is
accounted for: ``kept + rejected + duplicates_removed == read``.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import apache_beam as beam

from trimodal_core import package_versions
from trimodal_data.config_files import to_jsonable
from trimodal_data.extras import require_media_extra
from trimodal_data.pipelines.audio_text import PIPELINE_NAME as AUDIO_PIPELINE
from trimodal_data.pipelines.audio_text import AudioTextConfig, filter_and_dedupe_audio, tokenize_audio
from trimodal_data.pipelines.image_text import PIPELINE_NAME as IMAGE_PIPELINE
from trimodal_data.pipelines.image_text import ImageTextConfig, filter_and_dedupe_images, tokenize_images
from trimodal_data.pipelines.options import make_pipeline_options
from trimodal_data.pipelines.run import run_to_summary
from trimodal_data.readers.media_inputs import (
    MediaKind,
    MediaUnit,
    check_media_inputs,
    media_units,
    read_media_unit,
)
from trimodal_data.transforms.read import ReadInputs
from trimodal_data.transforms.write import WriteCorpus, prepare_output_dir

log = logging.getLogger(__name__)
MediaConfig = ImageTextConfig | AudioTextConfig


def _unit_key(unit: MediaUnit) -> str:
    return unit.key


def _unit_location(unit: MediaUnit) -> str:
    return unit.location


def _unit_name(unit: MediaUnit) -> str:
    return unit.name


def build_media_pipeline(
    pipeline: beam.Pipeline,
    *,
    kind: MediaKind,
    inputs: Sequence[str],
    config: MediaConfig,
    tokenizer_dir: str,
    corpus_dir: str,
    name: str,
    token_space: dict[str, Any],
    provenance: dict[str, Any],
    model_size: int,
    clip_checkpoint: str | None = None,
) -> beam.PCollection:
    """Add the whole pipeline to ``pipeline``; returns the one-element summary ``PCollection``.

    ``model_size`` is the image tokenizer's resolution (images) or the codec's sample rate (audio).
    """
    read = pipeline | "ReadMedia" >> ReadInputs(
        inputs,
        expand_fn=functools.partial(media_units, kind=kind, config=config.read),
        read_fn=functools.partial(read_media_unit, kind=kind, config=config.read),
        key_fn=_unit_key,
        location_fn=_unit_location,
        name_fn=_unit_name,
    )
    if kind == "image":
        assert isinstance(config, ImageTextConfig)
        items, rejects = filter_and_dedupe_images(
            read.elements, config=config, carry_side=model_size, clip_checkpoint=clip_checkpoint
        )
        records = items | "Tokenize" >> tokenize_images(tokenizer_dir, config)
    else:
        assert isinstance(config, AudioTextConfig)
        items, rejects = filter_and_dedupe_audio(read.elements, config=config, target_rate=model_size)
        records = items | "Tokenize" >> tokenize_audio(tokenizer_dir, config)
    all_rejects = (read.rejects, *rejects) | "AllRejects" >> beam.Flatten()
    outputs = {"examples": records, "rejects": all_rejects, "read": read.read, "names": read.names}
    return outputs | "Write" >> WriteCorpus(
        corpus_dir, name=name, token_space=token_space, provenance=provenance, config=config.write
    )


def run_media_pipeline(
    *,
    kind: MediaKind,
    inputs: Sequence[str],
    output: str | Path,
    tokenizer: str | Path,
    config: MediaConfig,
    beam_args: Sequence[str] = (),
    clip_checkpoint: str | Path | None = None,
    name: str | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Build the corpus in ``output``; return the summary (also in ``output/manifest.json``).

    Raises ``MissingExtraError`` (naming ``trimodal-data[image]`` or ``[audio]``) when the extra is not installed.
    """
    from trimodal_tokenizers.bundle import TokenizerBundle

    require_media_extra(kind)  # before reading anything: a base install says which extra to add

    check_media_inputs(inputs, kind)  # fail before any worker starts; the listing runs in the pipeline
    bundle = TokenizerBundle.load(tokenizer)  # fail early on a bad bundle, before any worker starts
    if kind == "image":
        if bundle.image is None:
            raise ValueError(f"--tokenizer {tokenizer}: the bundle has no image tokenizer")
        model_size = bundle.image.resolution
    else:
        if bundle.audio is None:
            raise ValueError(f"--tokenizer {tokenizer}: the bundle has no audio tokenizer")
        model_size = bundle.audio.sample_rate
    clip = None
    if kind == "image":
        if clip_checkpoint is None:
            log.info("no --clip-checkpoint: the CLIP image-text alignment filter is skipped "
                     "(embedding dedupe uses the thumbnail fallback)")
        else:
            from trimodal_data.clip_embedder import check_clip_checkpoint

            clip = str(check_clip_checkpoint(clip_checkpoint).resolve())
    options = make_pipeline_options(beam_args)
    out = prepare_output_dir(output, overwrite=overwrite)
    corpus_name = name or out.resolve().name
    pipeline_name = IMAGE_PIPELINE if kind == "image" else AUDIO_PIPELINE
    provenance = {
        "pipeline": pipeline_name,
        "config": to_jsonable(config),
        "inputs": None,  # the names of the inputs read, filled in by WriteCorpus
        "clip_checkpoint": Path(clip).name if clip else None,
        "tokenizer_fingerprint": bundle.tokenizer_fingerprint,
        "versions": package_versions(
            "trimodal-data", "trimodal-core", "trimodal-tokenizers", "apache-beam", "pillow", "soundfile",
            "imagehash", "faiss-cpu", "open-clip-torch", "torch",
        ),
    }
    log.info("%s pipeline: %d inputs -> %s", kind, len(inputs), out)
    pipeline = beam.Pipeline(options=options)
    build_media_pipeline(
        pipeline,
        kind=kind,
        inputs=inputs,
        config=config,
        tokenizer_dir=str(Path(tokenizer).resolve()),
        corpus_dir=str(out.resolve()),
        name=corpus_name,
        token_space=bundle.token_space.to_dict(),
        provenance=provenance,
        model_size=model_size,
        clip_checkpoint=clip,
    )
    return run_to_summary(pipeline, out, label=f"{kind}-text")
