"""Consolidated model weights for evaluation: ``<run_dir>/model/`` and :func:`load_model`.

``model/`` holds ``model.safetensors`` (full, unsharded fp32 weights, gathered from FSDP2 shards when needed;
tied weights stored once), ``model_config.json`` (the :class:`ModelConfig`), ``token_space.json``,
``train_config.json`` (the run's resolved config) and ``export.json`` (step, ``maskable_specials``). It is
written next to each checkpoint and at the end of a run, into a temp folder that then replaces the old one
(a reader never sees a mix of two steps). Evaluation needs nothing else:
``load_model(run_dir_or_model_dir, device) -> LoadedModel``.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

from trimodal_core import TokenSpace
from trimodal_train.config_io import from_dict, to_dict
from trimodal_train.distributed import DistContext
from trimodal_train.model.config import ModelConfig
from trimodal_train.model.transformer import DiffusionTransformer, build_model

MODEL_DIR = "model"
EXPORT_FORMAT = 1


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """A trained model, ready for evaluation (in eval mode, on the requested device)."""

    model: DiffusionTransformer
    config: ModelConfig
    token_space: TokenSpace
    train_config: dict[str, Any]
    """The resolved training config of the run, as written in its ``config.json``."""
    step: int
    """Optimizer steps the weights have seen."""


def _write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=1, sort_keys=True), encoding="utf-8")


def export_model(
    model: torch.nn.Module,
    out_dir: Path,
    *,
    model_config: ModelConfig,
    token_space: TokenSpace,
    train_config: dict[str, Any],
    maskable_specials: tuple[str, ...],
    step: int,
    ctx: DistContext,
) -> Path:
    """Collective (FSDP2 gathers the full weights): rank 0 writes ``out_dir`` (module docstring)."""
    state = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if not ctx.is_main:
        return out_dir
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in state.items()}
    tmp = out_dir.with_name(f".{out_dir.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    save_file(tensors, str(tmp / "model.safetensors"), metadata={"step": str(step), "format": str(EXPORT_FORMAT)})
    _write_json(tmp / "model_config.json", to_dict(model_config))
    token_space.save(tmp / "token_space.json")
    _write_json(tmp / "train_config.json", train_config)
    _write_json(tmp / "export.json", {"format": EXPORT_FORMAT, "step": step,
                                      "maskable_specials": list(maskable_specials)})
    old = out_dir.with_name(f".{out_dir.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if out_dir.exists():
        os.rename(out_dir, old)
    os.rename(tmp, out_dir)
    shutil.rmtree(old, ignore_errors=True)
    return out_dir


def _model_dir(path: Path) -> Path:
    if (path / "model.safetensors").is_file():
        return path
    if (path / MODEL_DIR / "model.safetensors").is_file():
        return path / MODEL_DIR
    old = path / f".{MODEL_DIR}.old"  # a crash between the two renames of export_model
    if (old / "model.safetensors").is_file():
        return old
    raise ValueError(f"{path}: no model.safetensors here or in {path / MODEL_DIR} (not a run or model folder)")


def load_model(path: str | Path, device: str | torch.device = "cpu") -> LoadedModel:
    """The consolidated model of a run folder (or of its ``model/`` folder), in eval mode on ``device``."""
    folder = _model_dir(Path(path))
    try:
        config_data = json.loads((folder / "model_config.json").read_text(encoding="utf-8"))
        export = json.loads((folder / "export.json").read_text(encoding="utf-8"))
        train_config = json.loads((folder / "train_config.json").read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ValueError(f"{folder}: {Path(exc.filename).name} is missing") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{folder}: a JSON file is corrupt ({exc})") from None
    if export.get("format") != EXPORT_FORMAT:
        raise ValueError(f"{folder}/export.json: unknown format {export.get('format')!r} (expected {EXPORT_FORMAT})")
    config = from_dict(ModelConfig, config_data, where="model_config")
    token_space = TokenSpace.load(folder / "token_space.json")
    model = build_model(config, token_space, maskable_specials=tuple(export["maskable_specials"]), device="meta")
    model.to_empty(device=device)
    cuda = [torch.device(device)] if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):  # the caller's RNG stays as it was
        model.init_weights()  # buffers (RoPE, logit masks); every parameter is overwritten below
    weights = load_file(str(folder / "model.safetensors"), device=str(device))
    try:
        model.load_state_dict(weights, strict=True)
    except RuntimeError as exc:
        raise ValueError(f"{folder}/model.safetensors does not match model_config.json: {exc}") from None
    model.eval()
    return LoadedModel(model=model, config=config, token_space=token_space, train_config=train_config,
                       step=int(export["step"]))
