"""How far hand codes agree with each other and with the machine, per frame, with intervals.

Coded passages come as a long table (`coded`): one row per (passage, coder) with the
passage's `text_hash`, `article_id` and one boolean column per frame id. From it:

- `intercoder_alpha`: Krippendorff's alpha (nominal; the `krippendorff` package) per frame
  between the human coders, on passages coded by two or more coders;
- `majority`: the gold standard, a frame is present when more than half of a passage's
  coders marked it (a tie counts as absent: a frame needs a majority to be claimed);
- `machine_vs_human`: precision, recall, F1 and Krippendorff's alpha of the machine's
  `present` against the gold, per frame, at the current thresholds and at the F1-optimal
  threshold on these labels, each with a 95 % percentile bootstrap interval that
  resamples *articles* (passages of one article are not independent), fixed seed;
- `report_markdown`: a short methods-section paragraph and table.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import krippendorff
import numpy as np
import pandas as pd

from .validation import best_threshold

TEXT_HASH = "text_hash"
CODER = "coder"
ARTICLE = "article_id"
SETTINGS = ("current", "F1-optimal")


def intercoder_alpha(coded: pd.DataFrame, frame_ids: Sequence[str]) -> pd.DataFrame:
    """Per frame: alpha between coders on passages with two or more coders (NaN when undefined)."""
    n_coders = coded.groupby(TEXT_HASH)[CODER].nunique()
    shared = n_coders[n_coders >= 2].index
    sub = coded[coded[TEXT_HASH].isin(shared)]
    coders = sorted(sub[CODER].unique())
    rows = []
    for f in frame_ids:
        alpha = np.nan
        if len(shared):
            wide = sub.pivot_table(index=CODER, columns=TEXT_HASH, values=f, aggfunc="max")
            data = wide.reindex(coders).to_numpy(dtype=float)
            alpha = _alpha(data)
        rows.append({"frame_id": f, "alpha_coders": alpha, "n_passages_2plus": len(shared), "n_coders": len(coders)})
    return pd.DataFrame(rows)


def _alpha(data: np.ndarray) -> float:
    """Nominal alpha of a coders × units matrix (NaN = not coded); NaN when every value is the same."""
    try:
        return round(float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal")), 4)
    except ValueError:  # one value in the whole domain: agreement is undefined, not perfect
        return float("nan")


@functools.lru_cache(maxsize=65536)
def alpha_from_counts(tp: int, fp: int, fn: int, tn: int) -> float:
    """Alpha of two complete binary codings given their 2×2 table (memoised for the bootstrap)."""
    a = np.repeat([1.0, 1.0, 0.0, 0.0], [tp, fp, fn, tn])
    b = np.repeat([1.0, 0.0, 1.0, 0.0], [tp, fp, fn, tn])
    return _alpha(np.vstack([a, b]))


def majority(coded: pd.DataFrame, frame_ids: Sequence[str]) -> pd.DataFrame:
    """One row per passage: its coders' majority per frame (ties absent) and how many coded it."""
    g = coded.groupby(TEXT_HASH, sort=False)
    share = g[list(frame_ids)].mean()
    out = (share > 0.5).reset_index()
    firsts = g[[c for c in coded.columns if c not in (*frame_ids, TEXT_HASH, CODER)]].first().reset_index()
    out = firsts.merge(out, on=TEXT_HASH)
    out["n_coders"] = out[TEXT_HASH].map(g[CODER].nunique())
    return out


def _prf(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        r = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
        f = np.where(p + r > 0, 2 * p * r / (p + r), 0.0)
    return p, r, np.where(np.isnan(r), np.nan, f)


def machine_vs_human(
    gold: np.ndarray,
    scores: np.ndarray,
    thresholds: np.ndarray,
    groups: Sequence,
    frame_ids: Sequence[str],
    *,
    n_boot: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """Per frame and setting (current / F1-optimal threshold): counts, P/R/F1/alpha and 95 % intervals.

    `gold` (n, F) bool, `scores` (n, F), `groups` the article of each passage: the bootstrap
    draws articles with replacement and keeps all their passages.
    """
    gold = np.asarray(gold, dtype=bool)
    codes, _ = pd.factorize(pd.Series(list(groups), dtype=object))
    n_groups = int(codes.max()) + 1 if len(codes) else 0
    rng = np.random.default_rng(seed)
    # weight of each passage in each replicate = how often its article was drawn
    draws = rng.integers(0, max(n_groups, 1), size=(n_boot, n_groups))
    weights = np.stack([np.bincount(d, minlength=n_groups) for d in draws])[:, codes] if n_groups else \
        np.zeros((n_boot, 0), int)
    rows = []
    for j, f in enumerate(frame_ids):
        y, s = gold[:, j], scores[:, j]
        optimal, _ = best_threshold(y, s)
        for setting, t in zip(SETTINGS, (float(thresholds[j]), optimal), strict=True):
            pred = s >= t
            cells = [(pred & y), (pred & ~y), (~pred & y), (~pred & ~y)]
            tp, fp, fn, tn = (int(c.sum()) for c in cells)
            btp, bfp, bfn, btn = (weights @ c.astype(int) for c in cells)
            p, r, f1 = _prf(np.array([tp]), np.array([fp]), np.array([fn]))
            bp, br, bf = _prf(btp, bfp, bfn)
            balpha = np.array([alpha_from_counts(*map(int, c)) for c in zip(btp, bfp, bfn, btn, strict=True)])
            row = {"frame_id": f, "setting": setting, "threshold": round(t, 4), "n": len(y), "support": int(y.sum()),
                   "tp": tp, "fp": fp, "fn": fn, "tn": tn}
            for name, value, boot in (("precision", p[0], bp), ("recall", r[0], br), ("f1", f1[0], bf),
                                      ("alpha", alpha_from_counts(tp, fp, fn, tn), balpha)):
                lo, hi = _interval(boot)
                row.update({name: _round(value), f"{name}_low": lo, f"{name}_high": hi})
            rows.append(row)
    return pd.DataFrame(rows)


def _interval(boot: np.ndarray) -> tuple[float, float]:
    boot = boot[np.isfinite(boot)]
    if not len(boot):
        return float("nan"), float("nan")
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return round(float(lo), 4), round(float(hi), 4)


def _round(x: float) -> float:
    return round(float(x), 4) if np.isfinite(x) else float("nan")


def quality_table(coded: pd.DataFrame, machine: pd.DataFrame, frame_ids: Sequence[str],
                  thresholds: np.ndarray, *, n_boot: int = 1000, seed: int = 0) -> pd.DataFrame:
    """The validation report's table: intercoder alpha beside machine-vs-majority figures per frame.

    `machine` holds a `text_hash` and one `score_<frame>` column per frame for every coded passage.
    """
    gold = majority(coded, frame_ids).merge(machine, on=TEXT_HASH, how="inner")
    scores = gold[[f"score_{f}" for f in frame_ids]].to_numpy(dtype=float)
    groups = gold[ARTICLE] if ARTICLE in gold else gold[TEXT_HASH]
    mvh = machine_vs_human(gold[list(frame_ids)].to_numpy(), scores, thresholds, groups.fillna(gold[TEXT_HASH]),
                           frame_ids, n_boot=n_boot, seed=seed)
    return mvh.merge(intercoder_alpha(coded, frame_ids), on="frame_id", how="left")


def report_markdown(quality: pd.DataFrame, coded: pd.DataFrame, *, codebook: str, design: str,
                    labels: dict[str, str] | None = None, n_boot: int = 1000, seed: int = 0) -> str:
    """A methods-section summary: sample design, n, coders, intercoder alpha, per-frame P/R/F1."""
    labels = labels or {}
    coders = sorted(coded[CODER].unique())
    n_pass = coded[TEXT_HASH].nunique()
    cur = quality[quality["setting"] == "current"]
    n2 = int(cur["n_passages_2plus"].iloc[0]) if len(cur) else 0

    def ci(r, k):
        return f"{r[k]:.2f} [{r[k + '_low']:.2f}, {r[k + '_high']:.2f}]" if np.isfinite(r[k]) else "n/a"

    lines = [
        f"## Validation of the frame classifier ({codebook})", "",
        f"{design} {len(coders)} coder(s) ({', '.join(coders)}) coded {n_pass} passages "
        f"({len(coded)} codings); {n2} passages were coded by two or more coders. For each frame a coder "
        "marked whether the passage carries it (several frames or none allowed), without seeing the machine's "
        "scores. Intercoder reliability is Krippendorff's alpha (nominal) on the passages coded by two or more "
        "coders. The gold standard is the coders' majority (ties count as absent). Precision, recall, F1 and "
        "Krippendorff's alpha between the machine and the gold are given at the classifier's thresholds, with "
        f"95 % percentile bootstrap intervals over articles ({n_boot} replicates, seed {seed}).", "",
        "| frame | n | gold positives | intercoder α | machine–human α | precision | recall | F1 |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for _, r in cur.iterrows():
        a = f"{r['alpha_coders']:.2f}" if np.isfinite(r["alpha_coders"]) else "n/a"
        lines.append(f"| {labels.get(r['frame_id'], r['frame_id'])} | {r['n']} | {r['support']} | {a} | "
                     f"{ci(r, 'alpha')} | {ci(r, 'precision')} | {ci(r, 'recall')} | {ci(r, 'f1')} |")
    f1 = cur["f1"].dropna()
    if len(f1):
        lines += ["", f"Macro-F1 over the {len(f1)} frames with gold positives: {f1.mean():.2f}."]
    return "\n".join(lines) + "\n"


def coded_from_rows(rows: pd.DataFrame, frame_ids: Sequence[str]) -> pd.DataFrame:
    """The long coded table from `validation.read_label_rows` (text, coder, frames)."""
    from .passages import text_hash

    merged = rows.groupby(["text", "coder"], sort=False)["frames"].agg(lambda s: set().union(*s)).reset_index()
    out = pd.DataFrame({TEXT_HASH: [text_hash(t) for t in merged["text"]], CODER: merged["coder"],
                        "text": merged["text"]})
    for f in frame_ids:
        out[f] = [f in s for s in merged["frames"]]
    return out
