"""The masked-diffusion sampler: start from masked targets, unmask a few positions per step until none is left.

One step of every active row (all rows advance together, each with its own spans, blocks, counts and seed):

1. the row's current block is the first one with masked positions; its masked positions are the candidates;
   a scheduled rule asks the step schedule for ``k`` (``steps.py``), a dynamic rule decides itself;
2. logits: the row's model call is skipped when its tokens did not change since its last call (logit
   reuse; the model has no time input, so the same input gives the same logits) or when the step unmasks
   nothing (``k = 0``); classifier-free guidance adds an unconditional call (``guidance.py``). The cache is
   the model output itself (kept while a row reads it), so caching copies nothing; the restricted logits
   of the positions a step needs are gathered from it with one ``index_select`` per id run;
3. at each candidate, an exact draw from the restricted, guided, tempered distribution (``categorical.py``,
   ``vocab.py``) gives the token it would take and its statistics;
4. the rule picks the positions to unmask (``rules.py``); they take their drawn tokens and keep them.

NFE. ``nfe_B`` counts the model forward passes each row took part in (conditional plus unconditional);
``nfe_saved_B`` is what a naive loop (a conditional call, plus an unconditional one when ``w != 0``, at
every step) would have spent more; ``reuse_logits=False`` is that naive loop (``nfe_saved = 0``, same
tokens).

Text length and EOS. The text span may predict ``eot`` (it is a maskable special in training). With
``truncate_at_eot`` the first ``eot`` unmasked in a text run makes the rest of the run padding (``pad``,
document id -1, invisible to attention), exactly the training layout ``... text [eot] pad``; the row then
needs fewer steps. Pitfall (full diffusion): models trained with many trailing EOS/pad *predictions*
(LLaDA) unmask the confident EOS tail first and produce short answers. Our model never predicts padding
(one ``eot`` per span, padding invisible), but an early confident ``eot`` still truncates; the text
defaults therefore use semi-autoregressive blocks (an ``eot`` can only land in the current block), and
generation can forbid ``eot`` before a minimum length (vocabulary class ``TEXT_CONTENT``).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from trimodal_core import Modality, TokenSpace
from trimodal_eval.denoiser import Denoiser, allowed_mask_of
from trimodal_eval.sampling.batch import SamplingBatch
from trimodal_eval.sampling.categorical import draw
from trimodal_eval.sampling.config import SamplerConfig
from trimodal_eval.sampling.guidance import guidance_weight, guide
from trimodal_eval.sampling.randomness import RowRandom
from trimodal_eval.sampling.rules import SelectionRule, SelectionState, top_k_mask
from trimodal_eval.sampling.steps import mask_ratio, plan_row
from trimodal_eval.sampling.targets import find_targets
from trimodal_eval.sampling.vocab import TEXT, build_vocab_classes


@dataclasses.dataclass(frozen=True, kw_only=True)
class SampleResult:
    """Generated sequences and what they cost."""

    tokens_BL: torch.Tensor
    """Final ids (int64): prompts with their targets filled (``pad`` after a truncating ``eot``)."""
    target_BL: torch.Tensor
    """Generated positions kept (bool)."""
    nfe_B: torch.Tensor
    """Model forward passes per row (int64; conditional + unconditional)."""
    nfe_saved_B: torch.Tensor
    """Forward passes saved against a call at every step (int64)."""
    steps_B: torch.Tensor
    """Steps per row (int64)."""
    settings: dict[str, Any]
    """The sampler config and rule name."""


class Sampler:
    """Built by :func:`~trimodal_eval.sampling.build_sampler`; :meth:`sample` runs it on one batch."""

    def __init__(
        self, config: SamplerConfig, token_space: TokenSpace, *, rule: SelectionRule,
        maskable_specials: tuple[str, ...] = ("eot",),
    ) -> None:
        self.config = config
        self.token_space = token_space
        self.rule = rule
        self.maskable_specials = tuple(maskable_specials)
        self.gamma = None if config.step_schedule == "equal" else mask_ratio(
            config.step_schedule, noise_schedule=config.noise_schedule, noise_k=config.noise_schedule_k)

    @property
    def settings(self) -> dict[str, Any]:
        return {**self.config.to_dict(), "rule": self.rule.name}

    @torch.inference_mode()
    def sample(self, denoiser: Denoiser, batch: SamplingBatch) -> SampleResult:
        run = _Run(self, denoiser, batch)
        while run.step():
            pass
        return run.result()


class _Run:
    """Mutable state of one :meth:`Sampler.sample` call (target coordinates ``[B, T]``)."""

    def __init__(self, sampler: Sampler, denoiser: Denoiser, batch: SamplingBatch) -> None:
        cfg, space = sampler.config, sampler.token_space
        self.cfg, self.rule, self.denoiser, self.space, self.settings = cfg, sampler.rule, denoiser, space, \
            sampler.settings
        dev = self.device = batch.tokens_BL.device
        self.classes = build_vocab_classes(space, allowed_mask_MV=allowed_mask_of(denoiser),
                                           maskable_specials=sampler.maskable_specials, restrict=cfg.restrict).to(dev)
        self.tg = tg = find_targets(batch.target_BL, batch.class_BL, cfg.block_length)
        self.width = int(self.classes.width_C[tg.class_BT[tg.valid_BT].unique()].max()) if tg.valid_BT.any() else 1
        self.tokens_BL = batch.tokens_BL.masked_fill(batch.target_BL, space.mask_id)
        self.doc_BL, self.span_BL = batch.document_ids_BL.clone(), batch.span_modality_BL.clone()
        self.cond_BL = batch.condition_BL
        self.has_condition_B = batch.condition_BL.any(-1)
        b = tg.valid_BT.shape[0]
        self.valid_BT, self.masked_BT = tg.valid_BT.clone(), tg.valid_BT.clone()
        zeros = torch.zeros(b, dtype=torch.int64, device=dev)
        self.block_B, self.steps_B, self.nfe_B, self.saved_B = (zeros.clone() for _ in range(4))
        self.dirty_B = torch.ones(b, dtype=torch.bool, device=dev)
        self.udirty_B = self.dirty_B.clone()
        # The logit cache is the model outputs themselves: each call's [r, n, V] logits ("slab", flattened to
        # [r * n, V]) stay alive while a row still points at it; positions are gathered from it when needed.
        self.slabs: list[dict[int, torch.Tensor]] = [{}, {}]  # conditional, unconditional
        self.slab_B = [torch.full_like(zeros, -1), torch.full_like(zeros, -1)]
        self.slot_B = [zeros.clone(), zeros.clone()]  # first flat row of the row inside its slab
        self.next_slab = 0
        self.max_steps_B = torch.full_like(zeros, cfg.max_steps) if cfg.max_steps else 2 * tg.length_B
        self.rng = RowRandom(cfg.seed, batch.row_seed_B, tg.length_B, dev)
        if not self.rule.dynamic:
            plans = [plan_row(int(n), steps=cfg.steps, block_length=cfg.block_length, gamma=sampler.gamma)
                     for n in tg.length_B.tolist()]
            s = max(1, max(len(c) for c, _ in plans))
            nb = max(1, int(tg.num_blocks_B.max()))
            self.counts_BS = torch.zeros(b, s, dtype=torch.int64)
            self.first_step_BN = torch.zeros(b, nb, dtype=torch.int64)
            for r, (counts, blocks) in enumerate(plans):
                self.counts_BS[r, : len(counts)] = torch.tensor(counts, dtype=torch.int64)
                for i in range(len(blocks) - 1, -1, -1):
                    self.first_step_BN[r, blocks[i]] = i
            self.counts_BS, self.first_step_BN = self.counts_BS.to(dev), self.first_step_BN.to(dev)
            self.ptr_B = zeros.clone()

    # ------------------------------------------------------------------ one step
    def step(self) -> bool:
        self._advance_blocks()
        rows_R = self.masked_BT.any(-1).nonzero().squeeze(-1)
        if rows_R.numel() == 0:
            return False
        cfg, tg, dynamic = self.cfg, self.tg, self.rule.dynamic
        uniform_RT, score_RT = self.rng.draw(rows_R.tolist(), tg.width)
        masked_RT = self.masked_BT[rows_R]
        candidates_RT = masked_RT & (tg.block_BT[rows_R] == self.block_B[rows_R, None])
        num_candidates_R = candidates_RT.sum(-1)
        if dynamic:
            k_R = num_candidates_R
        else:
            k_R = self.counts_BS[rows_R, self.ptr_B[rows_R]].clamp(max=num_candidates_R)
        need_R = torch.ones_like(k_R, dtype=torch.bool) if dynamic else k_R > 0
        ratio_R = masked_RT.sum(-1) / self.valid_BT[rows_R].sum(-1).clamp_min(1)
        # Rows without a condition span have nothing to guide by: their unconditional input is the conditional one.
        w_R = guidance_weight(cfg.guidance_scale, cfg.guidance_schedule, ratio_R) * self.has_condition_B[rows_R]
        guided_R = w_R != 0
        if cfg.reuse_logits:
            call_R, ucall_R = need_R & self.dirty_B[rows_R], need_R & guided_R & self.udirty_B[rows_R]
        else:
            call_R, ucall_R = torch.ones_like(need_R), guided_R
        self._fill(rows_R[call_R], rows_R[ucall_R])
        spent_R = call_R.to(torch.int64) + ucall_R.to(torch.int64)
        self.nfe_B[rows_R] += spent_R
        self.saved_B[rows_R] += 1 + guided_R.to(torch.int64) - spent_R
        state = self._state(rows_R, masked_RT, candidates_RT, need_R, k_R, w_R, uniform_RT, score_RT)
        chosen_RT = self._select(state, need_R, k_R)
        self._apply(rows_R, chosen_RT, state.sampled_BT)
        self.steps_B[rows_R] += 1
        if not dynamic:
            self.ptr_B[rows_R] += 1
        return True

    def _advance_blocks(self) -> None:
        """Move each row to its first block (at or after the current one) that still has masked positions."""
        nb = max(1, int(self.tg.num_blocks_B.max()))
        per_block_BN = torch.zeros(self.masked_BT.shape[0], nb, dtype=torch.int64, device=self.device)
        per_block_BN.scatter_add_(1, self.tg.block_BT.clamp(max=nb - 1), self.masked_BT.to(torch.int64))
        n_N = torch.arange(nb, device=self.device)
        open_BN = (per_block_BN > 0) & (n_N >= self.block_B[:, None])
        has_B = open_BN.any(-1)
        self.block_B = torch.where(has_B, open_BN.to(torch.int8).argmax(-1), self.block_B)
        if not self.rule.dynamic:
            first_B = self.first_step_BN.gather(1, self.block_B[:, None]).squeeze(-1)
            self.ptr_B = torch.where(has_B, torch.maximum(self.ptr_B, first_B), self.ptr_B)
            if bool((has_B & (self.ptr_B >= self.counts_BS.shape[1])).any()):
                raise RuntimeError("sampler: a row ran out of planned steps with masked positions left")

    def _fill(self, rows_c: torch.Tensor, rows_u: torch.Tensor) -> None:
        """One model call for the conditional inputs of ``rows_c`` and the unconditional ones of ``rows_u``."""
        rows_r = torch.cat([rows_c, rows_u])
        if rows_r.numel() == 0:
            return
        real_rL = self.doc_BL[rows_r] >= 0
        n = int((real_rL * torch.arange(1, real_rL.shape[1] + 1, device=self.device)).amax())
        tokens_rL = self.tokens_BL[rows_r, :n]
        if rows_u.numel():
            tokens_rL[len(rows_c):] = tokens_rL[len(rows_c):].masked_fill(self.cond_BL[rows_u, :n], self.space.mask_id)
        logits_rLV = self.denoiser(tokens_rL, document_ids_BL=self.doc_BL[rows_r, :n],
                                   span_modality_BL=self.span_BL[rows_r, :n])
        if logits_rLV.shape[:2] != tokens_rL.shape or logits_rLV.shape[2] != self.space.vocab_size:
            raise ValueError(f"denoiser returned logits of shape {tuple(logits_rLV.shape)} for input "
                             f"{tuple(tokens_rL.shape)} (vocab {self.space.vocab_size})")
        flat_XV = logits_rLV.float().reshape(-1, logits_rLV.shape[2])
        for kind, rows in ((0, rows_c), (1, rows_u)):
            if rows.numel() == 0:
                continue
            first = 0 if kind == 0 else len(rows_c)
            slabs, slab_B = self.slabs[kind], self.slab_B[kind]
            slab_B[rows] = self.next_slab
            self.slot_B[kind][rows] = (first + torch.arange(rows.numel(), device=self.device)) * n
            slabs[self.next_slab] = flat_XV
            for key in [k for k in slabs if not bool((slab_B == k).any())]:
                del slabs[key]  # no row reads these logits any more
            (self.dirty_B if kind == 0 else self.udirty_B)[rows] = False
        self.next_slab += 1

    def _gather(self, kind: int, b_i: torch.Tensor, j_i: torch.Tensor, class_i: torch.Tensor) -> torch.Tensor:
        """Restricted ``[N, W]`` logits at target positions (sorted by class) from the cache of ``kind``."""
        slab_i = self.slab_B[kind][b_i]
        keys = sorted(self.slabs[kind])
        source_i = torch.searchsorted(torch.tensor(keys, device=self.device), slab_i)
        flat_i = self.slot_B[kind][b_i] + self.tg.position_BT[b_i, j_i]
        return self.classes.gather([self.slabs[kind][k] for k in keys], source_i, flat_i, class_i, self.width)

    def _state(self, rows_R: torch.Tensor, masked_RT: torch.Tensor, candidates_RT: torch.Tensor,
               need_R: torch.Tensor, k_R: torch.Tensor, w_R: torch.Tensor, uniform_RT: torch.Tensor,
               score_RT: torch.Tensor) -> SelectionState:
        cfg, tg, rule = self.cfg, self.tg, self.rule
        where_RT = (candidates_RT if rule.scope == "block" else masked_RT) & need_R[:, None]
        r_i, j_i = where_RT.nonzero(as_tuple=True)
        class_i = tg.class_BT[rows_R[r_i], j_i]
        order = torch.sort(class_i * (self.next_slab + 1) + self.slab_B[0][rows_R[r_i]], stable=True).indices
        r_i, j_i, class_i = r_i[order], j_i[order], class_i[order]
        b_i = rows_R[r_i]
        logits_iW = self._gather(0, b_i, j_i, class_i)
        guided_i = w_R[r_i] != 0
        if bool(guided_i.all()) and guided_i.numel():
            logits_iW = guide(logits_iW, self._gather(1, b_i, j_i, class_i), w_R[r_i])
        elif bool(guided_i.any()):
            g = guided_i.nonzero().squeeze(-1)
            logits_iW[g] = guide(logits_iW[g], self._gather(1, b_i[g], j_i[g], class_i[g]), w_R[r_i[g]])
        d = draw(logits_iW, uniform_RT[r_i, j_i], temperature=cfg.temperature, top_k=cfg.top_k, top_p=cfg.top_p,
                 margin="margin" in rule.stats, entropy="entropy" in rule.stats)
        shape = masked_RT.shape
        sampled_RT = torch.full(shape, self.space.mask_id, dtype=torch.int64, device=self.device)
        sampled_RT[r_i, j_i] = self.classes.global_ids(class_i, d.index_N)
        valid_RT = self.valid_BT[rows_R]

        def spread(values_i: torch.Tensor | None, fill_unmasked: float = 0.0) -> torch.Tensor | None:
            if values_i is None:
                return None
            out = torch.where(valid_RT & ~masked_RT, fill_unmasked, 0.0).to(torch.float32)
            out[r_i, j_i] = values_i.to(torch.float32)
            return out

        return SelectionState(
            rows_B=rows_R, valid_BT=valid_RT, mask_BT=masked_RT, candidates_BT=candidates_RT,
            tokens_BT=self.tokens_BL[rows_R].gather(1, tg.position_BT[rows_R]).masked_fill(~valid_RT, 0),
            sampled_BT=sampled_RT, confidence_BT=spread(d.confidence_N), top1_BT=spread(d.top1_N, 1.0),
            margin_BT=spread(d.margin_N), entropy_BT=spread(d.entropy_N), uniform_BT=score_RT,
            num_to_unmask_B=k_R, steps_taken_B=self.steps_B[rows_R], length_B=tg.length_B[rows_R],
            time_B=(self.steps_B[rows_R] / tg.length_B[rows_R].clamp_min(1)).to(torch.float32),
            block_B=self.block_B[rows_R], num_blocks_B=tg.num_blocks_B[rows_R],
        )

    def _select(self, state: SelectionState, need_R: torch.Tensor, k_R: torch.Tensor) -> torch.Tensor:
        chosen_RT = self.rule.select(state)
        if chosen_RT.shape != state.candidates_BT.shape or chosen_RT.dtype != torch.bool:
            raise ValueError(f"rule {self.rule.name!r} returned {chosen_RT.dtype} {tuple(chosen_RT.shape)}, "
                             f"expected bool {tuple(state.candidates_BT.shape)}")
        chosen_RT = chosen_RT & need_R[:, None]
        if bool((chosen_RT & ~state.candidates_BT).any()):
            raise ValueError(f"rule {self.rule.name!r} selected a position outside the current block's masked ones")
        if not self.rule.dynamic:
            if not torch.equal(chosen_RT.sum(-1), k_R):
                raise ValueError(f"rule {self.rule.name!r} must select exactly the scheduled count per row")
            return chosen_RT
        stalled_R = ~chosen_RT.any(-1) & (state.steps_taken_B + 1 >= self.max_steps_B[state.rows_B])
        if bool(stalled_R.any()):
            forced_RT = top_k_mask(state.confidence_BT, state.candidates_BT, torch.ones_like(k_R))
            chosen_RT = chosen_RT | (forced_RT & stalled_R[:, None])
        return chosen_RT

    def _apply(self, rows_R: torch.Tensor, chosen_RT: torch.Tensor, sampled_RT: torch.Tensor) -> None:
        r_i, j_i = chosen_RT.nonzero(as_tuple=True)
        if r_i.numel() == 0:
            return
        b_i, ids_i = rows_R[r_i], sampled_RT[r_i, j_i]
        self.tokens_BL[b_i, self.tg.position_BT[b_i, j_i]] = ids_i
        self.masked_BT[b_i, j_i] = False
        self.dirty_B[b_i] = True
        self.udirty_B[b_i] = True
        if self.cfg.truncate_at_eot:
            ends_i = (ids_i == self.space.special_id("eot")) & (self.tg.class_BT[b_i, j_i] == TEXT)
            if bool(ends_i.any()):
                self._truncate(b_i[ends_i], j_i[ends_i])

    def _truncate(self, b_e: torch.Tensor, j_e: torch.Tensor) -> None:
        """Turn every target after the first new ``eot`` of a row, up to its run's end, into padding."""
        tg = self.tg
        first_B = torch.full((self.valid_BT.shape[0],), tg.width, dtype=torch.int64, device=self.device)
        first_B = first_B.scatter_reduce(0, b_e, j_e, reduce="amin")
        has_B = first_B < tg.width
        end_B = tg.run_end_BT.gather(1, first_B.clamp(max=tg.width - 1)[:, None]).squeeze(-1)
        j_T = torch.arange(tg.width, device=self.device)
        drop_BT = has_B[:, None] & (j_T > first_B[:, None]) & (j_T < end_B[:, None]) & self.valid_BT
        b_d, j_d = drop_BT.nonzero(as_tuple=True)
        pos_d = tg.position_BT[b_d, j_d]
        self.tokens_BL[b_d, pos_d] = self.space.pad_id
        self.doc_BL[b_d, pos_d] = -1
        self.span_BL[b_d, pos_d] = int(Modality.SPECIAL)
        self.valid_BT &= ~drop_BT
        self.masked_BT &= ~drop_BT

    def result(self) -> SampleResult:
        target_BL = torch.zeros_like(self.tokens_BL, dtype=torch.bool)
        b_i, j_i = self.valid_BT.nonzero(as_tuple=True)
        target_BL[b_i, self.tg.position_BT[b_i, j_i]] = True
        return SampleResult(tokens_BL=self.tokens_BL, target_BL=target_BL, nfe_B=self.nfe_B,
                            nfe_saved_B=self.saved_B, steps_B=self.steps_B, settings=self.settings)
