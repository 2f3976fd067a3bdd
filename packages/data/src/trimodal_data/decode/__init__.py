"""Guarded decoding of untrusted audio bytes (images: :mod:`trimodal_tokenizers.image_decode`, the one image
decoder, shared with tokenizer training)."""
