"""All dashboard state in one place: the store, the filters, the active run and cached results.

* The store is one `Store` per database path, shared by every session (`st.cache_resource`);
  it opens a connection per thread, so sessions and the run worker never share a connection.
* The sidebar filters (data sets, date range, outlets, codebook, k, time bucket) live in
  Session State under the keys below and are mirrored into the URL query string on every run,
  so any view can be shared by link; a new session starts from the link's query string.
* The active run is keyed by content (see `dashboard.runs`); finished results are read back
  from the store and cached per run key; filtered views are recomputed from the stored
  passages without running the model again.

Pages read and write state only through the functions here; widget keys are constants here.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st

from analysis import schema as S
from analysis.codebook import load_codebook
from analysis.config import CODEBOOK_DIR, DEFAULT_CODEBOOK, DEMO_CORPUS, PipelineConfig, default_store_path
from analysis.pipeline import articles_digest
from analysis.store import DatasetInfo, Store

from . import runs
from .explore import Selection, filter_rows, frame_ids_of, ingest_report

DEMO_NAME = "Demonstration corpus"
CODEBOOK_ENV = "FRAMESCOPE_CODEBOOKS"
PERIODS = ("auto", "week", "month", "quarter")
K_CHOICES: tuple[Any, ...] = ("auto", *range(2, 31))

# Session State keys (sidebar filters)
K_INIT = "fs_initialised"
K_DATASETS = "fs_datasets"
K_DATES = "fs_dates"
K_OUTLETS = "fs_outlets"
K_CODEBOOK = "fs_codebook"
K_K = "fs_k"
K_PERIOD = "fs_period"
# Session State keys (page widgets that other code sets)
K_CLUSTER = "fs_cluster_pick"
K_FRAME_TIME_PERIOD = "fs_ft_period"
K_FRAME_TIME_FRAME = "fs_ft_frame"
K_HEAT_OUTLET = "fs_hm_outlet"
K_HEAT_FRAME = "fs_hm_frame"
K_PROFILE_OUTLET = "fs_profile_outlet"
K_SIM_BASIS = "fs_sim_basis"
K_ARTICLE_MODE = "fs_article_mode"
K_ARTICLE_PICK = "fs_article_pick"
K_ARTICLE_SEARCH = "fs_article_search"
K_ARTICLE_TEXT = "fs_article_text"
K_UPLOAD_GEN = "fs_upload_generation"
K_UPLOAD_MAPPING = "fs_upload_mapping"
K_LAST_EVENT = "fs_last_event_"
K_PENDING_DATASETS = "fs_pending_datasets"
K_PENDING_CODEBOOK = "fs_pending_codebook"
K_UPLOAD_CHECK = "fs_upload_check"
K_UPLOAD_SESSION_BYTES = "fs_upload_session_bytes"
K_FLASH = "fs_flash"


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


# --- filters -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    datasets: tuple[int, ...]
    date_from: date | None
    date_to: date | None
    outlets: tuple[str, ...]
    codebook: str
    k: int | None
    period: str
    full_span: bool = True

    def selection(self) -> Selection:
        return Selection(self.date_from, self.date_to, self.outlets, include_undated=self.full_span)

    def config(self) -> PipelineConfig:
        """The run's configuration (period and thin-cell size only shape the views, not the run)."""
        path = codebooks().get(self.codebook, DEFAULT_CODEBOOK)
        return PipelineConfig(codebook=str(path), k=self.k)

    def view_config(self) -> PipelineConfig:
        return self.config().replace(period=self.period)


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


def _first_in_session() -> bool:
    return K_INIT not in st.session_state


def _read_query(infos: list[DatasetInfo]) -> None:
    """A new session starts from the link: copy the query string into the filter keys."""
    qp = st.query_params
    ss = st.session_state
    ids = {d.dataset_id for d in infos}
    chosen = []
    for v in qp.get_all("ds"):
        try:
            if int(v) in ids:
                chosen.append(int(v))
        except ValueError:
            continue
    if chosen:
        ss[K_DATASETS] = chosen
    d_from, d_to = _parse_date(qp.get("from")), _parse_date(qp.get("to"))
    if d_from or d_to:
        ss[K_DATES] = (d_from, d_to)
    if qp.get_all("outlet"):
        ss[K_OUTLETS] = list(qp.get_all("outlet"))
    if qp.get("codebook"):
        ss[K_CODEBOOK] = qp.get("codebook")
    k = qp.get("k")
    if k:
        ss[K_K] = "auto" if k == "auto" else _int_or(k, "auto")
    if qp.get("period") in PERIODS:
        ss[K_PERIOD] = qp.get("period")
    ss[K_INIT] = True


def _parse_date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _int_or(value: str, default: Any) -> Any:
    try:
        return int(value)
    except ValueError:
        return default


def sidebar() -> Filters:
    """Render the filter widgets in the sidebar, keep them valid, mirror them into the URL."""
    ss = st.session_state
    infos = store().datasets()
    if _first_in_session():
        _read_query(infos)
    _apply_pending()
    ids = [d.dataset_id for d in infos]
    names = {d.dataset_id: d.name for d in infos}
    chosen = [i for i in ss.get(K_DATASETS, []) if i in ids]
    ss[K_DATASETS] = chosen or ids[:1]
    with st.sidebar:
        st.subheader("Filters", anchor=False)
        st.multiselect("Data sets", ids, format_func=lambda i: names.get(i, str(i)), key=K_DATASETS,
                       help="The articles analysed; change them on the Data page.")
        active = tuple(ss[K_DATASETS])
        c = corpus(active)
        full = True
        d_from = d_to = None
        if c.first and c.last:
            lo, hi = _date_pair(ss.get(K_DATES), c.first, c.last)
            ss[K_DATES] = (lo, hi)
            st.date_input("Date range", key=K_DATES, min_value=c.first, max_value=c.last, format="YYYY-MM-DD")
            value = ss[K_DATES]
            lo = value[0] if len(value) > 0 else c.first
            hi = value[1] if len(value) > 1 else c.last
            full = lo <= c.first and hi >= c.last
            d_from, d_to = (None, None) if full else (lo, hi)
        ss[K_OUTLETS] = [o for o in ss.get(K_OUTLETS, []) if o in c.outlets]
        st.multiselect("Outlets", list(c.outlets), key=K_OUTLETS, placeholder="All outlets")
        cbs = codebooks()
        if ss.get(K_CODEBOOK) not in cbs:
            ss[K_CODEBOOK] = DEFAULT_CODEBOOK.stem if DEFAULT_CODEBOOK.stem in cbs else next(iter(cbs), "")
        st.selectbox("Codebook", list(cbs), key=K_CODEBOOK, help="The frames scored; edit them on the Data page.")
        if ss.get(K_K) not in K_CHOICES:
            ss[K_K] = "auto"
        st.selectbox("Clusters (k)", list(K_CHOICES), key=K_K, format_func=str,
                     help="auto chooses k by silhouette; a number forces it.")
        if ss.get(K_PERIOD) not in PERIODS:
            ss[K_PERIOD] = "auto"
        st.selectbox("Time bucket", list(PERIODS), key=K_PERIOD)
    k = ss[K_K]
    filters = Filters(
        datasets=active, date_from=d_from, date_to=d_to, outlets=tuple(ss[K_OUTLETS]),
        codebook=ss[K_CODEBOOK], k=None if k == "auto" else int(k), period=ss[K_PERIOD], full_span=full,
    )
    _write_query(filters)
    return filters


def _date_pair(value: Any, first: date, last: date) -> tuple[date, date]:
    lo, hi = first, last
    if isinstance(value, list | tuple):
        if len(value) > 0 and value[0]:
            lo = value[0]
        if len(value) > 1 and value[1]:
            hi = value[1]
    lo = min(max(lo, first), last)
    hi = max(min(hi, last), lo)
    return lo, hi


def _write_query(f: Filters) -> None:
    want: dict[str, list[str]] = {
        "ds": [str(i) for i in f.datasets],
        "codebook": [f.codebook],
        "k": ["auto" if f.k is None else str(f.k)],
        "period": [f.period],
    }
    if f.outlets:
        want["outlet"] = list(f.outlets)
    if f.date_from:
        want["from"] = [f.date_from.isoformat()]
    if f.date_to:
        want["to"] = [f.date_to.isoformat()]
    have = {k: list(st.query_params.get_all(k)) for k in st.query_params}
    if have != want:
        st.query_params.from_dict({k: v if len(v) > 1 else v[0] for k, v in want.items()})


def filters() -> Filters:
    """The filters as the sidebar left them in this run (the sidebar renders before every page)."""
    f = st.session_state.get("fs_filters")
    if f is None:
        raise RuntimeError("the sidebar has not run")
    return f


def set_filters(f: Filters) -> None:
    st.session_state["fs_filters"] = f


def activate_datasets(ids: list[int]) -> None:
    """Make these data sets the active ones from the next run on (the page then calls st.rerun)."""
    st.session_state[K_PENDING_DATASETS] = list(ids)


def use_codebook(stem: str) -> None:
    """Make this codebook the active one from the next run on."""
    st.session_state[K_PENDING_CODEBOOK] = stem


def _apply_pending() -> None:
    """Changes asked for by a page, applied before the sidebar widgets exist in this run."""
    ss = st.session_state
    if K_PENDING_DATASETS in ss:
        ss[K_DATASETS] = ss.pop(K_PENDING_DATASETS)
    if K_PENDING_CODEBOOK in ss:
        ss[K_CODEBOOK] = ss.pop(K_PENDING_CODEBOOK)


# --- runs and results ----------------------------------------------------------------------


def run_spec(f: Filters) -> runs.RunSpec | None:
    c = corpus(f.datasets)
    if c.articles.empty:
        return None
    return runs.make_spec(f.datasets, c.digest, f.config(), len(c.articles))


def ensure_run(f: Filters, *, retry: bool = False) -> tuple[runs.RunSpec | None, runs.Progress]:
    """Start (if needed) the run for these filters in the background; its spec and progress."""
    spec = run_spec(f)
    if spec is None:
        return None, runs.Progress("none", "", 0.0, "No articles")
    return spec, runs.ensure_run(store(), spec, retry=retry, session=session_id())


def session_id() -> str:
    """This browser session's id: the run queue lets each session wait for one run only."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else ""


def run_progress(key: str) -> runs.Progress:
    return runs.progress(store(), key)


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
    from analysis import aggregates as A
    from analysis.pipeline import summary_tables

    res = _results(db, key)
    assert res is not None
    sel = Selection(date.fromisoformat(d_from) if d_from else None, date.fromisoformat(d_to) if d_to else None,
                    outlets, undated)
    passages = filter_rows(res.passages, sel)
    articles = filter_rows(res.articles, sel)
    cfg = PipelineConfig(period=period)
    resolved = A.resolve_period(period, passages[S.DATE]) if len(passages) else "month"
    tables = summary_tables(passages, res.frame_ids, res.cluster_labels, cfg) if len(passages) else {}
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


def release_upload() -> None:
    """Forget an upload left unsaved on the Data page (its bytes and checked articles), so an
    abandoned upload does not stay in the server's memory for the rest of the session."""
    ss = st.session_state
    gen = ss.get(K_UPLOAD_GEN, 0)
    if ss.pop(K_UPLOAD_CHECK, None) is not None or ss.get(f"fs_uploader_{gen}"):
        ss[K_UPLOAD_GEN] = gen + 1


def flash(message: str) -> None:
    """A success message shown once, on the next run (survives st.rerun)."""
    st.session_state[K_FLASH] = message


def pop_flash() -> str | None:
    return st.session_state.pop(K_FLASH, None)


def last_event(name: str) -> Any:
    return st.session_state.get(K_LAST_EVENT + name)


def remember_event(name: str, value: Any) -> None:
    st.session_state[K_LAST_EVENT + name] = value
