"""The text corpus pipeline: read -> normalize + filter -> exact dedupe -> MinHash dedupe -> tokenize -> write.

:func:`build_text_pipeline` wires the reusable transforms into a Beam pipeline; :func:`run_text_pipeline` checks
the inputs (listing them is the pipeline's first step, on the workers), prepares the output folder, runs the
pipeline on the runner named by the Beam options, and returns the summary stored in the manifest. Every document
read is accounted for in the summary: ``kept + rejected + duplicates_removed == read``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import operator
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import apache_beam as beam

from trimodal_core import package_versions
from trimodal_data.config_files import to_jsonable
from trimodal_data.dedup.minhash import MinHashConfig
from trimodal_data.hashing import text_key
from trimodal_data.pipelines.options import make_pipeline_options
from trimodal_data.pipelines.run import run_to_summary
from trimodal_data.readers.files import InputFile, check_inputs, input_files
from trimodal_data.readers.text import SUPPORTED_SUFFIXES, TextReadConfig, read_text_file
from trimodal_data.records import Document
from trimodal_data.rules.text_filters import TextFiltersConfig
from trimodal_data.transforms.exact_dedup import ExactDedup
from trimodal_data.transforms.filter import FilterText
from trimodal_data.transforms.minhash_dedup import MinHashDedup
from trimodal_data.transforms.read import ReadInputs
from trimodal_data.transforms.tokenize import TokenizeConfig, tokenize_text
from trimodal_data.transforms.write import WriteConfig, WriteCorpus, prepare_output_dir

_log = logging.getLogger(__name__)
PIPELINE_NAME = "trimodal_data.text"


@dataclasses.dataclass(frozen=True, kw_only=True)
class TextPipelineConfig:
    """Every stage of the text pipeline (what ``--config FILE`` holds)."""

    read: TextReadConfig = dataclasses.field(default_factory=TextReadConfig)
    """Input parsing."""
    filters: TextFiltersConfig = dataclasses.field(default_factory=TextFiltersConfig)
    """Normalization, quality rules and language ID."""
    exact_dedup: bool = True
    """Remove exact duplicates (same normalized text), keeping the smallest id."""
    minhash: MinHashConfig = dataclasses.field(default_factory=MinHashConfig)
    """Near-duplicate removal."""
    tokenize: TokenizeConfig = dataclasses.field(default_factory=TokenizeConfig)
    """Tokenization batching."""
    write: WriteConfig = dataclasses.field(default_factory=WriteConfig)
    """Shards and rejects."""


def _doc_key(doc: Document) -> bytes:
    return text_key(doc.text)


def _file_name(file: InputFile) -> str:
    return file.name


def _file_path(file: InputFile) -> str:
    return file.path


def build_text_pipeline(
    pipeline: beam.Pipeline,
    *,
    inputs: Sequence[str],
    config: TextPipelineConfig,
    tokenizer_dir: str,
    corpus_dir: str,
    name: str,
    token_space: dict[str, Any],
    provenance: dict[str, Any],
) -> beam.PCollection:
    """Add the whole text pipeline to ``pipeline``; returns the one-element summary ``PCollection``."""
    read = pipeline | "ReadText" >> ReadInputs(
        inputs,
        expand_fn=functools.partial(input_files, suffixes=SUPPORTED_SUFFIXES),
        read_fn=functools.partial(read_text_file, config=config.read),
        key_fn=_file_name,
        location_fn=_file_path,
        name_fn=_file_name,
    )
    filtered = read.elements | "FilterText" >> FilterText(config.filters)
    docs = filtered.kept
    rejects = [read.rejects, filtered.rejects]
    id_fn, source_fn = operator.attrgetter("id"), operator.attrgetter("source")
    if config.exact_dedup:
        exact = docs | "ExactDedup" >> ExactDedup(key_fn=_doc_key, id_fn=id_fn, source_fn=source_fn)
        docs = exact.kept
        rejects.append(exact.rejects)
    if config.minhash.enabled:
        near = docs | "NearDedup" >> MinHashDedup(
            config.minhash, text_fn=operator.attrgetter("text"), id_fn=id_fn, source_fn=source_fn
        )
        docs = near.kept
        rejects.append(near.rejects)
    records = docs | "Tokenize" >> tokenize_text(tokenizer_dir, config.tokenize)
    all_rejects = tuple(rejects) | "AllRejects" >> beam.Flatten()
    outputs = {"examples": records, "rejects": all_rejects, "read": read.read, "names": read.names}
    return outputs | "Write" >> WriteCorpus(
        corpus_dir, name=name, token_space=token_space, provenance=provenance, config=config.write
    )


def run_text_pipeline(
    *,
    inputs: Sequence[str],
    output: str | Path,
    tokenizer: str | Path,
    config: TextPipelineConfig = TextPipelineConfig(),
    beam_args: Sequence[str] = (),
    name: str | None = None,
    overwrite: bool = False,
) -> dict[str, Any]:
    """Build the corpus in ``output``; return the summary (also in ``output/manifest.json``)."""
    from trimodal_tokenizers.bundle import TokenizerBundle

    check_inputs(inputs, SUPPORTED_SUFFIXES)  # fail before any worker starts; the listing runs in the pipeline
    bundle = TokenizerBundle.load(tokenizer)  # fail early on a bad bundle, before any worker starts
    options = make_pipeline_options(beam_args)
    out = prepare_output_dir(output, overwrite=overwrite)
    corpus_name = name or out.resolve().name
    provenance = {
        "pipeline": PIPELINE_NAME,
        "config": to_jsonable(config),
        "inputs": None,  # the names of the files read, filled in by WriteCorpus
        "tokenizer_fingerprint": bundle.tokenizer_fingerprint,
        "versions": package_versions(
            "trimodal-data", "trimodal-core", "trimodal-tokenizers", "apache-beam", "tokenizers", "langid"
        ),
    }
    _log.info("text pipeline: %d inputs -> %s", len(inputs), out)
    pipeline = beam.Pipeline(options=options)
    build_text_pipeline(
        pipeline,
        inputs=inputs,
        config=config,
        tokenizer_dir=str(Path(tokenizer).resolve()),
        corpus_dir=str(out.resolve()),
        name=corpus_name,
        token_space=bundle.token_space.to_dict(),
        provenance=provenance,
    )
    return run_to_summary(pipeline, out, label="text")
