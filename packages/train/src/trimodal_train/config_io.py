"""Frozen dataclass configs to and from plain dicts, JSON and TOML files, with the offending key named.

:func:`from_dict` builds a dataclass from a (possibly partial) dict over a default instance: missing keys keep
the default, an unknown key raises ``ValueError`` naming its dotted path (``optim.schedule.warmup``), and a value
of the wrong kind raises ``ValueError`` naming the field. Supported field types: nested dataclasses, ``int``,
``float`` (ints accepted), ``bool``, ``str``, ``Path``, ``Literal``, ``X | None``, ``tuple[X, ...]``,
``dict[str, X]``. :func:`to_dict` is the inverse (paths as strings, tuples as lists), JSON-ready.
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


def to_dict(obj: Any) -> Any:
    """A JSON-ready copy of a dataclass tree."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_dict(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    return obj


def load_file(path: str | Path) -> dict[str, Any]:
    """A config file's contents (``.json`` or ``.toml``) as a dict; ``ValueError`` naming the file otherwise."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ValueError(f"config file {p}: cannot read ({exc.strerror or exc})") from None
    try:
        if p.suffix == ".toml":
            data = tomllib.loads(raw.decode("utf-8"))
        elif p.suffix == ".json":
            data = json.loads(raw)
        else:
            raise ValueError(f"config file {p}: unknown format (use .json or .toml)")
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"config file {p}: not valid {p.suffix[1:].upper()} ({exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"config file {p}: the top level must be a table/object")
    return data


def _name(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _convert(tp: Any, value: Any, where: str, default: Any) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if dataclasses.is_dataclass(value):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"config {where}: expected a table of {tp.__name__} fields, got {value!r}")
        base = default if dataclasses.is_dataclass(default) and type(default) is tp else None
        return from_dict(tp, value, where=where, default=base)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _convert(arg, value, where, default)
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError(errors[0] if len(errors) == 1 else f"config {where}: {value!r} fits none of {tp}")
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        if value not in choices:
            raise ValueError(f"config {where}: {value!r} is not one of {', '.join(map(repr, choices))}")
        return value
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, list | tuple):
            raise ValueError(f"config {where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_convert(args[0], v, f"{where}[{i}]", None) for i, v in enumerate(value))
        if len(args) != len(value):
            raise ValueError(f"config {where}: expected {len(args)} items, got {len(value)}")
        return tuple(_convert(a, v, f"{where}[{i}]", None) for i, (a, v) in enumerate(zip(args, value, strict=True)))
    if origin is dict:
        key_tp, value_tp = typing.get_args(tp)
        if not isinstance(value, dict):
            raise ValueError(f"config {where}: expected a table, got {value!r}")
        base = default if isinstance(default, dict) else {}
        return {_convert(key_tp, k, where, None): _convert(value_tp, v, f"{where}.{k}", base.get(k))
                for k, v in value.items()}
    if tp is Any:
        return value
    if tp is bool:
        if not isinstance(value, bool):
            raise ValueError(f"config {where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                return int(value)
            raise ValueError(f"config {where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"config {where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"config {where}: expected a string, got {value!r}")
        return value
    if tp is Path:
        if not isinstance(value, str | Path):
            raise ValueError(f"config {where}: expected a path, got {value!r}")
        return Path(value)
    raise TypeError(f"config {where}: unsupported field type {tp!r}")


def from_dict(cls: type[T], data: dict[str, Any], *, where: str = "", default: T | None = None) -> T:
    """``cls`` from ``data``, over ``default`` (or ``cls``'s own defaults); unknown keys are a ``ValueError``."""
    if not isinstance(data, dict):
        raise ValueError(f"config {where or cls.__name__}: expected a table, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(
            f"unknown config key {_name(where, unknown[0])!r}"
            f"{f' (and {len(unknown) - 1} more)' if len(unknown) > 1 else ''}; "
            f"known keys{' of ' + where if where else ''}: {', '.join(fields)}"
        )
    kwargs: dict[str, Any] = {}
    for name, field in fields.items():
        current = getattr(default, name) if default is not None else _field_default(field)
        if name in data:
            kwargs[name] = _convert(hints[name], data[name], _name(where, name), current)
        elif current is not dataclasses.MISSING:
            kwargs[name] = current
    missing = [n for n in fields if n not in kwargs]
    if missing:
        raise ValueError(f"config {where or cls.__name__}: missing required key {_name(where, missing[0])!r}")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ValueError(f"config {where or cls.__name__}: {exc}") from None


def _field_default(field: dataclasses.Field[Any]) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def differences(a: Any, b: Any, where: str = "") -> list[tuple[str, Any, Any]]:
    """``(dotted key, value in a, value in b)`` for every leaf where two ``to_dict`` trees differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            out += differences(a.get(key), b.get(key), _name(where, key))
        return out
    return [] if a == b else [(where, a, b)]
