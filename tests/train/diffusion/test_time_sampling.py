"""Time sampling over the whole optimizer step: world-size-independent slices, strata, pairs, variance."""

from __future__ import annotations

import pytest
import torch

from trimodal_train.diffusion import DiffusionConfig, ScheduleConfig, global_row_offset, sample_times, sample_uniforms


@pytest.mark.parametrize("method", ["stratified", "lattice", "antithetic", "iid"])
def test_rank_and_micro_step_slices_concatenate_to_the_global_vector(method: str) -> None:
    cfg = DiffusionConfig(time_sampling=method)  # type: ignore[arg-type]
    full = sample_times(cfg, seed=7, step=3, num_rows=16)  # 1 rank, 1 micro-step, 16 rows
    world, accum = 2, 2
    pieces = {}
    for rank in range(world):
        for micro in range(accum):
            off = global_row_offset(rank=rank, world_size=world, micro_step=micro, grad_accum=accum,
                                    global_batch_size=16)
            # What each process computes on its own: the step's vector, then its slice.
            pieces[off] = sample_times(cfg, seed=7, step=3, num_rows=16)[off : off + 16 // (world * accum)]
    assert sorted(pieces) == [0, 4, 8, 12]
    assert torch.equal(torch.cat([pieces[k] for k in sorted(pieces)]), full)
    assert full.shape == (16, 3) and full.dtype == torch.float64


def test_global_row_offset() -> None:
    def off(**kw: int) -> int:
        return global_row_offset(**{"rank": 0, "world_size": 1, "micro_step": 0, "grad_accum": 1,
                                    "global_batch_size": 16, **kw})

    assert off() == 0
    assert off(world_size=2, rank=1) == 8
    assert off(world_size=2, rank=1, grad_accum=2, micro_step=1) == 12
    assert off(grad_accum=4, micro_step=3) == 12
    with pytest.raises(ValueError, match="multiple of world_size"):
        off(world_size=3)
    with pytest.raises(ValueError, match="rank"):
        off(world_size=2, rank=2)
    with pytest.raises(ValueError, match="micro_step"):
        off(grad_accum=2, micro_step=2)


@pytest.mark.parametrize("num_rows", [1, 7, 64])
def test_stratified_one_time_per_stratum(num_rows: int) -> None:
    for step, method in zip(range(6), ["stratified", "lattice"] * 3, strict=True):
        u = sample_uniforms(method, seed=0, step=step, num_rows=num_rows)
        assert bool(((u >= 0) & (u < 1)).all())
        for m in range(3):
            strata = torch.floor(u[:, m] * num_rows).long().sort().values
            assert torch.equal(strata, torch.arange(num_rows))
    # Mapped to [eps, 1]: still one time per stratum of that interval.
    cfg = DiffusionConfig(schedules={"image": ScheduleConfig(name="cosine", eps=0.05)})
    t = sample_times(cfg, seed=1, step=0, num_rows=32)
    for m, eps in enumerate((1e-3, 0.05, 1e-3)):
        strata = torch.floor((t[:, m] - eps) / (1 - eps) * 32).long().sort().values
        assert torch.equal(strata, torch.arange(32))


def test_modalities_and_steps_differ_and_are_reproducible() -> None:
    a = sample_uniforms("stratified", seed=0, step=0, num_rows=32)
    assert torch.equal(a, sample_uniforms("stratified", seed=0, step=0, num_rows=32))
    assert not torch.equal(a, sample_uniforms("stratified", seed=0, step=1, num_rows=32))
    assert not torch.equal(a, sample_uniforms("stratified", seed=1, step=0, num_rows=32))
    assert not torch.equal(a[:, 0], a[:, 1])


def test_antithetic_pairs() -> None:
    u = sample_uniforms("antithetic", seed=0, step=2, num_rows=32)
    torch.testing.assert_close(u[0::2] + u[1::2], torch.ones(16, 3, dtype=torch.float64), rtol=0, atol=1e-15)
    strata = torch.floor(u[0::2, 0] * 16).long().sort().values
    assert torch.equal(strata, torch.arange(16))
    odd = sample_uniforms("antithetic", seed=0, step=2, num_rows=7)  # the last row is unpaired
    torch.testing.assert_close(odd[0:6:2] + odd[1:6:2], torch.ones(3, 3, dtype=torch.float64), rtol=0, atol=1e-15)


def test_paired_rows_share_a_stratified_time() -> None:
    u = sample_uniforms("stratified", seed=0, step=0, num_rows=16, paired=True)
    assert torch.equal(u[0::2], u[1::2])
    assert torch.equal(torch.floor(u[0::2, 2] * 8).long().sort().values, torch.arange(8))
    with pytest.raises(ValueError, match="even number of rows"):
        sample_uniforms("iid", seed=0, step=0, num_rows=5, paired=True)


def test_anti_masking_times_stay_in_the_narrowed_range() -> None:
    t = sample_times(DiffusionConfig(anti_masking=True), seed=0, step=0, num_rows=64)
    assert float(t.min()) >= 1e-3 and float(t.max()) <= 1 - 1e-3


def test_stratified_batch_mean_has_far_lower_variance_than_iid() -> None:
    """Variance of a step's mean of a smooth function of t (t^2) over 400 steps of 64 rows."""

    def step_var(method: str) -> float:
        means = [(sample_uniforms(method, seed=0, step=s, num_rows=64)[:, 0] ** 2).mean() for s in range(400)]
        return torch.stack(means).var().item()

    iid, strat, lattice, anti = (step_var(m) for m in ("iid", "stratified", "lattice", "antithetic"))
    # iid: Var(t^2)/G = (4/45)/64 = 1.4e-3. Jittered strata: int f'^2/12 / G^3 = 4.2e-7 (ratio 3e-4);
    # shared shift: (f(1) - f(0))^2 / (12 G^2) = 2.0e-5 (ratio 1.5e-2); antithetic pairs sit between.
    assert 0.7e-3 < iid < 2.8e-3
    assert strat < 1e-3 * iid
    assert lattice < 0.03 * iid
    assert strat < 0.1 * lattice
    assert anti < 0.05 * iid


@pytest.mark.parametrize("method", ["stratified", "lattice"])
def test_presence_stratifies_each_modality_over_the_rows_that_hold_it(method: str) -> None:
    g = torch.Generator().manual_seed(0)
    present = torch.rand(40, 3, generator=g) < torch.tensor([0.9, 0.3, 0.15])
    for step in range(4):
        u = sample_uniforms(method, seed=0, step=step, num_rows=40, present_GM=present)
        for m in range(3):
            k = int(present[:, m].sum())
            strata = torch.floor(u[present[:, m], m] * k).long().sort().values
            assert torch.equal(strata, torch.arange(k)), (m, k)
        # Without presence the image rows (30%) are a random subset of 40 strata: some share one of 12.
        plain = sample_uniforms(method, seed=0, step=step, num_rows=40)
        assert not torch.equal(torch.floor(plain[present[:, 1], 1] * int(present[:, 1].sum())).long().sort().values,
                               torch.arange(int(present[:, 1].sum())))
    paired = sample_uniforms("stratified", seed=0, step=0, num_rows=40, paired=True,
                             present_GM=present.repeat_interleave(2, dim=0)[:40])
    assert torch.equal(paired[0::2], paired[1::2])
    with pytest.raises(ValueError, match="present_GM"):
        sample_uniforms("stratified", seed=0, step=0, num_rows=40, present_GM=present[:10])
