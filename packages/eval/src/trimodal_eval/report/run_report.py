"""The report of one training run: configuration, training curves, held-out ELBO, condition gaps, samples.

Reads only what the run folder and the eval commands wrote (``config.json``, ``metrics.jsonl``,
``eval/elbo.json``, a generation folder of JSON sidecars with their PNG/WAV files and, when
``trimodal-eval metrics`` wrote one, its ``metrics.json``); a part that is missing is
shown as a note saying which command produces it, never filled in. Callers add their own sections
(``extra_sections``: tokenizer round trips, experiment verdicts).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from trimodal_eval.report.figures import metric_curves_png
from trimodal_eval.report.page import Audio, Block, Figure, Paragraph, ReportPage, Section, Table, TextSample
from trimodal_eval.scaling.collect import read_metrics

MODALITIES = ("text", "image", "audio")


def _json(path: Path) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"{path}: invalid JSON ({exc})") from None
    return data if isinstance(data, dict) else None


def config_section(run_dir: Path) -> Section:
    config = _json(run_dir / "config.json")
    if config is None:
        return Section("Run", [Paragraph(f"{run_dir}/config.json is missing: not a trimodal-train run folder",
                                         note=True)])
    model, data, run = config.get("model", {}), config.get("data", {}), config.get("run", {})
    derived = config.get("derived", {})
    optimizer = derived.get("optimizer", {})
    rows: list[list[object]] = [
        ["model", f"d_model {model.get('d_model')}, {model.get('n_layers')} layers, {model.get('n_heads')} heads, "
                  f"ffn {model.get('ffn_hidden')}, {model.get('parameterization', '')}"],
        ["data", f"{data.get('mixture')} (seq_len {data.get('seq_len')}, "
                 f"global batch {data.get('global_batch_size')})"],
        ["steps", derived.get("total_steps", run.get("steps"))],
        ["seed", run.get("seed")],
        ["schedules", ", ".join(f"{m}: {v.get('name')}" for m, v in
                                config.get("diffusion", {}).get("schedules", {}).items())],
    ]
    for key in ("mode", "kappa", "lr", "beta1", "beta2", "eps", "weight_decay", "logical_batch_size",
                "logical_steps"):
        if key in optimizer:
            rows.append([f"optimizer {key}", optimizer[key]])
    if "token_space_fingerprint" in derived:
        rows.append(["token space", derived["token_space_fingerprint"]])
    return Section("Run", [Paragraph(str(run_dir)), Table(["setting", "value"], rows)])


def curves_section(run_dir: Path) -> Section:
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return Section("Training curves", [Paragraph(f"{path} is missing: the run logged no step", note=True)])
    records = read_metrics(path)
    keys = [f"nelbo_{m}" for m in MODALITIES if any(f"nelbo_{m}" in r for r in records)]
    blocks: list[Block] = [
        Figure(metric_curves_png(records, ["loss", *keys], title="training loss and NELBO per token",
                                 ylabel="nats per token"), caption="training loss (all modalities) and NELBO per "
                                                                   "modality, per optimizer step"),
        Figure(metric_curves_png(records, ["lr"], title="learning rate", ylabel="lr"), caption="learning rate"),
    ]
    last = records[-1] if records else {}
    summary = [[k, last[k]] for k in ("step", "loss", *keys, "tokens", "tokens_per_s", "grad_norm")
               if isinstance(last.get(k), int | float)]
    blocks.append(Table(["last logged", "value"], summary))
    return Section("Training curves", blocks)


def elbo_section(run_dir: Path) -> list[Section]:
    elbo = _json(run_dir / "eval" / "elbo.json")
    if elbo is None:
        note = Paragraph("no held-out ELBO yet: run `trimodal-eval elbo --model RUN --data VAL_MANIFEST ...`",
                         note=True)
        return [Section("Held-out ELBO", [note])]
    rows = []
    for name, est in elbo.get("modalities", {}).items():
        rows.append([name, est["nelbo"], f"[{est['ci'][0]:.4f}, {est['ci'][1]:.4f}]", est["exp_nelbo"],
                     f"[{est['exp_ci'][0]:.2f}, {est['exp_ci'][1]:.2f}]", est["tokens"]])
    blocks: list[Block] = [Table(["modality", "NELBO/token", "95% interval", "exp(NELBO)", "interval", "tokens"],
                                 rows, caption=f"{elbo.get('rows')} held-out rows, step {elbo.get('step')}")]
    if "unigram_text" in elbo:
        uni = elbo["unigram_text"]
        blocks.append(Paragraph(f"Unigram baseline on the same text positions: perplexity {uni['perplexity']:.2f} "
                                f"(NELBO {uni['nll_per_token']:.4f}); fitted on {uni['train_tokens']} training "
                                f"tokens."))
    gap_rows = []
    for task, gap in elbo.get("condition_gaps", {}).items():
        gap_rows.append([task, gap["matched"]["nelbo"], gap["shuffled"]["nelbo"], gap["gap"],
                         f"[{gap['gap_ci'][0]:+.4f}, {gap['gap_ci'][1]:+.4f}]", gap["rows"]])
    gap_blocks: list[Block] = [
        Paragraph("The target span's NELBO per token given its own condition (matched) and given another "
                  "example's (shuffled), with identical masks; the gap measures how much the model uses the other "
                  "modality (0 for a model that ignores it)."),
        Table(["task", "matched", "shuffled", "gap (nats/token)", "95% interval", "rows"], gap_rows),
    ]
    for task, why in elbo.get("skipped_gaps", {}).items():
        gap_blocks.append(Paragraph(f"{task}: skipped ({why})", note=True))
    return [Section("Held-out ELBO", blocks), Section("Condition gaps", gap_blocks)]


def samples_section(samples_dir: Path | None, *, title: str = "Samples") -> Section:
    if samples_dir is None or not samples_dir.is_dir():
        return Section(title, [Paragraph("no samples: run `trimodal-eval generate ...`", note=True)])
    blocks: list[Block] = []
    for sidecar in sorted(samples_dir.glob("*.json")):
        info = _json(sidecar)
        if info is None or "task" not in info:
            continue
        meta = f"{info['task']}, NFE {info.get('nfe')}"
        files = info.get("files", {}) or {}
        for key, name in sorted(files.items()):
            path = samples_dir / str(name)
            if not path.is_file() or path.resolve().parent != samples_dir.resolve():
                blocks.append(Paragraph(f"{sidecar.name}: file {name!r} missing", note=True))
                continue
            caption = f"{'condition ' if key.startswith('condition') else ''}{info['task']}: {info.get('prompt', '')}"
            if path.suffix == ".png":
                blocks.append(Figure(path.read_bytes(), caption=caption[:200], width=128))
            elif path.suffix == ".wav":
                blocks.append(Audio(path.read_bytes(), caption=caption[:200]))
        if info.get("output_text") is not None:
            blocks.append(TextSample(str(info.get("prompt", "")), str(info["output_text"]), meta))
        elif files:
            blocks.append(Paragraph(meta, note=True))
    if not blocks:
        blocks.append(Paragraph(f"{samples_dir} holds no sample sidecars", note=True))
    return Section(title, blocks)


def metrics_section(path: Path) -> Section | None:
    """The table of ``trimodal-eval metrics``' JSON (values and skipped metrics with their reasons), if it exists."""
    result = _json(path)
    if result is None:
        return None
    rows: list[list[object]] = []
    for m in result.get("metrics", []):
        note = m.get("reason", "") + (f" (std {m['std']:.4g})" if isinstance(m.get("std"), int | float) else "")
        rows.append([m["name"], m["value"] if m.get("value") is not None else float("nan"), m.get("count"), note])
    blocks: list[Block] = [Table(["metric", "value", "count", "note"], rows, caption=str(path))]
    blocks += [Paragraph(f"{s['name']}: skipped ({s['reason']})", note=True) for s in result.get("skipped", [])]
    return Section("Metrics", blocks)


def build_run_report(run_dir: str | Path, *, samples_dir: str | Path | None = None, title: str | None = None,
                     extra_sections: Sequence[Section] = (), metrics: str | Path | None = None) -> ReportPage:
    """The report page of ``run_dir`` (module docstring); ``metrics`` defaults to ``<samples_dir>/metrics.json``."""
    folder = Path(run_dir)
    if metrics is None and samples_dir is not None:
        metrics = Path(samples_dir) / "metrics.json"
    measured = metrics_section(Path(metrics)) if metrics is not None else None
    sections = [config_section(folder), curves_section(folder), *elbo_section(folder),
                samples_section(Path(samples_dir) if samples_dir is not None else None),
                *([measured] if measured is not None else []), *extra_sections]
    return ReportPage(title=title or f"trimodal run {folder.name}", sections=sections,
                      subtitle="masked (discrete) diffusion over text, image and audio tokens")
