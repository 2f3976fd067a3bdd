"""The mixture loader: Arrow shards of several corpora to packed, padded, exactly mixed training batches."""

from trimodal_train.data.batch import Batch
from trimodal_train.data.config import LoaderConfig, WeightPoint
from trimodal_train.data.loader import MixtureLoader, build_loader

__all__ = ["Batch", "LoaderConfig", "MixtureLoader", "WeightPoint", "build_loader"]
