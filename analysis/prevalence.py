"""Frame shares corrected for the classifier's measured errors (Rogan–Gladen).

A raw share p is the fraction of passages the classifier calls "present". If, on a hand-coded
validation sample, the classifier finds a frame where it is (sensitivity Se) and stays silent
where it is not (specificity Sp), then E[p] = π·Se + (1 − π)·(1 − Sp), so the true share is

    π = (p + Sp − 1) / (Se + Sp − 1),  clipped to [0, 1]

(Rogan & Gladen 1978). It is undefined when Se + Sp ≤ 1 (a classifier no better than chance).
The interval is a parametric bootstrap (fixed seed) that redraws all three inputs: the cell's
count from Binomial(n, p), and Se and Sp from Binomial(validation positives, Se) and
Binomial(validation negatives, Sp), so it carries the uncertainty of the error rates, not
only of the cell. Assumptions: the validation passages are representative of the errors in
every cell (Se and Sp do not change over time or between outlets), the human gold is right,
and passages are independent.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import aggregates as A
from . import schema as S

SHARE_CORRECTED = "share_corrected"
CI_LOW_CORRECTED = "ci_low_corrected"
CI_HIGH_CORRECTED = "ci_high_corrected"
CORRECTED_COLUMNS = (SHARE_CORRECTED, CI_LOW_CORRECTED, CI_HIGH_CORRECTED)


def error_rates(quality: pd.DataFrame) -> pd.DataFrame:
    """Per frame: tp, fn, tn, fp at the current thresholds, and Se, Sp (from `agreement.quality_table`)."""
    cur = quality[quality["setting"] == "current"] if "setting" in quality else quality
    out = cur[["frame_id", "tp", "fp", "fn", "tn"]].copy()
    with np.errstate(invalid="ignore", divide="ignore"):
        out["sensitivity"] = out["tp"] / (out["tp"] + out["fn"])
        out["specificity"] = out["tn"] / (out["tn"] + out["fp"])
    return out.reset_index(drop=True)


def rogan_gladen(p: np.ndarray, se: np.ndarray, sp: np.ndarray) -> np.ndarray:
    """Corrected prevalence, clipped to [0, 1]; NaN where Se + Sp ≤ 1."""
    p, se, sp = np.broadcast_arrays(np.asarray(p, float), np.asarray(se, float), np.asarray(sp, float))
    denom = se + sp - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        est = np.where(denom > 0, (p + sp - 1) / denom, np.nan)
    return np.clip(est, 0.0, 1.0)


def corrected_share(
    count: np.ndarray, n: np.ndarray, tp: int, fn: int, tn: int, fp: int, *, n_boot: int = 2000, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(estimate, 2.5 %, 97.5 %) per cell for one frame's validation counts."""
    count, n = np.asarray(count, float), np.asarray(n, float)
    pos, neg = tp + fn, tn + fp
    if pos == 0 or neg == 0:  # no measured sensitivity or specificity: no correction
        nan = np.full(count.shape, np.nan)
        return nan, nan, nan
    se, sp = tp / pos, tn / neg
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(n > 0, count / np.maximum(n, 1), np.nan)
    est = rogan_gladen(p, se, sp)
    rng = np.random.default_rng(seed)
    se_b = rng.binomial(pos, se, n_boot) / pos
    sp_b = rng.binomial(neg, sp, n_boot) / neg
    p_b = rng.binomial(n.astype(int)[:, None], np.nan_to_num(p)[:, None], (len(n), n_boot)) / np.maximum(n, 1)[:, None]
    boot = rogan_gladen(p_b, se_b[None, :], sp_b[None, :])
    ok = (np.isfinite(boot).mean(axis=1) >= 0.5) & (n > 0)  # most draws need a classifier better than chance
    lo, hi = np.full(len(n), np.nan), np.full(len(n), np.nan)
    if ok.any():
        lo[ok], hi[ok] = np.nanpercentile(boot[ok], [2.5, 97.5], axis=1)
    return est, lo, hi


def add_corrected(table: pd.DataFrame, rates: pd.DataFrame, *, n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """A shares table (aggregates.shares: frame id, count, n, interval) with the corrected columns after it.

    Frames without validation counts get empty corrected cells."""
    out = table.copy()
    for c in CORRECTED_COLUMNS:
        out[c] = np.nan
    by_frame = rates.set_index("frame_id")
    for f, idx in out.groupby(S.FRAME_ID).groups.items():
        if f not in by_frame.index:
            continue
        r = by_frame.loc[f]
        cells = out.loc[idx]
        est, lo, hi = corrected_share(cells[A.COUNT].to_numpy(), cells[A.N_PASSAGES].to_numpy(), int(r["tp"]),
                                      int(r["fn"]), int(r["tn"]), int(r["fp"]), n_boot=n_boot, seed=seed)
        out.loc[idx, SHARE_CORRECTED] = est.round(6)
        out.loc[idx, CI_LOW_CORRECTED] = np.round(lo, 6)
        out.loc[idx, CI_HIGH_CORRECTED] = np.round(hi, 6)
    cols = [c for c in out.columns if c not in CORRECTED_COLUMNS]
    at = cols.index(A.CI_HIGH) + 1 if A.CI_HIGH in cols else len(cols)
    return out[[*cols[:at], *CORRECTED_COLUMNS, *cols[at:]]]


FRAME_SHARE_TABLES = ("frames_over_time", "frames_by_outlet", "frames_by_outlet_period")


def correct_tables(tables: dict[str, pd.DataFrame], rates: pd.DataFrame, *, seed: int = 0) -> dict[str, pd.DataFrame]:
    """The run's frame-share tables with corrected columns (other tables unchanged)."""
    return {name: add_corrected(df, rates, seed=seed) if name in FRAME_SHARE_TABLES else df
            for name, df in tables.items()}


def rates_from(gold: np.ndarray, present: np.ndarray, frame_ids) -> pd.DataFrame:
    """Validation counts per frame from gold (n, F) and the classifier's present (n, F)."""
    gold, present = np.asarray(gold, bool), np.asarray(present, bool)
    quality = pd.DataFrame({"frame_id": list(frame_ids), "tp": (present & gold).sum(0), "fp": (present & ~gold).sum(0),
                            "fn": (~present & gold).sum(0), "tn": (~present & ~gold).sum(0)})
    return error_rates(quality)


def measured_rates(texts: list[str], gold: np.ndarray, config, cache=None) -> pd.DataFrame:
    """Score hand-coded texts with the run's own classifier (config) and count its errors."""
    from .embeddings import embed_texts, load_embedder
    from .passages import text_hash
    from .pipeline import make_scorer

    embedder = load_embedder(config.model, config.precision, config.batch_size)
    x = embed_texts(texts, [text_hash(t) for t in texts], embedder, cache).vectors
    scores = make_scorer(config, embedder, cache=cache).score(x, texts)  # sentences and keywords, as in the run
    return rates_from(gold, scores.present, scores.frame_ids)
