"""Hand coding: the sample of passages to code, and the coders' labels in the store.

The sample (`draw_sample`) is the same for every coder given the same run, codebook, size and
seed, so two coders code the same passages in the same order. It has two parts:

- stratified: passages drawn at random within outlet × period strata, in proportion to each
  stratum's size (largest remainders), so the sample looks like the corpus;
- near the threshold: for each frame, the not-yet-drawn passages whose score is closest to
  the frame's threshold, where a label teaches the most about where the threshold should sit.

The labels (`LabelBook`) live in the store's SQLite file, one row per (codebook, coder,
passage text hash), saved the moment a coder moves on, so they survive restarts. They export
as CSV in the `framescope validate --labels` format (text, frame_id with `;`, coder, …) and
import from it.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from . import aggregates as A
from . import schema as S
from .codebook import Codebook
from .passages import text_hash
from .store import Store
from .validation import read_label_rows

REASON = "sample_reason"  # "stratified" or "near threshold: <frame id>"
STRATIFIED = "stratified"
NEAR = "near threshold: "
MIN_LABELS_PER_FRAME = 10  # gold positives and negatives each, before fitting thresholds or a model


@dataclass(frozen=True)
class SampleDesign:
    n: int = 50
    near_threshold_share: float = 0.3  # of n, split evenly over frames
    seed: int = 0
    period: str = "auto"

    def describe(self, frame_count: int) -> str:
        near = self.n_near(frame_count)
        return (f"A sample of {self.n} passages was drawn (seed {self.seed}): {self.n - near} at random within "
                f"outlet × {self.period} strata in proportion to their size, and {near} closest to a frame's "
                "threshold (an even share per frame).")

    def n_near(self, frame_count: int) -> int:
        return min(self.n, int(round(self.n * self.near_threshold_share / max(frame_count, 1))) * frame_count)


def thresholds_of(passages: pd.DataFrame, frame_ids: Sequence[str]) -> np.ndarray:
    """Each frame's threshold as the run applied it: the lowest score marked present (0.5 if none)."""
    out = []
    for f in frame_ids:
        s, p = passages[A.score_column(f)], passages[A.present_column(f)].astype(bool)
        out.append(float(s[p].min()) if p.any() else 0.5)
    return np.array(out)


def draw_sample(passages: pd.DataFrame, frame_ids: Sequence[str], design: SampleDesign = SampleDesign()) -> pd.DataFrame:
    """The passages to code, in coding order, with `sample_reason` (see module docstring)."""
    rng = np.random.default_rng(design.seed)
    pool = passages.drop_duplicates(S.TEXT_HASH).sort_values(S.PASSAGE_ID).reset_index(drop=True)
    n = min(design.n, len(pool))
    n_near = min(design.n_near(len(frame_ids)), n)
    period = A.resolve_period(design.period, pool[S.DATE]) if len(pool) else "month"
    label, _ = A.period_of(pool[S.DATE], period) if len(pool) else (pd.Series(dtype=object), None)
    strata = pool[S.OUTLET].fillna("").astype(str) + "\x1f" + label.astype(str).to_numpy()
    chosen: list[int] = []
    reasons: dict[int, str] = {}
    # near the threshold first, so the stratified part fills the rest without repeats
    thresholds = thresholds_of(pool, frame_ids)
    per_frame = n_near // max(len(frame_ids), 1)
    for f, t in zip(frame_ids, thresholds, strict=True):
        gap = (pool[A.score_column(f)] - t).abs().to_numpy()
        for i in np.argsort(gap, kind="stable"):
            if per_frame <= sum(1 for r in reasons.values() if r == NEAR + f):
                break
            if int(i) not in reasons:
                reasons[int(i)] = NEAR + f
                chosen.append(int(i))
    rest = n - len(chosen)
    left = pool.index.difference(chosen)
    sizes = strata[left].value_counts().sort_index()
    quota = sizes / sizes.sum() * rest if len(sizes) else sizes
    take = np.floor(quota).astype(int)
    short = rest - int(take.sum())
    if short > 0:  # largest remainders, ties broken by the seeded shuffle
        order = (quota - take).sample(frac=1, random_state=design.seed).sort_values(ascending=False, kind="stable")
        take[order.index[:short]] += 1
    for stratum, k in take.items():
        members = left[strata[left].to_numpy() == stratum].to_numpy()
        for i in rng.choice(members, size=min(int(k), len(members)), replace=False):
            reasons[int(i)] = STRATIFIED
            chosen.append(int(i))
    order = rng.permutation(len(chosen))  # coders see near-threshold passages mixed in, not in a block
    picked = [chosen[i] for i in order]
    out = pool.loc[picked].reset_index(drop=True)
    out[REASON] = [reasons[i] for i in picked]
    return out


# --- labels in the store ----------------------------------------------------------------------

LABEL_COLUMNS = ("text", "frame_id", "coder", "codebook", "codebook_version", "text_hash", "article_id", "title",
                 "outlet", "date", "labelled_at")


class LabelBook:
    """Coders' labels of one codebook (by name), in the store's `frame_labels` table (its schema is
    with the others in `analysis.store.database`)."""

    def __init__(self, store: Store, codebook: Codebook) -> None:
        self.store, self.codebook = store, codebook

    def save(self, coder: str, passage: dict, frames: Sequence[str]) -> None:
        """Save (or replace) one coder's label of one passage at once."""
        coder = coder.strip()
        if not coder:
            raise ValueError("a label needs a coder name")
        unknown = set(frames) - set(self.codebook.ids)
        if unknown:
            raise ValueError(f"not frames of {self.codebook.name}: {', '.join(sorted(unknown))}")
        date = passage.get(S.DATE)
        with self.store.write() as con:
            con.execute(
                "INSERT OR REPLACE INTO frame_labels VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (self.codebook.name, str(self.codebook.version), coder,
                 passage.get(S.TEXT_HASH) or text_hash(passage[S.TEXT]),
                 ";".join(f for f in self.codebook.ids if f in frames), passage[S.TEXT],
                 _str(passage.get(S.ARTICLE_ID)), _str(passage.get(S.TITLE)), _str(passage.get(S.OUTLET)),
                 None if date is None or pd.isna(date) else str(pd.Timestamp(date).date()), time.time()),
            )

    def table(self) -> pd.DataFrame:
        """Every label of this codebook in the export format (LABEL_COLUMNS)."""
        df = pd.read_sql_query(
            "SELECT text, frames AS frame_id, coder, codebook, codebook_version, text_hash, article_id, title, "
            "outlet, date, labelled_at FROM frame_labels WHERE codebook=? ORDER BY labelled_at",
            self.store.connection(), params=[self.codebook.name],
        )
        df["labelled_at"] = [datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds") for t in df["labelled_at"]]
        return df[list(LABEL_COLUMNS)]

    def of(self, coder: str) -> dict[str, list[str]]:
        """This coder's labels: text hash → frame ids."""
        rows = self.store.connection().execute(
            "SELECT text_hash, frames FROM frame_labels WHERE codebook=? AND coder=?", (self.codebook.name, coder)
        ).fetchall()
        return {h: [f for f in frames.split(";") if f] for h, frames in rows}

    def fingerprint(self) -> tuple:
        """(labels, last save time) of this codebook: changes whenever a label is saved."""
        return tuple(self.store.connection().execute(
            "SELECT count(*), max(labelled_at) FROM frame_labels WHERE codebook=?", (self.codebook.name,)).fetchone())

    def coded(self) -> pd.DataFrame:
        """Long table for `analysis.agreement`: text_hash, coder, article_id, text, one bool column per frame."""
        t = self.table()
        out = t[["text_hash", "coder", "article_id", "text", "title", "outlet", "date"]].copy()
        sets = t["frame_id"].str.split(";")
        for f in self.codebook.ids:
            out[f] = [f in s for s in sets]
        return out

    def import_csv(self, path: str | Path, *, coder: str = "") -> int:
        """Add the labels of a `validate --labels` CSV; the `coder` column wins over `coder`. Returns rows added."""
        rows, _ = read_label_rows(path, self.codebook)
        missing = rows["coder"].eq("") & (not coder.strip())
        if missing.any():
            raise ValueError(f"{path}: no coder column; give a coder name for these labels")
        extra = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        lower = {c.lower().strip(): c for c in extra.columns}
        text_col = next((lower[c] for c in ("text", "passage", "sentence", "headline", "title") if c in lower), None)
        info: dict[str, dict] = {}
        for r in extra.to_dict("records") if text_col else []:
            info.setdefault(str(r[text_col]).strip(), r)  # the first row of a text carries its details
        n = 0
        for r in rows.to_dict("records"):
            e = info.get(r["text"], {})
            passage = {S.TEXT: r["text"], **{k: e.get(lower.get(k, ""), "") or None
                                             for k in (S.TEXT_HASH, S.ARTICLE_ID, S.TITLE, S.OUTLET, S.DATE)}}
            self.save(r["coder"] or coder, passage, sorted(r["frames"]))
            n += 1
        return n


def _str(value) -> str | None:
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def labels_csv(book: LabelBook) -> bytes:
    """The export, UTF-8 with BOM so spreadsheet programs read it."""
    return book.table().to_csv(index=False).encode("utf-8-sig")
