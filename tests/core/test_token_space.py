from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from trimodal_core import Modality, TokenSpace, TokenSpaceConfig
from trimodal_core.token_space import SPECIAL_TOKENS

configs = st.builds(
    TokenSpaceConfig,
    text_vocab_size=st.integers(1, 5000),
    image_codebook_size=st.integers(1, 5000),
    audio_codebook_size=st.integers(1, 2000),
    audio_num_codebooks=st.integers(1, 12),
    audio_shared_codebooks=st.booleans(),
)


@settings(max_examples=200, deadline=None)
@given(configs)
def test_ranges_partition_the_vocabulary_without_overlap(config: TokenSpaceConfig) -> None:
    space = TokenSpace(config)
    ranges = [space.id_range("special"), space.id_range("text"), space.id_range("image"), space.id_range("audio")]
    assert ranges[0][0] == 0 and ranges[-1][1] == space.vocab_size
    for (_, stop), (start, _) in itertools.pairwise(ranges):
        assert stop == start
    covered = np.zeros(space.vocab_size, dtype=int)
    for modality in ("special", "text", "image", "audio"):
        covered += space.allowed_mask(modality)
    assert (covered == 1).all()
    # Per-codebook audio ranges tile the audio range exactly.
    if not config.audio_shared_codebooks:
        books = [space.id_range("audio", k) for k in range(config.audio_num_codebooks)]
        assert books[0][0] == space.audio_offset and books[-1][1] == space.vocab_size
        assert all(a[1] == b[0] for a, b in itertools.pairwise(books))


@settings(max_examples=200, deadline=None)
@given(configs, st.data())
def test_local_global_round_trip_and_no_collisions(config: TokenSpaceConfig, data: st.DataObject) -> None:
    space = TokenSpace(config)
    text = np.array(data.draw(st.lists(st.integers(0, config.text_vocab_size - 1), max_size=20)), dtype=np.int64)
    image = np.array(data.draw(st.lists(st.integers(0, config.image_codebook_size - 1), max_size=20)), dtype=np.int64)
    audio = np.array(data.draw(st.lists(st.integers(0, config.audio_codebook_size - 1), max_size=20)), dtype=np.int64)
    books = np.array([data.draw(st.integers(0, config.audio_num_codebooks - 1)) for _ in audio], dtype=np.int64)
    g_text, g_image = space.to_global("text", text), space.to_global("image", image)
    g_audio = space.to_global("audio", audio, codebook=books)
    assert np.array_equal(space.to_local("text", g_text), text)
    assert np.array_equal(space.to_local("image", g_image), image)
    assert np.array_equal(space.to_local("audio", g_audio), audio)
    assert (space.modality_of(g_text) == Modality.TEXT).all()
    assert (space.modality_of(g_image) == Modality.IMAGE).all()
    assert (space.modality_of(g_audio) == Modality.AUDIO).all()
    specials = {space.special_id(n) for n in SPECIAL_TOKENS} | {space.task_id(t) for t in config.tasks}
    assert not specials & (set(g_text) | set(g_image) | set(g_audio))
    if not config.audio_shared_codebooks:
        assert np.array_equal(space.audio_codebook_of(g_audio), books)
        # Same local code in two different codebooks maps to two different global ids.
        if config.audio_num_codebooks > 1:
            a, b = space.to_global("audio", [0, 0], codebook=[0, 1])
            assert a != b


def test_fingerprint_is_stable_and_layout_sensitive(space: TokenSpace, tmp_path: Path) -> None:
    same = TokenSpace(TokenSpaceConfig(text_vocab_size=300, image_codebook_size=64, audio_codebook_size=32,
                                       audio_num_codebooks=4))
    other = TokenSpace(TokenSpaceConfig(text_vocab_size=301, image_codebook_size=64, audio_codebook_size=32,
                                        audio_num_codebooks=4))
    assert space.fingerprint == same.fingerprint and space == same
    assert space.fingerprint != other.fingerprint
    # Pinned: shards and manifests written by earlier releases carry this value; a change to the canonical
    # layout JSON must be a deliberate format change (TOKEN_SPACE_FORMAT_VERSION), never an accident.
    assert space.fingerprint == "6583261803c0562d"
    space.save(tmp_path / "ts.json")
    loaded = TokenSpace.load(tmp_path / "ts.json")
    assert loaded.fingerprint == space.fingerprint and loaded.vocab_size == space.vocab_size


def test_out_of_range_ids_are_rejected(space: TokenSpace) -> None:
    with pytest.raises(ValueError, match="text local id 300"):
        space.to_global("text", [0, 300])
    with pytest.raises(ValueError, match="not a image id"):
        space.to_local("image", [space.text_offset])
    with pytest.raises(ValueError, match="codebook"):
        space.to_global("audio", [1])
    with pytest.raises(ValueError, match="unknown modality"):
        space.to_global("video", [1])
    with pytest.raises(ValueError, match="unknown task"):
        space.task_id("t2v")


def test_bad_configs_and_files(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="text_vocab_size"):
        TokenSpaceConfig(text_vocab_size=0, image_codebook_size=1, audio_codebook_size=1, audio_num_codebooks=1)
    with pytest.raises(ValueError, match="num_task_slots"):
        TokenSpaceConfig(text_vocab_size=1, image_codebook_size=1, audio_codebook_size=1, audio_num_codebooks=1,
                         tasks=tuple(f"t{i}" for i in range(20)))
    path = tmp_path / "ts.json"
    path.write_text(json.dumps({"format_version": 99}))
    with pytest.raises(ValueError, match=rf"{path}.*format_version 99"):
        TokenSpace.load(path)
    path.write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        TokenSpace.load(path)


def test_task_slots_keep_ranges_in_place() -> None:
    base = dict(text_vocab_size=10, image_codebook_size=10, audio_codebook_size=10, audio_num_codebooks=2)
    a = TokenSpace(TokenSpaceConfig(**base))
    b = TokenSpace(TokenSpaceConfig(**base, tasks=(*a.config.tasks, "i2s")))
    assert a.text_offset == b.text_offset and a.vocab_size == b.vocab_size
    assert b.id_name(b.task_id("i2s")) == "<i2s>"
    assert a.id_name(a.to_global("audio", [3], codebook=1)[0]) == "audio[1]:3"
