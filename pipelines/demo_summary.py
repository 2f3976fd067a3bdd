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
        f"  audio: DAC {audio['sample_rate']} Hz, {audio['num_codebooks']} x {audio['codebook_size']} codes; "
        f"{audio['origin']}",
        f"  token space {steps['bundle']['fingerprint']}, {steps['bundle']['vocab_size']:,} ids",
        f"  tokenizer fingerprint {steps['bundle']['tokenizer_fingerprint']} (in every manifest)",
        "",
        "Written",
        f"  tokenizer bundle  {out}/tokenizers/bundle",
        *(f"  {c:<16}  {steps[f'corpus_{c}']['manifest']}" for c in CORPORA),
        f"  mixture           {steps['mixture']['path']}",
        f"  summary           {out}/summary.json",
        "Every manifest above validated (shards present, fingerprints and sha256 match).",
    ])
