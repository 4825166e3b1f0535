"""The active run's validation: its coders' labels matched to its passages, agreement, error rates.

Shared by the Validate page (coding, agreement, learning) and the Frames page (validated marks
and corrected shares). Computed once per (run, state of the labels) and cached; the labels
themselves live in the store (`analysis.coding.LabelBook`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from analysis import aggregates as A
from analysis import schema as S
from analysis.agreement import majority, quality_table
from analysis.codebook import Codebook
from analysis.coding import LabelBook, SampleDesign, draw_sample, thresholds_of
from analysis.config import default_store_path
from analysis.prevalence import CI_HIGH_CORRECTED, CI_LOW_CORRECTED, SHARE_CORRECTED, add_corrected, error_rates

from . import charts, runs, state, ui
from .filters import Filters

MIN_VALIDATION_N = 30  # coded passages in the run before a frame can count as validated
N_BOOT = 1000
SEED = 0


@dataclass(frozen=True)
class RunValidation:
    """Labels of the run's passages and what they say about the classifier."""

    coded: pd.DataFrame  # one row per (passage, coder), passages of this run only
    quality: pd.DataFrame  # agreement.quality_table
    rates: pd.DataFrame  # prevalence.error_rates
    n_passages: int
    n_outside: int  # labelled passages not in this run (imported from elsewhere)

    def validated(self) -> dict[str, str]:
        """Frame id → a short mark with machine–human alpha, F1 and n, for frames that count as validated."""
        cur = self.quality[self.quality["setting"] == "current"]
        out = {}
        for _, r in cur.iterrows():
            if self.n_passages >= MIN_VALIDATION_N and 0 < r["support"] < r["n"]:
                out[r["frame_id"]] = f"validated: α {r['alpha']:.2f}, F1 {r['f1']:.2f}, n {r['n']}"
        return out


def codebook_of(f: Filters) -> Codebook:
    return runs.codebook_at(f.config().codebook)


def book(codebook: Codebook) -> LabelBook:
    return LabelBook(state.store(), codebook)


@st.cache_resource(show_spinner=False, max_entries=8)
def _validation(db: str, key: str, codebook_path: str, marks: tuple) -> RunValidation | None:
    res = state.results(key)
    cb = runs.codebook_at(codebook_path)
    coded = book(cb).coded()
    if res is None or coded.empty:
        return None
    fids = res.frame_ids
    machine = res.passages.drop_duplicates(S.TEXT_HASH)[[S.TEXT_HASH, *[A.score_column(f) for f in fids]]]
    inside = coded[coded[S.TEXT_HASH].isin(machine[S.TEXT_HASH])]
    n_outside = coded.loc[~coded[S.TEXT_HASH].isin(machine[S.TEXT_HASH]), S.TEXT_HASH].nunique()
    if inside.empty:
        return None
    quality = quality_table(inside, machine, fids, thresholds_of(res.passages, fids), n_boot=N_BOOT, seed=SEED)
    return RunValidation(inside, quality, error_rates(quality), int(inside[S.TEXT_HASH].nunique()), int(n_outside))


def current(res: state.Results, f: Filters) -> RunValidation | None:
    """The active run's validation from the labels in the store (None without labels of its passages)."""
    cb = codebook_of(f)
    return _validation(str(default_store_path()), res.key, f.config().codebook, book(cb).fingerprint())


@st.cache_resource(show_spinner=False, max_entries=8)
def _sample(key: str, n: int, seed: int) -> pd.DataFrame:
    res = state.results(key)
    assert res is not None
    return draw_sample(res.passages, res.frame_ids, SampleDesign(n=n, seed=seed))


def sample(res: state.Results, n: int, seed: int) -> pd.DataFrame:
    """The coding sample of this run (same for every coder with the same size and seed)."""
    return _sample(res.key, n, seed)


def gold_of(v: RunValidation, frame_ids: list[str]) -> pd.DataFrame:
    return majority(v.coded, frame_ids)


def marked_labels(labels: dict[str, str], v: RunValidation | None) -> dict[str, str]:
    """Frame labels carrying the validation mark shown in every frame chart's legend and tooltip."""
    done = v.validated() if v is not None else {}
    return {f: f"{lab} ({done[f]})" if f in done else f"{lab} (not yet validated)" for f, lab in labels.items()}


def corrected(table: pd.DataFrame, v: RunValidation | None) -> pd.DataFrame:
    """A frame-share table with the Rogan–Gladen corrected columns when a validation exists."""
    return add_corrected(table, v.rates, seed=SEED) if v is not None else table


def frame_vectors(res: state.Results, hashes: list[str]) -> np.ndarray | None:
    """The run's vectors of these passages (None when the embedding cache lacks them)."""
    vectors = state.corpus_vectors(res)
    if vectors is None:
        return None
    first = pd.Series(np.arange(len(res.passages)), index=res.passages[S.TEXT_HASH].to_numpy())
    first = first[~first.index.duplicated()]
    return vectors[first.loc[hashes].to_numpy()]


def corrected_section(fot: pd.DataFrame, fbo: pd.DataFrame, labels: dict[str, str], v: RunValidation | None,
                      dates: pd.Series) -> None:
    """The Frames page's corrected shares: over time (chart, when `dates` has any) and by outlet
    (table), or how to get them."""
    st.subheader("Shares corrected for the classifier's errors", anchor=False)
    if v is None:
        st.caption("No validation yet: code a sample of passages on the Validate page, and the shares corrected for "
                   "the classifier's measured sensitivity and specificity (Rogan–Gladen) appear here.")
        return
    r = v.rates.assign(frame=v.rates["frame_id"].map(lambda x: labels.get(x, x)))
    st.caption(f"Rogan–Gladen: (raw share + specificity − 1) ÷ (sensitivity + specificity − 1), clipped to [0, 1], "
               f"with sensitivity and specificity measured on {v.n_passages} coded passages; the band is a 95 % "
               "parametric bootstrap interval that includes the uncertainty of those error rates. Dotted: raw "
               "share. Frames the classifier does no better than chance on (sensitivity + specificity ≤ 1) or "
               "without gold positives get no corrected share.")
    if ui.timeline_note(dates):
        st.vega_lite_chart(charts.corrected_chart(fot, labels), width="stretch")
    by_outlet = fbo.assign(frame=fbo[S.FRAME_ID].map(lambda x: labels.get(x, x)))
    ui_cols = [S.OUTLET, "frame", A.N_PASSAGES, A.SHARE, SHARE_CORRECTED, CI_LOW_CORRECTED, CI_HIGH_CORRECTED]
    pct = {c: st.column_config.NumberColumn(c.replace("_", " "), format="percent")
           for c in (A.SHARE, SHARE_CORRECTED, CI_LOW_CORRECTED, CI_HIGH_CORRECTED)}
    st.dataframe(by_outlet[ui_cols], hide_index=True, width="stretch", height=300, column_config=pct)
    st.dataframe(r[["frame", "tp", "fp", "fn", "tn", "sensitivity", "specificity"]], hide_index=True, width="stretch",
                 column_config={"sensitivity": st.column_config.NumberColumn(format="%.2f"),
                                "specificity": st.column_config.NumberColumn(format="%.2f")})
