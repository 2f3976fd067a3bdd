"""Media at scale: inputs listed inside the pipeline (no giant ``beam.Create``), tars and Parquet read through
Beam's ``FileSystems`` (a non-local scheme, registered here, stands in for ``gs://``/``s3://``), remote inputs
that cannot be read refused at launch, members per tar key capped, and batching buckets sized from the data."""

from __future__ import annotations

import io
import random
import tarfile
from pathlib import Path

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.io.filesystem import FileMetadata
from apache_beam.io.localfilesystem import LocalFileSystem
from apache_beam.testing.test_pipeline import TestPipeline as BeamTestPipeline
from apache_beam.testing.util import assert_that, equal_to
from PIL import Image

from trimodal_data.readers.files import InputFile, check_inputs, input_files
from trimodal_data.readers.media_config import IMAGE_EXTENSIONS, MediaReaderConfig
from trimodal_data.readers.media_inputs import check_media_inputs, media_units, read_media_unit
from trimodal_data.readers.media_tar import read_media_tar
from trimodal_data.records import Reject
from trimodal_data.transforms.batches import FixedBatches, num_buckets_for
from trimodal_data.transforms.buckets import bucket_of
from trimodal_data.transforms.read import ReadInputs

CONFIG = MediaReaderConfig()


class PrefixedFileSystem(LocalFileSystem):
    """``testfs:///abs/path``: the local disk under a scheme of its own, so only code that goes through
    ``FileSystems`` can read it (``open()``/``tarfile.open(path)`` cannot)."""

    PREFIX = "testfs://"

    @classmethod
    def scheme(cls) -> str:
        return "testfs"

    def _local(self, path: str) -> str:
        return path[len(self.PREFIX):] if path.startswith(self.PREFIX) else path

    def _path_open(self, path, mode, mime_type, compression_type):  # type: ignore[no-untyped-def]
        return super()._path_open(self._local(path), mode, mime_type, compression_type)

    def _list(self, dir_or_prefix: str):  # type: ignore[no-untyped-def]
        for meta in super()._list(self._local(dir_or_prefix)):
            yield FileMetadata(self.PREFIX + meta.path, meta.size_in_bytes, meta.last_updated_in_seconds)

    def _url_dirname(self, url_or_path: str) -> str:
        return self.PREFIX + super()._url_dirname(self._local(url_or_path))

    def exists(self, path: str) -> bool:
        return super().exists(self._local(path))


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(buf, format="JPEG")
    return buf.getvalue()


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _shards(root: Path) -> None:
    (root / "shards").mkdir(parents=True)
    for t in range(2):
        with tarfile.open(root / "shards" / f"pairs-{t}.tar", "w") as tar:
            for k in range(3):
                _add(tar, f"k{k}.jpg", _jpeg((40 * k, 80 * t, 100)))
                _add(tar, f"k{k}.txt", b"A square of one colour on its own.")
    table = pa.table({"image": [_jpeg((1, 2, 3))], "caption": ["A dark square."]})
    pq.write_table(table, root / "shards" / "x.parquet")


def test_remote_tars_and_parquet_are_read_through_beam_filesystems(tmp_path: Path) -> None:
    _shards(tmp_path)
    remote = f"{PrefixedFileSystem.PREFIX}{tmp_path}/shards"
    inputs = [f"{remote}/*.tar", f"{remote}/x.parquet"]
    check_media_inputs(inputs, "image")
    units = [u for spec in inputs for u in media_units(spec, kind="image", config=CONFIG)]
    assert sorted((u.kind, u.name) for u in units) == [("parquet", "x.parquet"), ("tar", "pairs-0.tar"),
                                                        ("tar", "pairs-1.tar")]
    samples = [s for u in units for s in read_media_unit(u, kind="image", config=CONFIG)]
    assert len(samples) == 7 and not [s for s in samples if isinstance(s, Reject)]  # no silent tar_read_error
    with pytest.raises(ValueError, match="matches no file"):
        check_media_inputs([f"{remote}/*.tgz"], "image")


def test_inputs_are_checked_at_launch_without_listing(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.jsonl").write_text("{}\n")
    check_inputs([str(tmp_path / "d"), str(tmp_path / "d" / "*.jsonl")], [".jsonl"])
    for spec, message in [(str(tmp_path / "e"), "no such file"), (str(tmp_path / "d" / "*.txt"), "no files ending"),
                          ("nosuchfs://bucket/a.jsonl", "no filesystem for this scheme")]:
        with pytest.raises(ValueError, match=message):
            check_inputs([spec], [".jsonl"])


def _read_name(file: InputFile):  # type: ignore[no-untyped-def]
    yield Reject(id=file.name, source=file.name, reason="seen", detail=file.path)


def test_read_inputs_lists_inside_the_pipeline_and_reports_clashing_names(tmp_path: Path) -> None:
    for folder, count in (("a", 40), ("b", 2)):
        (tmp_path / folder).mkdir()
        for i in range(count):
            (tmp_path / folder / f"f{i:02d}.txt").write_text("x")
    with BeamTestPipeline() as p:
        read = p | ReadInputs(
            [str(tmp_path / "b"), str(tmp_path / "a")],  # two inputs (not 42 files) enter the pipeline
            expand_fn=lambda spec: input_files(spec, [".txt"]), read_fn=_read_name,
            key_fn=lambda f: f.name, location_fn=lambda f: f.path, name_fn=lambda f: f.name,
        )
        assert_that(read.read | "Sum" >> beam.CombineGlobally(sum), equal_to([42]), label="read")
        clashes = read.rejects | beam.Filter(lambda r: r.reason == "duplicate_input") | beam.Map(lambda r: r.id)
        assert_that(clashes, equal_to(["f00.txt", "f01.txt"]), label="clashes")
        kept_paths = read.rejects | beam.Filter(lambda r: r.reason == "seen" and r.id < "f02") | beam.Map(
            lambda r: Path(r.detail).parent.name)
        assert_that(kept_paths, equal_to(["a", "a"]), label="smallest path read")  # "a/..." < "b/...", any order


def test_members_per_tar_key_are_capped(tmp_path: Path) -> None:
    path = tmp_path / "flood.tar"
    with tarfile.open(path, "w") as tar:
        _add(tar, "ok.jpg", _jpeg((1, 1, 1)))
        _add(tar, "ok.txt", b"A caption that is fine.")
        for i in range(50):
            _add(tar, f"big.{i}.bin", b"x" * 1000)
        _add(tar, "after.jpg", _jpeg((2, 2, 2)))
        _add(tar, "after.txt", b"Another caption here.")
    samples = list(read_media_tar(path, source="flood.tar", media_exts=IMAGE_EXTENSIONS,
                                  config=MediaReaderConfig(max_members_per_key=4)))
    assert [(s.example_id, s.reason) for s in samples] == [
        ("flood.tar/ok", None), ("flood.tar/big", "tar_too_many_members"), ("flood.tar/after", None)]


@pytest.mark.parametrize(("count", "per_bucket", "buckets"), [(0, 8, 1), (7, 8, 1), (8, 8, 1), (9, 8, 2),
                                                               (1000, 64, 16)])
def test_batch_buckets_are_sized_from_the_data(count: int, per_bucket: int, buckets: int) -> None:
    assert num_buckets_for(count, per_bucket) == buckets


def test_fixed_batches_do_not_depend_on_arrival_order() -> None:
    ids = [f"id-{i:03d}" for i in range(50)]
    shuffled = list(ids)
    random.Random(0).shuffle(shuffled)
    expected = []  # 50 ids, 10 per bucket: 5 buckets by the writer's hash, each sorted and cut into batches of 4
    for bucket in range(5):
        members = sorted(i for i in ids if bucket_of(i, 5) == bucket)
        expected += [tuple(members[k : k + 4]) for k in range(0, len(members), 4)]
    with BeamTestPipeline() as p:
        for label, order in (("sorted", ids), ("shuffled", shuffled)):
            batches = p | f"Create{label}" >> beam.Create(order) | f"Batch{label}" >> FixedBatches(
                id_fn=str, batch_size=4, items_per_bucket=10)
            assert_that(batches | f"Tuple{label}" >> beam.Map(tuple), equal_to(expected), label=label)
