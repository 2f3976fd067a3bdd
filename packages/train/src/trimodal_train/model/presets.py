"""Named model shapes (``MODEL_PRESETS``) and their parameter counts (``count_parameters``).

All presets share the CompleteP base shape ``base_d_model=256``, ``base_n_layers=4`` (the ``small`` preset
is exactly the base), so hyperparameters tuned on ``small`` transfer to the others [ours]. Head dim is 64
(32 for ``tiny``, 128 for ``1b``/``3b``); the SwiGLU hidden width is about ``8/3 d_model`` rounded to a
multiple of 64 (Llama's rule, [ours]).

Parameter counts (``count_parameters``) per layer: ``4 d^2`` (QKV + out) ``+ 3 d f`` (SwiGLU) ``+ 2 d``
(pre-norm gains) ``+ 2 h`` (QK-norm gains); plus the final norm ``d``; embedding ``V d`` (twice when untied).
With :data:`REFERENCE_TOKEN_SPACE` (V = 57,370) and tied embeddings (the default):

=======  =====  ====  =====  ======  ============  ===============
preset   d      L     heads  ffn     embedding     non-embedding
=======  =====  ====  =====  ======  ============  ===============
tiny     64     2     2      192     3,671,680     106,944
small    256    4     4      704     14,686,720    3,214,080
demo     384    6     6      1,024   22,030,080    10,622,592
125m     768    12    12     2,048   44,060,160    84,955,392
350m     1,024  24    16     2,752   58,746,880    303,616,000
1b       2,048  18    16     5,504   117,493,760   910,768,640
3b       3,072  28    24     8,192   176,240,640   3,171,076,096
=======  =====  ====  =====  ======  ============  ===============

(``tests/train/model/test_presets.py`` checks this table against ``count_parameters`` and both against the
real modules, built on the ``meta`` device.)
"""

from __future__ import annotations

import dataclasses

from trimodal_core.token_space import TokenSpaceConfig
from trimodal_train.model.config import ModelConfig

REFERENCE_TOKEN_SPACE = TokenSpaceConfig(
    text_vocab_size=32_768, image_codebook_size=15_360, audio_codebook_size=1_024, audio_num_codebooks=9
)
"""The vocabulary the documented counts use [ours]: 32k BPE, the full-size FSQ image codebook (8,8,8,6,5),
DAC with 9 codebooks of 1,024; 26 special and task ids; V = 57,370."""


@dataclasses.dataclass(frozen=True, kw_only=True)
class ParameterCount:
    """Parameters of a model, split as in scaling-law fits (the untied output head counts as embedding)."""

    embedding: int
    non_embedding: int

    @property
    def total(self) -> int:
        return self.embedding + self.non_embedding


def count_parameters(config: ModelConfig, vocab_size: int) -> ParameterCount:
    """Closed-form parameter count of ``build_model(config, token_space)`` for ``token_space.vocab_size``."""
    d, f, h = config.d_model, config.ffn_hidden, config.head_dim
    per_layer = 4 * d * d + 3 * d * f + 2 * d + (2 * h if config.qk_norm else 0)
    embedding = vocab_size * d * (1 if config.tie_embeddings else 2)
    return ParameterCount(embedding=embedding, non_embedding=config.n_layers * per_layer + d)


MODEL_PRESETS: dict[str, ModelConfig] = {
    # A step in well under a second on a 2-core CPU at seq 128, batch 8 (tests and CI).
    "tiny": ModelConfig(d_model=64, n_layers=2, n_heads=2, ffn_hidden=192, max_seq_len=512),
    # The CompleteP base shape: tune hyperparameters here.
    "small": ModelConfig(d_model=256, n_layers=4, n_heads=4, ffn_hidden=704, max_seq_len=1024),
    # Trains the demo corpora in minutes on a GPU (and slowly on CPU).
    "demo": ModelConfig(d_model=384, n_layers=6, n_heads=6, ffn_hidden=1024, max_seq_len=1024),
    "125m": ModelConfig(d_model=768, n_layers=12, n_heads=12, ffn_hidden=2048, max_seq_len=2048),
    # Close to the paper's ~320M pilot model [2nd] (its 240M embeddings imply a far larger vocabulary).
    "350m": ModelConfig(d_model=1024, n_layers=24, n_heads=16, ffn_hidden=2752, max_seq_len=4096),
    "1b": ModelConfig(d_model=2048, n_layers=18, n_heads=16, ffn_hidden=5504, max_seq_len=4096),
    # The paper's final size is 3B [paper]; its shape is unknown, this one follows Llama-3.2-3B [ours].
    "3b": ModelConfig(d_model=3072, n_layers=28, n_heads=24, ffn_hidden=8192, max_seq_len=4096),
}
