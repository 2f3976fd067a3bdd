"""Load a pipeline config dataclass from a JSON or TOML file (``--config FILE``).

The file holds the same nested structure as the config dataclass (``{"filters": {"gopher_quality":
{"min_doc_words": 20}}}``); fields it leaves out keep their defaults; an unknown field is a ``ValueError``
naming it and the file. The result is then used as tyro's default, so command-line flags still override it.
Hand-written because tyro reads only its own YAML-free argv and dacite-like libraries are not in our deps.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")


def _convert(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if not isinstance(value, dict):
            raise ValueError(f"{where}: expected a table/object, got {type(value).__name__}")
        return from_dict(hint, value, where=where)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ValueError(f"{where}: expected a list, got {type(value).__name__}")
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value))
        if len(args) != len(value):
            raise ValueError(f"{where}: expected {len(args)} items, got {len(value)}")
        return tuple(_convert(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(args, value, strict=True)))
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(hint)
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(value, arg, where)
            except ValueError:
                continue
        raise ValueError(f"{where}: {value!r} does not match {hint}")
    if hint is Path:
        return Path(value)
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if origin is typing.Literal:
        if value not in typing.get_args(hint):
            raise ValueError(f"{where}: {value!r} is not one of {typing.get_args(hint)}")
        return value
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ValueError(f"{where}: expected {hint.__name__}, got {type(value).__name__}")
    return value


def from_dict(cls: type[T], data: dict[str, Any], *, where: str = "config") -> T:
    """Build ``cls`` from a nested dict, keeping defaults for missing fields and rejecting unknown ones."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {unknown}; known: {sorted(fields)}")
    kwargs = {name: _convert(value, hints[name], f"{where}.{name}") for name, value in data.items()}
    return cls(**kwargs)


def load_config_file(cls: type[T], path: str | Path) -> T:
    """Read a ``.json`` or ``.toml`` file into ``cls``; ``ValueError`` naming the file on any problem."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise ValueError(f"config file not found: {p}") from None
    try:
        data = tomllib.loads(raw.decode()) if p.suffix == ".toml" else json.loads(raw)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{p}: cannot parse config ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"{p}: a config file must hold an object/table")
    return from_dict(cls, data, where=str(p))


def to_jsonable(config: Any) -> Any:
    """A dataclass config as plain JSON values (tuples become lists, paths strings), for provenance."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: to_jsonable(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, tuple | list):
        return [to_jsonable(v) for v in config]
    if isinstance(config, Path):
        return str(config)
    if isinstance(config, dict):
        return {str(k): to_jsonable(v) for k, v in config.items()}
    return config


def config_path_from_argv(argv: list[str]) -> Path | None:
    """The value of ``--config FILE`` / ``--config=FILE`` in a raw argument list (read before tyro parses)."""
    for i, arg in enumerate(argv):
        if arg == "--config" and i + 1 < len(argv):
            return Path(argv[i + 1])
        if arg.startswith("--config="):
            return Path(arg.split("=", 1)[1])
    return None
