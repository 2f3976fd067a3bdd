"""trimodal_core: the unified token space, the Arrow shard format and the manifests."""

from trimodal_core.atomic import atomic_open, atomic_write_bytes, atomic_write_text
from trimodal_core.logs import get_logger, process_rank, setup_logging
from trimodal_core.manifest import (
    MANIFEST_SCHEMA_VERSION,
    CorpusManifest,
    MixtureComponent,
    MixtureManifest,
    check_tokenizer_fingerprints,
    load_manifest,
    package_versions,
)
from trimodal_core.progress import progress
from trimodal_core.seeding import derive_seed, numpy_rng, seed_everything
from trimodal_core.shard_reader import ShardReader
from trimodal_core.shard_schema import SHARD_SCHEMA_VERSION, shard_schema
from trimodal_core.shard_writer import ShardInfo, ShardRecord, ShardWriter, ShardWriterConfig, sha256_file
from trimodal_core.split import SplitResult, is_validation, split_corpus, split_mixture
from trimodal_core.token_space import Modality, TokenSpace, TokenSpaceConfig

__all__ = [
    "MANIFEST_SCHEMA_VERSION",
    "SHARD_SCHEMA_VERSION",
    "CorpusManifest",
    "MixtureComponent",
    "MixtureManifest",
    "Modality",
    "ShardInfo",
    "ShardReader",
    "ShardRecord",
    "ShardWriter",
    "ShardWriterConfig",
    "SplitResult",
    "TokenSpace",
    "TokenSpaceConfig",
    "atomic_open",
    "atomic_write_bytes",
    "atomic_write_text",
    "check_tokenizer_fingerprints",
    "derive_seed",
    "get_logger",
    "is_validation",
    "load_manifest",
    "numpy_rng",
    "package_versions",
    "process_rank",
    "progress",
    "seed_everything",
    "setup_logging",
    "sha256_file",
    "shard_schema",
    "split_corpus",
    "split_mixture",
]
