"""Recipe: build a tokenized image-text corpus with the Beam pipeline (wiring only).

Same flags as ``trimodal-data image-text`` (the logic lives in ``trimodal_data.pipelines.image_text``)::

    uv run python -m pipelines.image_text --input pipelines/demo_data/image_text --output out/image_text \\
        --tokenizer bundle/ [--clip-checkpoint clip_dir/] [--runner=DirectRunner ...]

On a cluster, pass the runner's options (``--runner=DataflowRunner --project ... --region ...`` or
``--runner=PortableRunner --job_endpoint ...``) and ship the workspace packages with ``--extra_package``
(see ``trimodal_data.pipelines.options``); ``--output`` and ``--tokenizer`` must be readable/writable by
every worker.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from trimodal_data.commands import run_image_text


def main(argv: Sequence[str] | None = None) -> int:
    return run_image_text(list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
