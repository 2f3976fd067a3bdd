"""``trimodal-eval metrics`` on a generation folder written by the real ``generate`` (tiny random model).

The t2s sample's WAV is replaced by a real recorded clip of the committed demo corpus, so its prompt is a
known transcript the offline recognizer gets (nearly) right; the clip's first words are the ``--real-audio``
reference row, measured as they are and through the bundle's codec, exactly as the library measures them.
Checkpoint metrics are skipped, naming their flags; bad folders are refused naming them.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from trimodal_eval.cli import main as eval_main
from trimodal_eval.commands.metrics import MetricsCommandConfig, run_metrics, summarize
from trimodal_eval.generation import GenerateConfig, generate, read_wav, wav_bytes
from trimodal_eval.metrics import sample_entropy, speech_metrics
from trimodal_eval.sampling import DEFAULT_SAMPLERS

DEMO_AUDIO = Path(__file__).resolve().parents[3] / "pipelines" / "demo_data" / "audio_text"
CLIP = "clips/kal16-tuxpaint-symbols-alphabets-asl-asl_i.ogg"
FAST = {"text_sampler": DEFAULT_SAMPLERS["text"].replace(block_length=4),
        "image_sampler": DEFAULT_SAMPLERS["image"].replace(steps=2),
        "audio_sampler": DEFAULT_SAMPLERS["audio"].replace(steps=2)}


@pytest.fixture(scope="module")
def generated(tmp_path_factory, bundle, tiny_model) -> dict[str, Path]:
    pytest.importorskip("pocketsphinx")
    root = tmp_path_factory.mktemp("metrics")
    rows = {r["path"]: r for r in csv.DictReader((DEMO_AUDIO / "transcripts.tsv").open(encoding="utf-8"),
                                                 delimiter="\t")}
    transcript = rows[CLIP]["transcript"]
    lines = [{"id": "story", "task": "text", "text": "def main", "max_new_tokens": 8},
             {"id": "story2", "task": "text", "text": "class Foo", "max_new_tokens": 8},
             {"id": "cat", "task": "t2i", "text": "a green square"},
             {"id": "dog", "task": "t2i", "text": "a red dog"},
             {"id": "asl", "task": "t2s", "text": transcript, "seconds": 0.2}]
    (root / "prompts.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    samples = root / "samples"
    generate(GenerateConfig(model=root, bundle=root, prompts=root / "prompts.jsonl", out=samples, **FAST),
             model=tiny_model, bundle=bundle)
    wave, rate = sf.read(DEMO_AUDIO / CLIP, dtype="float32")
    (samples / "asl.wav").write_bytes(wav_bytes(wave, rate))  # the real recording stands in for the sample
    (root / "real").mkdir()  # reference rows: the clip's first 0.6 s (recognition costs ~2 s per audio second)
    sf.write(root / "real" / "start.wav", wave[: int(0.6 * rate)], rate, subtype="PCM_16")
    (root / "real" / "transcripts.tsv").write_text("path\ttranscript\tspeaker\nstart.wav\tthe sign\tkal16\n")
    from PIL import Image

    (root / "images").mkdir()
    for i, color in enumerate([(200, 30, 30), (20, 180, 60)]):
        Image.new("RGB", (40, 40), color).save(root / "images" / f"real-{i}.png")
    bundle.save(root / "bundle")
    return {"root": root, "samples": samples, "bundle": root / "bundle", "real_audio": root / "real",
            "images": root / "images"}


def test_metrics_of_a_generation_folder(generated, bundle) -> None:
    samples = generated["samples"]
    result = run_metrics(MetricsCommandConfig(samples=samples, tokenizers=generated["bundle"],
                                              real_audio=generated["real_audio"], real_images=generated["images"],
                                              reference_images=generated["images"]))
    got = {m["name"]: m for m in result["metrics"]}
    skipped = {s["name"]: s["reason"] for s in result["skipped"]}
    assert result["num_samples"] == {"text": 2, "t2i": 2, "t2s": 1}
    wer, real = got["generated speech WER"], got["real speech WER"]
    assert wer["count"] == 1 and wer["details"]["ids"] == ["asl"]
    assert wer["value"] < 0.35, wer["details"]  # "the sign for the letter i in american sign language"
    assert got["generated speech CER"]["value"] <= wer["value"]
    # reference rows: the real clip as read from --real-audio, and its round trip through the bundle's codec
    start, start_rate = read_wav(generated["real_audio"] / "start.wav")
    decoded = bundle.audio.decode(bundle.audio.encode(start, start_rate))
    assert real["count"] == got["codec round trip CER"]["count"] == 1
    assert real["value"] == speech_metrics("r", [(start, start_rate)], ["the sign"])[0].value
    assert got["codec round trip WER"]["value"] == speech_metrics("c", [(decoded, bundle.audio.sample_rate)],
                                                                  ["the sign"])[0].value
    assert got["image round-trip PSNR"]["count"] == 2 and np.isfinite(got["image round-trip PSNR"]["value"])
    texts = [json.loads((samples / f"{i}.json").read_text())["output_text"] for i in ("story", "story2")]
    ids = [bundle.text.encode(t).tolist() for t in texts if t]
    assert got["sample entropy"]["value"] == pytest.approx(sample_entropy(ids))
    assert got["sample entropy"]["count"] == len(ids)
    assert "--clip-checkpoint" in skipped["CLIP score"] and "value" not in json.dumps(result["skipped"])
    assert "--fid-checkpoint" in skipped["FID"] and "--fid-checkpoint" in skipped["KID"]
    assert "--reference-model" in skipped["generative perplexity"]
    assert set(got).isdisjoint(skipped)
    on_disk = json.loads((samples / "metrics.json").read_text())
    assert on_disk["metrics"] == result["metrics"] and on_disk["skipped"] == result["skipped"]
    table = summarize(result)
    assert "skipped CLIP score: no checkpoint given (set --clip-checkpoint" in table
    assert any(line.startswith("generated speech WER") for line in table.splitlines())

    from trimodal_eval.report.run_report import build_run_report

    html = build_run_report(generated["root"], samples_dir=samples).render()
    assert "Metrics" in html and "generated speech WER" in html and "--clip-checkpoint" in html


def test_cli_skips_fid_without_reference_images(generated, tmp_path, capsys) -> None:
    folder = tmp_path / "images_and_text"
    folder.mkdir()
    for name in ("story", "cat", "dog"):
        for path in generated["samples"].glob(f"{name}.*"):
            shutil.copy(path, folder / path.name)
    (tmp_path / "inception.pth").write_bytes(b"")
    out = tmp_path / "m.json"
    assert eval_main(["metrics", "--samples", str(folder), "--fid-checkpoint", str(tmp_path / "inception.pth"),
                      "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "skipped FID: no reference images (set --reference-images" in printed
    assert "skipped sample entropy: no token ids (set --tokenizers" in printed
    assert "skipped generated speech WER: no t2s samples" in printed
    assert json.loads(out.read_text())["metrics"] == [] and not (folder / "metrics.json").exists()


def test_bad_inputs_are_refused_naming_them(generated, tmp_path, capsys) -> None:
    with pytest.raises(ValueError, match="--samples .*nowhere: not a folder"):
        run_metrics(MetricsCommandConfig(samples=tmp_path / "nowhere"))
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "metrics.json").write_text("{}")
    with pytest.raises(ValueError, match="empty: no sample sidecars"):
        run_metrics(MetricsCommandConfig(samples=tmp_path / "empty"))
    broken = tmp_path / "broken"
    shutil.copytree(generated["samples"], broken)
    (broken / "cat.png").unlink()
    with pytest.raises(ValueError, match=r"cat\.json: output file 'cat\.png' not found"):
        run_metrics(MetricsCommandConfig(samples=broken))
    (tmp_path / "run" / "model").mkdir(parents=True)
    (tmp_path / "run" / "model" / "model_config.json").write_text("{}")
    with pytest.raises(ValueError, match="--reference-model .*trimodal model folder"):
        run_metrics(MetricsCommandConfig(samples=generated["samples"], reference_model=tmp_path / "run"))
    with pytest.raises(ValueError, match="text_tasks"):
        MetricsCommandConfig(samples=generated["samples"], text_tasks=("t2i",))
    from trimodal_eval.commands.report import ReportCommandConfig, run_report

    with pytest.raises(ValueError, match="--metrics .*nope.json: file not found"):
        run_report(ReportCommandConfig(run=tmp_path, metrics=tmp_path / "nope.json"))
    assert eval_main(["metrics", "--samples", str(tmp_path / "nowhere")]) == 2
    assert "error: --samples" in capsys.readouterr().err
