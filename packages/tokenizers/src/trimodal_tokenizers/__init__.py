"""trimodal_tokenizers."""
