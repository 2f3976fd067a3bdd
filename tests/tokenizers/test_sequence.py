from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trimodal_core import Modality, ShardRecord, TokenSpace, TokenSpaceConfig
from trimodal_tokenizers.sequence import SequenceLayout, SequenceLayoutConfig


def _space(**overrides: object) -> TokenSpace:
    values: dict[str, object] = dict(
        text_vocab_size=50, image_codebook_size=30, audio_codebook_size=7, audio_num_codebooks=3
    )
    values.update(overrides)
    return TokenSpace(TokenSpaceConfig(**values))  # type: ignore[arg-type]


space_configs = st.builds(
    TokenSpaceConfig,
    text_vocab_size=st.integers(1, 5000),
    image_codebook_size=st.integers(1, 5000),
    audio_codebook_size=st.integers(1, 2000),
    audio_num_codebooks=st.integers(1, 12),
    audio_shared_codebooks=st.booleans(),
    num_task_slots=st.integers(5, 40),
)


@settings(max_examples=200, deadline=None)
@given(space_configs)
def test_token_space_ranges_never_collide(config: TokenSpaceConfig) -> None:
    space = TokenSpace(config)
    owner = np.full(space.vocab_size, -1)
    ranges = [space.id_range(Modality.SPECIAL), space.id_range(Modality.TEXT), space.id_range(Modality.IMAGE)]
    books = 1 if config.audio_shared_codebooks else config.audio_num_codebooks
    ranges += [space.id_range(Modality.AUDIO, k) for k in range(books)]
    for index, (start, stop) in enumerate(ranges):
        assert stop > start
        assert (owner[start:stop] == -1).all(), f"range {index} overlaps an earlier one"
        owner[start:stop] = index
    assert (owner >= 0).all(), "every id belongs to exactly one range"
    specials = [space.special_id(n) for n in ("pad", "mask", "bos", "eos", "bot", "eot", "boi", "eoi", "boa", "eoa")]
    tasks = [space.task_id(t) for t in config.tasks]
    assert len(set(specials + tasks)) == len(specials) + len(tasks)
    assert max(specials + tasks) < space.text_offset


@settings(max_examples=100, deadline=None)
@given(space_configs, st.data())
def test_formatted_pairs_use_disjoint_ids_and_parse_back(config: TokenSpaceConfig, data: st.DataObject) -> None:
    space = TokenSpace(config)
    interleave = data.draw(st.sampled_from(["frame_major", "codebook_major"]))
    layout = SequenceLayout(space, SequenceLayoutConfig(audio_interleave=interleave))
    text = np.array(data.draw(st.lists(st.integers(0, config.text_vocab_size - 1), min_size=1, max_size=20)))
    image = np.array(data.draw(st.lists(st.integers(0, config.image_codebook_size - 1), min_size=1, max_size=20)))
    frames = data.draw(st.integers(1, 6))
    audio = np.array(
        data.draw(
            st.lists(
                st.integers(0, config.audio_codebook_size - 1),
                min_size=frames * config.audio_num_codebooks,
                max_size=frames * config.audio_num_codebooks,
            )
        )
    ).reshape(config.audio_num_codebooks, frames)
    for task in ("t2i", "i2t"):
        seq = layout.image_text(text, image, task=task)
        assert (seq.modality == Modality.TEXT).sum() == len(text)
        assert (seq.modality == Modality.IMAGE).sum() == len(image)
        parsed = layout.parse(seq.tokens)
        assert parsed.task == task
        np.testing.assert_array_equal(parsed.text_ids, text)
        np.testing.assert_array_equal(parsed.image_codes, image)
    for task in ("t2s", "s2t"):
        seq = layout.audio_text(text, audio, task=task)
        audio_ids = seq.tokens[seq.modality == Modality.AUDIO]
        if not config.audio_shared_codebooks:
            # Each position's id lies in the range of the codebook the layout assigns to it.
            for k in range(config.audio_num_codebooks):
                start, stop = space.id_range(Modality.AUDIO, k)
                own = (
                    audio_ids[k :: config.audio_num_codebooks]
                    if interleave == "frame_major"
                    else (audio_ids[k * frames : (k + 1) * frames])
                )
                assert ((own >= start) & (own < stop)).all()
        parsed = layout.parse(seq.tokens)
        np.testing.assert_array_equal(parsed.audio_codes, audio)
        np.testing.assert_array_equal(parsed.text_ids, text)


def test_text_layout_and_record() -> None:
    space = _space()
    layout = SequenceLayout(space)
    seq = layout.text(np.array([0, 5, 49]))
    expected = [
        space.task_id("text"),
        space.special_id("bot"),
        *(space.text_offset + np.array([0, 5, 49])),
        space.special_id("eot"),
    ]
    assert seq.tokens.tolist() == expected
    assert seq.tokens.dtype == np.int64 and seq.modality.dtype == np.uint8
    assert seq.modality.tolist() == [0, 0, 1, 1, 1, 0]
    record = seq.to_record("ex-1", "unit")
    assert isinstance(record, ShardRecord) and record.task == "text" and record.example_id == "ex-1"


def test_t2i_layout_order_matches_the_contract() -> None:
    space = _space()
    seq = SequenceLayout(space).image_text(np.array([1, 2]), np.array([[3, 4], [5, 6]]))
    names = [space.id_name(i) for i in seq.tokens]
    assert names == [
        "<t2i>",
        "<bot>",
        "text:1",
        "text:2",
        "<eot>",
        "<boi>",
        "image:3",
        "image:4",
        "image:5",
        "image:6",
        "<eoi>",
    ]


def test_frame_major_interleave_order() -> None:
    space = _space()
    codes = np.array([[0, 1], [2, 3], [4, 5]])  # K=3, T=2
    seq = SequenceLayout(space).audio_text(np.array([1]), codes)
    names = [space.id_name(i) for i in seq.tokens if space.modality_of([i])[0] == Modality.AUDIO]
    assert names == ["audio[0]:0", "audio[1]:2", "audio[2]:4", "audio[0]:1", "audio[1]:3", "audio[2]:5"]


def test_parse_ignores_trailing_pad_and_splits_packed_rows() -> None:
    space = _space()
    layout = SequenceLayout(space)
    a, b = layout.text(np.array([1, 2])), layout.text(np.array([3]))
    row = np.concatenate([a.tokens, b.tokens, np.full(5, space.pad_id)])
    parts = layout.parse_packed(row)
    assert [p.text_ids.tolist() for p in parts] == [[1, 2], [3]]
    assert layout.parse(np.concatenate([a.tokens, [space.pad_id] * 3])).text_ids.tolist() == [1, 2]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda t, s: t[1:], "task token"),
        (lambda t, s: t[:-1], "missing <eoi>"),
        (lambda t, s: np.concatenate([t, [s.text_offset]]), "unexpected tokens"),
        (lambda t, s: np.concatenate([t[:6], [s.text_offset], t[6:]]), "not a image id"),
        (lambda t, s: np.array([s.pad_id]), "empty"),
    ],
)
def test_parse_rejects_malformed_sequences(mutate: object, message: str) -> None:
    space = _space()
    tokens = SequenceLayout(space).image_text(np.array([1, 2]), np.array([3, 4])).tokens
    with pytest.raises(ValueError, match=message):
        SequenceLayout(space).parse(mutate(tokens, space))  # type: ignore[operator]


def test_format_rejects_bad_inputs() -> None:
    layout = SequenceLayout(_space())
    with pytest.raises(ValueError, match="text_ids"):
        layout.text(np.array([], dtype=np.int64))
    with pytest.raises(ValueError, match="outside"):
        layout.text(np.array([50]))
    with pytest.raises(ValueError, match="audio_codes must have shape"):
        layout.audio_text(np.array([1]), np.zeros((2, 4), dtype=np.int64))
    with pytest.raises(ValueError, match="task 'i2t'"):
        layout.audio_text(np.array([1]), np.zeros((3, 4), dtype=np.int64), task="i2t")
    with pytest.raises(ValueError, match="image_codes is empty"):
        layout.image_text(np.array([1]), np.array([], dtype=np.int64))


def test_audio_code_in_the_wrong_codebook_slot_is_rejected() -> None:
    space = _space()
    layout = SequenceLayout(space)
    seq = layout.audio_text(np.array([1]), np.zeros((3, 2), dtype=np.int64))
    tokens = seq.tokens.copy()
    audio_pos = np.flatnonzero(seq.modality == Modality.AUDIO)
    tokens[audio_pos[0]], tokens[audio_pos[1]] = tokens[audio_pos[1]], tokens[audio_pos[0]]
    with pytest.raises(ValueError, match="different codebook"):
        layout.parse(tokens)
