"""Beam-free dedupe logic: MinHash-LSH signatures, perceptual hashes, embedding search (the Beam stages are in
``transforms/``)."""
