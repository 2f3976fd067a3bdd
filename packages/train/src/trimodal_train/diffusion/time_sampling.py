"""Diffusion times for a whole optimizer step: one ``t`` per (global row, modality), independent of world size.

Global rows. An optimizer step covers ``G`` rows (``global_batch_size``: the loader's global batch, all ranks,
all accumulation micro-steps). The loader slices it contiguously by rank (rank ``r`` holds rows
``r * G / W ..``) and each rank splits its rows into ``A`` consecutive micro-batches, so row ``i`` of
micro-batch ``a`` on rank ``r`` is global row ``r * G / W + a * G / (W A) + i`` (:func:`global_row_offset`,
as ``trimodal_train.step`` does). Everything random in the objective is a pure function of
``(seed, step, global row)``, so each rank computes its own slice and the union over ranks and micro-steps
is the same for any world size and any accumulation split.

Uniforms ``u[g, m] in [0, 1)`` per modality ``m`` (generator seeded by ``derive_seed(seed, "diffusion/time",
step, m)``), over ``U`` units (``U = G``, or ``G / 2`` under anti-masking, where rows ``2k, 2k+1`` are one
unit and share ``u``):

* ``stratified`` (default): ``u[g] = (perm_m(g) + v[g, m]) / U`` with a random permutation ``perm_m`` of the
  units (so no row position of the loader gets systematically small times) and an independent jitter
  ``v[g, m] ~ U[0, 1)`` per unit: exactly one unit per stratum ``[j / U, (j + 1) / U)``. For a smooth
  integrand the variance of the step's mean is ``O(U^-3)``.
* ``lattice``: the same with one shift ``v_m`` shared by all units (VDM/MD4's randomly shifted lattice, the
  contract's first formula): also one unit per stratum, but ``O(U^-2)`` for a non-periodic integrand
  (measured in ``bench/bench_loss_variance.py``).
* ``antithetic``: units in consecutive pairs ``(2j, 2j + 1)`` get ``(a_j, 1 - a_j)`` with ``a_j`` stratified
  (jittered) over the ``ceil(U / 2)`` pairs (an odd last unit keeps ``a_j`` alone).
* ``iid``: independent ``U[0, 1)``.

Rows without a modality. Without more information each modality is stratified over all ``U`` units, but only
the rows that hold the modality use their time: in a mixed batch where a fraction ``f`` of the rows holds
images, the image times are a random ``f``-subset of the strata (much of the stratification is lost). Pass
``present_GM`` (which global rows hold which modality; :func:`trimodal_train.diffusion.modality_presence` per
micro-batch, all-gathered in global row order) to stratify each modality over exactly the rows that hold it
[ours]; ``bench/bench_loss_variance.py`` measures the difference.

Times: ``t = lo + (hi - lo) * u`` with ``(lo, hi) = schedule.time_range(anti_masking=...)``, that is
``[eps, 1]`` (``[eps, t_max]`` for anti-masking leaders, see ``schedules.py``). The loss weight is ``w(t)``
with no ``(hi - lo)`` Jacobian (as MDLM): the estimator is the mean of the ELBO integrand over the clamped
range, which for the linear schedule and a context-free model is exactly the full ``[0, 1]`` integral.
"""

from __future__ import annotations

import torch

from trimodal_core import derive_seed
from trimodal_train.diffusion.config import NUM_MODALITIES, DiffusionConfig, TimeSampling


def global_row_offset(*, rank: int, world_size: int, micro_step: int, grad_accum: int, global_batch_size: int) -> int:
    """Global row (within the optimizer step of ``global_batch_size`` rows) of a micro-batch's first row."""
    if world_size < 1 or grad_accum < 1 or global_batch_size % (world_size * grad_accum):
        raise ValueError(
            f"global_batch_size {global_batch_size} is not a multiple of world_size {world_size} x "
            f"grad_accum {grad_accum}"
        )
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} outside [0, {world_size})")
    if not 0 <= micro_step < grad_accum:
        raise ValueError(f"micro_step {micro_step} outside [0, {grad_accum})")
    local = global_batch_size // world_size
    return rank * local + micro_step * (local // grad_accum)


def _generator(seed: int, step: int, modality: int) -> torch.Generator:
    return torch.Generator(device="cpu").manual_seed(derive_seed(seed, "diffusion/time", step, modality))


def _stratified(num: int, gen: torch.Generator, *, shared_shift: bool = False) -> torch.Tensor:
    perm = torch.randperm(num, generator=gen).to(torch.float64)
    shift = torch.rand(() if shared_shift else (num,), generator=gen, dtype=torch.float64)
    # (j + v) / U can round up to exactly 1.0 in float64 for the top stratum; keep u < 1.
    return ((perm + shift) / num).clamp(max=1.0 - 2.0**-53)


def _unit_values(method: TimeSampling, num: int, gen: torch.Generator) -> torch.Tensor:
    if method == "stratified":
        return _stratified(num, gen)
    if method == "lattice":
        return _stratified(num, gen, shared_shift=True)
    if method == "antithetic":
        a = _stratified((num + 1) // 2, gen)  # an odd count leaves the last unit unpaired
        return torch.stack([a, 1.0 - a], dim=1).reshape(-1)[:num].clamp(max=1.0 - 2.0**-53)
    if method == "iid":
        return torch.rand(num, generator=gen, dtype=torch.float64)
    raise ValueError(f"unknown time sampling {method!r}; use stratified, lattice, antithetic or iid")


def sample_uniforms(
    method: TimeSampling,
    *,
    seed: int,
    step: int,
    num_rows: int,
    num_modalities: int = NUM_MODALITIES,
    paired: bool = False,
    present_GM: torch.Tensor | None = None,
) -> torch.Tensor:
    """``float64 [num_rows, num_modalities]`` uniforms in ``[0, 1)`` for one optimizer step (module docstring).

    ``paired``: rows ``2k`` and ``2k + 1`` are one unit and get the same value (anti-masking).
    ``present_GM``: optional ``bool [num_rows, num_modalities]``, which rows of the step hold modality ``m``
    (:func:`trimodal_train.diffusion.modality_presence` of every micro-batch, gathered in global row order).
    Given, modality ``m`` is stratified over its present units only (in global row order), so a modality
    that only some rows hold still gets one time per stratum among them; absent units get iid values
    (unused). It must be the same on every rank.
    """
    if num_rows < 1:
        raise ValueError(f"num_rows must be >= 1, got {num_rows}")
    if paired and num_rows % 2:
        raise ValueError(f"anti-masking needs an even number of rows per optimizer step, got {num_rows}")
    units = num_rows // 2 if paired else num_rows
    if present_GM is not None:
        present_GM = torch.as_tensor(present_GM, dtype=torch.bool).cpu()
        if present_GM.shape != (num_rows, num_modalities):
            shape = tuple(present_GM.shape)
            raise ValueError(f"present_GM must have shape [{num_rows}, {num_modalities}], got {shape}")
        if paired:
            present_GM = present_GM[0::2]
    columns = []
    for m in range(num_modalities):
        gen = _generator(seed, step, m)
        if present_GM is None:
            u = _unit_values(method, units, gen)
        else:
            here = present_GM[:, m]
            count = int(here.sum())
            u = torch.empty(units, dtype=torch.float64)
            u[here] = _unit_values(method, count, gen) if count else torch.empty(0, dtype=torch.float64)
            u[~here] = torch.rand(units - count, generator=gen, dtype=torch.float64)
        columns.append(u.repeat_interleave(2) if paired else u)
    return torch.stack(columns, dim=1)


def sample_times(
    config: DiffusionConfig, *, seed: int, step: int, num_rows: int, present_GM: torch.Tensor | None = None
) -> torch.Tensor:
    """``float64 [num_rows, 3]`` times ``t[g, m]`` of the whole optimizer step (leader times under anti-masking).

    Slice it by global row: ``sample_times(...)[offset : offset + B]``; :func:`trimodal_train.diffusion.corrupt`
    does this itself. ``present_GM``: see :func:`sample_uniforms`.
    """
    u_GM = sample_uniforms(
        config.time_sampling,
        seed=seed,
        step=step,
        num_rows=num_rows,
        paired=config.anti_masking,
        present_GM=present_GM,
    )
    lo_hi = [s.time_range(anti_masking=config.anti_masking) for s in config.build_schedules()]
    lo_M = torch.tensor([lo for lo, _ in lo_hi], dtype=torch.float64)
    hi_M = torch.tensor([hi for _, hi in lo_hi], dtype=torch.float64)
    return lo_M + (hi_M - lo_M) * u_GM
