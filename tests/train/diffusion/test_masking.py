"""``corrupt``: spans, eligibility, mask rates, determinism across world sizes, condition dropout, anti-masking."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from trimodal_core import Modality
from trimodal_train.diffusion import (
    DiffusionConfig,
    ScheduleConfig,
    build_schedule,
    condition_span,
    corrupt,
    duplicate_rows,
    global_row_offset,
    modality_presence,
    span_modality,
)

L = 48


def test_span_modality_and_eligibility(space, rows) -> None:
    rng = np.random.default_rng(0)
    batch = rows.make_batch(space, [rows.text_row(space, [5, 4], rng), rows.pair_row(space, "t2i", (3, 6), rng)], L)
    span = span_modality(batch.tokens_BL, batch.modality_BL, space, ("eot",))
    eot, eoi = space.special_id("eot"), space.special_id("eoi")
    tok = batch.tokens_BL
    assert bool((span[tok == eot] == Modality.TEXT).all())
    assert bool((span[tok == eoi] == Modality.SPECIAL).all())
    for name in ("bot", "boi", "pad"):
        assert bool((span[tok == space.special_id(name)] == Modality.SPECIAL).all())
    assert bool((span[tok == space.task_id("text")] == Modality.SPECIAL).all())
    content = batch.modality_BL != Modality.SPECIAL
    assert torch.equal(span[content], batch.modality_BL[content])
    span2 = span_modality(batch.tokens_BL, batch.modality_BL, space, ("eot", "eoi"))
    assert bool((span2[tok == eoi] == Modality.IMAGE).all())
    c = corrupt(batch, config=DiffusionConfig(), token_space=space, seed=0, step=0)
    assert torch.equal(c.eligible_BL, (span != Modality.SPECIAL) & (tok != space.pad_id))
    assert int(c.eligible_BL[0].sum()) == 5 + 4 + 2 and int(c.eligible_BL[1].sum()) == 3 + 1 + 6


def test_condition_span_is_the_first_span_of_the_layout(space) -> None:
    """Same span as trimodal_tokenizers' TASK_SPANS[task][0], on rows formatted by its SequenceLayout."""
    sequence = pytest.importorskip("trimodal_tokenizers.sequence")
    layout = sequence.SequenceLayout(space)
    rng = np.random.default_rng(1)
    caption, image = rng.integers(0, 40, size=5), rng.integers(0, 24, size=7)
    audio = rng.integers(0, 8, size=(2, 4))
    examples = [
        layout.image_text(caption, image, task="t2i"),
        layout.image_text(caption, image, task="i2t"),
        layout.audio_text(caption, audio, task="t2s"),
        layout.audio_text(caption, audio, task="s2t"),
        layout.text(caption),
    ]
    tokens = np.full((len(examples), 32), space.pad_id, dtype=np.int64)
    for i, ex in enumerate(examples):
        tokens[i, : len(ex)] = ex.tokens
    tokens_BL = torch.from_numpy(tokens)
    span = span_modality(tokens_BL, torch.from_numpy(space.modality_of(tokens)), space, ("eot",))
    cond = condition_span(tokens_BL, span, space, ("t2i", "i2t", "t2s", "s2t"))
    for i, ex in enumerate(examples):
        if ex.task == "text":
            assert not bool(cond[i].any())
            continue
        first = sequence.TASK_SPANS[ex.task][0]
        expected = np.zeros(32, dtype=bool)
        expected[: len(ex)] = ex.modality == first
        if first == Modality.TEXT:
            expected[np.flatnonzero(tokens[i] == space.special_id("eot"))[0]] = True
        assert torch.equal(cond[i], torch.from_numpy(expected)), ex.task


def test_masks_inputs_weights_and_rates(space, rows) -> None:
    cfg = DiffusionConfig(
        schedules={"text": ScheduleConfig(name="linear"), "image": ScheduleConfig(name="cosine"),
                   "audio": ScheduleConfig(name="polynomial", k=3.0)},
        condition_dropout=0.0,
    )
    batch = rows.make_batch(space, rows.mixed_rows(space, 200, L), L)
    t_BM = torch.tensor([[0.3, 0.6, 0.8]], dtype=torch.float64).repeat(200, 1)
    c = corrupt(batch, config=cfg, token_space=space, seed=3, step=0, t_BM=t_BM)
    assert bool((c.masked_BL <= c.eligible_BL).all())
    assert torch.equal(c.inputs_BL == space.mask_id, c.masked_BL)
    assert torch.equal(c.inputs_BL[~c.masked_BL], batch.tokens_BL[~c.masked_BL])
    assert torch.equal(c.targets_BL, batch.tokens_BL)
    assert c.weight_BL.dtype == torch.float32 and bool((c.weight_BL[~c.masked_BL] == 0).all())
    for m, (sch_cfg, t) in enumerate(zip(cfg.schedules.values(), (0.3, 0.6, 0.8), strict=True)):
        sch = build_schedule(sch_cfg)
        in_m = c.span_modality_BL == m + 1
        w = float(sch.weight(torch.tensor(t, dtype=torch.float64)))
        assert torch.allclose(c.weight_BL[c.masked_BL & in_m], torch.tensor(w, dtype=torch.float32))
        n = int((c.eligible_BL & in_m).sum())
        p = float(sch.mask_prob(torch.tensor(t, dtype=torch.float64)))
        rate = int((c.masked_BL & in_m).sum()) / n
        assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / n), (m, rate, p)


def test_deterministic_and_seeded(space, rows) -> None:
    batch = rows.make_batch(space, rows.mixed_rows(space, 10, L), L)
    cfg = DiffusionConfig()
    a = corrupt(batch, config=cfg, token_space=space, seed=5, step=2)
    b = corrupt(batch, config=cfg, token_space=space, seed=5, step=2)
    for name in ("inputs_BL", "masked_BL", "eligible_BL", "weight_BL", "t_BM", "condition_dropped_B"):
        assert torch.equal(getattr(a, name), getattr(b, name)), name
    assert not torch.equal(a.masked_BL, corrupt(batch, config=cfg, token_space=space, seed=6, step=2).masked_BL)
    assert not torch.equal(a.masked_BL, corrupt(batch, config=cfg, token_space=space, seed=5, step=3).masked_BL)


@pytest.mark.parametrize(("anti_masking", "presence"), [(False, False), (True, False), (False, True)])
def test_two_ranks_two_micro_steps_equal_one_process(space, rows, anti_masking: bool, presence: bool) -> None:
    cfg = DiffusionConfig(anti_masking=anti_masking, condition_dropout=0.5)
    base = rows.make_batch(space, rows.mixed_rows(space, 8 if anti_masking else 16, L), L)
    batch = duplicate_rows(base) if anti_masking else base
    # Presence gathered in global row order is the presence of the whole step's rows.
    present = modality_presence(batch, config=cfg, token_space=space) if presence else None
    full = corrupt(batch, config=cfg, token_space=space, seed=11, step=4, num_global_rows=16, present_GM=present)
    world, accum = 2, 2
    parts = {}
    for rank in range(world):
        for micro in range(accum):
            off = global_row_offset(rank=rank, world_size=world, micro_step=micro, grad_accum=accum,
                                    global_batch_size=16)
            piece = type(batch)(**{f: getattr(batch, f)[off : off + 4] if f != "step" else 0
                                   for f in ("step", "tokens_BL", "modality_BL", "loss_mask_BL",
                                             "document_ids_BL", "component_B")})
            parts[off] = corrupt(piece, config=cfg, token_space=space, seed=11, step=4, row_offset=off,
                                 num_global_rows=16, present_GM=present)
    for name in ("inputs_BL", "masked_BL", "eligible_BL", "weight_BL", "t_BM", "condition_dropped_B"):
        joined = torch.cat([getattr(parts[k], name) for k in sorted(parts)])
        assert torch.equal(joined, getattr(full, name)), name


def test_condition_dropout_rate_and_effect(space, rows) -> None:
    rng = np.random.default_rng(2)
    tasks = ["t2i", "i2t", "t2s", "s2t"]
    pairs = [rows.pair_row(space, tasks[i % 4], (4, 6), rng) for i in range(2000)]
    text = [rows.text_row(space, [10], rng) for _ in range(50)]
    batch = rows.make_batch(space, pairs + text, 20)
    p = 0.3
    c = corrupt(batch, config=DiffusionConfig(condition_dropout=p), token_space=space, seed=0, step=0)
    dropped = c.condition_dropped_B
    assert not bool(dropped[2000:].any())
    rate = float(dropped[:2000].float().mean())
    assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / 2000), rate
    span = c.span_modality_BL
    cond = condition_span(batch.tokens_BL, span, space, tuple(tasks)) & (span != Modality.SPECIAL)
    hidden = cond & dropped[:, None]
    assert bool((c.inputs_BL[hidden] == space.mask_id).all())
    assert not bool((c.eligible_BL & hidden).any()) and not bool((c.masked_BL & hidden).any())
    kept = cond & ~dropped[:, None]
    assert bool(c.eligible_BL[kept].all())
    # The first span has 4 content tokens; a dropped text condition hides its eot too.
    first_is_text = torch.tensor([tasks[i % 4] in ("t2i", "t2s") for i in range(2000)] + [False] * 50)
    assert bool((hidden.sum(1)[dropped & first_is_text] == 5).all())
    assert bool((hidden.sum(1)[dropped & ~first_is_text] == 4).all())
    # Eval modes: conditions always visible and out of the loss, or always hidden.
    v = corrupt(batch, config=DiffusionConfig(), token_space=space, seed=0, step=0, condition="visible")
    assert not bool(v.condition_dropped_B.any()) and not bool((v.eligible_BL & cond).any())
    assert not bool((v.inputs_BL[cond] == space.mask_id).any())
    h = corrupt(batch, config=DiffusionConfig(), token_space=space, seed=0, step=0, condition="masked")
    assert bool(h.condition_dropped_B[:2000].all()) and bool((h.inputs_BL[cond] == space.mask_id).all())


@pytest.mark.parametrize("schedule", ["linear", "cosine"])
def test_anti_masking_partners_are_complementary(space, rows, schedule: str) -> None:
    cfg = DiffusionConfig(anti_masking=True, condition_dropout=0.5,
                          schedules={m: ScheduleConfig(name=schedule) for m in ("text", "image", "audio")})
    batch = duplicate_rows(rows.make_batch(space, rows.mixed_rows(space, 20, L), L))
    assert torch.equal(batch.tokens_BL[0::2], batch.tokens_BL[1::2]) and batch.tokens_BL.shape[0] == 40
    c = corrupt(batch, config=cfg, token_space=space, seed=0, step=0)
    lead, part = c.masked_BL[0::2], c.masked_BL[1::2]
    assert torch.equal(c.eligible_BL[0::2], c.eligible_BL[1::2])
    assert torch.equal(lead ^ part, c.eligible_BL[0::2]) and not bool((lead & part).any())
    assert torch.equal(c.condition_dropped_B[0::2], c.condition_dropped_B[1::2])
    sch = build_schedule(ScheduleConfig(name=schedule))
    t, t_c = c.t_BM[0::2], c.t_BM[1::2]
    torch.testing.assert_close(sch.mask_prob(t_c), sch.alpha(t))
    if schedule == "linear":
        torch.testing.assert_close(t_c, 1.0 - t)
    w_part = sch.complement_weight(t).float()
    idx = (c.span_modality_BL[1::2].long() - 1).clamp(min=0)
    expected = torch.where(part, w_part.gather(1, idx), 0.0)
    torch.testing.assert_close(c.weight_BL[1::2], expected)
    # Explicit times: only the leaders' count.
    t_BM = torch.rand(40, 3, dtype=torch.float64) * 0.9 + 0.05
    e = corrupt(batch, config=cfg, token_space=space, seed=0, step=0, t_BM=t_BM)
    torch.testing.assert_close(e.t_BM[0::2], t_BM[0::2])
    torch.testing.assert_close(sch.mask_prob(e.t_BM[1::2]), sch.alpha(t_BM[0::2]))
    assert torch.equal(e.masked_BL[0::2] ^ e.masked_BL[1::2], e.eligible_BL[0::2])


def test_anti_masking_input_errors(space, rows) -> None:
    cfg = DiffusionConfig(anti_masking=True)
    batch = rows.make_batch(space, rows.mixed_rows(space, 4, L), L)
    with pytest.raises(ValueError, match="duplicate_rows"):
        corrupt(batch, config=cfg, token_space=space, seed=0, step=0)
    dup = duplicate_rows(batch)
    with pytest.raises(ValueError, match="pairs of rows"):
        corrupt(dup, config=cfg, token_space=space, seed=0, step=0, row_offset=1, num_global_rows=16)
    with pytest.raises(ValueError, match="num_global_rows"):
        corrupt(batch, config=DiffusionConfig(), token_space=space, seed=0, step=0, row_offset=2, num_global_rows=4)
    with pytest.raises(ValueError, match="t_BM"):
        corrupt(batch, config=DiffusionConfig(), token_space=space, seed=0, step=0, t_BM=torch.ones(3, 3))


def test_duplicate_rows_repeats_every_field(space, rows) -> None:
    batch = rows.make_batch(space, rows.mixed_rows(space, 3, L), L, step=9)
    dup = duplicate_rows(batch)
    assert dup.step == 9
    for name in ("tokens_BL", "modality_BL", "loss_mask_BL", "document_ids_BL", "component_B"):
        value = getattr(dup, name)
        assert torch.equal(value[0::2], getattr(batch, name)) and torch.equal(value[1::2], getattr(batch, name))


def test_modality_presence(space, rows) -> None:
    rng = np.random.default_rng(4)
    batch = rows.make_batch(space, [rows.text_row(space, [5], rng), rows.pair_row(space, "t2i", (3, 4), rng),
                                    rows.pair_row(space, "s2t", (4, 3), rng)], 24)
    present = modality_presence(batch, config=DiffusionConfig(), token_space=space)
    assert present.tolist() == [[True, False, False], [True, True, False], [True, False, True]]
