"""Relevance gate: is an article about the China–Russia relationship at all?

A collection built by keyword search always drags in pieces about only one of the two
countries. The gate keeps an article when its title and text mention both China and
Russia (in English, Russian or Chinese: country, capital, leader, adjective); every
article gets a `relevance_reason` so the user sees why it was kept or set aside, and
nothing is silently dropped: set-aside articles stay in the articles table.
"""

from __future__ import annotations

import re

import pandas as pd

from . import schema as S

RELEVANT = "relevant"
REASON = "relevance_reason"

_CHINA = re.compile(
    r"\b(?:china|chinese|beijing|xi\s+jinping|president\s+xi|prc|sino-)"
    r"|\b(?:китай|китая|китаю|китаем|китае|китайск\w*|кнр|пекин\w*|си\s+цзиньпин\w*)"
    r"|中国|中方|中俄|北京|习近平",
    re.IGNORECASE,
)
_RUSSIA = re.compile(
    r"\b(?:russia|russian|russians|moscow|kremlin|putin|-russian)"
    r"|\b(?:росси\w*|российск\w*|рф|москв\w*|кремл\w*|путин\w*)"
    r"|俄罗斯|俄方|中俄|莫斯科|普京|克里姆林",
    re.IGNORECASE,
)


def mentions(text: str) -> tuple[bool, bool]:
    return bool(_CHINA.search(text)), bool(_RUSSIA.search(text))


def relevance(articles: pd.DataFrame) -> pd.DataFrame:
    """Per article (aligned rows): `relevant` and a human-readable reason."""
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
