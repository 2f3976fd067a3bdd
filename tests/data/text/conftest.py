"""Fixtures for the text pipeline tests: a tokenizer bundle trained in the test, and a small real corpus.

The corpus is a slice of the committed demo corpus (Wikipedia, KJV, ABC news, with planted exact and near
duplicates whose originals are included, and real low-quality records), plus every kind of broken input:
an empty file, a truncated gzip, a non-JSON line, a record without its text field, a 10 MB single line,
invalid UTF-8, a Parquet file and a folder of vim-tutor .txt files (English and German).
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import signal
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from trimodal_tokenizers.bundle import TokenizerBundle
from trimodal_tokenizers.text_bpe import TextBPEConfig, TextTokenizer

ROOT = Path(__file__).resolve().parents[3]
DEMO_TEXT = ROOT / "pipelines" / "demo_data" / "text"
TUTOR_DIR = Path("/usr/share/vim/vim90/tutor")


def demo_records() -> list[dict]:
    records = []
    for path in sorted(DEMO_TEXT.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            records += [json.loads(line) for line in handle if line.strip()]
    return records


def demo_subset(max_chars: int = 6000) -> list[dict]:
    """Planted duplicates with their originals, the low-quality records, and short clean documents."""
    records = demo_records()
    by_id = {r["id"]: r for r in records}
    chosen: dict[str, dict] = {}
    planted = [r for r in records if r["source"].startswith("planted")]
    near = [r for r in planted if "near" in r["source"] and len(by_id[r["id"].split("-of-", 1)[1]]["text"]) < max_chars]
    exact = [r for r in planted if "exact" in r["source"] and len(r["text"]) < max_chars]
    for r in near[:8] + exact[:4]:
        chosen[r["id"]] = r
        original = by_id[r["id"].split("-of-", 1)[1]]
        chosen[original["id"]] = original
    for r in records:
        if r["source"].startswith("lowq"):
            chosen[r["id"]] = r
    for source in ("kjv", "lee-abc-news", "enwiki"):
        clean = [r for r in records if r["source"] == source and len(r["text"]) < max_chars]
        for r in clean[:12]:
            chosen[r["id"]] = r
    return [chosen[k] for k in sorted(chosen)]


@dataclass(frozen=True)
class TextCorpus:
    root: Path
    expected_read: int
    """Documents/units the reader must report, counted independently of the reader."""
    num_good: int
    """Well-formed JSON records from the demo corpus."""


def _write_jsonl_gz(path: Path, records: list[dict]) -> None:
    data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode()
    path.write_bytes(gzip.compress(data, mtime=0))


def build_corpus(root: Path) -> TextCorpus:
    root.mkdir(parents=True, exist_ok=True)
    records = demo_subset()
    half = len(records) // 2
    _write_jsonl_gz(root / "good-a.jsonl.gz", records[:half])
    _write_jsonl_gz(root / "good-b.jsonl.gz", records[half:])
    expected = len(records)
    (root / "empty.jsonl").write_bytes(b"")
    expected += 1  # one empty_file reject
    # A truncated gzip: the complete lines in the decompressible prefix, then one read_error.
    payload = gzip.compress(
        "".join(json.dumps({"id": f"trunc-{i}", "text": records[i]["text"]}) + "\n" for i in range(6)).encode(), mtime=0
    )
    truncated = payload[: len(payload) // 2]
    (root / "truncated.jsonl.gz").write_bytes(truncated)
    expected += zlib.decompressobj(wbits=31).decompress(truncated).count(b"\n") + 1
    english = records[0]["text"]
    bad_lines = [
        b"this is not json",
        json.dumps({"id": "no-text", "body": english}).encode(),
        json.dumps({"id": "num-text", "text": 42}).encode(),
        b'{"id": "bad-utf8", "text": "caf\xc3\x28 ' + english[:200].encode() + b'"}',
        b'{"id": "surrogate", "text": "\\ud800 lone surrogate"}',
        json.dumps({"id": "huge", "text": "word " * (2 * 2**20)}).encode(),  # a 10 MB single line
        b"",
        json.dumps({"id": "fine-in-bad-file", "text": records[1]["text"]}).encode(),
    ]
    (root / "bad-lines.jsonl").write_bytes(b"\n".join(bad_lines) + b"\n")
    expected += len([line for line in bad_lines if line.strip()])
    table = pa.table({"id": ["pq-1", "pq-2", "pq-3"], "text": [records[2]["text"], None, "short"]})
    pq.write_table(table, root / "table.parquet")
    expected += 3
    txt = root / "tutor"
    txt.mkdir()
    for lang in ("", ".de"):
        source = TUTOR_DIR / f"tutor{lang}.utf-8" if lang else TUTOR_DIR / "tutor"
        if source.is_file():
            (txt / f"tutor{lang or '.en'}.txt").write_text(source.read_text(encoding="utf-8")[:6000])
            expected += 1
    return TextCorpus(root=root, expected_read=expected, num_good=len(records))


@pytest.fixture(scope="session")
def text_corpus(tmp_path_factory: pytest.TempPathFactory) -> TextCorpus:
    if not DEMO_TEXT.is_dir():
        pytest.skip("demo corpus missing")
    return build_corpus(tmp_path_factory.mktemp("text_corpus"))


@pytest.fixture(scope="session")
def bundle_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    lines = [line for r in demo_subset()[:40] for line in r["text"].splitlines() if line.strip()]
    tokenizer = TextTokenizer.train(lines, TextBPEConfig(vocab_size=600, min_frequency=2))
    out = tmp_path_factory.mktemp("bundle")
    TokenizerBundle.build(text=tokenizer).save(out)
    return out


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _wait_port(port: int, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"process exited early with code {proc.returncode}")
        try:
            with socket.create_connection(("localhost", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listening on port {port} after {timeout} s")


@pytest.fixture(scope="session")
def portable_runner_args() -> Iterator[list[str]]:
    """A local Beam job service and an external SDK worker pool; Beam args that use them."""
    job_port, pool_port = _free_port(), _free_port()
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    procs = []
    try:
        job = subprocess.Popen(
            [sys.executable, "-m", "apache_beam.runners.portability.local_job_service_main", f"--port={job_port}"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        procs.append(job)
        pool = subprocess.Popen(
            [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main", f"--service_port={pool_port}"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        procs.append(pool)
        _wait_port(job_port, job)
        _wait_port(pool_port, pool)
        yield [
            "--runner=PortableRunner",
            f"--job_endpoint=localhost:{job_port}",
            "--environment_type=EXTERNAL",
            f"--environment_config=localhost:{pool_port}",
        ]
    finally:
        # Each server runs in its own session: signal its whole process group (the pool's SDK workers too).
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


@pytest.fixture(scope="session")
def demo_by_id() -> dict[str, dict]:
    """Every demo-corpus record by id."""
    return {r["id"]: r for r in demo_records()}
