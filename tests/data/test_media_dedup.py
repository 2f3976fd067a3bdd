"""Image dedupe: perceptual hashes, faiss embedding pairs (flat and IVF), clusters; on the demo stamps."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from trimodal_data.dedup import embedding, perceptual
from trimodal_data.hashing import pixel_digest
from trimodal_data.readers.media_config import IMAGE_EXTENSIONS, MediaReaderConfig
from trimodal_data.readers.media_tar import read_media_tar
from trimodal_tokenizers.image_decode import decode_image

DEMO = Path(__file__).resolve().parents[2] / "pipelines" / "demo_data" / "image_text"


@pytest.fixture(scope="module")
def stamps() -> tuple[list[str], list[Image.Image]]:
    samples = [
        s
        for t in sorted(DEMO.glob("*.tar"))
        for s in read_media_tar(t, source=t.name, media_exts=IMAGE_EXTENSIONS, config=MediaReaderConfig())
    ]
    return [s.example_id for s in samples], [decode_image(s.media) for s in samples]


def _planted_pairs(ids: list[str]) -> set[frozenset[str]]:
    """(planted copy, original) id pairs, from the planted keys ``planted-dup-NN-<variant>-of-<key>``."""
    by_key = {i.split("/", 1)[1]: i for i in ids}
    return {frozenset((i, by_key[i.split("-of-", 1)[1]])) for i in ids if "planted-dup" in i}


def _found(ids: list[str], pairs: list[tuple[int, int]]) -> set[frozenset[str]]:
    return {frozenset((ids[a], ids[b])) for a, b in pairs}


def test_phash_finds_every_planted_copy(stamps: tuple[list[str], list[Image.Image]]) -> None:
    ids, images = stamps
    hashes = [perceptual.phash64(im) for im in images]
    pairs = perceptual.near_duplicate_pairs(hashes, perceptual.PerceptualDedupConfig())
    planted = _planted_pairs(ids)
    assert len(planted) == 10 and planted <= _found(ids, pairs)
    # Banding finds exactly the pairs within the distance: compare with brute force on a subset.
    sub = hashes[:300]
    brute = {(a, b) for a in range(300) for b in range(a + 1, 300) if (sub[a] ^ sub[b]).bit_count() <= 4}
    assert set(perceptual.near_duplicate_pairs(sub, perceptual.PerceptualDedupConfig())) == brute
    # Few false positives: at most a handful of unplanted pairs (Tux Paint has a few true look-alikes).
    assert len(pairs) - len(planted) <= 8


def test_thumbnail_embedding_flat_and_ivf_agree(stamps: tuple[list[str], list[Image.Image]]) -> None:
    ids, images = stamps
    vectors = np.stack([embedding.thumbnail_embedding(im) for im in images])
    flat = embedding.near_duplicate_pairs(vectors, embedding.EmbeddingDedupConfig())
    ivf = embedding.near_duplicate_pairs(vectors, embedding.EmbeddingDedupConfig(ivf_min_rows=100, nprobe=8))
    assert _planted_pairs(ids) <= _found(ids, flat)
    assert flat == ivf
    assert len(flat) <= 20


def test_exact_pixel_hash_only_catches_identical_pixels(stamps: tuple[list[str], list[Image.Image]]) -> None:
    ids, images = stamps
    digests: dict[str, list[str]] = {}
    for i, im in zip(ids, images, strict=True):
        digests.setdefault(pixel_digest(im), []).append(i)
    groups = [g for g in digests.values() if len(g) > 1]
    assert {frozenset(g) for g in groups} >= {p for p in _planted_pairs(ids) if any("-exact-" in i for i in p)}


def test_reencoded_and_resized_copies_hash_close() -> None:
    rng = np.random.default_rng(0)
    base = Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).resize((128, 128))
    buf = io.BytesIO()
    base.save(buf, format="JPEG", quality=60)
    copies = [base, decode_image(buf.getvalue()), base.resize((96, 96))]
    hashes = [perceptual.phash64(im) for im in copies]
    assert all((hashes[0] ^ h).bit_count() <= 4 for h in hashes)
    other = Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).resize((128, 128))
    assert (perceptual.phash64(other) ^ hashes[0]).bit_count() > 10


def test_embedding_validation() -> None:
    with pytest.raises(ValueError, match="2-D"):
        embedding.near_duplicate_pairs(np.zeros(3), embedding.EmbeddingDedupConfig())
    with pytest.raises(ValueError, match="threshold"):
        embedding.EmbeddingDedupConfig(threshold=2.0)
    assert embedding.near_duplicate_pairs(np.ones((1, 4)), embedding.EmbeddingDedupConfig()) == []


def _png(image: Image.Image, level: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=level)
    return buf.getvalue()


def test_pixel_digest_ignores_container_bytes_but_not_pixels() -> None:
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8))
    png_a, png_b = _png(photo, 1), _png(photo, 9)
    assert png_a != png_b
    assert pixel_digest(decode_image(png_a)) == pixel_digest(decode_image(png_b))
    other = photo.copy()
    other.putpixel((0, 0), (0, 0, 0))
    assert pixel_digest(decode_image(_png(other, 6))) != pixel_digest(decode_image(png_a))
