"""Beam composite transforms of the text, image-text and audio-text pipelines (their logic is Beam-free, in
``readers/``, ``rules/``, ``decode/`` and ``dedup/``)."""
