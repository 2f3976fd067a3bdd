"""Benchmark: the two band-limited resamplers the project had, on the rate pairs the audio pipelines meet.

* ``torchaudio``: ``torchaudio.functional.resample`` (windowed sinc, ``lowpass_filter_width=6``, Hann window;
  the kernel is rebuilt on every call, as a worker resampling clips of varying rates does);
* ``scipy``: ``scipy.signal.resample_poly`` (polyphase FIR, Kaiser window, ``U/D`` reduced by their gcd).

Each pair resamples 10 s of white noise; the two are interleaved ``--rounds`` times on one thread (torch's
intra-op threads set to 1, as on a Beam worker core) and the median is reported, with the error of each
against an exact FFT resampling of a band-limited test tone (dB, lower is better). Run with::

    uv run python bench/bench_resample.py [--rounds 7] [--seconds 10]
"""

from __future__ import annotations

import argparse
import math
import statistics
import time

import numpy as np

PAIRS = [(44100, 16000), (44100, 24000), (48000, 16000), (48000, 24000), (22050, 16000), (22050, 24000),
         (16000, 24000), (8000, 16000), (11025, 16000), (16000, 8000), (44100, 8000), (24000, 8000)]


def _torchaudio(x: np.ndarray, source: int, target: int) -> np.ndarray:
    import torch
    import torchaudio.functional as F

    with torch.no_grad():
        return F.resample(torch.from_numpy(x)[None], source, target)[0].numpy()


def _scipy(x: np.ndarray, source: int, target: int) -> np.ndarray:
    from scipy.signal import resample_poly

    g = math.gcd(source, target)
    return resample_poly(x, target // g, source // g).astype(np.float32)


def _error_db(fn, source: int, target: int) -> float:
    """Error against the exact resampling of a tone at 30% of the lower Nyquist rate, middle 80% of the clip."""
    freq = 0.3 * min(source, target) / 2
    n = source
    tone = np.sin(2 * np.pi * freq * np.arange(n) / source).astype(np.float32)
    out = fn(tone, source, target)
    exact = np.sin(2 * np.pi * freq * np.arange(len(out)) / target)
    lo, hi = len(out) // 10, len(out) * 9 // 10
    err = np.sqrt(np.mean((out[lo:hi] - exact[lo:hi]) ** 2))
    return 20 * math.log10(max(err, 1e-12))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    impls = {"torchaudio": _torchaudio, "scipy": _scipy}
    ratios = []
    print(f"{'pair':>16} {'torchaudio ms':>14} {'scipy ms':>10} {'scipy/ta':>9} {'err dB ta':>10} {'err dB sp':>10}")
    for source, target in PAIRS:
        x = rng.standard_normal(int(source * args.seconds)).astype(np.float32)
        times: dict[str, list[float]] = {name: [] for name in impls}
        for fn in impls.values():
            fn(x, source, target)  # warm-up (imports, first kernel)
        for _ in range(args.rounds):
            for name, fn in impls.items():
                start = time.perf_counter()
                fn(x, source, target)
                times[name].append(time.perf_counter() - start)
        med = {name: statistics.median(t) * 1000 for name, t in times.items()}
        ratios.append(med["scipy"] / med["torchaudio"])
        errors = {name: _error_db(fn, source, target) for name, fn in impls.items()}
        print(f"{source:>7}->{target:<7} {med['torchaudio']:>14.1f} {med['scipy']:>10.1f} {ratios[-1]:>9.2f} "
              f"{errors['torchaudio']:>10.1f} {errors['scipy']:>10.1f}")
    print(f"geometric mean scipy/torchaudio time: {math.exp(statistics.mean(map(math.log, ratios))):.2f}")


if __name__ == "__main__":
    main()
