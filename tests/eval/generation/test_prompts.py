"""Prompts follow the training layout exactly: filled in, each prompt is the sequence the layout formats, with
the span modality and condition span training computes (``trimodal_train.diffusion.spans``)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from trimodal_core import Modality
from trimodal_eval.generation import PromptBuilder, parse_request, read_requests
from trimodal_eval.generation.audio_files import read_wav, wav_bytes
from trimodal_eval.sampling.vocab import AUDIO_BOOK, IMAGE, TEXT, TEXT_CONTENT
from trimodal_train.diffusion.spans import condition_span, span_modality


def _request(tmp_path, **fields):
    return parse_request(fields, where="test", base=tmp_path, max_new_tokens=7, seconds=0.1)


def _check_training_view(bundle, row) -> None:
    """span modality and condition of the filled-in row equal what training computes from it."""
    space = bundle.token_space
    filled = torch.as_tensor(row.tokens)[None]
    modality = torch.as_tensor(space.modality_of(filled[0].numpy()))[None]
    span = span_modality(filled, modality, space, ("eot",))
    assert torch.equal(span[0], torch.as_tensor(row.span_modality))
    cond = condition_span(filled, span, space, ("t2i", "t2s", "i2t", "s2t"))
    assert torch.equal(cond[0], torch.as_tensor(row.condition))


def test_t2i_and_t2s_prompts_are_the_layout_with_masked_targets(tmp_path, bundle) -> None:
    space, layout = bundle.token_space, bundle.layout
    builder = PromptBuilder(bundle)
    row = builder.build(_request(tmp_path, id="a", task="t2i", text="def build"), seed=0)
    codes = np.arange(bundle.image.tokens_per_image) % bundle.image.codebook_size
    filled = row.tokens.copy()
    filled[row.target] = space.to_global(Modality.IMAGE, codes)
    assert np.array_equal(filled, layout.image_text(bundle.text.encode("def build"), codes, task="t2i").tokens)
    assert set(row.vocab_class[row.target].tolist()) == {IMAGE}
    row_for_check = row.__class__(**{**row.__dict__, "tokens": filled})
    _check_training_view(bundle, row_for_check)

    row = builder.build(_request(tmp_path, id="b", task="t2s", text="return x", seconds=0.1), seed=0)
    frames = round(0.1 * bundle.audio.frame_rate)
    audio = np.arange(2 * frames).reshape(2, frames) % bundle.audio.codebook_size
    filled = row.tokens.copy()
    flat = layout.flatten_audio(audio)
    filled[row.target] = flat
    assert np.array_equal(filled, layout.audio_text(bundle.text.encode("return x"), audio, task="t2s").tokens)
    assert np.array_equal(row.vocab_class[row.target], AUDIO_BOOK + space.audio_codebook_of(flat))
    _check_training_view(bundle, row.__class__(**{**row.__dict__, "tokens": filled}))


def test_text_targets(tmp_path, bundle) -> None:
    space = bundle.token_space
    builder = PromptBuilder(bundle)
    row = builder.build(_request(tmp_path, id="c", task="text", text="import os", min_new_tokens=3), seed=0)
    prompt = bundle.text.encode("import os")
    # [text] [bot] prompt M*7: the layout's sequence without its closing eot, targets appended
    expected = bundle.layout.text(prompt).tokens[:-1]
    assert np.array_equal(row.tokens[: len(expected)], expected) and int(row.target.sum()) == 7
    assert row.vocab_class[row.target].tolist() == [TEXT_CONTENT] * 3 + [TEXT] * 4
    row = builder.build(_request(tmp_path, id="d", task="infill", text="import", suffix="os", infill_tokens=4), seed=0)
    assert row.tokens[-1] == space.special_id("eot") and row.vocab_class[row.target].tolist() == [TEXT_CONTENT] * 4
    assert not row.condition.any()


def test_i2t_and_s2t_conditions(tmp_path, bundle) -> None:
    from PIL import Image

    Image.new("RGB", (40, 30), (200, 30, 90)).save(tmp_path / "red.png")
    t = np.arange(1600) / 16000
    (tmp_path / "tone.wav").write_bytes(wav_bytes(0.3 * np.sin(2 * np.pi * 440 * t), 16000))
    builder = PromptBuilder(bundle)
    row = builder.build(_request(tmp_path, id="e", task="i2t", image="red.png"), seed=0)
    codes = bundle.image.encode_batch([tmp_path / "red.png"])[0]
    caption = np.array([5, 6, 7, 8, 9, 10, 11])
    filled = row.tokens.copy()
    filled[row.target] = bundle.token_space.to_global(Modality.TEXT, caption)
    expected = bundle.layout.image_text(caption, codes, task="i2t").tokens
    assert np.array_equal(np.append(filled, bundle.token_space.special_id("eot")), expected)
    _check_training_view(bundle, row.__class__(**{**row.__dict__, "tokens": filled}))
    row = builder.build(_request(tmp_path, id="f", task="s2t", audio="tone.wav"), seed=0)
    wave, rate = read_wav(tmp_path / "tone.wav")
    assert rate == 16000 and np.allclose(wave, 0.3 * np.sin(2 * np.pi * 440 * t), atol=1e-4)
    audio = bundle.audio.encode(wave, rate)
    filled = row.tokens.copy()
    filled[row.target] = bundle.token_space.to_global(Modality.TEXT, caption)
    expected = bundle.layout.audio_text(caption, audio, task="s2t").tokens
    assert np.array_equal(np.append(filled, bundle.token_space.special_id("eot")), expected)
    _check_training_view(bundle, row.__class__(**{**row.__dict__, "tokens": filled}))


def test_prompt_file_errors_name_the_line(tmp_path) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text('{"id": "a", "task": "text", "text": "x"}\n\n# comment\n{"id": "b", "task": "t2x"}\n')
    with pytest.raises(ValueError, match=r"p.jsonl:4: 'task' must be one of"):
        read_requests(path)
    path.write_text('{"id": "a", "task": "text"}\n{"id": "a", "task": "text"}\n')
    with pytest.raises(ValueError, match=r"p.jsonl:2: duplicate id"):
        read_requests(path)
    path.write_text(json.dumps({"id": "a", "task": "i2t", "image": "missing.png"}) + "\n")
    with pytest.raises(ValueError, match="image file not found"):
        read_requests(path)
    path.write_text('{"id": "a", "task": "t2i"}\n')
    with pytest.raises(ValueError, match="needs 'text'"):
        read_requests(path)
    path.write_text('{"id": "../x", "task": "text"}\n')
    with pytest.raises(ValueError, match="'id' must be"):
        read_requests(path)
