"""Relevance gate: is an article about the China–Russia relationship at all?

A collection built by keyword search always drags in pieces about only one of the two
countries, and pieces that name both without being about them (a medal table, a list of
delegations). The gate has two checks, and every article gets a `relevance_reason` so the
user sees why it was kept or set aside; nothing is silently dropped: set-aside articles
stay in the articles table.

1. Co-mention: the title and text name both China and Russia (English, Russian or Chinese:
   country, capital, leader, adjective) as whole words: "Chinatown", "fine bone china"
   and "PRCA" do not count.
2. Topic: when the codebook carries a `topic` (a description and example passages), an
   article is set aside when none of its passages comes within `min_cosine` of any of
   them (the passage's best cosine to the topic prototypes, embeddings of the run's model).
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

from . import schema as S

RELEVANT = "relevant"
REASON = "relevance_reason"
TOPIC_SIMILARITY = "topic_similarity"  # articles: best passage cosine to the codebook's topic

# "China" the country is capitalised (or in a capitalised headline); "china" is porcelain.
_CHINA = re.compile(
    r"\b(?:China|CHINA)\b"
    r"|\b(?i:chinese|beijing|xi\s+jinping|president\s+xi)\b|\b(?i:sino-)\w"
    r"|\b(?:PRC)\b"
    r"|\b(?i:кита(?:й|я|ю|ем|е)\b|китайск\w*|кнр\b|пекин\w*|си\s+цзиньпин\w*)"
    r"|中国|中方|中俄|北京|习近平",
)
_RUSSIA = re.compile(
    r"\b(?i:russia|russian|russians|moscow|kremlin|putin)\b|-(?i:russian)\b"
    r"|\b(?i:росси\w*|российск\w*|рф\b|москв\w*|кремл\w*|путин\w*)"
    r"|俄罗斯|俄方|中俄|莫斯科|普京|克里姆林",
)


def mentions(text: str) -> tuple[bool, bool]:
    """(names China, names Russia), whole words only."""
    return bool(_CHINA.search(text)), bool(_RUSSIA.search(text))


def relevance(articles: pd.DataFrame) -> pd.DataFrame:
    """Per article (aligned rows): `relevant` by co-mention and a human-readable reason."""
    reasons, keep = [], []
    for title, text in zip(articles[S.TITLE].fillna(""), articles[S.TEXT].fillna(""), strict=True):
        china, russia = mentions(f"{title}\n{text}")
        keep.append(china and russia)
        reasons.append(
            "mentions China and Russia" if china and russia
            else "mentions China only" if china
            else "mentions Russia only" if russia
            else "mentions neither China nor Russia"
        )
    return pd.DataFrame({RELEVANT: keep, REASON: reasons}, index=articles.index)


def topic_similarity(article_ids: pd.Series, vectors: np.ndarray, topic_vectors: np.ndarray) -> pd.Series:
    """Article id → the best cosine of any of its passages to any topic prototype.

    `article_ids` and `vectors` (unit rows) are aligned passage by passage.
    """
    if len(vectors) == 0 or len(topic_vectors) == 0:
        return pd.Series(dtype=float)
    best = (vectors @ topic_vectors.T).max(axis=1)
    return pd.Series(best, index=article_ids.to_numpy()).groupby(level=0, sort=False).max()


def topic_reason(similarity: float, min_cosine: float) -> str:
    return (f"far from the codebook's topic (best passage cosine {similarity:.2f} < {min_cosine:.2f})"
            if similarity < min_cosine else "")
