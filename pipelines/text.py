"""Recipe: build a tokenized text corpus with the Beam pipeline (wiring only).

Same flags as ``trimodal-data text`` (the logic lives in ``trimodal_data.pipelines.text``)::

    uv run python -m pipelines.text --input pipelines/demo_data/text --output out/text --tokenizer bundle/ \\
        [--config text.toml] [--runner=DirectRunner --direct_running_mode=multi_processing --direct_num_workers=2]

On a cluster, pass the runner's options (``--runner=DataflowRunner --project ... --region ...`` or
``--runner=PortableRunner --job_endpoint ...``) and ship the workspace packages with ``--extra_package``
(see ``packages/data/README.md``); ``--output`` and ``--tokenizer`` must be readable/writable by every worker.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from trimodal_data.commands import run_text


def main(argv: Sequence[str] | None = None) -> int:
    return run_text(list(sys.argv[1:] if argv is None else argv))


if __name__ == "__main__":
    sys.exit(main())
