"""Training FLOPs of a :class:`DiffusionTransformer` step, for MFU.

Per token (``d`` width, ``f`` SwiGLU hidden, ``V`` vocab, ``S`` sequence length, ``L`` layers):

* matmul weights used per token: ``N_mm = L (4 d^2 + 3 d f) + d V`` (QKV, attention out, SwiGLU, readout;
  the embedding lookup is no matmul); forward ``2 N_mm``, backward ``4 N_mm`` (input and weight gradients);
* attention scores and mixing (bidirectional, dense over the row as the kernels compute it): forward
  ``4 S d`` per layer (``q k^T`` and ``p v``), backward twice that, so ``12 S d L`` per token in all — the
  PaLM convention, which counts model FLOPs.

``flops_per_token = 6 N_mm + 12 L S d``. Flash and memory-efficient kernels also recompute ``q k^T`` in the
backward; ``attention_recompute=True`` adds it (``+2 S d L``), which is what
``torch.utils.flop_counter.FlopCounterMode`` counts. Norms, RoPE, softmax and activations are elementwise and
left out (as FlopCounterMode does). Block-sparse kernels (flex) skip masked blocks, so for packed documents
this is the dense upper bound.
"""

from __future__ import annotations

from trimodal_train.model.config import ModelConfig


def matmul_params(config: ModelConfig, vocab_size: int) -> int:
    """Weights that take part in a matmul for every token (the readout included, tied or not)."""
    d, f = config.d_model, config.ffn_hidden
    return config.n_layers * (4 * d * d + 3 * d * f) + d * vocab_size


def flops_per_token(config: ModelConfig, vocab_size: int, seq_len: int, *, attention_recompute: bool = False) -> int:
    """Forward + backward FLOPs per token of a row of ``seq_len`` tokens."""
    if seq_len < 1 or vocab_size < 1:
        raise ValueError(f"seq_len and vocab_size must be positive, got {seq_len}, {vocab_size}")
    attention_per_layer = (14 if attention_recompute else 12) * seq_len * config.d_model
    return 6 * matmul_params(config, vocab_size) + config.n_layers * attention_per_layer


def flops_per_step(
    config: ModelConfig, vocab_size: int, seq_len: int, batch: int, *, attention_recompute: bool = False
) -> int:
    """Forward + backward FLOPs of one micro-batch of ``batch`` rows of ``seq_len`` tokens."""
    if batch < 1:
        raise ValueError(f"batch must be positive, got {batch}")
    per_token = flops_per_token(config, vocab_size, seq_len, attention_recompute=attention_recompute)
    return per_token * seq_len * batch
