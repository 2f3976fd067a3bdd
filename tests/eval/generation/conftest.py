"""A small real tokenizer bundle (BPE trained here, random-init tiny FSQ image and DAC audio tokenizers) and a
tiny random-init model for it: generation runs the real layout, tokenizers and model end to end."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from trimodal_tokenizers import TokenizerBundle

SOURCES = Path(__file__).resolve().parents[3] / "packages"


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def bundle() -> TokenizerBundle:
    from trimodal_tokenizers import AudioTokenizer, AudioTokenizerConfig, ImageTokenizer, ImageTokenizerConfig
    from trimodal_tokenizers.text_bpe import TextBPEConfig, TextTokenizer

    lines = [line for path in sorted(SOURCES.rglob("*.py"))[:60]
             for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    text = TextTokenizer.train(lines, TextBPEConfig(vocab_size=300, min_frequency=2))
    image = ImageTokenizer.from_random_init(ImageTokenizerConfig.tiny(), seed=0, device="cpu")
    audio = AudioTokenizer.from_random_init(AudioTokenizerConfig(variant="tiny", num_codebooks=2, device="cpu"))
    return TokenizerBundle.build(text=text, image=image, audio=audio)


@pytest.fixture(scope="session")
def tiny_model(bundle):
    from trimodal_train.model import MODEL_PRESETS, build_model

    torch.manual_seed(0)
    # float64 weights: a row's float32 logits do not depend on the padding of its batch
    return build_model(MODEL_PRESETS["tiny"], bundle.token_space).double().eval()
