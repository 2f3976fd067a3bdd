"""DiffusionTransformer: shapes, document isolation, padding, logit restriction, tying, determinism, bf16."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from trimodal_core import Modality, TokenSpace
from trimodal_train.model import ModelConfig, build_model

B, L = 2, 32


def random_tokens(space: TokenSpace, seed: int = 0, shape: tuple[int, int] = (B, L)) -> torch.Tensor:
    start, stop = space.id_range(Modality.TEXT)
    return torch.randint(start, stop, shape, generator=torch.Generator().manual_seed(seed))


def build(config: ModelConfig, space: TokenSpace, seed: int = 0, **kwargs: object):
    torch.manual_seed(seed)
    return build_model(config, space, **kwargs).eval()  # type: ignore[arg-type]


def test_forward_shapes_and_dtype(space, tiny):
    model = build(tiny, space)
    logits = model(random_tokens(space))
    assert logits.shape == (B, L, space.vocab_size)
    assert logits.dtype == torch.float32
    assert model.allowed_mask_MV.shape == (4, space.vocab_size) and model.allowed_mask_MV.dtype == torch.bool


def test_changing_one_document_leaves_the_other_unchanged(space, tiny):
    model = build(tiny, space)
    tokens = random_tokens(space)
    docs = torch.zeros(B, L, dtype=torch.int32)
    docs[:, 12:] = 1  # document A = positions 0..11, document B = 12..31
    edited = tokens.clone()
    edited[:, :12] = random_tokens(space, seed=1)[:, :12]
    with torch.no_grad():
        before, after = model(tokens, document_ids_BL=docs), model(edited, document_ids_BL=docs)
        unmasked_before, unmasked_after = model(tokens), model(edited)
    torch.testing.assert_close(after[:, 12:], before[:, 12:], rtol=0, atol=1e-6)
    assert not torch.allclose(after[:, :12], before[:, :12], atol=1e-3)
    # Without document ids the same edit does reach document B (so the check above can fail).
    assert not torch.allclose(unmasked_after[:, 12:], unmasked_before[:, 12:], atol=1e-3)


def test_padding_is_never_attended_and_stays_finite(space, tiny):
    model = build(tiny, space)
    tokens = random_tokens(space)
    docs = torch.zeros(B, L, dtype=torch.int32)
    docs[0, 20:] = -1
    docs[1, :] = -1  # a row of padding only: every query row would be empty without the pad-to-pad rule
    tokens[docs < 0] = space.pad_id
    edited = tokens.clone()
    edited[0, 20:] = random_tokens(space, seed=2)[0, 20:]  # garbage in the padding
    with torch.no_grad():
        logits = model(tokens, document_ids_BL=docs)
        logits_edited = model(edited, document_ids_BL=docs)
        unpadded = model(tokens[:1, :20], document_ids_BL=docs[:1, :20])
    torch.testing.assert_close(logits_edited[0, :20], logits[0, :20], rtol=0, atol=1e-6)
    torch.testing.assert_close(logits[0, :20], unpadded[0], rtol=1e-5, atol=1e-5)
    assert not torch.isnan(logits).any()
    assert torch.isfinite(logits).any(dim=-1).all()


def test_pad_and_mask_are_never_predicted(space, tiny):
    model = build(tiny, space)
    tokens = random_tokens(space)
    tokens[:, ::3] = space.mask_id
    spans = torch.randint(0, 4, (B, L), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    for kwargs in ({}, {"span_modality_BL": spans}):
        logits = model(tokens, **kwargs)
        assert torch.isneginf(logits[..., space.pad_id]).all()
        assert torch.isneginf(logits[..., space.mask_id]).all()
        others = torch.ones(space.vocab_size, dtype=torch.bool)
        others[[space.pad_id, space.mask_id]] = False
        assert torch.isfinite(logits[:, :, others]).any(dim=-1).all()


@pytest.mark.parametrize("restrict", [True, False])
def test_logits_restricted_to_the_span_modality(space, tiny, restrict):
    model = build(dataclasses.replace(tiny, restrict_logits=restrict), space)
    tokens = random_tokens(space, shape=(1, 4))
    spans = torch.tensor([[Modality.SPECIAL, Modality.TEXT, Modality.IMAGE, Modality.AUDIO]], dtype=torch.uint8)
    finite = torch.isfinite(model(tokens, span_modality_BL=spans))[0]
    everything_but_pad_mask = torch.ones(space.vocab_size, dtype=torch.bool)
    everything_but_pad_mask[[space.pad_id, space.mask_id]] = False
    text = torch.from_numpy(space.allowed_mask(Modality.TEXT))
    text[space.special_id("eot")] = True  # the default maskable special
    expected = [everything_but_pad_mask, text, torch.from_numpy(space.allowed_mask(Modality.IMAGE)),
                torch.from_numpy(space.allowed_mask(Modality.AUDIO))]
    for position, allowed in enumerate(expected):
        assert torch.equal(model.allowed_mask_MV[position], allowed)
        assert torch.equal(finite[position], allowed if restrict else everything_but_pad_mask)


def test_maskable_specials_extend_the_text_row(space, tiny):
    model = build(tiny, space, maskable_specials=("eot", "eos"))
    row = model.allowed_mask_MV[Modality.TEXT]
    assert row[space.special_id("eot")] and row[space.special_id("eos")] and not row[space.special_id("bot")]
    assert not build(tiny, space, maskable_specials=()).allowed_mask_MV[Modality.TEXT, space.special_id("eot")]
    with pytest.raises(ValueError, match="maskable_specials"):
        build(tiny, space, maskable_specials=("nope",))
    with pytest.raises(ValueError, match="maskable_specials"):
        build(tiny, space, maskable_specials=("mask",))


@pytest.mark.parametrize("tie", [True, False])
def test_weight_tying(space, tiny, tie):
    model = build(dataclasses.replace(tiny, tie_embeddings=tie), space)
    names = {name for name, _ in model.named_parameters()}
    assert ("output.weight" in names) is not tie
    tokens = random_tokens(space)
    unused = space.id_range(Modality.IMAGE)[0]  # never an input token here
    model(tokens).logsumexp(-1).sum().backward()
    grad_of_unused_row = model.embedding.weight.grad[unused].abs().sum()
    # Tied: the readout sends gradient into every embedding row; untied: only input rows get any.
    assert bool(grad_of_unused_row > 0) is tie


def test_deterministic_under_a_seed(space, tiny):
    tokens = random_tokens(space)
    a, b, c = build(tiny, space, seed=3), build(tiny, space, seed=3), build(tiny, space, seed=4)
    for (name, pa), (_, pb) in zip(a.state_dict().items(), b.state_dict().items(), strict=True):
        assert torch.equal(pa, pb), name
    with torch.no_grad():
        assert torch.equal(a(tokens), b(tokens))
        assert not torch.equal(a(tokens), c(tokens))


def test_bf16_autocast_forward_on_cpu(space, tiny):
    model = build(tiny, space)
    tokens = random_tokens(space)
    docs = torch.zeros(B, L, dtype=torch.int32)
    docs[:, 16:] = 1
    docs[1, 28:] = -1
    with torch.no_grad():
        reference = model(tokens, document_ids_BL=docs)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(tokens, document_ids_BL=docs)
    assert logits.dtype == torch.float32
    finite = torch.isfinite(reference)
    assert torch.equal(torch.isfinite(logits), finite)
    torch.testing.assert_close(logits[finite], reference[finite], rtol=0.05, atol=0.05)


def test_bad_inputs_raise(space, tiny):
    model = build(tiny, space)
    with pytest.raises(ValueError, match="max_seq_len"):
        model(random_tokens(space, shape=(1, tiny.max_seq_len + 1)))
    with pytest.raises(ValueError, match="document_ids_BL"):
        model(random_tokens(space), document_ids_BL=torch.zeros(B, L - 1, dtype=torch.int32))


def test_meta_build_then_materialize(space, tiny):
    reference = build(tiny, space)
    model = build_model(tiny, space, device="meta")
    assert all(p.is_meta for p in model.parameters())
    model.to_empty(device="cpu")
    model.init_weights()
    model.load_state_dict(reference.state_dict())
    assert torch.equal(model.allowed_mask_MV, reference.allowed_mask_MV)
    assert torch.equal(model.rope_2LK, reference.rope_2LK)
    tokens = random_tokens(space)
    with torch.no_grad():
        assert torch.equal(model.eval()(tokens), reference(tokens))


def test_flex_cannot_train_on_cpu(space, tiny):
    model = build(dataclasses.replace(tiny, attention="flex"), space).train()
    with pytest.raises(ValueError, match="flex"):
        model(random_tokens(space), document_ids_BL=torch.zeros(B, L, dtype=torch.int32))


@pytest.mark.slow  # compiles flex attention (~30 s on 2 cores)
def test_flex_matches_sdpa_forward(space, tiny):
    sdpa = build(tiny, space)
    flex = build(dataclasses.replace(tiny, attention="flex"), space)
    flex.load_state_dict(sdpa.state_dict())
    tokens = random_tokens(space)
    docs = torch.zeros(B, L, dtype=torch.int32)
    docs[:, 10:] = 1
    docs[:, 25:] = -1
    with torch.no_grad():
        torch.testing.assert_close(flex(tokens, document_ids_BL=docs), sdpa(tokens, document_ids_BL=docs))
