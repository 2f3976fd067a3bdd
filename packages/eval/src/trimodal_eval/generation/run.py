"""Batch generation from a JSONL prompts file: prompts -> sampler -> decoded files + a JSON sidecar each.

``trimodal-eval generate --model RUN --bundle BUNDLE --prompts prompts.jsonl [--out DIR]`` loads the model
(``trimodal_train.model_export.load_model``) and the tokenizer bundle (their token-space fingerprints must
match), groups the requests by task and sampler overrides, samples them in ragged batches of
``batch_size`` with the task's sampler (``defaults.py`` plus overrides) and writes, per request ``id``:

- ``<id>.json``: ``id``, ``task``, ``prompt``, ``output_text`` (text targets), ``files`` (``output``:
  ``<id>.png`` / ``<id>.wav``; ``condition``: a copy of an ``i2t``/``s2t`` input), ``nfe``, ``nfe_saved``,
  ``steps``, ``num_tokens``, ``ended`` (text reached ``eot``), ``settings`` (the sampler config, rule,
  row seed, lengths), ``model``, ``model_step``, ``token_space`` (fingerprint), ``seconds`` (the batch's
  wall time, shared by its rows);
- ``<id>.png`` (t2i) or ``<id>.wav`` (t2s).

A request's output depends only on (command seed, its row seed, its sampler): not on its batch or order.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from trimodal_core import derive_seed
from trimodal_core.atomic import atomic_write_bytes, atomic_write_text
from trimodal_eval.denoiser import Denoiser
from trimodal_eval.generation.decode import decode_sample
from trimodal_eval.generation.prompts import PromptBuilder
from trimodal_eval.generation.requests import GenerationRequest, read_requests
from trimodal_eval.sampling import DEFAULT_SAMPLERS, SamplerConfig, build_sampler, collate
from trimodal_tokenizers import TokenizerBundle

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, kw_only=True)
class GenerateConfig:
    """Generate text, images and speech for the prompts of a JSONL file."""

    model: Path
    """Run folder (or its ``model/`` folder) written by ``trimodal-train run``."""
    bundle: Path
    """Tokenizer bundle the model's token space was built from."""
    prompts: Path
    """JSONL prompts file (``trimodal_eval.generation.requests``)."""
    out: Path | None = None
    """Output folder (default ``<model>/samples``)."""
    batch_size: int = 8
    """Prompts sampled together (rows of different lengths are fine)."""
    max_new_tokens: int = 64
    """Default length of generated text (a request's ``max_new_tokens`` overrides it)."""
    seconds: float = 2.0
    """Default duration of generated speech."""
    seed: int = 0
    """Sampler seed; each request's row seed derives from it and the request id unless given."""
    device: str = "cpu"
    """``cpu``, ``cuda`` or ``cuda:N``."""
    text_sampler: SamplerConfig = DEFAULT_SAMPLERS["text"]
    """Sampler of text targets (text, infill, i2t, s2t)."""
    image_sampler: SamplerConfig = DEFAULT_SAMPLERS["image"]
    """Sampler of image targets (t2i)."""
    audio_sampler: SamplerConfig = DEFAULT_SAMPLERS["audio"]
    """Sampler of audio targets (t2s)."""

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"GenerateConfig.batch_size must be >= 1, got {self.batch_size}")


@dataclasses.dataclass(frozen=True)
class GenerationSummary:
    out_dir: Path
    sidecars: list[dict[str, Any]]
    """Every sidecar written, in request order."""


def sampler_config(config: GenerateConfig, request: GenerationRequest) -> SamplerConfig:
    base = {"text": config.text_sampler, "image": config.image_sampler, "audio": config.audio_sampler}
    chosen = base[request.target_modality].replace(seed=config.seed)
    try:
        return chosen.replace(**request.sampler) if request.sampler else chosen
    except TypeError as exc:
        raise ValueError(f"request {request.id!r}: bad sampler override ({exc})") from None


def generate(config: GenerateConfig, *, model: Denoiser | None = None, bundle: TokenizerBundle | None = None,
             maskable_specials: Sequence[str] | None = None, model_step: int | None = None,
             max_seq_len: int | None = None) -> GenerationSummary:
    """Run the command (a loaded ``model`` and ``bundle`` may be passed instead of paths, e.g. in tests)."""
    if model is None:
        from trimodal_train.model_export import load_model

        loaded = load_model(config.model, device=config.device)
        model, model_step, max_seq_len = loaded.model, loaded.step, loaded.config.max_seq_len
        maskable_specials = loaded.model.maskable_specials
        space = loaded.token_space
    else:
        space = getattr(model, "token_space", None)
    bundle = bundle or TokenizerBundle.load(config.bundle)
    if space is not None and space.fingerprint != bundle.token_space.fingerprint:
        raise ValueError(f"{config.bundle}: token space {bundle.token_space.fingerprint} differs from the model's "
                         f"{space.fingerprint}")
    specials = tuple(maskable_specials if maskable_specials is not None else getattr(model, "maskable_specials",
                                                                                      ("eot",)))
    requests = read_requests(config.prompts, max_new_tokens=config.max_new_tokens, seconds=config.seconds)
    builder = PromptBuilder(bundle, maskable_specials=specials, max_seq_len=max_seq_len)
    out_dir = Path(config.out) if config.out is not None else Path(config.model) / "samples"
    out_dir.mkdir(parents=True, exist_ok=True)
    groups: dict[tuple[str, str], list[GenerationRequest]] = {}
    for request in requests:
        groups.setdefault((request.task, json.dumps(request.sampler, sort_keys=True)), []).append(request)
    written: dict[str, dict[str, Any]] = {}
    device = torch.device(config.device)
    for members in groups.values():
        sampler_cfg = sampler_config(config, members[0])
        sampler = build_sampler(sampler_cfg, bundle.token_space, maskable_specials=specials)
        for start in range(0, len(members), config.batch_size):
            chunk = members[start: start + config.batch_size]
            seeds = [r.seed if r.seed is not None else derive_seed(config.seed, "generate", r.id) for r in chunk]
            rows = [builder.build(r, seed=s) for r, s in zip(chunk, seeds, strict=True)]
            began = time.perf_counter()
            result = sampler.sample(model, collate(rows, pad_id=bundle.token_space.pad_id, device=device))
            seconds = time.perf_counter() - began
            tokens, target = result.tokens_BL.cpu().numpy(), result.target_BL.cpu().numpy()
            for i, (request, seed) in enumerate(zip(chunk, seeds, strict=True)):
                sidecar = _write(out_dir, request, decode_sample(bundle, request, tokens[i], target[i]), {
                    "nfe": int(result.nfe_B[i]), "nfe_saved": int(result.nfe_saved_B[i]),
                    "steps": int(result.steps_B[i]), "seconds": round(seconds, 4),
                    "settings": {**result.settings, "row_seed": seed, "max_new_tokens": request.max_new_tokens,
                                 "min_new_tokens": request.min_new_tokens, "infill_tokens": request.infill_tokens,
                                 "seconds": request.seconds},
                    "model": str(config.model), "model_step": model_step,
                    "token_space": bundle.token_space.fingerprint,
                })
                written[request.id] = sidecar
            log.info("generated %d %s sample(s) in %.2fs (NFE %s)", len(chunk), chunk[0].task, seconds,
                     result.nfe_B.tolist())
    return GenerationSummary(out_dir=out_dir, sidecars=[written[r.id] for r in requests])


def _write(out_dir: Path, request: GenerationRequest, decoded: Any, info: dict[str, Any]) -> dict[str, Any]:
    files: dict[str, str] = {}
    if decoded.png is not None:
        files["output"] = f"{request.id}.png"
        atomic_write_bytes(out_dir / files["output"], decoded.png)
    if decoded.wav is not None:
        files["output"] = f"{request.id}.wav"
        atomic_write_bytes(out_dir / files["output"], decoded.wav)
    source = request.image if request.task == "i2t" else request.audio if request.task == "s2t" else None
    if source is not None:
        files["condition"] = f"{request.id}.condition{Path(source).suffix.lower()}"
        shutil.copyfile(source, out_dir / files["condition"])
    sidecar = {"id": request.id, "task": request.task, "prompt": request.prompt_text, "output_text": decoded.text,
               "full_text": decoded.full_text, "num_tokens": decoded.num_tokens, "ended": decoded.ended,
               "files": files, **info}
    atomic_write_text(out_dir / f"{request.id}.json", json.dumps(sidecar, indent=2, sort_keys=True) + "\n")
    return sidecar
