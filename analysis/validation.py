"""Check frame scores against hand labels, suggest thresholds, and learn from the labels.

Labels are a CSV of passages: a text column and one or more label columns whose cells
hold frame ids or the codebook's numeric codes (several per cell separated by `;` or
`|`; empty, `none`, `99` = no frame). Rows with the same text are merged; with a `coder`
column (several coders per passage, as the dashboard exports them) the gold is the coders'
majority.

Two views of quality are reported, because codebooks are used both ways:
- multi-label: per frame precision / recall / F1 of `present` at the current threshold,
  and the threshold that would maximise F1 on these labels (a suggestion: it is fitted
  on the same labels, so it is optimistic);
- single-label: for passages with exactly one gold frame, accuracy and macro-F1 of the
  top-scoring frame.

`fit` trains a per-frame logistic regression on the embeddings, blended with the zero-shot
scores by each frame's number of positives (FittedFrameModel), and reports its k-fold
cross-validated figures, with thresholds chosen on out-of-fold scores, before fitting on all
labels and saving a JSON model `run` can use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score
from sklearn.model_selection import KFold

from .codebook import Codebook
from .errors import CodebookError

_TEXT_COLUMNS = ("text", "passage", "sentence", "headline", "title")
_LABEL_COLUMNS = ("frame_id", "frames", "frame", "label", "labels")
_NONE = {"", "none", "99", "nan", "0"}
CODER_COLUMN = "coder"  # optional: several coders per passage


@dataclass(frozen=True)
class LabelledPassages:
    texts: list[str]
    y: np.ndarray  # (n, F) bool
    frame_ids: tuple[str, ...]
    source: str
    skipped: tuple[str, ...] = ()  # rows left out, e.g. "row 7: empty text"

    @property
    def single(self) -> np.ndarray:
        """Rows with exactly one gold frame (for top-1 metrics)."""
        return self.y.sum(axis=1) == 1


def read_label_rows(
    path: str | Path,
    codebook: Codebook,
    *,
    text_column: str | None = None,
    label_columns: list[str] | None = None,
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """The labelled CSV row by row: (`text`, `coder`, `frames` as a set of ids) and the rows left out.

    `coder` is the `coder` column where the file has one (several coders per passage), else "".
    Unknown labels raise an error naming file, row and value."""
    path = Path(path)
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise CodebookError(f"{path}: cannot read labels ({exc})") from None
    lower = {c.lower().strip(): c for c in df.columns}
    text_col = text_column or next((lower[c] for c in _TEXT_COLUMNS if c in lower), None)
    label_cols = label_columns or [lower[c] for c in _LABEL_COLUMNS if c in lower][:1]
    for col in [text_col, *label_cols]:
        if col is None or col not in df.columns:
            raise CodebookError(
                f"{path}: needs a text column ({', '.join(_TEXT_COLUMNS)}) and a label column "
                f"({', '.join(_LABEL_COLUMNS)}); columns are {', '.join(df.columns)}"
            )
    if not label_cols:
        raise CodebookError(f"{path}: no label column ({', '.join(_LABEL_COLUMNS)})")
    coder_col = lower.get(CODER_COLUMN)
    by_code = {str(f.code): f.id for f in codebook.frames if f.code is not None}
    index = set(codebook.ids)
    rows: list[dict] = []
    problems, skipped = [], []
    for i, rec in enumerate(df.to_dict("records"), start=2):  # row 1 is the header
        text = str(rec[text_col]).strip()
        if not text:  # nothing to score: left out and reported, the other rows still count
            skipped.append(f"row {i}: empty {text_col}")
            continue
        frames: set[str] = set()
        for col in label_cols:
            for value in re.split(r"[;|]", str(rec[col])):
                value = value.strip()
                if value.endswith(".0"):
                    value = value[:-2]
                if value.lower() in _NONE:
                    continue
                fid = value if value in index else by_code.get(value)
                if fid is None:
                    problems.append(f"row {i}: {col}={value!r} is not a frame id or code of {codebook.name}")
                else:
                    frames.add(fid)
        rows.append({"text": text, "coder": str(rec[coder_col]).strip() if coder_col else "", "frames": frames})
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise CodebookError(f"{path}: " + "; ".join(problems[:5]) + more)
    return pd.DataFrame(rows, columns=["text", "coder", "frames"]), tuple(skipped)


def load_labels(
    path: str | Path,
    codebook: Codebook,
    *,
    text_column: str | None = None,
    label_columns: list[str] | None = None,
) -> LabelledPassages:
    """Read a labelled CSV, one gold row per distinct text.

    Rows of the same text and coder are merged (union); with a `coder` column the gold is the
    coders' majority (a frame needs more than half of them; a tie counts as absent)."""
    rows, skipped = read_label_rows(path, codebook, text_column=text_column, label_columns=label_columns)
    index = {f: j for j, f in enumerate(codebook.ids)}
    texts = list(dict.fromkeys(rows["text"]))
    y = np.zeros((len(texts), len(index)), dtype=bool)
    at = {t: r for r, t in enumerate(texts)}
    for text, group in rows.groupby("text", sort=False):
        votes = np.zeros(len(index))
        coders = group.groupby("coder", sort=False)["frames"].agg(lambda s: set().union(*s))
        for frames in coders:
            for f in frames:
                votes[index[f]] += 1
        y[at[text]] = votes > len(coders) / 2 if len(coders) > 1 else votes > 0
    return LabelledPassages(texts, y, tuple(codebook.ids), str(path), skipped)


def best_threshold(y: np.ndarray, s: np.ndarray) -> tuple[float, float]:
    """(threshold, F1) maximising F1 of s >= threshold against y; (0.5, 0) with no positives."""
    if y.sum() == 0:
        return 0.5, 0.0
    order = np.argsort(-s, kind="stable")
    ys, ss = y[order].astype(float), s[order]
    tp = np.cumsum(ys)
    k = np.arange(1, len(ys) + 1)
    f1 = 2 * tp / (k + y.sum())
    last_of_tie = np.r_[ss[1:] != ss[:-1], True]  # a threshold cannot split equal scores
    f1 = np.where(last_of_tie, f1, -1)
    b = int(np.argmax(f1))
    return float(ss[b]), float(f1[b])


def frame_metrics(labels: LabelledPassages, scores: np.ndarray, thresholds: np.ndarray) -> pd.DataFrame:
    """Per frame: support, precision, recall, F1 and Krippendorff's alpha (machine vs labels) at
    `thresholds`, and the F1-best threshold."""
    from .agreement import alpha_from_counts  # agreement builds on this module

    rows = []
    for j, f in enumerate(labels.frame_ids):
        y, s = labels.y[:, j], scores[:, j]
        pred = s >= thresholds[j]
        tp = int((pred & y).sum())
        p = tp / pred.sum() if pred.sum() else 0.0
        r = tp / y.sum() if y.sum() else 0.0
        bt, bf = best_threshold(y, s)
        rows.append({
            "frame_id": f, "support": int(y.sum()), "predicted": int(pred.sum()),
            "precision": round(p, 4), "recall": round(r, 4),
            "f1": round(2 * p * r / (p + r), 4) if p + r else 0.0,
            "alpha": alpha_from_counts(tp, int((pred & ~y).sum()), int((~pred & y).sum()), int((~pred & ~y).sum())),
            "threshold": round(float(thresholds[j]), 4),
            "suggested_threshold": round(bt, 4), "f1_at_suggested": round(bf, 4),
        })
    return pd.DataFrame(rows)


def top1_metrics(labels: LabelledPassages, scores: np.ndarray) -> dict[str, float]:
    """Accuracy and macro-F1 of the top-scoring frame on single-label passages."""
    m = labels.single
    if not m.any():
        return {"n_single_label": 0}
    gold = labels.y[m].argmax(axis=1)
    pred = scores[m].argmax(axis=1)
    present = np.unique(gold)
    return {
        "n_single_label": int(m.sum()),
        "accuracy": round(float((gold == pred).mean()), 4),
        "macro_f1": round(float(f1_score(gold, pred, labels=present, average="macro", zero_division=0)), 4),
    }


def summary(metrics: pd.DataFrame) -> dict[str, float]:
    has = metrics[metrics["support"] > 0]
    return {
        "macro_f1_at_threshold": round(float(has["f1"].mean()), 4) if len(has) else 0.0,
        "macro_f1_at_suggested": round(float(has["f1_at_suggested"].mean()), 4) if len(has) else 0.0,
    }


def cross_validated_probabilities(
    x: np.ndarray, labels: LabelledPassages, zero_shot: np.ndarray, *, folds: int = 5, seed: int = 0,
    model_id: str = "", digest: str = "",
) -> np.ndarray:
    """Out-of-fold scores of a FittedFrameModel, blended with the passages' `zero_shot` scores as
    the model does (every row scored by a model that never saw it)."""
    from .framing import FittedFrameModel

    oof = np.zeros(labels.y.shape, dtype=np.float32)
    for train, test in KFold(folds, shuffle=True, random_state=seed).split(x):
        m = FittedFrameModel.fit(x[train], labels.y[train].astype(int), list(labels.frame_ids), model_id, digest)
        oof[test] = m.blended(x[test], zero_shot[test])
    return oof
