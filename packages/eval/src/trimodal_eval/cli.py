"""``trimodal-eval``: the eval package's command line (options of each subcommand come from its config)."""

from __future__ import annotations

import logging
import sys
from collections.abc import Sequence

from trimodal_core.subcommands import Subcommand, dispatch


def _cli(config_cls: type, argv: list[str], prog: str):  # type: ignore[no-untyped-def]
    import tyro

    return tyro.cli(config_cls, args=argv, prog=prog)


def _guard(fn):  # type: ignore[no-untyped-def]
    """User errors (ValueError naming the field or file) end in one line on stderr and exit code 2."""

    def run(argv: list[str]) -> int:
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
        try:
            return fn(argv)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    return run


@_guard
def _elbo(argv: list[str]) -> int:
    from trimodal_eval.commands.elbo import ElboCommandConfig, run_elbo, summarize

    print(summarize(run_elbo(_cli(ElboCommandConfig, argv, "trimodal-eval elbo"))))
    return 0


@_guard
def _report(argv: list[str]) -> int:
    from trimodal_eval.commands.report import ReportCommandConfig, run_report

    print(run_report(_cli(ReportCommandConfig, argv, "trimodal-eval report")))
    return 0


@_guard
def _fit_scaling(argv: list[str]) -> int:
    from trimodal_eval.commands.fit_scaling import FitScalingConfig, run_fit_scaling

    result = run_fit_scaling(_cli(FitScalingConfig, argv, "trimodal-eval fit-scaling"))
    for modality, fit in result["fits"].items():
        law = fit["law"]
        print(f"{modality}: L = {law['E']:.4g} + {law['A']:.4g} N^-{law['alpha']:.3f} + {law['B']:.4g} "
              f"D^-{law['beta']:.3f} ({fit['num_points']} runs)")
    for modality, why in result["skipped"].items():
        print(f"{modality}: not fitted ({why})")
    print(result["report"])
    return 0


@_guard
def _metrics(argv: list[str]) -> int:
    from trimodal_eval.commands.metrics import MetricsCommandConfig, run_metrics, summarize

    print(summarize(run_metrics(_cli(MetricsCommandConfig, argv, "trimodal-eval metrics"))))
    return 0


@_guard
def _generate(argv: list[str]) -> int:
    from trimodal_eval.generation import GenerateConfig, generate

    summary = generate(_cli(GenerateConfig, argv, "trimodal-eval generate"))
    for sidecar in summary.sidecars:
        shown = sidecar["output_text"] if sidecar["output_text"] is not None else sidecar["files"].get("output")
        print(f"{sidecar['id']} ({sidecar['task']}, NFE {sidecar['nfe']}): {shown}")
    print(f"wrote {len(summary.sidecars)} sample(s) to {summary.out_dir}")
    return 0


def _policy(argv: list[str]) -> int:
    from trimodal_eval.commands.policy import run_policy

    return run_policy(argv, _guard)


COMMANDS: dict[str, Subcommand] = {
    "generate": Subcommand("sample text, images (PNG) and speech (WAV) for a JSONL prompts file", _generate),
    "elbo": Subcommand("NELBO per modality and condition gaps on held-out corpora", _elbo),
    "metrics": Subcommand("WER/CER, CLIP score, FID/KID, generative perplexity and round trips of a generation "
                          "folder", _metrics),
    "report": Subcommand("write the self-contained HTML report of a run", _report),
    "fit-scaling": Subcommand("fit L(N, D) per modality to a sweep's runs, with plots and a report", _fit_scaling),
    "policy": Subcommand("learned unmasking policy: 'policy train' (GRPO) and 'policy compare' (accuracy vs NFE)",
                         _policy),
}


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch("trimodal-eval", "Evaluate tri-modal masked diffusion models.", COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
