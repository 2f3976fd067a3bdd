"""Batch generation end to end: a JSONL file with every task -> PNG, WAV, text, and a JSON sidecar each.

Runs the real layout, tokenizers and a tiny random-init model, once through :func:`generate` (batched,
then one prompt per batch: identical outputs) and once through ``trimodal-eval generate`` on an exported
run folder (``load_model``).
"""

from __future__ import annotations

import io
import json
import wave

import numpy as np
import pytest
import torch

from trimodal_eval.generation import GenerateConfig, generate
from trimodal_eval.generation.audio_files import wav_bytes
from trimodal_eval.sampling import DEFAULT_SAMPLERS

FAST = {"text_sampler": DEFAULT_SAMPLERS["text"].replace(block_length=4),
        "image_sampler": DEFAULT_SAMPLERS["image"].replace(steps=4),
        "audio_sampler": DEFAULT_SAMPLERS["audio"].replace(steps=4)}


@pytest.fixture()
def prompts(tmp_path):
    from PIL import Image

    Image.new("RGB", (48, 32), (10, 200, 60)).save(tmp_path / "green.png")
    t = np.arange(3200) / 16000
    (tmp_path / "tone.wav").write_bytes(wav_bytes(0.3 * np.sin(2 * np.pi * 330 * t), 16000))
    lines = [
        {"id": "story", "task": "text", "text": "def main", "max_new_tokens": 9, "min_new_tokens": 2},
        {"id": "fill", "task": "infill", "text": "import", "suffix": "as np", "infill_tokens": 3},
        {"id": "cat", "task": "t2i", "text": "a green square"},
        {"id": "dog", "task": "t2i", "text": "red", "sampler": {"temperature": 0.5}},
        {"id": "hello", "task": "t2s", "text": "hello world", "seconds": 0.2},
        {"id": "caption", "task": "i2t", "image": "green.png", "max_new_tokens": 5},
        {"id": "asr", "task": "s2t", "audio": "tone.wav", "max_new_tokens": 6, "seed": 123},
        {"id": "story2", "task": "text", "text": "class Foo", "max_new_tokens": 12},
    ]
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return path, lines


def _check_outputs(out, lines, bundle) -> dict[str, dict]:
    sidecars = {}
    for line in lines:
        info = json.loads((out / f"{line['id']}.json").read_text())
        assert info["task"] == line["task"] and info["nfe"] >= 1 and info["steps"] >= 1
        assert info["settings"]["rule"] == "confidence" and "row_seed" in info["settings"]
        assert info["token_space"] == bundle.token_space.fingerprint
        if line["task"] in ("text", "infill", "i2t", "s2t"):
            assert isinstance(info["output_text"], str) and "output" not in info["files"]
            assert info["num_tokens"] <= line.get("max_new_tokens", line.get("infill_tokens", 64))
        if line["task"] == "t2i":
            from PIL import Image

            image = Image.open(out / info["files"]["output"])
            assert image.size == (bundle.image.resolution, bundle.image.resolution)
            assert info["num_tokens"] == bundle.image.tokens_per_image
        if line["task"] == "t2s":
            with wave.open(io.BytesIO((out / info["files"]["output"]).read_bytes())) as f:
                frames = round(line["seconds"] * bundle.audio.frame_rate)
                assert f.getframerate() == bundle.audio.sample_rate
                assert f.getnframes() == frames * bundle.audio.hop_length
        if line["task"] in ("i2t", "s2t"):
            assert (out / info["files"]["condition"]).is_file()
        sidecars[line["id"]] = info
    assert sidecars["asr"]["settings"]["row_seed"] == 123
    assert sidecars["dog"]["settings"]["temperature"] == 0.5 and sidecars["cat"]["settings"]["temperature"] == 1.0
    if "fill" in sidecars:
        assert sidecars["fill"]["full_text"].startswith("import")
    return sidecars


def test_generate_every_task_and_batch_independence(tmp_path, prompts, bundle, tiny_model) -> None:
    path, lines = prompts
    runs = {}
    for batch_size in (4, 1):
        out = tmp_path / f"out{batch_size}"
        config = GenerateConfig(model=tmp_path, bundle=tmp_path, prompts=path, out=out, batch_size=batch_size,
                                seed=5, **FAST)
        summary = generate(config, model=tiny_model, bundle=bundle)
        assert [s["id"] for s in summary.sidecars] == [line["id"] for line in lines]
        runs[batch_size] = _check_outputs(out, lines, bundle)
    for rid, info in runs[4].items():
        other = runs[1][rid]
        for key in ("output_text", "nfe", "steps", "num_tokens", "ended"):
            assert info[key] == other[key], (rid, key)
        for name in info["files"].values():
            assert (tmp_path / "out4" / name).read_bytes() == (tmp_path / "out1" / name).read_bytes()


@pytest.mark.slow  # ~25 s on 2 cores, mostly importing and running trimodal_train's export (DCP state dicts)
def test_cli_generate_from_an_exported_run(tmp_path, prompts, bundle) -> None:
    from trimodal_eval.cli import main
    from trimodal_train.distributed import DistContext
    from trimodal_train.model import MODEL_PRESETS, build_model
    from trimodal_train.model_export import export_model

    torch.manual_seed(1)
    config = MODEL_PRESETS["tiny"]
    model = build_model(config, bundle.token_space)
    run = tmp_path / "run"
    ctx = DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu"), backend=None)
    export_model(model, run / "model", model_config=config, token_space=bundle.token_space, train_config={},
                 maskable_specials=("eot",), step=7, ctx=ctx)
    bundle.save(tmp_path / "bundle")
    _, all_lines = prompts
    lines = [line for line in all_lines if line["id"] in ("story", "cat", "hello", "asr", "dog")]
    path = tmp_path / "few.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code = main(["generate", "--model", str(run), "--bundle", str(tmp_path / "bundle"), "--prompts", str(path),
                 "--batch-size", "3", "--image-sampler.steps", "3", "--audio-sampler.steps", "3",
                 "--text-sampler.block-length", "4"])
    assert code == 0
    sidecars = _check_outputs(run / "samples", lines, bundle)
    assert sidecars["cat"]["model_step"] == 7 and sidecars["cat"]["steps"] == 3
    # a bundle of another token space is refused with a clear message
    other = tmp_path / "other.jsonl"
    other.write_text('{"id": "x", "task": "nope"}\n')
    assert main(["generate", "--model", str(run), "--bundle", str(tmp_path / "bundle"), "--prompts",
                 str(other)]) == 2
