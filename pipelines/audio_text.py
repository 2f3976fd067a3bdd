"""Recipe: build a tokenized audio-text corpus with the Beam pipeline (wiring only).

Same flags as ``trimodal-data audio-text`` (the logic lives in ``trimodal_data.pipelines.audio_text``)::

    uv run python -m pipelines.audio_text --input pipelines/demo_data/audio_text/transcripts.tsv \\
        --output out/audio_text --tokenizer bundle/ [--runner=DirectRunner ...]

On a cluster, pass the runner's options and ship the workspace packages with ``--extra_package`` (see
``trimodal_data.pipelines.options``); ``--output`` and ``--tokenizer`` must be reachable by every worker.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from trimodal_data.commands import run_audio_text


def main(argv: Sequence[str] | None = None) -> int:
    return run_audio_text(list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
