"""End-to-end mixture loader: proportions, resume, ranks, masks, schedule, errors."""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from trimodal_core import CorpusManifest, Modality, TokenSpace
from trimodal_train.data import Batch, LoaderConfig, WeightPoint, build_loader

MakeMixture = Callable[..., Path]
BASE = LoaderConfig(seq_len=64, global_batch_size=8, seed=7, shuffle_buffer=16, prefetch=2)


def take(loader, n: int) -> list[Batch]:  # type: ignore[no-untyped-def]
    it = iter(loader)
    return [next(it) for _ in range(n)]


def assert_same(a: list[Batch], b: list[Batch]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x.step == y.step
        for field in ("tokens_BL", "modality_BL", "loss_mask_BL", "document_ids_BL", "component_B"):
            assert torch.equal(getattr(x, field), getattr(y, field)), (x.step, field)


def global_batches(mix: Path, config: LoaderConfig, n: int, state: dict | None = None) -> list[Batch]:
    """The n global batches, assembled from every rank's slice (rank order)."""
    per_rank = []
    for rank in range(config.world_size):
        loader = build_loader(mix, dataclasses.replace(config, rank=rank))
        if state is not None:
            loader.load_state_dict(state)
        per_rank.append(take(loader, n))
    out = []
    for step_slices in zip(*per_rank, strict=True):
        assert len({b.step for b in step_slices}) == 1
        out.append(Batch(step=step_slices[0].step, **{
            f: torch.cat([getattr(b, f) for b in step_slices])
            for f in ("tokens_BL", "modality_BL", "loss_mask_BL", "document_ids_BL", "component_B")}))
    return out


def test_batch_types_shapes_and_loss_mask(make_mixture: MakeMixture, space: TokenSpace) -> None:
    # Pairs of at most seq_len tokens: none is truncated, so every pair row ends with [eoi] (truncation: below).
    loader = build_loader(make_mixture(pair_lengths=(20, 65)), BASE)
    assert loader.component_names == ("text", "pairs")
    for batch in take(loader, 6):
        assert batch.tokens_BL.dtype == torch.int64 and batch.tokens_BL.shape == (8, 64)
        assert batch.modality_BL.dtype == torch.uint8 and batch.loss_mask_BL.dtype == torch.bool
        pad = ~batch.loss_mask_BL
        assert torch.all(batch.tokens_BL[pad] == space.pad_id)
        assert torch.all(batch.tokens_BL[~pad] != space.pad_id)  # real data never holds the pad id
        assert torch.all(batch.modality_BL[pad] == Modality.SPECIAL)
        assert torch.all(batch.document_ids_BL[pad] == -1) and torch.all(batch.document_ids_BL[~pad] >= 0)
        text_rows = batch.component_B == 0
        assert torch.all(batch.loss_mask_BL[text_rows])  # packed text: full rows, no padding
        for row in torch.nonzero(~text_rows).flatten():  # pairs: one example, left-aligned, then padding
            n = int(batch.loss_mask_BL[row].sum())
            assert 20 <= n < 70 and not batch.loss_mask_BL[row, n:].any()
            assert batch.tokens_BL[row, 0] == space.task_id("t2i")
            assert batch.tokens_BL[row, n - 1] == space.special_id("eoi")
            assert torch.all(batch.document_ids_BL[row, :n] == 0)
        got = torch.from_numpy(space.modality_of(batch.tokens_BL[~pad].numpy()))
        assert torch.equal(batch.modality_BL[~pad], got)


def test_packed_rows_number_documents(make_mixture: MakeMixture, space: TokenSpace) -> None:
    batches = take(build_loader(make_mixture(), BASE), 4)
    text_task = space.task_id("text")
    for batch in batches:
        for row in torch.nonzero(batch.component_B == 0).flatten():
            tokens, docs = batch.tokens_BL[row], batch.document_ids_BL[row]
            starts = torch.nonzero(torch.diff(docs)).flatten() + 1
            assert torch.all(torch.diff(docs) >= 0) and torch.all(docs[starts] == docs[starts - 1] + 1)
            # Every document after the first starts with its task token (only the first may be a continuation).
            assert torch.all(tokens[starts] == text_task)
            assert int(docs[-1]) == len(starts)
    flat = take(build_loader(make_mixture(), dataclasses.replace(BASE, document_attention=False)), 4)
    for a, b in zip(batches, flat, strict=True):
        assert torch.equal(a.tokens_BL, b.tokens_BL)
        assert torch.equal(b.document_ids_BL, torch.where(a.loss_mask_BL, 0, -1).to(torch.int32))


def test_exact_proportions_every_batch(make_mixture: MakeMixture) -> None:
    loader = build_loader(make_mixture((3.0, 1.0)), BASE)
    for batch in take(loader, 40):  # several epochs of the pair corpus
        assert batch.component_B.tolist().count(0) == 6 and batch.component_B.tolist().count(1) == 2
    # 1:2 of 8 rows is fractional: each batch within one row, the running total exact every 3 batches.
    loader = build_loader(make_mixture((1.0, 2.0)), BASE)
    total = 0
    for step, batch in enumerate(take(loader, 12), start=1):
        pairs = int((batch.component_B == 1).sum())
        assert pairs in (5, 6)
        total += pairs
        if step % 3 == 0:
            assert total == step * 16 // 3


def test_token_weights_balance_real_tokens(make_mixture: MakeMixture) -> None:
    config = dataclasses.replace(BASE, global_batch_size=16)
    batches = take(build_loader(make_mixture((1.0, 1.0), weight_unit="tokens"), config), 60)
    tokens = np.zeros(2)
    for batch in batches:
        for c in (0, 1):
            tokens[c] += int(batch.loss_mask_BL[batch.component_B == c].sum())
    assert abs(tokens[0] / tokens.sum() - 0.5) < 0.03


def test_stochastic_mode_is_seeded(make_mixture: MakeMixture) -> None:
    config = dataclasses.replace(BASE, mixing="stochastic")
    mix = make_mixture((3.0, 1.0))
    a = take(build_loader(mix, config), 30)
    assert_same(a, take(build_loader(mix, config), 30))
    counts = [int((b.component_B == 1).sum()) for b in a]
    assert len(set(counts)) > 1  # not exact per batch
    assert abs(sum(counts) / (30 * 8) - 0.25) < 0.08
    other = take(build_loader(mix, dataclasses.replace(config, seed=8)), 30)
    assert [b.component_B.tolist() for b in other] != [b.component_B.tolist() for b in a]


def test_schedule_changes_weights_at_the_right_step(make_mixture: MakeMixture) -> None:
    schedule = (
        WeightPoint(step=0, weights={"text": 1, "pairs": 1}),
        WeightPoint(step=3, weights={"text": 1, "pairs": 1}),
        WeightPoint(step=7, weights={"text": 0, "pairs": 1}),
    )
    loader = build_loader(make_mixture((3.0, 1.0)), dataclasses.replace(BASE, weight_schedule=schedule))
    pairs = [int((b.component_B == 1).sum()) for b in take(loader, 10)]
    assert pairs == [4, 4, 4, 4, 5, 6, 7, 8, 8, 8]


@pytest.mark.parametrize(("workers", "mixing"), [(0, "exact"), (2, "exact"), (1, "stochastic")])
def test_resume_is_bitwise_identical(make_mixture: MakeMixture, workers: int, mixing: str) -> None:
    mix = make_mixture((1.0, 2.0))  # fractional shares: the carried remainders must be restored too
    config = dataclasses.replace(BASE, num_workers=workers, mixing=mixing)
    straight = take(build_loader(mix, config), 8)
    first = build_loader(mix, config)
    head = take(first, 4)
    state = first.state_dict()
    resumed = build_loader(mix, config)
    resumed.load_state_dict(state)
    assert resumed.step == 4
    assert_same(straight, head + take(resumed, 4))
    # The same loader object can also rewind to a saved state.
    first.load_state_dict(state)
    assert_same(straight[4:], take(first, 4))


def test_process_workers_match_inline(make_mixture: MakeMixture) -> None:
    mix = make_mixture()
    inline = take(build_loader(mix, BASE), 5)
    procs = take(build_loader(mix, dataclasses.replace(BASE, num_workers=2, worker_method="process")), 5)
    assert_same(inline, procs)


def test_ranks_slice_the_global_batch(make_mixture: MakeMixture) -> None:
    mix = make_mixture()
    single = take(build_loader(mix, BASE), 5)
    for world_size in (2, 4, 8):
        assert_same(single, global_batches(mix, dataclasses.replace(BASE, world_size=world_size), 5))


def test_world_size_change_on_resume_keeps_the_global_stream(make_mixture: MakeMixture) -> None:
    mix = make_mixture()
    single = take(build_loader(mix, BASE), 7)
    two = dataclasses.replace(BASE, world_size=2, rank=0)
    loader = build_loader(mix, two)
    before = take(loader, 3)
    state = loader.state_dict()
    after = global_batches(mix, dataclasses.replace(BASE, world_size=4), 4, state)
    assert [b.step for b in after] == [3, 4, 5, 6]
    assert_same(single[3:], after)
    assert torch.equal(single[0].tokens_BL[:4], before[0].tokens_BL)


def test_global_batch_size_change_loses_and_repeats_nothing(
    make_mixture: MakeMixture, helpers: types.SimpleNamespace
) -> None:
    decode = helpers.decode_index
    mix = make_mixture((1.0, 1.0), num_pairs=60)
    small = build_loader(mix, BASE)
    seen = [decode(row.numpy()) for b in take(small, 5) for row in b.tokens_BL[b.component_B == 1]]
    bigger = dataclasses.replace(BASE, global_batch_size=16, world_size=2)
    seen += [decode(row.numpy()) for b in global_batches(mix, bigger, 3, small.state_dict())
             for row in b.tokens_BL[b.component_B == 1]]
    assert len(seen) == 5 * 4 + 3 * 8 == 44
    assert len(set(seen)) == 44  # within the first epoch of 60 pairs: no repeats, and the stream continued


def test_no_duplicates_or_skips_across_ranks_over_an_epoch(
    make_mixture: MakeMixture, helpers: types.SimpleNamespace
) -> None:
    decode = helpers.decode_index
    num_pairs = 96
    mix = make_mixture((1.0, 1.0), num_pairs=num_pairs)
    config = dataclasses.replace(BASE, world_size=4)
    seen: list[int] = []
    for rank in range(4):
        loader = build_loader(mix, dataclasses.replace(config, rank=rank))
        for batch in take(loader, 24):  # 24 steps x 4 pair rows = one epoch of 96 pairs
            seen += [decode(row.numpy()) for row in batch.tokens_BL[batch.component_B == 1]]
    assert sorted(seen) == list(range(num_pairs))


def test_overlong_pairs_policies(tmp_path: Path, helpers: types.SimpleNamespace) -> None:
    lengths = [30, 90, 40, 100, 50, 20] * 4
    pairs = helpers.write_corpus(tmp_path / "pairs", "pairs", "t2i", lengths, num_shards=2)
    mix = helpers.write_mixture(tmp_path / "mix.json", {"pairs": (pairs, 1.0)})
    config = dataclasses.replace(BASE, global_batch_size=4, interleave_rows=False)
    loader = build_loader(mix, config)
    batches = take(loader, 6)  # one epoch of 24
    real = sorted(int(n) for b in batches for n in b.loss_mask_BL.sum(1))
    assert real == sorted(min(n, 64) for n in lengths)
    assert loader.counters() == {"truncated": {"pairs": 8}, "skipped": {"pairs": 0}}
    loader = build_loader(mix, dataclasses.replace(config, overlong_pairs="skip"))
    batches = take(loader, 4)  # 16 rows = the 16 short pairs of the first epoch
    assert sorted(int(n) for b in batches for n in b.loss_mask_BL.sum(1)) == sorted(n for n in lengths if n <= 64)
    in_order = loader._planner.streams[0].span(0, len(lengths)).length  # lengths in stream order
    last_short = int(np.flatnonzero(in_order <= 64)[15])
    assert loader.counters()["skipped"] == {"pairs": int((in_order[:last_short] > 64).sum())}  # passed over
    with pytest.raises(ValueError, match=r"pairs\d-00000.arrow: row \d+ of component 'pairs' has (90|100) tokens"):
        take(build_loader(mix, dataclasses.replace(config, overlong_pairs="error")), 3)


def test_whole_document_packing(make_mixture: MakeMixture, space: TokenSpace) -> None:
    config = dataclasses.replace(BASE, split_documents=False, seq_len=128)
    for batch in take(build_loader(make_mixture(), config), 5):
        for row in torch.nonzero(batch.component_B == 0).flatten():
            tokens, docs = batch.tokens_BL[row], batch.document_ids_BL[row]
            real = tokens[docs >= 0]
            # Whole documents only (all shorter than seq_len): each starts with [text][bot] and ends with [eot].
            starts = torch.nonzero(torch.diff(docs[docs >= 0], prepend=torch.tensor([-1]))).flatten()
            assert torch.all(real[starts] == space.task_id("text"))
            ends = torch.cat([starts[1:] - 1, torch.tensor([len(real) - 1])])
            assert torch.all(real[ends] == space.special_id("eot"))
            assert bool((docs >= 0)[: len(real)].all())


def test_state_guards_fixed_fields(make_mixture: MakeMixture) -> None:
    mix = make_mixture()
    state = build_loader(mix, BASE).state_dict()
    other = build_loader(mix, dataclasses.replace(BASE, seed=99))
    with pytest.raises(ValueError, match="seed"):
        other.load_state_dict(state)
    with pytest.raises(ValueError, match="format"):
        other.load_state_dict({"plan": {}})


def test_missing_or_corrupt_shard_names_the_file(make_mixture: MakeMixture, tmp_path: Path) -> None:
    mix = make_mixture()
    shard = sorted((tmp_path / "pairs").glob("*.arrow"))[1]
    original = shard.read_bytes()
    shard.write_bytes(original[: len(original) // 2])
    with pytest.raises(ValueError, match=f"{shard}: not a readable Arrow IPC file"):
        build_loader(mix, BASE)
    shard.write_bytes(b"\0" * len(original))
    with pytest.raises(ValueError, match=str(shard)):
        build_loader(mix, BASE)
    shard.unlink()
    with pytest.raises(ValueError, match=f"shard not found: {shard}"):
        build_loader(mix, BASE)
    shard.write_bytes(original)
    take(build_loader(mix, dataclasses.replace(BASE, check_sha256=True)), 1)
    shard.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    with pytest.raises(ValueError, match=f"{shard}"):
        build_loader(mix, dataclasses.replace(BASE, check_sha256=True))


def test_packed_text_covers_an_epoch_once_across_ranks(tmp_path: Path, helpers: types.SimpleNamespace,
                                                       space: TokenSpace) -> None:
    rng = np.random.default_rng(3)
    lengths = rng.integers(8, 150, 120).tolist()
    text = helpers.write_corpus(tmp_path / "text", "text", "text", lengths)
    pairs = helpers.write_corpus(tmp_path / "pairs", "pairs", "t2i", [30] * 40)
    mix = helpers.write_mixture(tmp_path / "mix.json", {"text": (text, 3.0), "pairs": (pairs, 1.0)})
    config = dataclasses.replace(BASE, world_size=4, interleave_rows=False)
    steps = -(-sum(lengths) // (6 * 64)) + 1
    batches = global_batches(mix, config, steps)
    # Without interleaving, a step's text rows come first, in stream order: concatenated, they are the stream.
    stream = torch.cat([b.tokens_BL[b.component_B == 0].flatten() for b in batches])[: sum(lengths)]
    starts = torch.nonzero(stream == space.task_id("text")).flatten().tolist()
    order = [helpers.decode_index(stream[s:].numpy()) for s in starts]
    assert sorted(order) == list(range(len(lengths)))  # every document once, none skipped
    assert order != sorted(order)  # shards and windows are shuffled
    assert [e - s for s, e in zip(starts, [*starts[1:], sum(lengths)], strict=True)] == [lengths[i] for i in order]
    next_epoch = torch.cat([b.tokens_BL[b.component_B == 0].flatten() for b in batches])[sum(lengths):]
    first = int(torch.nonzero(next_epoch == space.task_id("text")).flatten()[0])
    assert first == 0 and helpers.decode_index(next_epoch.numpy()) != order[0]  # a new seeded order


def test_compressed_shard_is_refused_by_name(make_mixture: MakeMixture, tmp_path: Path) -> None:
    import pyarrow as pa

    mix = make_mixture()
    shard = sorted((tmp_path / "text").glob("*.arrow"))[0]
    table = pa.ipc.open_file(pa.BufferReader(shard.read_bytes())).read_all()  # not a map of the file we rewrite
    with pa.OSFile(str(shard), "wb") as sink, pa.ipc.new_file(
        sink, table.schema, options=pa.ipc.IpcWriteOptions(compression="zstd")
    ) as writer:
        writer.write_table(table, max_chunksize=7)
    with pytest.raises(ValueError, match=f"{shard}: column buffers are not zero-copy"):
        build_loader(mix, BASE)


def test_component_mixing_text_and_pairs_is_refused(tmp_path: Path, helpers: types.SimpleNamespace) -> None:
    text = helpers.write_corpus(tmp_path / "a", "a", "text", [20] * 6, num_shards=1)
    pairs = helpers.write_corpus(tmp_path / "b", "b", "t2i", [20] * 6, num_shards=1)
    moved = list((tmp_path / "b").glob("*.arrow"))
    merged = CorpusManifest.load(text)
    other = CorpusManifest.load(pairs)
    for shard in moved:
        shard.rename(tmp_path / "a" / shard.name)
    merged.shards += other.shards
    merged.save(text)
    mix = helpers.write_mixture(tmp_path / "mix.json", {"a": (text, 1.0)})
    with pytest.raises(ValueError, match=r"a/manifest.json: component 'a' mixes packed text with paired tasks"):
        build_loader(mix, BASE)
