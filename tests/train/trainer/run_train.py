"""Run ``train`` in a subprocess for the crash and multi-process tests (not collected by pytest).

    python run_train.py CONFIG.json [--hang-after-step N] [--hang-in-save STEP] [--preempt-after-step N]

``--hang-after-step N`` writes ``<run_dir>/HANGING`` after optimizer step N (0-based) and sleeps, so the test
can ``kill -9`` the process in the middle of training; ``--hang-in-save STEP`` does the same inside the save
of checkpoint STEP, after every rank wrote its shards and before the checkpoint is published;
``--preempt-after-step N`` requests a checkpoint after step N (a simulated preemption signal). Under
torchrun-style variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT) it is one rank of a DDP run.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from trimodal_train import checkpoint, preemption
from trimodal_train.configs import config_from_dict
from trimodal_train.trainer import train


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    parser.add_argument("--hang-after-step", type=int)
    parser.add_argument("--hang-in-save", type=int)
    parser.add_argument("--preempt-after-step", type=int)
    args = parser.parse_args()
    config = config_from_dict(json.loads(Path(args.config).read_text()))
    marker = config.run.run_dir / "HANGING"

    def hang() -> None:
        if int(os.environ.get("RANK", "0")) == 0:
            marker.write_text(str(os.getpid()))
        time.sleep(600)

    if args.hang_in_save is not None:
        publish = checkpoint._publish

        def slow_publish(tmp: Path, final: Path, step: int, world_size: int) -> None:
            if step == args.hang_in_save:
                hang()
            publish(tmp, final, step, world_size)

        checkpoint._publish = slow_publish  # type: ignore[assignment]

    def on_step(step: int, record: dict[str, Any]) -> None:
        if step == args.hang_after_step:
            hang()
        if step == args.preempt_after_step:
            preemption.request_checkpoint("test")

    result = train(config, on_step=on_step)
    print(json.dumps({"final_step": result.final_step, "preempted": result.preempted}))


if __name__ == "__main__":
    main()
