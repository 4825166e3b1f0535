"""The dashboard's shared data: the store, the codebooks, the active corpus and cached results.

* The store is one `Store` per database path, shared by every session (`st.cache_resource`);
  it opens a connection per thread, so sessions and the run worker never share a connection.
* Finished results are read back from the store and cached per run key; filtered views are
  recomputed from the stored passages without running the model again, cached per filter key.

The filters and the URL live in `dashboard.filters`, run control in `dashboard.runs`, Session
State keys and column names in `dashboard.keys`.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import streamlit as st

from analysis import schema as S
from analysis.codebook import load_codebook
from analysis.config import CODEBOOK_DIR, DEMO_CORPUS, PipelineConfig, default_store_path
from analysis.pipeline import articles_digest
from analysis.store import DatasetInfo, Store

from . import keys as K
from . import runs
from .explore import Selection, filter_rows, filtered_clusters, frame_ids_of, ingest_report, view_period

if TYPE_CHECKING:
    from .filters import Filters

DEMO_NAME = "Demonstration corpus"
CODEBOOK_ENV = "FRAMESCOPE_CODEBOOKS"


# --- store ---------------------------------------------------------------------------------


@st.cache_resource(show_spinner=False)
def _store_at(path: str) -> Store:
    return Store(path)


def store() -> Store:
    """The shared store at $FRAMESCOPE_DB (default data/framescope.db)."""
    return _store_at(str(default_store_path()))


_demo_lock = threading.Lock()


def ensure_demo() -> DatasetInfo | None:
    """On first start (no data set at all) import the demonstration corpus; None if not needed."""
    s = store()
    if s.datasets():
        return None
    with _demo_lock:
        if s.datasets():
            return None
        from analysis.ingest import ingest

        result = ingest([str(DEMO_CORPUS)])
        return s.add_dataset(
            DEMO_NAME, result.articles, result.rejected, [(f.name, f.sha256) for f in result.files],
            n_duplicates=result.n_duplicates, report=ingest_report(result),
        )


# --- codebooks -----------------------------------------------------------------------------


def codebook_dir() -> Path:
    """Where edited codebooks are saved: $FRAMESCOPE_CODEBOOKS, else data/codebooks."""
    return Path(os.environ.get(CODEBOOK_ENV) or CODEBOOK_DIR)


def codebooks() -> dict[str, Path]:
    """Codebook files by stem; a saved version in the user folder wins over a shipped one."""
    found: dict[str, Path] = {}
    for folder in (CODEBOOK_DIR, codebook_dir()):
        if folder.is_dir():
            for p in sorted(folder.glob("*.yaml")):
                found[p.stem] = p
    return found


# --- the active corpus ----------------------------------------------------------------------


@dataclass(frozen=True)
class Corpus:
    """The active data sets' articles and what the overview says about them."""

    articles: pd.DataFrame
    digest: str
    outlets: tuple[str, ...]
    first: date | None
    last: date | None
    n_rejected: int
    n_duplicates: int
    datasets: tuple[DatasetInfo, ...] = field(default=())


@st.cache_resource(show_spinner=False, max_entries=4)
def _corpus(db: str, dataset_keys: tuple[tuple[int, float], ...]) -> Corpus:
    s = _store_at(db)
    ids = [i for i, _ in dataset_keys]
    articles = s.articles(ids)
    infos = tuple(d for d in (s.dataset(i) for i in ids) if d is not None)
    dates = articles[S.DATE].dropna()
    return Corpus(
        articles=articles,
        digest=articles_digest(articles),
        outlets=tuple(sorted(articles[S.OUTLET].dropna().unique())),
        first=dates.min().date() if len(dates) else None,
        last=dates.max().date() if len(dates) else None,
        n_rejected=sum(d.n_rejected for d in infos),
        n_duplicates=sum(d.n_duplicates for d in infos),
        datasets=infos,
    )


def corpus(dataset_ids: tuple[int, ...]) -> Corpus:
    """Cached by (id, created_at) pairs: a data set never changes after it is saved."""
    infos = {d.dataset_id: d for d in store().datasets()}
    keys = tuple((i, infos[i].created_at) for i in sorted(dataset_ids) if i in infos)
    return _corpus(str(default_store_path()), keys)


# --- results ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Results:
    """A finished run's tables, read back from the store (treat as read-only: shared)."""

    key: str
    tables: dict[str, pd.DataFrame]
    manifest: dict[str, Any]
    frame_ids: list[str]
    frame_labels: dict[str, str]
    cluster_labels: dict[int, str]

    @property
    def passages(self) -> pd.DataFrame:
        return self.tables["passages"]

    @property
    def articles(self) -> pd.DataFrame:
        return self.tables["articles"]

    @property
    def clusters(self) -> pd.DataFrame:
        return self.tables["clusters"]

    @property
    def frames_long(self) -> pd.DataFrame:
        return self.tables["frames"]


@st.cache_resource(show_spinner=False, max_entries=4)
def _results(db: str, key: str) -> Results | None:
    got = _store_at(db).run_tables(key)
    if got is None:
        return None
    tables, manifest = got
    frame_ids = frame_ids_of(tables["passages"])
    labels = {f: (manifest.get("frames") or {}).get(f, f.replace("_", " ").capitalize()) for f in frame_ids}
    clusters = tables["clusters"]
    cl = {int(c): str(lab) for c, lab in zip(clusters[S.CLUSTER_ID], clusters["label"], strict=True)}
    return Results(key, tables, manifest, frame_ids, labels, cl)


def results(key: str) -> Results | None:
    return _results(str(default_store_path()), key)


@dataclass(frozen=True)
class View:
    """A run's passages under the current date/outlet filters, and the tables recomputed on them."""

    passages: pd.DataFrame
    articles: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    period: str


@st.cache_resource(show_spinner=False, max_entries=16)
def _view(db: str, key: str, d_from: str, d_to: str, outlets: tuple[str, ...], undated: bool, period: str) -> View:
    from analysis.pipeline import summary_tables

    res = _results(db, key)
    assert res is not None
    sel = Selection(date.fromisoformat(d_from) if d_from else None, date.fromisoformat(d_to) if d_to else None,
                    outlets, undated)
    passages = filter_rows(res.passages, sel)
    articles = filter_rows(res.articles, sel)
    resolved = view_period(period, passages[S.DATE]) if len(passages) else "month"
    cfg = PipelineConfig(period=resolved)
    tables = summary_tables(passages, res.frame_ids, res.cluster_labels, cfg) if len(passages) else {}
    if tables:
        tables["clusters"] = filtered_clusters(res.clusters, passages)  # sizes under the filters
    return View(passages, articles, tables, resolved)


def view(res: Results, f: Filters) -> View:
    sel = f.selection()
    return _view(str(default_store_path()), res.key, sel.date_from.isoformat() if sel.date_from else "",
                 sel.date_to.isoformat() if sel.date_to else "", sel.outlets, sel.include_undated, f.period)


def manifest_for(res: Results, f: Filters, **extra: Any) -> dict[str, Any]:
    """The run's manifest plus the view's filters, for every download."""
    return {
        **res.manifest,
        "view": {"datasets": list(f.datasets), "date_from": str(f.date_from or ""), "date_to": str(f.date_to or ""),
                 "outlets": list(f.outlets) or "all", "period": f.period, **extra},
    }


# --- model, scorer and vectors (the Article page) -------------------------------------------


@st.cache_resource(show_spinner="Loading the embedding model…")
def embedder(model: str, precision: str, batch_size: int):
    return runs.embedder_for(PipelineConfig(model=model, precision=precision, batch_size=batch_size))


@st.cache_resource(show_spinner=False, max_entries=4)
def scorer(codebook_path: str, codebook_digest: str, model: str, precision: str, batch_size: int):
    from analysis.pipeline import make_scorer

    cfg = PipelineConfig(model=model, precision=precision, batch_size=batch_size, codebook=codebook_path)
    return make_scorer(cfg, embedder(model, precision, batch_size), load_codebook(codebook_path))


@st.cache_resource(show_spinner=False, max_entries=2)
def _vectors(db: str, key: str, model_id: str) -> np.ndarray | None:
    res = _results(db, key)
    if res is None:
        return None
    hashes = res.passages[S.TEXT_HASH].tolist()
    found = _store_at(db).get_vectors(model_id, hashes)
    if len(found) < len(set(hashes)):
        return None
    return np.stack([found[h] for h in hashes]) if hashes else np.zeros((0, 0), np.float32)


def corpus_vectors(res: Results) -> np.ndarray | None:
    """The run's passage vectors from the embedding cache, aligned with `res.passages`."""
    return _vectors(str(default_store_path()), res.key, str(res.manifest.get("model_id", "")))


def clear_caches() -> None:
    """After a data set is added, renamed or deleted."""
    _corpus.clear()


def flash(message: str) -> None:
    """A success message shown once, on the next run (survives st.rerun)."""
    st.session_state[K.FLASH] = message


def pop_flash() -> str | None:
    return st.session_state.pop(K.FLASH, None)


def last_event(name: str) -> Any:
    return st.session_state.get(K.LAST_EVENT + name)


def remember_event(name: str, value: Any) -> None:
    st.session_state[K.LAST_EVENT + name] = value
