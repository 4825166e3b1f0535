"""Learn from hand labels: fitted thresholds and the few-shot model, judged out of sample.

`compare` gives, per frame, three cross-validated F1s on the same folds (every passage is
predicted by something fitted without it):

- zero-shot at the current thresholds (nothing is fitted; the reference);
- zero-shot with the threshold fitted (F1-optimal) on the other folds;
- the few-shot model (`framing.FittedFrameModel`: a regression blended with the zero-shot
  score) fitted on the other folds, cut at 0.5 (the regression is fitted with balanced class
  weights, and the zero-shot score is 0.5 at its own cut).

`fit_model` fits the few-shot model on all labels, with per-frame thresholds that maximise
F1 on out-of-fold scores, as `framescope validate --fit` does.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

from .coding import MIN_LABELS_PER_FRAME
from .framing import FittedFrameModel
from .validation import LabelledPassages, best_threshold, cross_validated_probabilities


def enough(y: np.ndarray, minimum: int = MIN_LABELS_PER_FRAME) -> np.ndarray:
    """Per frame: at least `minimum` gold positives and as many negatives."""
    y = np.asarray(y, bool)
    return (y.sum(axis=0) >= minimum) & ((~y).sum(axis=0) >= minimum)


def _f1(y: np.ndarray, pred: np.ndarray) -> float:
    tp = float((y & pred).sum())
    denom = float(y.sum() + pred.sum())
    return round(2 * tp / denom, 4) if denom else 0.0


def folds_for(n: int) -> int:
    return max(2, min(5, n // 10))


def compare(x: np.ndarray, labels: LabelledPassages, zs_scores: np.ndarray, zs_thresholds: np.ndarray,
            *, seed: int = 0) -> pd.DataFrame:
    """Per frame: n positives, whether there are enough labels, and the three cross-validated F1s."""
    y = labels.y.astype(bool)
    folds = folds_for(len(y))
    split = list(KFold(folds, shuffle=True, random_state=seed).split(x))
    fitted_pred = np.zeros_like(y)
    for train, test in split:
        for j in range(y.shape[1]):
            t, _ = best_threshold(y[train, j], zs_scores[train, j])
            fitted_pred[test, j] = zs_scores[test, j] >= t
    oof = cross_validated_probabilities(x, labels, zs_scores, folds=folds, seed=seed)
    ok = enough(y)
    rows = []
    for j, f in enumerate(labels.frame_ids):
        full_t, _ = best_threshold(y[:, j], zs_scores[:, j])
        rows.append({
            "frame_id": f, "n": len(y), "positives": int(y[:, j].sum()), "enough_labels": bool(ok[j]),
            "zero_shot_f1": _f1(y[:, j], zs_scores[:, j] >= zs_thresholds[j]),
            "fitted_threshold": round(full_t, 4),
            "zero_shot_fitted_threshold_cv_f1": _f1(y[:, j], fitted_pred[:, j]),
            "few_shot_cv_f1": _f1(y[:, j], oof[:, j] >= 0.5),
        })
    out = pd.DataFrame(rows)
    out.attrs["folds"] = folds
    return out


def fit_model(x: np.ndarray, labels: LabelledPassages, zs_scores: np.ndarray, model_id: str, codebook_digest: str,
              *, seed: int = 0, oof: np.ndarray | None = None) -> FittedFrameModel:
    """The few-shot model on all labels, thresholds chosen on out-of-fold scores (`oof`, when the
    caller has already cross-validated, else made here)."""
    if oof is None:
        oof = cross_validated_probabilities(x, labels, zs_scores, folds=folds_for(len(labels.texts)), seed=seed)
    thresholds = np.array([best_threshold(labels.y[:, j], oof[:, j])[0] if labels.y[:, j].any() else 0.5
                           for j in range(labels.y.shape[1])])
    model = FittedFrameModel.fit(x, labels.y.astype(int), list(labels.frame_ids), model_id, codebook_digest)
    return dataclasses.replace(model, thresholds=thresholds)
