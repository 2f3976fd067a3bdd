"""The loss: a hand-computed value, fp32 under bf16 autocast, the uniform model's NELBO = log|V|, the
normalization's gradient across ranks and micro-steps, reporting."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from trimodal_core import Modality, TokenSpace, TokenSpaceConfig
from trimodal_train.diffusion import (
    CorruptedBatch,
    DiffusionConfig,
    LossSums,
    ScheduleConfig,
    backprop_loss,
    build_schedule,
    corrupt,
    duplicate_rows,
    eligible_count,
    global_row_offset,
    loss_sums,
    modality_presence,
    nelbo_metrics,
    nelbo_per_token,
)

TXT, IMG, SPC = int(Modality.TEXT), int(Modality.IMAGE), int(Modality.SPECIAL)


def _lse(xs: list[float]) -> float:
    return math.log(sum(math.exp(x) for x in xs))


@pytest.mark.parametrize(
    ("schedule", "w_text", "w_image"),
    [
        ("linear", 4.0, 2.0),  # 1/t at t = 0.25 and 0.5
        ("cosine", math.pi / 2 * (1 + math.sqrt(2)), math.pi / 2),  # (pi/2)/tan(pi t/2): tan(pi/8) = sqrt2 - 1
    ],
)
def test_loss_equals_hand_computed_value(schedule: str, w_text: float, w_image: float) -> None:
    sch = build_schedule(ScheduleConfig(name=schedule))
    t_text, t_image = torch.tensor(0.25, dtype=torch.float64), torch.tensor(0.5, dtype=torch.float64)
    assert float(sch.weight(t_text)) == pytest.approx(w_text, rel=1e-12)
    assert float(sch.weight(t_image)) == pytest.approx(w_image, rel=1e-12)
    # One row, 5 positions, 3 classes: text masked, text visible, image masked, image masked, special.
    logits = [[2.0, 0.0, -1.0], [0.0, 0.0, 0.0], [0.0, 1.0, 3.0], [1.0, -2.0, 0.5], [9.0, 9.0, 9.0]]
    targets = [0, 1, 2, 1, 0]
    masked = [True, False, True, True, False]
    span = [TXT, TXT, IMG, IMG, SPC]
    weight = [w_text if span[i] == TXT else w_image if masked[i] else 0.0 for i in range(5)]
    weight = [w if masked[i] else 0.0 for i, w in enumerate(weight)]
    corrupted = CorruptedBatch(
        inputs_BL=torch.tensor([[1, 5, 1, 1, 7]]),
        targets_BL=torch.tensor([targets]),
        masked_BL=torch.tensor([masked]),
        eligible_BL=torch.tensor([[True, True, True, True, False]]),
        weight_BL=torch.tensor([weight], dtype=torch.float32),
        span_modality_BL=torch.tensor([span], dtype=torch.uint8),
        t_BM=torch.tensor([[0.25, 0.5, 0.5]], dtype=torch.float64),
        condition_dropped_B=torch.tensor([False]),
    )
    sums = loss_sums(torch.tensor([logits]), corrupted)
    ce0 = _lse([2.0, 0.0, -1.0]) - 2.0  # log(e^2 + 1 + e^-1) - 2
    ce2 = _lse([0.0, 1.0, 3.0]) - 3.0
    ce3 = _lse([1.0, -2.0, 0.5]) - (-2.0)
    expected_text, expected_image = w_text * ce0, w_image * (ce2 + ce3)
    torch.testing.assert_close(sums.nll_sum_M, torch.tensor([expected_text, expected_image, 0.0]), rtol=1e-6, atol=0)
    assert sums.eligible_M.tolist() == [2, 2, 0] and sums.masked_M.tolist() == [1, 2, 0]
    nelbo = nelbo_per_token(sums)
    assert nelbo[0].item() == pytest.approx(expected_text / 2, rel=1e-6)
    assert nelbo[1].item() == pytest.approx(expected_image / 2, rel=1e-6)
    assert math.isnan(nelbo[2].item())
    loss = backprop_loss(sums, global_eligible=4, world_size=1)
    assert loss.item() == pytest.approx((expected_text + expected_image) / 4, rel=1e-6)


def _batch(space, rows, num_rows: int, seq_len: int = 48):
    return rows.make_batch(space, rows.mixed_rows(space, num_rows, seq_len), seq_len)


def test_fp32_under_bf16_autocast_and_inf_logits_elsewhere(space, rows) -> None:
    batch = _batch(space, rows, 6)
    c = corrupt(batch, config=DiffusionConfig(), token_space=space, seed=0, step=0)
    torch.manual_seed(0)
    logits = torch.randn(6, 48, space.vocab_size).to(torch.bfloat16)
    logits[..., space.mask_id] = -torch.inf
    # Positions outside the loss restricted to one id (their target's logit is -inf): no effect on the loss.
    keep = logits[~c.masked_BL, space.bos_id].clone()
    logits[~c.masked_BL] = -torch.inf
    logits[~c.masked_BL, space.bos_id] = keep
    logits[c.masked_BL, space.mask_id] = -torch.inf
    logits.requires_grad_(True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        sums = loss_sums(logits, c)
    assert sums.nll_sum_M.dtype == torch.float32
    assert bool(torch.isfinite(sums.nll_sum_M).all())
    reference = loss_sums(logits.detach().float(), c)
    assert torch.equal(sums.nll_sum_M.detach(), reference.nll_sum_M)
    sums.nll_sum_M.sum().backward()
    assert bool(torch.isfinite(logits.grad.float()).all())
    assert bool((logits.grad[~c.masked_BL] == 0).all())


def _allowed_MV(space) -> torch.Tensor:
    """Allowed ids per span modality code (row 0 SPECIAL: everything but pad/mask), eot with text."""
    allowed = torch.zeros(4, space.vocab_size, dtype=torch.bool)
    allowed[0] = True
    allowed[0, [space.pad_id, space.mask_id]] = False
    for m in (Modality.TEXT, Modality.IMAGE, Modality.AUDIO):
        lo, hi = space.id_range(m)
        allowed[int(m), lo:hi] = True
    allowed[int(Modality.TEXT), space.special_id("eot")] = True
    return allowed


SMALL = TokenSpace(TokenSpaceConfig(text_vocab_size=12, image_codebook_size=10, audio_codebook_size=4,
                                    audio_num_codebooks=2))


def _balanced_batch(rows, num_rows: int, seq_len: int):
    """Equal token shares per modality: packed text rows, i2t rows (long image), s2t rows (long audio)."""
    rng = np.random.default_rng(0)
    out = []
    for i in range(num_rows):
        kind = i % 3
        if kind == 0:
            out.append(rows.text_row(SMALL, [seq_len // 2 - 3, seq_len // 2 - 3], rng))
        else:
            out.append(rows.pair_row(SMALL, "i2t" if kind == 1 else "s2t", (seq_len - 10, 4), rng))
    return rows.make_batch(SMALL, out, seq_len)


@pytest.mark.parametrize(
    ("schedule", "eps", "anti_masking", "presence", "max_se"),
    [
        ("linear", 0.05, False, False, 0.0035),
        ("linear", 0.05, True, False, 0.0035),
        ("cosine", 0.05, False, True, 0.006),
        ("linear", 1e-3, False, False, 0.006),
    ],
)
def test_uniform_model_nelbo_is_log_vocab(
    rows, schedule: str, eps: float, anti_masking: bool, presence: bool, max_se: float
) -> None:
    """Monte Carlo over 400 steps of 48 rows (~300k eligible tokens per modality). Tolerance: 4 standard errors
    of the per-step NELBO; the standard error itself must be below ``max_se`` (0.35-0.6%) of the expected
    value, so the check is tight (the clamp at eps = 1e-3 and the cosine weight have larger variance)."""
    cfg = DiffusionConfig(schedules={m: ScheduleConfig(name=schedule, eps=eps) for m in ("text", "image", "audio")},
                          anti_masking=anti_masking)
    batch = _balanced_batch(rows, 24 if anti_masking else 48, 64)
    if anti_masking:
        batch = duplicate_rows(batch)
    present = modality_presence(batch, config=cfg, token_space=SMALL) if presence else None
    # Expected value of the clamped estimator (time_sampling.py): exactly log|V| for the linear schedule at any
    # eps; for cosine alpha(eps) / (1 - eps) * log|V| (3.0% low at eps = 0.05).
    factor = 1.0 if schedule == "linear" else (1 - math.sin(math.pi * eps / 2)) / (1 - eps)
    # Unrestricted: uniform over the vocabulary without pad and mask.
    uniform = torch.zeros(SMALL.vocab_size)
    uniform[[SMALL.pad_id, SMALL.mask_id]] = -torch.inf
    # Restricted per modality: log|V_m| with |V_text| = text ids + eot, |V_audio| = every audio codebook.
    table = torch.where(_allowed_MV(SMALL), 0.0, -torch.inf)
    plain, restricted = [], []
    for step in range(400):
        c = corrupt(batch, config=cfg, token_space=SMALL, seed=0, step=step, present_GM=present)
        plain.append(nelbo_per_token(loss_sums(uniform.expand(*c.targets_BL.shape, -1), c)).numpy())
        restricted.append(nelbo_per_token(loss_sums(table[c.span_modality_BL.long()], c)).numpy())
    sizes = [SMALL.config.text_vocab_size + 1, SMALL.config.image_codebook_size,
             SMALL.config.audio_codebook_size * SMALL.config.audio_num_codebooks]
    for values, expected in ((plain, np.full(3, math.log(SMALL.vocab_size - 2))), (restricted, np.log(sizes))):
        v = np.stack(values)
        mean, se = v.mean(0), v.std(0, ddof=1) / math.sqrt(len(v))
        expected = factor * expected
        assert np.all(se < max_se * expected), (se, expected)
        assert np.all(np.abs(mean - expected) < 4 * se), (mean, expected, se)


def test_backprop_loss_gives_the_global_objective_gradient(space, rows) -> None:
    """2 ranks x 2 micro-steps (DDP averages ranks, accumulation sums micro-steps) == 1 process, 1 step."""
    cfg = DiffusionConfig(condition_dropout=0.3)
    batch = _batch(space, rows, 8)
    torch.manual_seed(1)
    base = torch.randn(8, 48, space.vocab_size)
    full_c = corrupt(batch, config=cfg, token_space=space, seed=2, step=0)
    full = base.clone().requires_grad_(True)
    n_global = eligible_count(full_c)
    objective = backprop_loss(loss_sums(full, full_c), global_eligible=n_global, world_size=1)
    objective.backward()

    world, accum = 2, 2
    fields = ("tokens_BL", "modality_BL", "loss_mask_BL", "document_ids_BL", "component_B")
    pieces, grads, total = [], torch.zeros_like(base), 0.0
    for rank in range(world):
        for micro in range(accum):
            off = global_row_offset(rank=rank, world_size=world, micro_step=micro, grad_accum=accum,
                                    global_batch_size=8)
            sl = slice(off, off + 2)
            piece = type(batch)(step=0, **{f: getattr(batch, f)[sl] for f in fields})
            pieces.append((sl, corrupt(piece, config=cfg, token_space=space, seed=2, step=0, row_offset=off,
                                       num_global_rows=8)))
    count = sum(eligible_count(c) for _, c in pieces)  # the all-reduce
    assert int(count) == int(n_global)
    for sl, c in pieces:
        leaf = base[sl].clone().requires_grad_(True)
        loss = backprop_loss(loss_sums(leaf, c), global_eligible=count, world_size=world)
        loss.backward()
        grads[sl] += leaf.grad / world  # DDP's average over ranks
        total += loss.item() / world
    assert total == pytest.approx(objective.item(), rel=1e-6)
    torch.testing.assert_close(grads, full.grad, rtol=1e-5, atol=1e-9)


def test_loss_sums_pack_add_and_metrics() -> None:
    a = LossSums(nll_sum_M=torch.tensor([2.0, 3.0, 0.0]), eligible_M=torch.tensor([4, 2, 0]),
                 masked_M=torch.tensor([2, 1, 0]))
    b = LossSums.from_tensor(a.to_tensor())
    assert b.nll_sum_M.dtype == torch.float64 and torch.equal(b.eligible_M, a.eligible_M.double())
    s = LossSums.zeros() + b + b
    m = nelbo_metrics(s)
    assert m["nelbo_text"] == pytest.approx(0.5) and m["exp_nelbo_text"] == pytest.approx(math.exp(0.5))
    assert m["nelbo_image"] == pytest.approx(1.5)
    assert math.isnan(m["nelbo_audio"]) and math.isnan(m["exp_nelbo_audio"])
    assert m["nelbo"] == pytest.approx(10.0 / 12.0)
    assert backprop_loss(LossSums.zeros(), global_eligible=0, world_size=2).item() == 0.0
    with pytest.raises(ValueError, match="world_size"):
        backprop_loss(a, global_eligible=1, world_size=0)
    with pytest.raises(ValueError, match="logits_BLV shape"):
        c = CorruptedBatch(*(torch.zeros(1, 2) for _ in range(6)), t_BM=torch.zeros(1, 3),
                           condition_dropped_B=torch.zeros(1, dtype=torch.bool))
        loss_sums(torch.zeros(1, 3, 5), c)


def _oracle_logits(c: CorruptedBatch, vocab: int) -> torch.Tensor:
    """A model that uses its context: p(target) = the row's visible fraction, the rest uniform."""
    eligible = c.eligible_BL.sum(1, keepdim=True).clamp(min=1).float()
    lam_BL = ((c.eligible_BL & ~c.masked_BL).sum(1, keepdim=True).float() / eligible).expand_as(c.masked_BL)
    logits = torch.log((1 - lam_BL) / vocab).unsqueeze(-1).expand(*c.targets_BL.shape, vocab).clone()
    logits.scatter_(-1, c.targets_BL.unsqueeze(-1), torch.log(lam_BL + (1 - lam_BL) / vocab).unsqueeze(-1))
    return logits


def test_stratified_times_and_anti_masking_lower_the_loss_variance(rows) -> None:
    """Per-step objective J of a context-using model on a fixed batch (only times and masks redrawn), 150 steps.
    Measured ratios to iid: stratified over present rows 0.37, anti-masking 0.17 (same compute); asserted with
    margin. The means agree (every sampler is unbiased for the same NELBO)."""

    def estimates(cfg: DiffusionConfig, batch, presence: bool) -> np.ndarray:
        present = modality_presence(batch, config=cfg, token_space=SMALL) if presence else None
        out = []
        for step in range(150):
            c = corrupt(batch, config=cfg, token_space=SMALL, seed=0, step=step, present_GM=present)
            s = loss_sums(_oracle_logits(c, SMALL.vocab_size), c)
            out.append(float(s.nll_sum_M.sum() / s.eligible_M.sum()))
        return np.asarray(out)

    batch = _balanced_batch(rows, 48, 64)
    iid = estimates(DiffusionConfig(time_sampling="iid"), batch, False)
    strat = estimates(DiffusionConfig(time_sampling="stratified"), batch, True)
    anti = estimates(DiffusionConfig(time_sampling="iid", anti_masking=True), duplicate_rows(_rows(batch, 24)), False)
    print(f"variance / iid: stratified+presence {strat.var() / iid.var():.3f}, anti {anti.var() / iid.var():.3f}")
    assert strat.var() < 0.6 * iid.var()
    assert anti.var() < 0.4 * iid.var()
    se = math.sqrt(iid.var() / 150 + strat.var() / 150)
    assert abs(iid.mean() - strat.mean()) < 4 * se


def _rows(batch, n: int):
    return type(batch)(step=batch.step, **{f: getattr(batch, f)[:n] for f in
                                           ("tokens_BL", "modality_BL", "loss_mask_BL", "document_ids_BL",
                                            "component_B")})
