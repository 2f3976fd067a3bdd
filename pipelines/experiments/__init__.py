"""Recipes (wiring only) of the paper's studies: ``trimodal experiment NAME [--study.size smoke|default|full]``."""
