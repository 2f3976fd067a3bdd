"""The demo's model steps (wiring only): hold out a validation split, train through submitit's local executor,
evaluate ELBO and condition gaps, generate in every task, measure tokenizer round trips, write the report.

Every function calls a package's public API and returns a small JSON-able summary for ``summary.json``.
"""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path
from typing import Any

from pipelines.demo_steps import _say

SPLIT_SALT = "trimodal-demo-val"


def split_validation(mixture: Path, out: Path, *, fraction: float) -> dict[str, Any]:
    """``out/train.json`` and ``out/val.json``: every component split by a salted hash of the example id."""
    from trimodal_core.manifest import MixtureManifest
    from trimodal_core.split import split_mixture

    split_mixture(mixture, out, fraction=fraction, salt=SPLIT_SALT, overwrite=True)
    rows = {}
    for side in ("train", "val"):
        manifest = MixtureManifest.load(out / f"{side}.json")
        rows[side] = {n: c.num_rows for n, c in manifest.load_components().items()}
    _say("split", f"validation {fraction:.0%} by hash of example id: " + ", ".join(
        f"{n} {rows['train'][n]}/{rows['val'][n]}" for n in rows["train"]) + f" (train/val rows) -> {out}")
    return {"train": str(out / "train.json"), "val": str(out / "val.json"), "rows": rows, "fraction": fraction,
            "salt": SPLIT_SALT}


def train_config(mixture: Path, run_dir: Path, *, model_size: str, steps: int, seq_len: int, batch_size: int,
                 device: str, seed: int, lr: float = 3e-3) -> Any:
    """The demo's TrainConfig: the ``demo`` preset with the demo's model, length, batch, steps, lr and device."""
    import dataclasses

    from trimodal_train.configs import load_config
    from trimodal_train.model.presets import MODEL_PRESETS

    if model_size not in MODEL_PRESETS:
        raise ValueError(f"--model-size {model_size!r}: unknown preset; known: {', '.join(MODEL_PRESETS)}")
    config = load_config("demo", [
        "--data.mixture", str(mixture), "--data.seq-len", str(seq_len),
        "--data.global-batch-size", str(batch_size), "--run.run-dir", str(run_dir), "--run.steps", str(steps),
        "--run.device", device, "--run.seed", str(seed), "--run.log-interval", "10", "--optim.adamw.lr", str(lr),
        "--optim.schedule.warmup-steps", str(max(1, steps // 10)),
        "--checkpoint.interval", str(max(1, steps // 2)),
    ])
    return dataclasses.replace(config, model=MODEL_PRESETS[model_size])


def train(config: Any) -> dict[str, Any]:
    """Train through submitit's local executor (the trainer's launch path) and wait for the job."""
    from trimodal_train.launch import LaunchConfig, TrainJob, build_executor

    run_dir = Path(config.run.run_dir)
    executor = build_executor(LaunchConfig(executor="local", time_min=60, job_name="trimodal-demo"),
                              run_dir / "submitit")
    started = time.perf_counter()
    job = executor.submit(TrainJob(config))
    _say("train", f"submitted job {job.job_id} to submitit's local executor; logs in {run_dir / 'submitit'}")
    result = job.result()
    from trimodal_eval.scaling.collect import read_metrics

    records = read_metrics(run_dir / "metrics.jsonl")
    last = records[-1]
    first = records[0]
    _say("train", f"{result.final_step} steps in {time.perf_counter() - started:.0f} s, loss "
                  f"{first['loss']:.3f} -> {last['loss']:.3f} -> {run_dir}")
    per_mod = {m: last.get(f"nelbo_{m}") for m in ("text", "image", "audio")}
    return {"run_dir": str(run_dir), "steps": result.final_step, "job_id": job.job_id, "loss_first": first["loss"],
            "loss_last": last["loss"], "train_nelbo": per_mod, "tokens": last.get("tokens")}


def evaluate(run_dir: Path, val: dict[str, Path], train: dict[str, Path], *, max_examples: int, num_t_samples: int,
             device: str) -> dict[str, Any]:
    """Held-out NELBO per modality, condition gaps, and the unigram text baseline (fit on the train split)."""
    from trimodal_eval.commands.elbo import ElboCommandConfig, run_elbo
    from trimodal_eval.likelihood import ElboConfig

    result = run_elbo(ElboCommandConfig(
        model=run_dir, data=tuple(val.values()), max_examples=max_examples, device=device,
        estimate=ElboConfig(num_t_samples=num_t_samples, batch_size=16), unigram_from=(train["text"],),
    ))
    parts = [f"{m} {e['nelbo']:.3f} (exp {e['exp_nelbo']:.1f})" for m, e in result["modalities"].items()]
    gaps = [f"{t} {g['gap']:+.3f} [{g['gap_ci'][0]:+.3f}, {g['gap_ci'][1]:+.3f}]"
            for t, g in result["condition_gaps"].items()]
    _say("elbo", "held-out NELBO/token " + ", ".join(parts) + "; condition gaps " + ", ".join(gaps))
    return result


def _val_examples(val_manifest: Path, count: int) -> list[Any]:
    from trimodal_eval.likelihood import read_examples

    return list(read_examples(val_manifest, max_examples=count))


def write_prompts(path: Path, bundle_dir: Path, val: dict[str, Path], clips_table: Path, *, count: int,
                  speech_seconds: float) -> list[dict[str, Any]]:
    """A JSONL prompts file built from held-out examples: text continuations, captions to draw and to speak,
    images to caption and clips to transcribe."""
    from trimodal_tokenizers import TokenizerBundle

    bundle = TokenizerBundle.load(bundle_dir)
    layout = bundle.layout
    media = path.parent / "prompt_media"
    media.mkdir(parents=True, exist_ok=True)
    lines: list[dict[str, Any]] = []
    for i, ex in enumerate(_val_examples(val["text"], count)):
        parsed = layout.parse(ex.tokens)
        words = bundle.text.decode(parsed.text_ids[:12]) if parsed.text_ids is not None else ""
        lines.append({"id": f"text-{i}", "task": "text", "text": words, "max_new_tokens": 48})
    for i, ex in enumerate(_val_examples(val["image_text"], count)):
        parsed = layout.parse(ex.tokens)
        caption = bundle.text.decode(parsed.text_ids)
        lines.append({"id": f"t2i-{i}", "task": "t2i", "text": caption})
        image = bundle.image.decode_batch(parsed.image_codes[None])[0]  # the held-out image, as the model sees it
        image.save(media / f"i2t-{i}.png")
        lines.append({"id": f"i2t-{i}", "task": "i2t", "image": f"prompt_media/i2t-{i}.png", "max_new_tokens": 24,
                      "reference": caption})
    for i, row in enumerate(_speech_rows(val["audio_text"], clips_table, path.parent / "prompt_media", count,
                                         max_seconds=speech_seconds)):
        # t2s speaks the whole transcript; s2t hears the clip's first seconds (rows are short in the demo).
        lines.append({"id": f"t2s-{i}", "task": "t2s", "text": row["transcript"], "seconds": speech_seconds})
        lines.append({"id": f"s2t-{i}", "task": "s2t", "audio": str(row["wav"]), "max_new_tokens": 32,
                      "reference": row["transcript"]})
    path.write_text("".join(json.dumps({k: v for k, v in line.items() if k != "reference"}) + "\n"
                            for line in lines), encoding="utf-8")
    return lines


def _speech_rows(val_manifest: Path, clips_table: Path, wav_dir: Path, count: int,
                 max_seconds: float | None = None) -> list[dict[str, Any]]:
    """Held-out clips of the demo speech corpus (matched to the val split by example id) as 16-bit WAV (the
    generate command reads WAV), with their transcripts; ``max_seconds`` keeps the first seconds of each (so a
    transcription prompt fits the model's rows)."""
    import soundfile as sf

    rows = {Path(r["path"]).stem: r for r in csv.DictReader(clips_table.open(encoding="utf-8"), delimiter="\t")}
    wav_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for ex in _val_examples(val_manifest, 10 * count):
        # ids are "<table>/<clip path>" (with its extension: "transcripts.tsv/clips/x.ogg"); match by stem
        row = rows.get(Path(ex.example_id).stem)
        if row is None or "planted" in row["path"]:
            continue
        wave, rate = sf.read(clips_table.parent / row["path"], dtype="float32")
        if max_seconds is not None:
            wave = wave[: int(max_seconds * rate)]
        wav = wav_dir / (Path(row["path"]).stem + ".wav")
        sf.write(wav, wave, rate, subtype="PCM_16")
        out.append({"wav": wav.resolve(), "transcript": row["transcript"], "wave": wave, "rate": rate})
        if len(out) == count:
            break
    return out


def generate(run_dir: Path, bundle_dir: Path, prompts: Path, out: Path, *, device: str) -> dict[str, Any]:
    """Sample every prompt with the per-modality default samplers; PNG/WAV/text + a JSON sidecar each."""
    from trimodal_eval.generation import GenerateConfig
    from trimodal_eval.generation import generate as run_generate

    started = time.perf_counter()
    summary = run_generate(GenerateConfig(model=run_dir, bundle=bundle_dir, prompts=prompts, out=out, device=device))
    nfe: dict[str, list[int]] = {}
    for sidecar in summary.sidecars:
        nfe.setdefault(sidecar["task"], []).append(int(sidecar["nfe"]))
    mean_nfe = {task: sum(v) / len(v) for task, v in nfe.items()}
    _say("generate", f"{len(summary.sidecars)} samples in {time.perf_counter() - started:.0f} s, mean NFE " +
         ", ".join(f"{t} {n:.0f}" for t, n in mean_nfe.items()) + f" -> {out}")
    return {"out": str(out), "samples": len(summary.sidecars), "mean_nfe": mean_nfe}


def round_trips(bundle_dir: Path, val: dict[str, Path], clips_table: Path, work: Path, *,
                count: int) -> dict[str, Any]:
    """Speech WER/CER of held-out real clips and of their round trip through the bundle's audio tokenizer
    (the image tokenizer's held-out PSNR is measured when it is trained)."""
    from trimodal_eval.metrics import speech_roundtrip
    from trimodal_tokenizers import TokenizerBundle

    bundle = TokenizerBundle.load(bundle_dir)
    rows = _speech_rows(val["audio_text"], clips_table, work, count)
    if not rows:
        raise ValueError(f"round trips: no held-out clip of {val['audio_text']} is listed in {clips_table}")
    speech = speech_roundtrip(bundle.audio, [(r["wave"], r["rate"]) for r in rows], [r["transcript"] for r in rows])
    _say("round trips", f"{len(rows)} held-out clips: " + ", ".join(
        f"{m.name} {m.value:.2f}" if m.value is not None else f"{m.name} skipped ({m.reason})" for m in speech))
    return {"speech": [m.as_dict() for m in speech], "clips": len(rows)}


def write_report(run_dir: Path, samples: Path, path: Path, *, data: dict[str, Any], model: dict[str, Any]) -> dict:
    """The run report plus the demo's own sections (quality floor, round trips, corpora, wall time per step)."""
    from trimodal_eval.report import Paragraph, Section, Table
    from trimodal_eval.report.run_report import build_run_report

    floor = model["quality_floor"]
    image = data["image_tokenizer"]
    speech_rows = [[m["name"], m["value"] if m["value"] is not None else float("nan"), m["reason"]]
                   for m in model["round_trips"]["speech"]]
    corpora = []
    for name in ("text", "image_text", "audio_text"):
        s = data[f"corpus_{name}"]["summary"]
        corpora.append([name, s["read"], s["kept"], s["rejected"], s["duplicates_removed"],
                        *(s["tokens_written"].get(m, 0) for m in ("text", "image", "audio"))])
    seconds = [[name, step.get("seconds", float("nan")), "reused" if step.get("reused") else "ran"]
               for name, step in {**data, **model}.items() if isinstance(step, dict) and "seconds" in step]
    extra = [
        Section("Demo summary", [
            Table(["check", "value"], [
                ["text exp(NELBO), validation", floor["text_exp_nelbo"]],
                ["unigram perplexity, same positions", floor["unigram_perplexity"]],
                ["text beats unigram", "yes" if floor["text_beats_unigram"] else "NO"],
                ["T2I condition gap (nats/token)", floor["t2i_gap"]],
                ["T2I gap 95% interval", f"[{floor['t2i_gap_ci'][0]:+.4f}, {floor['t2i_gap_ci'][1]:+.4f}]"],
                ["T2I gap interval excludes 0", "yes" if floor["t2i_gap_excludes_zero"] else "no"],
                *[[f"mean NFE, {task}", nfe] for task, nfe in model["generate"]["mean_nfe"].items()],
            ]),
        ]),
        Section("Tokenizer round trips", [
            Paragraph(f"Image tokenizer: held-out PSNR {image['heldout_psnr_db']} dB (train {image['train_psnr_db']} "
                      f"dB), {image['codebook_size']} codes, {image['tokens_per_image']} tokens per image."),
            Paragraph(f"Audio tokenizer: {data['audio_codec']['origin']}. Speech recognized offline by "
                      "pocketsphinx, on the real held-out clips and on their codec round trip:"),
            Table(["measure", "value", "note"], speech_rows),
        ]),
        Section("Corpora", [Table(["corpus", "read", "kept", "rejected", "duplicates", "text tokens",
                                   "image tokens", "audio tokens"], corpora)]),
        Section("Wall time per step", [Table(["step", "seconds", ""], seconds)]),
    ]
    page = build_run_report(run_dir, samples_dir=samples, title="trimodal demo", extra_sections=extra)
    written = page.write(path)
    _say("report", f"{written}")
    return {"path": str(written)}
