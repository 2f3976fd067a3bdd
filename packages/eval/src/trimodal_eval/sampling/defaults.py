"""Per-modality sampler defaults: the one place they live.

The papers tuned their sampler per modality but did not publish the values (``shared/paper.md``); these are
our starting points [ours], chosen from the anchors' practice and meant to be re-tuned on trained models:

======== ============================================================================================
target    defaults and why
======== ============================================================================================
text      semi-AR blocks of 32, confidence order, one token per step, temperature 1, no guidance.
          Blocks keep a confident early ``eot`` from ending the text (the full-diffusion EOS pitfall,
          ``sampler.py``); LLaDA's setting. Temperature 1 with exact sampling keeps generative
          perplexity honest (report entropy beside it).
image     full diffusion, confidence order, cosine step schedule (MaskGIT), 32 steps, temperature 1,
          guidance w = 2 (constant). Images have no left-to-right order; cosine unmasks few tokens
          while the layout is decided and many at the end.
audio     full diffusion, confidence order, cosine step schedule, 64 steps, temperature 1, guidance
          w = 2; each audio position restricted to its own codebook (generation sets the class).
======== ============================================================================================

``default_sampler_config("image", steps=16)`` returns the default with overrides.
"""

from __future__ import annotations

from typing import Any

from trimodal_eval.sampling.config import SamplerConfig

DEFAULT_SAMPLERS: dict[str, SamplerConfig] = {
    "text": SamplerConfig(selection="confidence", block_length=32, steps=None, step_schedule="equal",
                          temperature=1.0, guidance_scale=0.0),
    "image": SamplerConfig(selection="confidence", block_length=None, steps=32, step_schedule="cosine",
                           temperature=1.0, guidance_scale=2.0),
    "audio": SamplerConfig(selection="confidence", block_length=None, steps=64, step_schedule="cosine",
                           temperature=1.0, guidance_scale=2.0),
}
"""Default sampler of each target modality (``text``, ``image``, ``audio``)."""


def default_sampler_config(modality: str, **overrides: Any) -> SamplerConfig:
    """The default sampler of a target modality, with ``overrides`` applied."""
    try:
        base = DEFAULT_SAMPLERS[modality]
    except KeyError:
        known = ", ".join(DEFAULT_SAMPLERS)
        raise ValueError(f"no default sampler for modality {modality!r}; known: {known}") from None
    return base.replace(**overrides) if overrides else base
