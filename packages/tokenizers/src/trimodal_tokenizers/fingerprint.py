"""Content fingerprints of tokenizers: the identity of *what* turns raw data into ids.

The token-space fingerprint (``TokenSpace.fingerprint``) covers only the layout of the ids (sizes, offsets,
task tokens): two BPE models with the same vocabulary size, or two image or audio tokenizers with the same
codebook sizes but other weights, share it, and corpora tokenized by them would mix silently. The
*tokenizer fingerprint* hashes the tokenizers' content as saved on disk:

* ``file_digest(f)`` = sha256 of a canonical form of one file:
  ``*.json``: the parsed JSON re-serialized with sorted keys, compact separators, UTF-8 (so whitespace and key
  order do not matter; ``tokenizer.json``, the image and audio configs); ``*.safetensors``: the tensors
  sorted by name, each as ``name, dtype, shape, raw bytes`` (header layout and ``__metadata__`` ignored);
  any other file: its bytes.
* ``directory_digest(d)`` = sha256 over ``(relative POSIX path, file_digest)`` of every regular file under
  ``d``, sorted by path; hidden files (``.x``, e.g. unfinished atomic writes) are skipped. It is the identity
  of one tokenizer part (``text/``, ``image/``, ``audio/``) whatever its kind, so plugged-in tokenizers are
  covered without knowing their files.
* ``bundle_fingerprint(b)`` = sha256 of the canonical JSON of ``{"format": 1, "token_space": <token-space
  fingerprint>, "layout": <sequence layout config>, "parts": {"text": <digest>, "image": <digest or null>,
  "audio": <digest or null>}}``, read from a saved bundle. This is ``tokenizer_fingerprint`` in
  ``bundle.json`` and in every corpus and mixture manifest built with the bundle.

Re-saving the same tokenizer with another ``tokenizers`` release can change ``tokenizer.json`` (new fields)
and so the fingerprint: the check errs on the side of a false mismatch, never a false match. Pure Python,
no torch: text-only installs compute it too.
"""

from __future__ import annotations

import hashlib
import json
import struct
from pathlib import Path
from typing import Any

FINGERPRINT_FORMAT = 1
_CHUNK = 8 * 2**20


def canonical_json(value: Any) -> bytes:
    """Sorted keys, compact separators, UTF-8: equal JSON values give equal bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _update_from_file(h: Any, path: Path, start: int = 0, stop: int | None = None) -> None:
    with open(path, "rb") as handle:
        handle.seek(start)
        left = None if stop is None else stop - start
        while left is None or left > 0:
            chunk = handle.read(_CHUNK if left is None else min(_CHUNK, left))
            if not chunk:
                break
            h.update(chunk)
            if left is not None:
                left -= len(chunk)


def _safetensors_digest(path: Path) -> str:
    size = path.stat().st_size
    with open(path, "rb") as handle:
        raw = handle.read(8)
        if len(raw) != 8:
            raise ValueError(f"{path}: not a safetensors file (shorter than its 8-byte header length)")
        (header_len,) = struct.unpack("<Q", raw)
        if header_len > size - 8:
            raise ValueError(f"{path}: not a safetensors file (header length {header_len} past the end)")
        try:
            header = json.loads(handle.read(header_len))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{path}: not a safetensors file (bad header: {exc})") from None
    if not isinstance(header, dict):
        raise ValueError(f"{path}: not a safetensors file (header is not an object)")
    h = hashlib.sha256(b"safetensors\x00")
    base = 8 + header_len
    for name in sorted(k for k in header if k != "__metadata__"):
        entry = header[name]
        try:
            begin, end = (int(x) for x in entry["data_offsets"])
            description = canonical_json({"name": name, "dtype": entry["dtype"], "shape": list(entry["shape"])})
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{path}: malformed safetensors entry for tensor {name!r}") from None
        if not 0 <= begin <= end <= size - base:
            raise ValueError(f"{path}: tensor {name!r} lies outside the file")
        h.update(struct.pack("<Q", len(description)) + description + struct.pack("<Q", end - begin))
        _update_from_file(h, path, base + begin, base + end)
    return h.hexdigest()


def file_digest(path: str | Path) -> str:
    """sha256 (hex) of one file's canonical form (see the module docstring)."""
    p = Path(path)
    if p.suffix == ".json":
        try:
            value = json.loads(p.read_bytes())
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ValueError(f"{p}: not valid JSON ({exc})") from None
        return hashlib.sha256(b"json\x00" + canonical_json(value)).hexdigest()
    if p.suffix == ".safetensors":
        return _safetensors_digest(p)
    h = hashlib.sha256(b"bytes\x00")
    _update_from_file(h, p)
    return h.hexdigest()


def directory_digest(path: str | Path) -> str:
    """sha256 (hex) over every non-hidden regular file under ``path`` (relative path and content digest)."""
    root = Path(path)
    if not root.is_dir():
        raise ValueError(f"{root}: not a directory (a tokenizer part is a folder)")
    files = sorted(
        (f for f in root.rglob("*") if f.is_file() and not any(p.startswith(".") for p in f.relative_to(root).parts)),
        key=lambda f: f.relative_to(root).as_posix(),
    )
    if not files:
        raise ValueError(f"{root}: empty tokenizer folder")
    h = hashlib.sha256(b"directory\x00")
    for f in files:
        h.update(canonical_json([f.relative_to(root).as_posix(), file_digest(f)]))
    return h.hexdigest()


def combine_fingerprint(*, token_space: str, layout: dict[str, Any], parts: dict[str, str | None]) -> str:
    """The bundle's tokenizer fingerprint from its token-space fingerprint, layout config and part digests."""
    content = {"format": FINGERPRINT_FORMAT, "token_space": token_space, "layout": layout,
               "parts": {k: parts.get(k) for k in ("text", "image", "audio")}}
    return hashlib.sha256(canonical_json(content)).hexdigest()


def bundle_fingerprint(path: str | Path) -> str:
    """The tokenizer fingerprint of a saved bundle, recomputed from its files (``bundle.json`` names the parts)."""
    from trimodal_tokenizers.bundle import BUNDLE_FILE, bundle_parts

    p = Path(path)
    try:
        meta = json.loads((p / BUNDLE_FILE).read_text())
    except FileNotFoundError:
        raise ValueError(f"{p}: no {BUNDLE_FILE}; not a tokenizer bundle (or an unfinished one)") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{p / BUNDLE_FILE}: not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or not isinstance(meta.get("fingerprint"), str):
        raise ValueError(f"{p / BUNDLE_FILE}: no token-space fingerprint")
    parts = {name: directory_digest(p / sub) for name, sub in bundle_parts(meta, p / BUNDLE_FILE).items()}
    return combine_fingerprint(token_space=meta["fingerprint"], layout=meta.get("layout") or {}, parts=parts)
