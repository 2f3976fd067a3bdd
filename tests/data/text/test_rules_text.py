"""The Beam-free text rules: published defaults, each reason on a text built to trigger it, clean real text
passing, normalization, and language ID (our sparse scoring equals langid's own)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from langid.langid import LanguageIdentifier as LangidIdentifier
from langid.langid import model

from trimodal_data.rules.language import LanguageConfig, LanguageIdentifier
from trimodal_data.rules.text import (
    C4Config,
    FineWebConfig,
    GopherQualityConfig,
    GopherRepetitionConfig,
    LengthConfig,
    c4_filter,
    fineweb_quality,
    gopher_quality,
    gopher_repetition,
    length_rule,
)
from trimodal_data.rules.text_filters import TextFiltersConfig, TextRuleChain
from trimodal_data.text_normalize import NormalizeConfig, normalize_text

TUTOR_DIR = Path("/usr/share/vim/vim90/tutor")
# Public domain: the opening of Melville's "Bartleby, the Scrivener" (1853).
PROSE = (
    "I am a rather elderly man. The nature of my avocations for the last thirty years has brought me into more "
    "than ordinary contact with what would seem an interesting and somewhat singular set of men, of whom as yet "
    "nothing that I know of has ever been written: I mean the law-copyists or scriveners.\n"
    "I have known very many of them, professionally and privately, and if I pleased, could relate divers "
    "histories, at which good-natured gentlemen might smile, and sentimental souls might weep.\n"
    "But I waive the biographies of all other scriveners for a few passages in the life of Bartleby, who was a "
    "scrivener of the strangest I ever saw or heard of. While of other law-copyists I might write the complete "
    "life, of Bartleby nothing of that sort can be done.\n"
    "I believe that no materials exist for a full and satisfactory biography of this man. It is an irreparable "
    "loss to literature. Bartleby was one of those beings of whom nothing is ascertainable, except from the "
    "original sources, and in his case those are very small.\n"
    "What my own astonished eyes saw of Bartleby, that is all I know of him, except, indeed, one vague report "
    "which will appear in the sequel."
)


def test_published_defaults() -> None:
    q = GopherQualityConfig()
    assert (q.min_doc_words, q.max_doc_words, q.min_avg_word_length, q.max_avg_word_length) == (50, 100_000, 3, 10)
    assert (q.max_symbol_word_ratio, q.max_bullet_lines_ratio, q.max_ellipsis_lines_ratio) == (0.1, 0.9, 0.3)
    assert (q.min_alpha_words_ratio, q.min_stop_words) == (0.8, 2)
    r = GopherRepetitionConfig()
    assert (r.dup_line_frac, r.dup_para_frac, r.dup_line_char_frac, r.dup_para_char_frac) == (0.3, 0.3, 0.2, 0.2)
    assert r.top_n_grams == ((2, 0.2), (3, 0.18), (4, 0.16))
    assert r.dup_n_grams == ((5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10))
    f = FineWebConfig()
    assert (f.line_punct_thr, f.short_line_thr, f.short_line_length, f.char_duplicates_ratio) == (0.12, 0.67, 30, 0.01)
    assert f.new_line_ratio == 0.3
    c = C4Config()
    assert (c.min_num_sentences, c.min_words_per_line, c.max_word_length) == (5, 3, 1000)


def test_clean_prose_passes_every_rule() -> None:
    result = TextRuleChain(TextFiltersConfig())(PROSE)
    assert result.reason is None
    assert result.text == PROSE


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a few words only.", "gopher_short_doc"),
        (" ".join(["extraordinarily"] * 50 + ["the", "and", "of"] * 4), "gopher_above_avg_word_length"),
        (" ".join(["a", "is", "to", "be", "of", "the", "and"] * 12), "gopher_below_avg_word_length"),
        (PROSE + " #tag" * 40, "gopher_too_many_hashes"),
        (PROSE + " wait..." * 40, "gopher_too_many_ellipsis"),
        ("\n".join(f"- item {i} of the list and the rest with more words" for i in range(30)),
         "gopher_too_many_bullets"),
        ("\n".join(f"and the story {i} goes on and on with more words to say..." for i in range(20)),
         "gopher_too_many_end_ellipsis"),
        (" ".join(["1234", "5678", "the", "and"] * 30), "gopher_below_alpha_threshold"),
        (" ".join(["quick brown foxes jump over lazy dogs"] * 12), "gopher_enough_stop_words"),
    ],
)
def test_gopher_quality_reasons(text: str, reason: str) -> None:
    assert gopher_quality(text, GopherQualityConfig()) == reason


def test_gopher_repetition_reasons() -> None:
    cfg = GopherRepetitionConfig()
    assert gopher_repetition(PROSE, cfg) is None
    paragraphs = "\n\n".join([PROSE.split("\n")[0]] * 4 + PROSE.split("\n")[1:2])
    assert gopher_repetition(paragraphs, cfg) == "gopher_dup_para_frac"
    lines = "\n".join(["Click here to subscribe to our newsletter today."] * 4 + PROSE.split("\n"))
    assert gopher_repetition(lines, cfg) == "gopher_dup_line_frac"
    one_line = " ".join(["the cat sat"] * 30) + " " + PROSE.replace("\n", " ")
    assert gopher_repetition(one_line, cfg).startswith(("gopher_top_", "gopher_duplicated_"))
    disabled = dataclasses.replace(cfg, top_n_grams=(), dup_n_grams=((5, 1.0),))
    assert gopher_repetition(one_line, disabled) is None


def test_c4_rules() -> None:
    cfg = C4Config()
    kept, reason = c4_filter(PROSE + "\nLorem ipsum dolor sit amet.", cfg)
    assert reason == "c4_lorem_ipsum"
    assert c4_filter(PROSE + "\nvar x = {a: 1};", cfg)[1] == "c4_curly_bracket"
    assert c4_filter("One sentence only. Two.", cfg)[1] == "c4_too_few_sentences"
    kept, reason = c4_filter(PROSE + "\nPlease enable JavaScript to view this page.\nRead our privacy policy.", cfg)
    assert reason is None and kept == PROSE
    kept, _ = c4_filter(PROSE.replace("small.", "small.[12]"), cfg)
    assert "[12]" not in kept
    strict = dataclasses.replace(cfg, filter_no_terminal_punct=True)
    kept, reason = c4_filter("A heading without a full stop\n" + PROSE, strict)
    assert reason is None and kept == PROSE


def test_fineweb_rules() -> None:
    cfg = FineWebConfig()
    assert fineweb_quality(PROSE, cfg) is None
    no_punct = "\n".join(f"line number {i} of a menu without any terminal punctuation here" for i in range(10))
    assert fineweb_quality(no_punct, cfg) == "fineweb_line_punct_ratio"
    short = "\n".join(["Home.", "About us.", "Contact.", "Blog.", PROSE.split("\n")[0]])
    assert fineweb_quality(short, cfg) == "fineweb_short_line_ratio"
    dup = PROSE + "\n" + PROSE.split("\n")[0]
    assert fineweb_quality(dup, cfg) == "fineweb_char_dup_ratio"


def test_length_rule() -> None:
    cfg = LengthConfig(min_chars=10, max_chars=20)
    assert length_rule("short", cfg) == "too_short"
    assert length_rule("x" * 21, cfg) == "too_long"
    assert length_rule("just right!", cfg) is None


def test_normalize_text() -> None:
    cfg = NormalizeConfig()
    assert normalize_text("Cafe\u0301", cfg) == "Café"  # NFC composes
    assert normalize_text("a\x00b\x07c\u200bd\ufeff", cfg) == "abcd"
    assert normalize_text("  one \t two  \r\nthree\r\n\n\n\nfour  ", cfg) == "one two\nthree\n\nfour"
    assert normalize_text("x\u0301", NormalizeConfig(unicode_form="none", normalize_whitespace=False)) == "x\u0301"


def test_rule_chain_reports_first_failure_and_empty_text() -> None:
    chain = TextRuleChain(TextFiltersConfig())
    assert chain("\x00\x01  \n ").reason == "empty_text"
    assert chain("Too short.").reason.startswith(("language_", "gopher_"))
    off = TextFiltersConfig(
        gopher_quality=GopherQualityConfig(enabled=False), gopher_repetition=GopherRepetitionConfig(enabled=False),
        c4=C4Config(enabled=False), fineweb=FineWebConfig(enabled=False), language=LanguageConfig(enabled=False),
    )
    assert TextRuleChain(off)("Too short.").reason is None


@pytest.mark.skipif(not TUTOR_DIR.is_dir(), reason="vim tutor files not installed")
def test_language_id_matches_langid_and_applies_allow_list() -> None:
    ours = LanguageIdentifier(LanguageConfig(allow=("en", "de")))
    reference = LangidIdentifier.from_modelstring(model, norm_probs=True)
    files = [*sorted(TUTOR_DIR.glob("tutor.*.utf-8"))[:10], TUTOR_DIR / "tutor"]
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        lang, prob = ours.classify(text)
        ref_lang, ref_prob = reference.classify(text[:2000])
        assert (lang, pytest.approx(prob, abs=1e-9)) == (ref_lang, ref_prob), path
    assert ours.reason((TUTOR_DIR / "tutor.de.utf-8").read_text())[0] is None
    reason, detail = ours.reason((TUTOR_DIR / "tutor.fr.utf-8").read_text())
    assert reason == "language_not_allowed" and detail.startswith("fr:")


def _reference_repetition_chars(words: list[str], text: str) -> tuple[list[int], list[int]]:
    """Direct tuple-based Gopher definitions (top n-gram chars x count; repeated n-gram chars with skip)."""
    from collections import Counter

    top = []
    for n in (2, 3, 4):
        grams = [" ".join(words[i : i + n]) for i in range(len(words) - n + 1)]
        gram, count = Counter(grams).most_common(1)[0]
        top.append(len(gram) * count)
    dup = []
    for n in range(5, 11):
        seen, repeated, idx = set(), 0, 0
        while idx < len(words) - n + 1:
            gram = "".join(words[idx : idx + n])
            if gram in seen:
                repeated += len(gram)
                idx += n
            else:
                seen.add(gram)
                idx += 1
        dup.append(repeated)
    return top, dup


@pytest.mark.parametrize("seed", range(6))
def test_ngram_index_equals_direct_definitions(seed: int) -> None:
    import random

    from trimodal_data.rules.text import _NGramIndex

    rng = random.Random(seed)
    vocab = PROSE.split()[: 8 + 20 * seed]  # small vocabularies give many repeats
    words = [rng.choice(vocab) for _ in range(rng.randint(30, 400))]
    if seed % 2:
        words = words + words[10:60] + words  # long repeated spans
    index = _NGramIndex(words)
    top, dup = _reference_repetition_chars(words, " ".join(words))
    assert [index.top_ngram_chars(n) for n in (2, 3, 4)] == top
    assert [index.duplicate_ngram_chars(n) for n in range(5, 11)] == dup


@pytest.mark.parametrize("seed", range(4))
def test_fast_paragraph_and_line_splits_equal_the_regex_splits(seed: int) -> None:
    import random
    import re

    from trimodal_data.rules.text import split_lines, split_paragraphs

    rng = random.Random(seed)
    for _ in range(300):
        text = "".join(rng.choice(["a", "b ", "\n", "\n\n", "\n\n\n", " "]) for _ in range(rng.randint(0, 30)))
        assert split_paragraphs(text) == re.split(r"\n{2,}", text), repr(text)
        assert split_lines(text) == re.split(r"\n+", text), repr(text)


@pytest.mark.parametrize("seed", range(3))
def test_normalize_fast_paths_equal_the_regex_definitions(seed: int) -> None:
    """Fast paths (bytes.translate control check, space-run regex, newline replaces) equal the general regexes."""
    import random
    import re

    control = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b\u200e\u200f\u2060\ufeff]")
    hspace = re.compile(r"[^\S\n]{2,}|[^\S \n]")

    def reference(text: str, cfg: NormalizeConfig) -> str:
        if cfg.strip_control_chars:
            text = control.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
        if cfg.normalize_whitespace:
            text = hspace.sub(" ", text.replace("\r\n", "\n").replace("\r", "\n"))
            text = re.sub(r"\n{3,}", "\n\n", re.sub(r" *\n *", "\n", text)).strip()
        return text

    rng = random.Random(seed)
    alphabet = ["a", "b", " ", "  ", "\n", "\t", "\x0b", "\x0c", "\x1c", "\x1f", "\x00", "\x07", "\x7f", "\r",
                "\xa0", "\u2009", "é", " \n ", "\n \n"]
    configs = [NormalizeConfig(unicode_form="none"), NormalizeConfig(unicode_form="none", strip_control_chars=False)]
    for _ in range(400):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 25)))
        for cfg in configs:
            assert normalize_text(text, cfg) == reference(text, cfg), (repr(text), cfg)
