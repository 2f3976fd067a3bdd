"""Writers: Beam-free functions that turn one output bucket into files (shards, reject files)."""
