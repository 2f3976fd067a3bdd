"""Generation prompts in the training sequence layout (``trimodal_tokenizers.sequence``), with masked targets.

==========  ===========================================================  ==========================
task         sequence (``M`` = ``mask``, the target)                      target class
==========  ===========================================================  ==========================
text         ``[text] [bot] prompt M * n``                                 text (may end with eot)
infill       ``[text] [bot] prefix M * n suffix [eot]``                    text content (no eot)
t2i          ``[t2i] [bot] caption [eot] [boi] M * tokens_per_image [eoi]``  image
t2s          ``[t2s] [bot] transcript [eot] [boa] M * (K * frames) [eoa]``   audio, per codebook
i2t          ``[i2t] [boi] image codes [eoi] [bot] M * n``                 text (may end with eot)
s2t          ``[s2t] [boa] audio codes [eoa] [bot] M * n``                 text (may end with eot)
==========  ===========================================================  ==========================

A text target that may end runs to the end of the sequence with no closing ``eot`` of its own: the model
places ``eot`` where the text stops (training rows hold such text, and packed rows also cut documents
without one); ``min_new_tokens`` keeps ``eot`` out of the first positions. The condition (guidance masks it)
is the first span's non-special positions, the maskable ``eot`` included, as in training's condition
dropout (``trimodal_train.diffusion.spans.condition_span``). Audio targets follow the layout's interleave
(frame-major by default) and each position is restricted to its own codebook's ids.
"""

from __future__ import annotations

import numpy as np

from trimodal_core import Modality, TokenSpace
from trimodal_eval.generation.requests import GenerationRequest
from trimodal_eval.sampling.batch import PromptRow
from trimodal_eval.sampling.vocab import AUDIO_BOOK, CLASS_OF_MODALITY, TEXT, TEXT_CONTENT
from trimodal_tokenizers import TokenizerBundle

_BOUNDARY = {Modality.TEXT: ("bot", "eot"), Modality.IMAGE: ("boi", "eoi"), Modality.AUDIO: ("boa", "eoa")}


class _Row:
    """Appends spans of a prompt row."""

    def __init__(self, space: TokenSpace, maskable: tuple[str, ...]) -> None:
        self.space, self.maskable = space, maskable
        self.tokens: list[int] = []
        self.span: list[int] = []
        self.target: list[bool] = []
        self.klass: list[int] = []
        self.condition: list[bool] = []

    def special(self, name: str, modality: Modality, *, condition: bool = False) -> None:
        maskable = name in self.maskable
        self._add([self.space.special_id(name)], modality if maskable else Modality.SPECIAL,
                  condition=condition and maskable)

    def task(self, name: str) -> None:
        self._add([self.space.task_id(name)], Modality.SPECIAL)

    def content(self, ids: np.ndarray, modality: Modality, *, condition: bool = False) -> None:
        self._add(np.asarray(ids, dtype=np.int64).tolist(), modality, condition=condition)

    def masks(self, classes: list[int], modality: Modality) -> None:
        n = len(classes)
        self.tokens += [self.space.mask_id] * n
        self.span += [int(modality)] * n
        self.target += [True] * n
        self.klass += classes
        self.condition += [False] * n

    def _add(self, ids: list[int], modality: Modality, *, condition: bool = False) -> None:
        self.tokens += ids
        self.span += [int(modality)] * len(ids)
        self.target += [False] * len(ids)
        self.klass += [0] * len(ids)
        self.condition += [condition and modality != Modality.SPECIAL] * len(ids)

    def build(self, seed: int) -> PromptRow:
        return PromptRow(tokens=np.array(self.tokens, dtype=np.int64), span_modality=np.array(self.span, np.uint8),
                         target=np.array(self.target, dtype=bool), vocab_class=np.array(self.klass, np.int64),
                         condition=np.array(self.condition, dtype=bool), seed=seed)


class PromptBuilder:
    """Turns :class:`GenerationRequest` s into :class:`PromptRow` s for one tokenizer bundle."""

    def __init__(self, bundle: TokenizerBundle, *, maskable_specials: tuple[str, ...] = ("eot",),
                 max_seq_len: int | None = None) -> None:
        self.bundle, self.space = bundle, bundle.token_space
        self.maskable = tuple(maskable_specials)
        self.max_seq_len = max_seq_len

    def build(self, request: GenerationRequest, *, seed: int) -> PromptRow:
        """The prompt row of ``request`` (ValueError naming the request when it cannot be built)."""
        build = getattr(self, f"_{request.task}")
        row = build(request, _Row(self.space, self.maskable)).build(seed)
        if self.max_seq_len is not None and len(row.tokens) > self.max_seq_len:
            raise ValueError(f"request {request.id!r}: prompt of {len(row.tokens)} tokens exceeds the model's "
                             f"max_seq_len={self.max_seq_len}")
        return row

    # ------------------------------------------------------------------ spans
    def _text_ids(self, text: str) -> np.ndarray:
        return self.space.to_global(Modality.TEXT, self.bundle.text.encode(text))

    def _text_span(self, row: _Row, text: str, *, condition: bool = False) -> None:
        row.special("bot", Modality.TEXT, condition=condition)
        row.content(self._text_ids(text), Modality.TEXT, condition=condition)
        row.special("eot", Modality.TEXT, condition=condition)

    def _text_target(self, row: _Row, request: GenerationRequest) -> None:
        n, lead = request.max_new_tokens, min(request.min_new_tokens, request.max_new_tokens)
        assert n is not None
        row.masks([TEXT_CONTENT] * lead + [TEXT] * (n - lead), Modality.TEXT)

    def _media_span(self, row: _Row, modality: Modality, ids: np.ndarray | None, classes: list[int] | None,
                    *, condition: bool = False) -> None:
        begin, end = _BOUNDARY[modality]
        row.special(begin, modality, condition=condition)
        if ids is not None:
            row.content(ids, modality, condition=condition)
        else:
            assert classes is not None
            row.masks(classes, modality)
        row.special(end, modality, condition=condition)

    # ------------------------------------------------------------------ tasks
    def _text(self, request: GenerationRequest, row: _Row) -> _Row:
        row.task("text")
        row.special("bot", Modality.TEXT)
        row.content(self._text_ids(request.text or ""), Modality.TEXT)
        self._text_target(row, request)
        return row

    def _infill(self, request: GenerationRequest, row: _Row) -> _Row:
        row.task("text")
        row.special("bot", Modality.TEXT)
        row.content(self._text_ids(request.text or ""), Modality.TEXT)
        assert request.infill_tokens is not None
        row.masks([TEXT_CONTENT] * request.infill_tokens, Modality.TEXT)
        row.content(self._text_ids(request.suffix or ""), Modality.TEXT)
        row.special("eot", Modality.TEXT)
        return row

    def _t2i(self, request: GenerationRequest, row: _Row) -> _Row:
        image = self._require(self.bundle.image, "an image tokenizer", request)
        row.task("t2i")
        self._text_span(row, request.text or "", condition=True)
        self._media_span(row, Modality.IMAGE, None, [CLASS_OF_MODALITY[Modality.IMAGE]] * image.tokens_per_image)
        return row

    def _t2s(self, request: GenerationRequest, row: _Row) -> _Row:
        audio = self._require(self.bundle.audio, "an audio tokenizer", request)
        assert request.seconds is not None
        frames = max(1, round(request.seconds * audio.frame_rate))
        placeholder = self.bundle.layout.flatten_audio(np.zeros((audio.num_codebooks, frames), dtype=np.int64))
        books = self.space.audio_codebook_of(placeholder)
        row.task("t2s")
        self._text_span(row, request.text or "", condition=True)
        self._media_span(row, Modality.AUDIO, None, (AUDIO_BOOK + books).tolist())
        return row

    def _i2t(self, request: GenerationRequest, row: _Row) -> _Row:
        from trimodal_tokenizers.image_decode import ANY_FORMAT, ImageDecodeConfig, open_image

        image = self._require(self.bundle.image, "an image tokenizer", request)
        picture = open_image(request.image, ImageDecodeConfig(formats=ANY_FORMAT))  # type: ignore[arg-type]
        codes = image.encode_batch([picture])[0]
        row.task("i2t")
        self._media_span(row, Modality.IMAGE, self.space.to_global(Modality.IMAGE, codes), None, condition=True)
        row.special("bot", Modality.TEXT)
        self._text_target(row, request)
        return row

    def _s2t(self, request: GenerationRequest, row: _Row) -> _Row:
        from trimodal_eval.generation.audio_files import read_wav

        audio = self._require(self.bundle.audio, "an audio tokenizer", request)
        wave, rate = read_wav(request.audio)  # type: ignore[arg-type]
        codes = audio.encode(wave, rate)
        row.task("s2t")
        self._media_span(row, Modality.AUDIO, self.bundle.layout.flatten_audio(codes), None, condition=True)
        row.special("bot", Modality.TEXT)
        self._text_target(row, request)
        return row

    @staticmethod
    def _require(part: object, what: str, request: GenerationRequest):  # type: ignore[no-untyped-def]
        if part is None:
            raise ValueError(f"request {request.id!r} ({request.task}) needs {what}; the bundle has none")
        return part
