"""Generation: prompts in the sequence layout, batch sampling from a JSONL file, decoding to text/PNG/WAV."""

from trimodal_eval.generation.audio_files import read_wav, wav_bytes
from trimodal_eval.generation.decode import DecodedSample, decode_sample
from trimodal_eval.generation.prompts import PromptBuilder
from trimodal_eval.generation.requests import TARGET_MODALITY, TASKS, GenerationRequest, parse_request, read_requests
from trimodal_eval.generation.run import GenerateConfig, GenerationSummary, generate, sampler_config

__all__ = [
    "TARGET_MODALITY",
    "TASKS",
    "DecodedSample",
    "GenerateConfig",
    "GenerationRequest",
    "GenerationSummary",
    "PromptBuilder",
    "decode_sample",
    "generate",
    "parse_request",
    "read_requests",
    "read_wav",
    "sampler_config",
    "wav_bytes",
]
