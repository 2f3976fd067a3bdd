"""Document-masked attention: SDPA (boolean / additive mask) against flex_attention (block mask).

Run: ``uv run python bench/bench_attention.py [--lengths 512 1024] [--rounds 5]``. For each row length the
rows are packed with documents of random length (mean ``--mean-doc``) and end in padding, as in our packed
text rows. Paths, timed interleaved in the same run (best and median of ``--rounds``):

* ``sdpa-bool``: ``F.scaled_dot_product_attention`` with the boolean mask ``doc[q] == doc[k]`` (our default);
* ``sdpa-additive``: the same with an additive float mask (0 / -inf) in the compute dtype;
* ``sdpa-nomask``: no mask (wrong for packed rows; the speed of the fused kernel without a mask);
* ``flex``: ``torch.compile(flex_attention)`` with ``create_block_mask`` from the same document ids.

Forward and forward+backward are timed separately; flex has no CPU backward in torch 2.11, so on CPU only
its forward is timed. Mask construction is timed on its own (once per step, shared by all layers). Outputs
of every path are checked against ``sdpa-bool`` (padding rows excluded). On CUDA the same script times bf16.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch.nn.attention.flex_attention import create_block_mask, flex_attention


def packed_document_ids(batch: int, length: int, mean_doc: int, seed: int) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    docs = torch.full((batch, length), -1, dtype=torch.int32)
    for row in range(batch):
        pos, doc = 0, 0
        end = length - int(torch.randint(0, mean_doc, (1,), generator=gen))  # padding tail
        while pos < end:
            size = max(8, int(torch.empty(1).exponential_(1 / mean_doc, generator=gen)))
            docs[row, pos : min(end, pos + size)] = doc
            pos, doc = pos + size, doc + 1
    return docs


def timed(fn: Callable[[], object], sync: Callable[[], None]) -> float:
    start = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - start


def bench_length(length: int, args: argparse.Namespace, flex: Callable[..., torch.Tensor], device: str,
                 dtype: torch.dtype, sync: Callable[[], None]) -> None:
    docs = packed_document_ids(args.batch, length, args.mean_doc, seed=length).to(device)
    shape = (args.batch, args.heads, length, args.head_dim)
    gen = torch.Generator(device=device).manual_seed(0)
    q, k, v = (torch.randn(shape, device=device, dtype=dtype, generator=gen) for _ in range(3))

    def bool_mask(docs: torch.Tensor = docs) -> torch.Tensor:
        return (docs[:, :, None] == docs[:, None, :]).unsqueeze(1)

    def additive_mask(docs: torch.Tensor = docs) -> torch.Tensor:
        zero = torch.zeros((), dtype=dtype, device=device)
        return torch.where(bool_mask(docs), zero, torch.tensor(float("-inf"), dtype=dtype, device=device))

    def block_mask(docs: torch.Tensor = docs) -> object:
        def same_document(b, h, qi, ki):  # type: ignore[no-untyped-def]
            return docs[b, qi] == docs[b, ki]

        return create_block_mask(same_document, args.batch, None, length, length, device=device)

    masks = {"bool": bool_mask(), "additive": additive_mask(), "block": block_mask()}
    paths: dict[str, Callable[..., torch.Tensor]] = {
        "sdpa-bool": lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=masks["bool"]),
        "sdpa-additive": lambda q, k, v: F.scaled_dot_product_attention(q, k, v, attn_mask=masks["additive"]),
        "sdpa-nomask": lambda q, k, v: F.scaled_dot_product_attention(q, k, v),
        "flex": lambda q, k, v: flex(q, k, v, block_mask=masks["block"]),
    }
    with torch.no_grad():
        reference = paths["sdpa-bool"](q, k, v)
        real = (docs >= 0)[:, None, :, None].expand_as(reference)
        errors = {name: float((fn(q, k, v) - reference)[real].abs().max()) for name, fn in paths.items()}
    backward_paths = [name for name in paths if not (name == "flex" and device == "cpu")]
    q_, k_, v_ = (t.clone().requires_grad_() for t in (q, k, v))

    def forward(name: str) -> Callable[[], object]:
        def run() -> object:
            with torch.no_grad():
                return paths[name](q, k, v)
        return run

    def forward_backward(name: str) -> Callable[[], object]:
        def run() -> object:
            paths[name](q_, k_, v_).sum().backward()
            return None
        return run

    jobs = {f"{name} fwd": forward(name) for name in paths}
    jobs |= {f"{name} fwd+bwd": forward_backward(name) for name in backward_paths}
    jobs |= {"mask bool": bool_mask, "mask additive": additive_mask, "mask block": block_mask}
    for job in jobs.values():  # warm-up (compiles flex)
        job()
    times: dict[str, list[float]] = {name: [] for name in jobs}
    for _ in range(args.rounds):
        for name, job in jobs.items():
            times[name].append(timed(job, sync))
    print(f"\nL = {length} ({int(docs.max()) + 1} documents in the last row, "
          f"{float((docs < 0).float().mean()):.1%} padding)")
    print("| path | best ms | median ms | max abs err vs sdpa-bool |")
    print("|---|---|---|---|")
    for name, values in times.items():
        base = name.split(" ")[0]
        err = f"{errors[base]:.1e}" if base in errors and name.endswith("fwd") else ""
        print(f"| {name} | {min(values) * 1e3:.2f} | {statistics.median(values) * 1e3:.2f} | {err} |")
    best = {name: min(values) for name, values in times.items()}
    print(f"ratio fwd flex / sdpa-bool: {best['flex fwd'] / best['sdpa-bool fwd']:.2f}x; "
          f"sdpa-additive / sdpa-bool: fwd {best['sdpa-additive fwd'] / best['sdpa-bool fwd']:.2f}x, "
          f"fwd+bwd {best['sdpa-additive fwd+bwd'] / best['sdpa-bool fwd+bwd']:.2f}x")
    if "flex fwd+bwd" in best:
        print(f"ratio fwd+bwd flex / sdpa-bool: {best['flex fwd+bwd'] / best['sdpa-bool fwd+bwd']:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lengths", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--batch", type=int, default=4)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--head-dim", type=int, default=64)
    parser.add_argument("--mean-doc", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    print(f"torch {torch.__version__}, device {device}, dtype {dtype}, {torch.get_num_threads()} threads; "
          f"batch {args.batch}, heads {args.heads}, head dim {args.head_dim}, mean document {args.mean_doc}")
    flex = torch.compile(flex_attention, dynamic=False)
    for length in args.lengths:
        bench_length(length, args, flex, device, dtype, sync)

if __name__ == "__main__":
    main()
