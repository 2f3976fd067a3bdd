"""Device choice shared by the torch-based tokenizers: ``auto`` means CUDA when available, else CPU."""

from __future__ import annotations

from trimodal_core.extras import missing_extra

try:
    import torch
except ImportError as exc:
    raise missing_extra(
        package="trimodal-tokenizers", extra="image", feature="device selection (torch tokenizers)", cause=exc
    ) from exc


def resolve_device(device: str) -> torch.device:
    """``auto``, ``cpu``, ``cuda`` or ``cuda:i`` to a :class:`torch.device` (ValueError for anything else)."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError:
        raise ValueError(f"unknown device {device!r}; expected auto, cpu or cuda[:i]") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available")
    return resolved
