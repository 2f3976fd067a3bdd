"""Beam composite transforms shared by the text, image-text and audio-text pipelines."""
