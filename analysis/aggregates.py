"""Shares of frames and clusters by period, by outlet and by outlet × period.

Every share is reported with its denominator (`n_total`, the passages in the cell),
the count behind it (`n`) and a 95 % interval, so a 60 % share of 5 passages never
looks like a 60 % share of 500. Passages come in articles, and the passages of one
article tend to share their frames, so the interval is article-clustered: the share is a
ratio estimator (passages with the frame ÷ passages, summed over the cell's articles),
its variance the cluster-robust (linearised) one over articles, and the interval the
Wilson interval at the Kish effective sample size n·p(1−p)/(n·var) — Wilson's when
passages are independent, wider when articles carry a frame all-or-nothing. Beside the
passage share stands the article share: of the cell's `n_articles`, how many
(`n_articles_with`) have at least one passage with the frame. Periods inside the date
span with no passages are listed (a gap in coverage is information) with counts of zero
and no share (NaN, drawn as a gap, never as 0 %); cells with fewer than `min_cell_n`
articles are flagged `thin`, not hidden. Undated passages count in outlet views and
appear as their own `undated` period in time views.

The functions take a passages frame and an *indicator* frame (one boolean column per
category, rows aligned with the passages). Frames are multi-label (a passage can carry
several, so frame shares need not sum to one); clusters are one-hot. Both go through
the same code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from . import schema as S

PERIOD = "period"  # label: "2024-05-06" (week start), "2024-05", "2024Q2" or "undated"
PERIOD_START = "period_start"  # first day of the period, NaT when undated
N_PASSAGES = "n_total"  # the denominator: passages in the cell
COUNT = "n"  # passages in the cell that carry the frame or belong to the cluster
SHARE = "share"  # COUNT / N_PASSAGES; NaN when the cell has no passages
CI_LOW = "ci_low"  # article-clustered 95 % interval of SHARE
CI_HIGH = "ci_high"
N_ARTICLES = "n_articles"  # articles with a passage in the cell
ARTICLES_WITH = "n_articles_with"  # of those, articles with a passage that carries the category
ARTICLE_SHARE = "article_share"  # ARTICLES_WITH / N_ARTICLES; NaN when the cell is empty
THIN = "thin"  # fewer than min_n articles in the cell

_FREQ = {"week": "W-SUN", "month": "M", "quarter": "Q"}


def choose_period(dates: pd.Series) -> str:
    """Week for spans up to six months, month up to six years, quarter beyond."""
    d = dates.dropna()
    if d.empty:
        return "month"
    days = (d.max() - d.min()).days
    if days <= 183:
        return "week"
    if days <= 6 * 366:
        return "month"
    return "quarter"


PERIOD_ORDER = ("week", "month", "quarter")


def readable_period(dates: pd.Series, min_typical_n: int) -> str:
    """The span rule of `choose_period`, coarsened (week → month → quarter) until the median
    period, empty ones included, holds at least `min_typical_n` rows: typical cells not thin."""
    d = _naive(dates).dropna()
    chosen = choose_period(dates)
    if d.empty:
        return chosen
    for period in PERIOD_ORDER[PERIOD_ORDER.index(chosen):]:
        p = d.dt.to_period(_FREQ[period])
        n_periods = (p.max() - p.min()).n + 1
        counts = np.zeros(n_periods)
        counts[: p.nunique()] = p.value_counts().to_numpy()
        if np.median(counts) >= min_typical_n:
            return period
    return PERIOD_ORDER[-1]


def resolve_period(period: str, dates: pd.Series) -> str:
    return choose_period(dates) if period == "auto" else period


def _naive(dates: pd.Series) -> pd.Series:
    d = pd.to_datetime(dates, utc=True)
    return d.dt.tz_convert(None)


def period_of(dates: pd.Series, period: str) -> tuple[pd.Series, pd.Series]:
    """(label, start) per date; undated → ("undated", NaT)."""
    p = _naive(dates).dt.to_period(_FREQ[period])
    start = p.dt.start_time
    codes, firsts = pd.factorize(start)  # labels are formatted once per period, not per row (NaT: -1)
    names = np.append(_labels(pd.Series(firsts), period).to_numpy(object), S.UNDATED)
    label = pd.Series(names[codes], index=dates.index, dtype=object)  # code -1 picks the appended UNDATED
    return label, start


def _labels(start: pd.Series, period: str) -> pd.Series:
    if period == "week":
        return start.dt.strftime("%Y-%m-%d")
    if period == "month":
        return start.dt.strftime("%Y-%m")
    return start.dt.year.astype("Int64").astype(str) + "Q" + start.dt.quarter.astype("Int64").astype(str)


def date_span(dates: pd.Series) -> pd.DataFrame:
    """One row: the first and last date and the number of undated rows. Spans of parts add up
    (`add_date_spans`) and stand for the dates wherever only their span matters (`span_dates`):
    choosing the period and listing every period of the span."""
    return pd.DataFrame({"first": [dates.min()], "last": [dates.max()], "undated": [int(dates.isna().sum())]})


def add_date_spans(spans: Sequence[pd.DataFrame]) -> pd.DataFrame:
    s = pd.concat(spans, ignore_index=True)
    return pd.DataFrame({"first": [s["first"].min()], "last": [s["last"].max()], "undated": [int(s["undated"].sum())]})


def span_dates(span: pd.DataFrame) -> pd.Series:
    """Dates with the span's extent: first, last, and NaT if any row was undated."""
    s = span.iloc[0]
    dated = [d for d in (s["first"], s["last"]) if not pd.isna(d)]
    return pd.Series([*dated, *([pd.NaT] if s["undated"] else [])], dtype=span["first"].dtype)


def all_periods(dates: pd.Series, period: str) -> pd.DataFrame:
    """Every period from the first to the last date (no gaps), plus `undated` if any."""
    d = _naive(dates).dropna()
    rows = pd.DataFrame({PERIOD: pd.Series(dtype=object), PERIOD_START: pd.Series(dtype="datetime64[ns]")})
    if not d.empty:
        rng = pd.period_range(d.min().to_period(_FREQ[period]), d.max().to_period(_FREQ[period]))
        start = pd.Series(rng.start_time)
        rows = pd.DataFrame({PERIOD: _labels(start, period), PERIOD_START: start})
    if dates.isna().any():
        rows = pd.concat([rows, pd.DataFrame({PERIOD: [S.UNDATED], PERIOD_START: [pd.NaT]})], ignore_index=True)
    return rows


def wilson(count: np.ndarray, n: np.ndarray, z: float = 1.959964) -> tuple[np.ndarray, np.ndarray]:
    """95 % Wilson score interval; NaN where n = 0 (no share to bound)."""
    count = np.asarray(count, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = count / n
        denom = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denom
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denom
        lo = np.where(n > 0, np.clip(centre - half, 0, 1), np.nan)
        hi = np.where(n > 0, np.clip(centre + half, 0, 1), np.nan)
    return lo, hi


def clustered_interval(
    y: np.ndarray, x: np.ndarray, yy: np.ndarray, xy: np.ndarray, xx: np.ndarray, m: np.ndarray,
    z: float = 1.959964,
) -> tuple[np.ndarray, np.ndarray]:
    """95 % interval of the ratio Σy/Σx over m clusters (articles), from per-cell sums.

    y, x: sums of per-article counts and sizes; yy, xy, xx: sums of their squares and
    product. The linearised cluster-robust variance m/(m−1)·Σ(y_a − p·x_a)²/X² gives the
    Kish effective size n_eff = p(1−p)/var (capped at the passages, at least one, and the
    number of articles when the variance is 0), at which the Wilson interval is taken.
    One article gives one effective observation.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        p = y / x
        resid = np.maximum(yy - 2 * p * xy + p**2 * xx, 0.0)
        var = np.where(m > 1, m / np.maximum(m - 1, 1) * resid / x**2, np.inf)
        n_eff = np.where(var > 0, p * (1 - p) / var, m)
        n_eff = np.where(np.isfinite(var), n_eff, 1.0)
        n_eff = np.clip(np.nan_to_num(n_eff, nan=1.0), 1.0, np.maximum(x, 1.0))
    return wilson(p * n_eff, np.where(x > 0, n_eff, 0.0), z)


SUMS = ("y", "yy", "xy", "with", "x", "xx", "m")  # per cell, over its articles: see `cell_sums`


def cell_sums(keys: pd.DataFrame, indicators: pd.DataFrame, *, category: str, articles: pd.Series) -> pd.DataFrame:
    """Long table: per (group, category), sums over the cell's articles of the article's flagged
    passages y and passages x (with yy, xy, xx, the articles m and those with a flag `with`).

    A share, its article-clustered interval and the article share need nothing else, and the
    sums of disjoint sets of articles add up: a partitioned engine computes them per partition
    and adds them (`add_sums`), the in-process engine computes them once.

    Cells are listed in order of first appearance, missing key values kept as a value of their
    own. The sums are column sums per integer code (rows → (cell, article) pairs → cells): a
    filter change recomputes them, and pandas groupbys over the same took 5–10× longer.
    """
    by = list(keys.columns)
    cats = pd.Index(indicators.columns)
    flags = [indicators[c].to_numpy(dtype=np.float64) for c in cats]
    n = len(indicators)
    coded = [pd.factorize(keys[c], use_na_sentinel=False) for c in by]
    cell = np.zeros(n, dtype=np.int64)
    for codes, values in coded:  # one integer per combination of key values
        cell = cell * max(len(values), 1) + codes
    cell, first_rows = _first_appearance(cell)
    art = pd.factorize(articles, use_na_sentinel=False)[0].astype(np.int64)
    pair, pair_rows = _first_appearance(cell * (int(art.max(initial=-1)) + 1) + art)
    n_cells, n_pairs = len(first_rows), len(pair_rows)
    # per (cell, article): the article's passages there (x) and flagged passages (y), per category
    y = _column_sums(pair, flags, n_pairs)
    x = np.bincount(pair, minlength=n_pairs).astype(np.float64)
    pair_cell = cell[pair_rows]
    per_cell = {"y": _column_sums(pair_cell, y, n_cells), "yy": _column_sums(pair_cell, y**2, n_cells),
                "xy": _column_sums(pair_cell, y * x, n_cells),
                "with": _column_sums(pair_cell, (y > 0).astype(np.float64), n_cells)}
    wide = {"x": np.bincount(pair_cell, weights=x, minlength=n_cells),
            "xx": np.bincount(pair_cell, weights=x**2, minlength=n_cells),
            "m": np.bincount(pair_cell, minlength=n_cells).astype(np.float64)}
    out, rows = _cell_keys(dict(zip(by, coded, strict=True)), first_rows, category, cats)
    for name in SUMS:
        values = per_cell[name].T.reshape(-1) if name in per_cell else wide[name][rows]
        out[name] = np.rint(values).astype(np.int64)
    return pd.DataFrame(out)


def _cell_keys(coded: Mapping[str, tuple[np.ndarray, pd.Index]], first_rows: np.ndarray, category: str,
               cats: pd.Index) -> tuple[dict[str, Any], np.ndarray]:
    """The key columns of a cell-major long table (each cell's key values once per category, then
    the category) and, per output row, its cell: the cells are numbered by their first rows."""
    k, n_cells = len(cats), len(first_rows)
    rows = np.repeat(np.arange(n_cells), k)  # cell-major: every category of a cell together
    out: dict[str, Any] = {c: values.take(codes[first_rows][rows]) for c, (codes, values) in coded.items()}
    out[category] = cats.take(np.tile(np.arange(k), n_cells))
    return out, rows


def _column_sums(codes: np.ndarray, columns: Sequence[np.ndarray], n_codes: int) -> np.ndarray:
    """(len(columns), n_codes): per code, the sum of each column over its rows, one row per
    column (each contiguous, as bincount reads its weights). One bincount per column: 3–5×
    faster than a sparse product with the rows × columns matrix at 383k passages, which scipy
    first copied into row order."""
    return np.stack([np.bincount(codes, weights=c, minlength=n_codes) for c in columns]) if len(columns) \
        else np.zeros((0, n_codes))


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """The row of each code's first appearance, for codes numbered 0, 1, … as they appear (as
    `pd.factorize` numbers them): a code appears first where it exceeds every earlier one."""
    earlier = np.maximum.accumulate(np.concatenate([[-1], codes[:-1]]))
    return np.flatnonzero(codes > earlier)


def _first_appearance(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes renumbered 0, 1, … in order of first appearance, and the row of each first appearance."""
    renumbered = pd.factorize(codes)[0].astype(np.int64)
    return renumbered, _first_rows(renumbered)


def add_sums(parts: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Cell sums (`cell_sums`, `group_counts` or `volume_counts`) of disjoint sets of articles, added up; rows
    in order of first appearance."""
    df = pd.concat(parts, ignore_index=True)
    sums = [c for c in df.columns if c in SUMS or c in _VOLUME]
    keys = [c for c in df.columns if c not in sums]
    return df.groupby(keys, sort=False, dropna=False)[sums].sum().reset_index()


def shares_from_sums(
    long: pd.DataFrame,
    *,
    by: Sequence[str],
    category: str,
    categories: Sequence,
    grid: pd.DataFrame | None = None,
    min_n: int = 5,
) -> pd.DataFrame:
    """The shares table of `shares` from cell sums; `grid`, when given, lists every group that
    must appear (missing ones get counts of zero and no share)."""
    by = list(by)
    if grid is not None:
        full = grid[by].drop_duplicates().merge(pd.DataFrame({category: list(categories)}), how="cross")
        long = full.merge(long, on=[*by, category], how="left")
    long = long.copy()
    counts = list(SUMS)
    long[counts] = long[counts].fillna(0).astype("int64")
    n_arr, c_arr, m_arr = long["x"].to_numpy(), long["y"].to_numpy(), long["m"].to_numpy()
    lo, hi = clustered_interval(*(long[c].to_numpy(float) for c in ("y", "x", "yy", "xy", "xx", "m")))
    with np.errstate(invalid="ignore", divide="ignore"):
        long[SHARE] = np.where(n_arr > 0, c_arr / n_arr, np.nan).round(6)
        long[ARTICLE_SHARE] = np.where(m_arr > 0, long["with"] / m_arr, np.nan).round(6)
    long[CI_LOW], long[CI_HIGH] = lo.round(6), hi.round(6)
    long = long.rename(columns={"x": N_PASSAGES, "y": COUNT, "m": N_ARTICLES, "with": ARTICLES_WITH})
    long[THIN] = m_arr < min_n
    return long[[*by, category, N_PASSAGES, COUNT, SHARE, CI_LOW, CI_HIGH, N_ARTICLES, ARTICLES_WITH,
                 ARTICLE_SHARE, THIN]].reset_index(drop=True)


def shares(
    keys: pd.DataFrame,
    indicators: pd.DataFrame,
    *,
    category: str,
    articles: pd.Series,
    grid: pd.DataFrame | None = None,
    min_n: int = 5,
) -> pd.DataFrame:
    """Long table: one row per (group, category) with passage and article counts, shares,
    the article-clustered interval and `thin`.

    `keys` holds the grouping columns and `articles` the article id of each row (both
    aligned with `indicators`); `grid`, when given, lists every group that must appear
    (missing ones get counts of zero and no share).
    """
    return shares_from_sums(cell_sums(keys, indicators, category=category, articles=articles), by=list(keys.columns),
                            category=category, categories=list(indicators.columns), grid=grid, min_n=min_n)


def over_time_sums(
    passages: pd.DataFrame, indicators: pd.DataFrame, *, category: str, period: str, by: Sequence[str] = ()
) -> pd.DataFrame:
    """Cell sums per period (and per `by` column)."""
    label, _ = period_of(passages[S.DATE], period)
    keys = pd.DataFrame({PERIOD: label.to_numpy(), **{c: passages[c].to_numpy() for c in by}})
    return cell_sums(keys, indicators, category=category, articles=passages[S.ARTICLE_ID])


def over_time_from_sums(
    sums: pd.DataFrame,
    periods: pd.DataFrame,
    groups: Mapping[str, Sequence],
    *,
    category: str,
    categories: Sequence,
    by: Sequence[str] = (),
    min_n: int = 5,
) -> pd.DataFrame:
    """Shares per period from cell sums: every period of `periods` (see `all_periods`) and,
    per `by` column, every value of `groups[column]` is listed."""
    grid = periods
    for c in by:
        grid = grid.merge(pd.DataFrame({c: list(groups[c])}), how="cross")
    out = shares_from_sums(sums, by=[PERIOD, *by], category=category, categories=categories, grid=grid, min_n=min_n)
    out = out.merge(periods, on=PERIOD, how="left")
    cols = [PERIOD, PERIOD_START, *by]
    return out[[*cols, *[c for c in out.columns if c not in cols]]].reset_index(drop=True)


def over_time(
    passages: pd.DataFrame,
    indicators: pd.DataFrame,
    *,
    category: str,
    period: str,
    by: Sequence[str] = (),
    min_n: int = 5,
) -> pd.DataFrame:
    """Shares per period (and per `by` column); every period of the date span is listed."""
    return over_time_from_sums(
        over_time_sums(passages, indicators, category=category, period=period, by=by),
        all_periods(passages[S.DATE], period), {c: sorted(passages[c].dropna().unique()) for c in by},
        category=category, categories=list(indicators.columns), by=by, min_n=min_n)


def group_sums(passages: pd.DataFrame, indicators: pd.DataFrame, *, category: str, by: str = S.OUTLET) -> pd.DataFrame:
    """Cell sums per value of one column (default: outlet)."""
    return cell_sums(pd.DataFrame({by: passages[by].to_numpy()}), indicators, category=category,
                     articles=passages[S.ARTICLE_ID])


def group_counts(passages: pd.DataFrame, indicators: pd.DataFrame, *, category: str, by: str = S.OUTLET
                 ) -> pd.DataFrame:
    """Long table: per (value of `by`, category), the flagged passages y and all passages x, in
    order of first appearance (missing values kept as a value of their own); they add up over
    partitions like `cell_sums`. All a distance between the groups' distributions needs: the
    per-article sums of `group_sums` cost 8× more (0.15 s against 0.018 s for 9 frames at
    383k passages), paid on the Outlets page's first visit."""
    codes, values = pd.factorize(passages[by], use_na_sentinel=False)  # numbered as they first appear
    first_rows = _first_rows(codes)
    n_groups = len(first_rows)
    cats = pd.Index(indicators.columns)
    y = _column_sums(codes, [indicators[c].to_numpy(dtype=np.float64) for c in cats], n_groups)
    out, rows = _cell_keys({by: (codes, values)}, first_rows, category, cats)
    out["y"] = np.rint(y.T.reshape(-1)).astype(np.int64)
    out["x"] = np.bincount(codes, minlength=n_groups)[rows].astype(np.int64)
    return pd.DataFrame(out)


def by_group_from_sums(sums: pd.DataFrame, groups: Sequence, *, category: str, categories: Sequence,
                       by: str = S.OUTLET, min_n: int = 5) -> pd.DataFrame:
    """Shares per value of one column from cell sums, every value of `groups` listed."""
    return shares_from_sums(sums, by=[by], category=category, categories=categories,
                            grid=pd.DataFrame({by: list(groups)}), min_n=min_n)


def by_group(
    passages: pd.DataFrame, indicators: pd.DataFrame, *, category: str, by: str = S.OUTLET, min_n: int = 5
) -> pd.DataFrame:
    """Shares per value of one column (default: outlet), undated passages included."""
    return by_group_from_sums(group_sums(passages, indicators, category=category, by=by),
                              sorted(passages[by].dropna().unique()), category=category,
                              categories=list(indicators.columns), by=by, min_n=min_n)


_VOLUME = ("n_articles", "n_passages")


def volume_counts(passages: pd.DataFrame, *, period: str, by: str = S.OUTLET) -> pd.DataFrame:
    """Articles and passages per (period, outlet) present; additive over disjoint sets of articles."""
    label, _ = period_of(passages[S.DATE], period)
    df = pd.DataFrame({PERIOD: label.to_numpy(), by: passages[by].to_numpy(), S.ARTICLE_ID: passages[S.ARTICLE_ID].to_numpy()})
    g = df.groupby([PERIOD, by], sort=False)
    return pd.DataFrame({"n_articles": g[S.ARTICLE_ID].nunique(), "n_passages": g.size()}).reset_index()


def volume_from_counts(counts: pd.DataFrame, periods: pd.DataFrame, groups: Sequence, *,
                       by: str = S.OUTLET) -> pd.DataFrame:
    """The coverage timeline from `volume_counts`: every period × every group, zero-filled."""
    grid = periods.merge(pd.DataFrame({by: list(groups)}), how="cross")
    out = grid.merge(counts, on=[PERIOD, by], how="left")
    out[list(_VOLUME)] = out[list(_VOLUME)].fillna(0).astype("int64")
    return out


def volume(passages: pd.DataFrame, *, period: str, by: str = S.OUTLET) -> pd.DataFrame:
    """Articles and passages per period and outlet, zero-filled (the coverage timeline)."""
    return volume_from_counts(volume_counts(passages, period=period, by=by), all_periods(passages[S.DATE], period),
                              sorted(passages[by].dropna().unique()), by=by)


def frame_indicators(passages: pd.DataFrame, frame_ids: Sequence[str]) -> pd.DataFrame:
    """Boolean frame-present columns of the passages table, named by frame id."""
    return pd.DataFrame({f: passages[present_column(f)].to_numpy(dtype=bool) for f in frame_ids})


def cluster_indicators(passages: pd.DataFrame, cluster_ids: Sequence[int]) -> pd.DataFrame:
    """One-hot cluster membership (columns = cluster ids, every cluster even if empty here)."""
    labels = passages[S.CLUSTER_ID].to_numpy()
    return pd.DataFrame({int(c): labels == c for c in cluster_ids})


def present_column(frame_id: str) -> str:
    return f"present_{frame_id}"


def score_column(frame_id: str) -> str:
    return f"score_{frame_id}"
