"""Sample metrics of the studies: prompts from held-out rows, restricted generation, JS divergence, unigram."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from trimodal_core import Modality
from trimodal_eval.experiments.data import SPACE
from trimodal_eval.experiments.sample_metrics import (
    SampleMetricsConfig,
    generate_targets,
    js_divergence,
    prompt_row,
    sample_metrics,
    unigram_log_probs,
)
from trimodal_eval.likelihood import Example
from trimodal_tokenizers.sequence import SequenceLayout

MASKABLE = ("eot",)


def _examples() -> list[Example]:
    layout = SequenceLayout(SPACE)
    rng = np.random.default_rng(0)
    out = []
    for i in range(3):
        seq = layout.text(rng.integers(97, 103, 40))
        out.append(Example(f"t{i}", seq.task, seq.tokens, seq.modality))
        seq = layout.image_text(rng.integers(97, 103, 6), rng.integers(0, 16, (8, 8)))
        out.append(Example(f"i{i}", seq.task, seq.tokens, seq.modality))
        seq = layout.audio_text(rng.integers(97, 103, 6), rng.integers(0, 16, (2, 5)))
        out.append(Example(f"a{i}", seq.task, seq.tokens, seq.modality))
    return out


class FirstIdModel(torch.nn.Module):
    """Every position strongly prefers the first id of each text/image/audio-codebook range."""

    def forward(self, tokens_BL: torch.Tensor, *, document_ids_BL: torch.Tensor | None = None,
                span_modality_BL: torch.Tensor | None = None) -> torch.Tensor:
        logits = torch.zeros(*tokens_BL.shape, SPACE.vocab_size)
        for start in (SPACE.id_range(Modality.TEXT)[0] + 97, SPACE.id_range(Modality.IMAGE)[0],
                      SPACE.id_range(Modality.AUDIO, 0)[0], SPACE.id_range(Modality.AUDIO, 1)[0]):
            logits[..., start] = 40.0
        logits[..., SPACE.pad_id] = logits[..., SPACE.mask_id] = -math.inf
        return logits


def test_prompt_rows_mask_exactly_the_target_span() -> None:
    config = SampleMetricsConfig(text_prompt_tokens=8, text_new_tokens=5)
    text, image, audio = _examples()[:3]
    row, ref = prompt_row(text, "text", SPACE, config, maskable_specials=MASKABLE, seed=1)
    assert row.target.sum() == 5 and row.tokens[row.target].tolist() == [SPACE.mask_id] * 5
    assert row.tokens[~row.target].tolist() == text.tokens[: 2 + 8].tolist()  # [text] [bot] + 8 prompt tokens
    assert ref.tolist() == text.tokens[10:15].tolist()
    row, ref = prompt_row(image, "t2i", SPACE, config, maskable_specials=MASKABLE, seed=2)
    assert row.target.tolist() == (image.modality == Modality.IMAGE).tolist() and ref.size == 64
    assert np.all(row.tokens[row.target] == SPACE.mask_id) and not np.any(row.condition & row.target)
    assert row.condition.sum() == 6 + 1  # the caption and its maskable eot
    row, ref = prompt_row(audio, "t2s", SPACE, config, maskable_specials=MASKABLE, seed=3)
    assert row.target.sum() == 10 and sorted(set(row.vocab_class[row.target].tolist())) == [5, 6]  # one per codebook
    assert prompt_row(text, "t2i", SPACE, config, maskable_specials=MASKABLE, seed=0) is None


def test_generation_is_restricted_per_target_class() -> None:
    torch.set_num_threads(1)
    examples = _examples()
    config = SampleMetricsConfig(text_prompt_tokens=8, text_new_tokens=5)
    rows = [prompt_row(e, "t2s", SPACE, config, maskable_specials=MASKABLE, seed=i)[0]
            for i, e in enumerate(examples) if e.task == "t2s"]
    generated = generate_targets(FirstIdModel(), rows, modality="audio", space=SPACE, maskable_specials=MASKABLE,
                                 steps=4, seed=0, batch_size=2)
    refs = [e.tokens[e.modality == Modality.AUDIO] for e in examples if e.task == "t2s"]
    for got, ref in zip(generated, refs, strict=True):
        assert got.size == ref.size
        assert SPACE.audio_codebook_of(got).tolist() == SPACE.audio_codebook_of(ref).tolist()
        assert set(SPACE.to_local(Modality.AUDIO, got).tolist()) == {0}  # each codebook's first id


def test_js_divergence_and_unigram() -> None:
    a = np.array([3.0, 1.0, 0.0])
    assert js_divergence(a, 2 * a) == pytest.approx(0.0)
    assert js_divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == pytest.approx(math.log(2))
    with pytest.raises(ValueError, match="empty"):
        js_divergence(np.zeros(2), a[:2])
    log_q = unigram_log_probs(_examples(), SPACE, maskable_specials=MASKABLE)
    finite = np.isfinite(log_q)
    assert np.exp(log_q[finite]).sum() == pytest.approx(1.0)
    assert finite.sum() == 256 + 1  # the text ids and eot
    assert log_q[SPACE.text_offset + 97] > log_q[SPACE.text_offset + 200]  # seen beats unseen (add-one)


def test_sample_metrics_of_a_constant_model() -> None:
    torch.set_num_threads(1)
    examples = _examples()
    config = SampleMetricsConfig(num_prompts=2, text_prompt_tokens=8, text_new_tokens=6, image_steps=4, audio_steps=4)
    got = sample_metrics(FirstIdModel(), examples, examples, space=SPACE, maskable_specials=MASKABLE, config=config)
    text, image = got["text"], got["image"]
    log_q = unigram_log_probs(examples, SPACE, maskable_specials=MASKABLE)
    assert text["prompts"] == 2 and text["generated_mean_length"] == 6  # the favoured id is not eot
    assert text["generated_gen_ppl_unigram"] == pytest.approx(math.exp(-log_q[SPACE.text_offset + 97]))
    assert text["generated_entropy"] == 0.0 < text["heldout_entropy"]
    val = np.concatenate([e.tokens[e.modality == Modality.IMAGE] for e in examples if e.task == "t2i"])
    p_val = np.bincount(val - SPACE.id_range(Modality.IMAGE)[0], minlength=16) / val.size
    # every generated code is code 0: JS(delta_0, p) = (1/2)[ln(2/(1+p0)) + p0 ln(2p0/(1+p0)) + (1-p0) ln 2]
    p0 = p_val[0]
    expected = 0.5 * (math.log(2 / (1 + p0)) + (p0 * math.log(2 * p0 / (1 + p0)) if p0 else 0) + (1 - p0) * math.log(2))
    assert image["js_to_heldout"] == pytest.approx(expected)
    assert image["generated_entropy"] == 0.0 and 0 < image["heldout_js_floor"] < math.log(2)
