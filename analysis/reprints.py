"""Exact reprints: one article text carried by several outlets, counted where it appeared.

Ingest keeps one article per text (the earliest copy) and lists the other outlets that
carried it, each with the date it ran there, in `duplicate_outlets`:
"Outlet B @ 2024-03-06; Outlet C" (no date when that copy was undated; data sets saved
before dates were kept list outlets only, and take the article's date).

The aggregates count what readers saw: with `count_syndicated="per-outlet"` every passage of
a reprinted article counts once for each outlet that carried it, at that outlet's date, so
reprinting outlets appear in volume, shares and outlet similarity; with `"once"` it counts
at its origin only, and near-copy passages (analysis.syndication) are left out as well.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import pandas as pd

from . import schema as S
from .syndication import IS_COPY

CARRIED_BY = "carried_by"  # passages: their article's duplicate_outlets, expanded by `counted_passages`
REPRINT = "reprint"  # counted rows: True for a row standing for a reprinting outlet's copy

_SEP = "; "
_AT = " @ "
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def format_carriers(carriers: Iterable[tuple[str, pd.Timestamp]]) -> str:
    """'Outlet @ YYYY-MM-DD; …' for (outlet, date) pairs, in the order given."""
    return _SEP.join(o if pd.isna(d) else f"{o}{_AT}{d:%Y-%m-%d}" for o, d in carriers)


def parse_carriers(text: str) -> list[tuple[str, pd.Timestamp]]:
    """The (outlet, date or NaT) pairs of a `duplicate_outlets` cell; NaT where no date was kept."""
    out = []
    for entry in str(text or "").split(_SEP):
        if not entry.strip():
            continue
        outlet, at, day = entry.rpartition(_AT)
        if at and _ISO_DAY.fullmatch(day.strip()):
            out.append((outlet, pd.Timestamp(day.strip(), tz="UTC")))
        else:
            out.append((entry, pd.NaT))
    return out


def counted_passages(passages: pd.DataFrame, count_syndicated: str) -> pd.DataFrame:
    """The rows the aggregates count: originals only (`once`) or one per carrying outlet.

    Expanded rows keep the passage's id, article, text, clusters and frames and take the
    reprinting outlet and its date (the origin's date when none was kept); `CARRIED_BY`
    is emptied, so counting already counted rows adds nothing.
    """
    if count_syndicated == "once":
        if IS_COPY in passages:
            passages = passages[~passages[IS_COPY].astype(bool)]
        return passages.reset_index(drop=True)
    if CARRIED_BY not in passages or not passages[CARRIED_BY].astype(bool).any():
        return passages.reset_index(drop=True)
    copies = []
    carried = passages[passages[CARRIED_BY].astype(bool)]
    for text, rows in carried.groupby(CARRIED_BY, sort=False):
        for outlet, day in parse_carriers(text):
            copy = rows.assign(**{S.OUTLET: outlet, REPRINT: True})
            if not pd.isna(day):
                copy[S.DATE] = day
            copies.append(copy)
    out = pd.concat([passages.assign(**{REPRINT: False}), *copies], ignore_index=True)
    out[CARRIED_BY] = ""
    return out


def carriers(articles: pd.DataFrame) -> pd.DataFrame:
    """Every (outlet, date) where an article ran: its own, and each reprint's (the article's date
    when the reprint kept none). Filters and date ranges span these, since the counts do."""
    own = articles[[S.OUTLET, S.DATE]].reset_index(drop=True)
    if S.DUPLICATE_OUTLETS not in articles:
        return own
    rows = []
    for text, own_day in zip(articles[S.DUPLICATE_OUTLETS], articles[S.DATE], strict=True):
        for outlet, day in parse_carriers(text):
            rows.append((outlet, own_day if pd.isna(day) else day))
    if not rows:
        return own
    reprints = pd.DataFrame(rows, columns=[S.OUTLET, S.DATE]).astype({S.DATE: own[S.DATE].dtype})
    return pd.concat([own, reprints], ignore_index=True)

