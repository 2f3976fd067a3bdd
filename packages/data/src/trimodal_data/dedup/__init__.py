"""Deduplication: exact (content hash), MinHash-LSH near-duplicates, and connected components."""
