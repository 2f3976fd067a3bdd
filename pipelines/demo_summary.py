"""The demo's closing summary table: records in, kept, rejected per reason, duplicates, tokens per modality."""

from __future__ import annotations

from typing import Any

CORPORA = ("text", "image_text", "audio_text")
MODALITIES = ("text", "image", "audio", "special")


def format_table(summary: dict[str, Any]) -> str:
    steps = summary["steps"]
    header = ["corpus", "read", "kept", "rejected", "duplicates", "adds up", *(f"{m} tokens" for m in MODALITIES)]
    rows = []
    details = []
    for corpus in CORPORA:
        s = steps[f"corpus_{corpus}"]["summary"]
        tokens = s["tokens_written"]
        adds_up = s["kept"] + s["rejected"] + s["duplicates_removed"] == s["read"]
        rows.append([corpus, s["read"], s["kept"], s["rejected"], s["duplicates_removed"], "yes" if adds_up else "NO",
                     *(tokens.get(m, 0) for m in MODALITIES)])
        reasons = {**s["rejected_by_reason"], **s["duplicates_by_reason"]}
        if reasons:
            details.append(f"  {corpus}: " + ", ".join(f"{r} {n:,}" for r, n in sorted(reasons.items())))
    cells = [[f"{v:,}" if isinstance(v, int) else str(v) for v in row] for row in [header, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True)))
             for row in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    text = steps["text_tokenizer"]
    image = steps["image_tokenizer"]
    audio = steps["audio_codec"]
    out = summary["out"]
    return "\n".join([
        "Corpora",
        *lines,
        "",
        "Rejected and removed, by reason",
        *details,
        "",
        "Tokenizers",
        f"  text BPE: {text['vocab_size']:,} tokens, {text['chars_per_token']} chars/token",
        f"  image: {image['codebook_size']} codes x {image['tokens_per_image']} tokens/image, held-out PSNR "
        f"{image['heldout_psnr_db']} dB",
        f"  audio: {audio.get('kind', 'dac')} {audio['sample_rate']} Hz, {audio['num_codebooks']} x "
        f"{audio['codebook_size']} codes; {audio['origin']}",
        f"  token space {steps['bundle']['fingerprint']}, {steps['bundle']['vocab_size']:,} ids",
        f"  tokenizer fingerprint {steps['bundle']['tokenizer_fingerprint']} (in every manifest)",
        "",
        "Written",
        f"  tokenizer bundle  {out}/tokenizers/bundle",
        *(f"  {c:<16}  {steps[f'corpus_{c}']['manifest']}" for c in CORPORA),
        f"  mixture           {steps['mixture']['path']}",
        f"  summary           {out}/summary.json",
        "Every manifest above validated (shards present, fingerprints and sha256 match).",
        *model_lines(summary),
    ])


def model_lines(summary: dict[str, Any]) -> list[str]:
    """The model half: training, held-out ELBO, condition gaps, quality floor, NFE, round trips, wall times."""
    steps = summary["steps"]
    if "train" not in steps:
        return []
    train, elbo, floor = steps["train"], steps["elbo"], steps["quality_floor"]
    lines = ["", "Model",
             f"  trained {train['steps']} steps through submitit (job {train['job_id']}): loss "
             f"{train['loss_first']:.3f} -> {train['loss_last']:.3f}; {train['run_dir']}"]
    lines.append(f"  {'modality':8s} {'train NELBO':>12s} {'val NELBO':>10s} {'95% interval':>20s} {'val exp':>9s}")
    for m, est in elbo["modalities"].items():
        tr = train["train_nelbo"].get(m)
        lo, hi = est["ci"]
        lines.append(f"  {m:8s} {tr if tr is not None else float('nan'):12.3f} {est['nelbo']:10.3f} "
                     f"[{lo:8.3f}, {hi:8.3f}] {est['exp_nelbo']:9.1f}")
    for task, gap in elbo["condition_gaps"].items():
        lo, hi = gap["gap_ci"]
        lines.append(f"  condition gap {task}: {gap['gap']:+.4f} nats/token [{lo:+.4f}, {hi:+.4f}]")
    lines.append(f"  quality floor: text exp(NELBO) {floor['text_exp_nelbo']:.1f} vs unigram perplexity "
                 f"{floor['unigram_perplexity']:.1f} ({'below' if floor['text_beats_unigram'] else 'NOT below'}); "
                 f"T2I gap interval {'excludes' if floor['t2i_gap_excludes_zero'] else 'includes'} 0")
    nfe = steps["generate"]["mean_nfe"]
    lines.append(f"  generated {steps['generate']['samples']} samples; mean NFE " +
                 ", ".join(f"{t} {n:.0f}" for t, n in nfe.items()))
    for m in steps["round_trips"]["speech"]:
        value = f"{m['value']:.3f}" if m["value"] is not None else f"skipped ({m['reason']})"
        lines.append(f"  {m['name']}: {value}")
    timing = ", ".join(f"{k} {v['seconds']:.0f}s" for k, v in steps.items() if isinstance(v, dict) and "seconds" in v)
    lines += ["", f"Wall time per step: {timing}; total {summary.get('seconds', float('nan')):.0f} s"]
    return lines
