"""``trimodal``: one entry point that delegates to each package's own command line.

``trimodal data ...`` is ``trimodal-data ...`` and so on; ``trimodal demo`` runs the embedded demo.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from trimodal_core.subcommands import Subcommand, dispatch


def _data(argv: list[str]) -> int:
    from trimodal_data.cli import main

    return main(argv)


def _tokenizers(argv: list[str]) -> int:
    from trimodal_tokenizers.cli import main

    return main(argv)


def _train(argv: list[str]) -> int:
    from trimodal_train.cli import main

    return main(argv)


def _eval(argv: list[str]) -> int:
    from trimodal_eval.cli import main

    return main(argv)


def _demo(argv: list[str]) -> int:
    from pipelines.demo import main

    return main(argv)


# ``trimodal experiment NAME``: study name -> (recipe module with ``main(argv)``, one line of help).
EXPERIMENTS: dict[str, tuple[str, str]] = {
    "batch_size": ("pipelines.experiments.batch_size", "batch-size invariance: SDE rule vs naive, spread, B_crit"),
    "gamma": ("pipelines.experiments.gamma", "the horizon exponent gamma from the best lr per token horizon"),
    "schedules": ("pipelines.experiments.schedules", "noise schedules per modality span: validation ELBO, samples"),
    "mixing": ("pipelines.experiments.mixing", "each modality's validation loss against its mixing weight"),
    "scaling_law": ("pipelines.experiments.scaling_law", "L(N, D) per modality with bootstrap intervals, D*(N)"),
}


def _experiment(argv: list[str]) -> int:
    import importlib

    commands = {name: Subcommand(text, lambda rest, module=module: importlib.import_module(module).main(rest))
                for name, (module, text) in EXPERIMENTS.items()}
    return dispatch("trimodal experiment", "The paper's design-space studies, one command each.", commands, argv)


COMMANDS: dict[str, Subcommand] = {
    "demo": Subcommand("build the demo tokenizers and corpora from the embedded data (CPU, offline)", _demo),
    "data": Subcommand("build, inspect and mix corpora (trimodal-data)", _data),
    "tokenizers": Subcommand("train and run the text, image and audio tokenizers (trimodal-tokenizers)", _tokenizers),
    "train": Subcommand("train models (trimodal-train)", _train),
    "eval": Subcommand("evaluate models (trimodal-eval)", _eval),
    "experiment": Subcommand("run one of the paper's studies (batch_size, gamma, ...) at a size", _experiment),
}


def main(argv: Sequence[str] | None = None) -> int:
    return dispatch("trimodal", "From raw corpora to a tri-modal masked diffusion model.", COMMANDS, argv)


if __name__ == "__main__":
    sys.exit(main())
