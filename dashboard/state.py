"""The dashboard's shared data: the store, the codebooks, the active corpus and cached results.

* The store is one `Store` per database path, shared by every session (`st.cache_resource`);
  it opens a connection per thread, so sessions and the run worker never share a connection.
* Finished runs are folders of Parquet tables (see `analysis.store`): their small tables are
  cached per run key, filtered views are read out of core with DuckDB (`analysis.runread`) and
  recomputed without the model, cached per filter key; views, whole tables and vectors of all
  sessions share one cache bounded by bytes.

The filters and the URL live in `dashboard.filters`, run control in `dashboard.runs`, Session
State keys and column names in `dashboard.keys`.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
import weakref
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import streamlit as st

from analysis import runread
from analysis import schema as S
from analysis.config import CODEBOOK_DIR, DEMO_CORPUS, PipelineConfig, default_store_path
from analysis.pipeline import articles_digest
from analysis.reprints import CARRIED_BY, carriers
from analysis.store import DatasetInfo, Store

from . import keys as K
from . import maps, runs
from .cache import ByteLRU, Unhashable, fingerprint, frame_bytes, spec_bytes
from .downloads import Deferred
from .explore import filter_rows, filtered_clusters, ingest_report, view_period

if TYPE_CHECKING:
    from .filters import Filters

log = logging.getLogger(__name__)

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

    articles: pd.DataFrame  # without their text (the store's article_key in its place)
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
    articles = s.articles(ids, text=False)  # counted and filtered, never read (100k: 6.6 s -> 2.0 s)
    infos = tuple(d for d in (s.dataset(i) for i in ids) if d is not None)
    ran = carriers(articles)  # reprinting outlets and dates count, so the filters offer them
    dates = ran[S.DATE].dropna()
    return Corpus(
        articles=articles,
        digest=articles_digest(articles),
        outlets=tuple(sorted(ran[S.OUTLET].dropna().unique())),
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


CACHE_ENV = "FRAMESCOPE_CACHE_MB"
DEFAULT_CACHE_MB = 512
# Rows whose text is read by id before the run's texts are: a listing, the map's sample, one side of a
# comparison at 10k articles; more read every text (a by-id read scans the file all the same)
TEXTS_BY_ID_MAX = 20_000


@st.cache_resource(show_spinner=False)
def _table_cache() -> ByteLRU:
    """Filtered views and whole run tables of every session, bounded by bytes ($FRAMESCOPE_CACHE_MB)."""
    return ByteLRU(int(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_MB) * 2**20)


@dataclass(frozen=True)
class Results:
    """A finished run: its Parquet folder, manifest, labels and cluster table; the large tables
    (passages, articles, frames) are read on demand, out of core, through the byte-bounded cache."""

    key: str
    folder: Path
    manifest: dict[str, Any]
    frame_ids: list[str]
    frame_labels: dict[str, str]
    cluster_labels: dict[int, str]
    clusters: pd.DataFrame
    reprinted: bool = False  # some passage ran in other outlets too (reprints.CARRIED_BY): views expand it

    def table(self, name: str) -> pd.DataFrame:
        """One whole run table (shared between sessions: treat as read-only)."""
        return _table_cache().get_or_make(("table", str(self.folder), name),
                                          lambda: runread.read_table(self.folder, name), frame_bytes)

    def has_table(self, name: str) -> bool:
        return runread.table_path(self.folder, name).exists()

    @property
    def passages(self) -> pd.DataFrame:
        return self.table("passages")

    @property
    def n_passages(self) -> int:
        """Passages in the whole run, from the manifest (no table read)."""
        return int(self.manifest.get("counts", {}).get("passages", 0))

    @property
    def n_articles(self) -> int:
        return int(self.manifest.get("counts", {}).get("articles", 0))

    @property
    def articles(self) -> pd.DataFrame:
        return self.table("articles")

    def texts(self, cache: ByteLRU | None = None) -> pd.Series:
        """Every passage's text by passage id, read once per run (by the background prefetch) and
        shared by its filtered views, which leave the text out: a by-id read scans the whole file
        each time (0.2 s at 383k passages), one copy per view held it many times over."""
        return (cache or _table_cache()).get_or_make(self._texts_key, self._read_texts,
                                                     lambda t: int(t.memory_usage(index=True, deep=True)))

    def texts_of(self, passage_ids: pd.Series) -> pd.Series:
        """The text of these passages by passage id: from `texts()` once it is read (the
        background prefetch reads it first), else read for these rows alone. The first page
        after opening a 383k-passage run (the Clusters map's 3,000 points) waited 0.45-0.75 s
        for every text and its index, against 0.17-0.23 s for its own rows."""
        whole = _table_cache().get(self._texts_key)
        if whole is not None:
            return whole
        if len(passage_ids) > TEXTS_BY_ID_MAX:
            return self.texts()
        return self._read_texts(f"{S.PASSAGE_ID} IN (SELECT UNNEST(?))", [passage_ids.astype(str).tolist()])

    @property
    def _texts_key(self) -> tuple[str, str]:
        return ("texts", str(self.folder))

    def _read_texts(self, where: str = "", params: Sequence = ()) -> pd.Series:
        got = runread.read_table(self.folder, "passages", columns=[S.PASSAGE_ID, S.TEXT], where=where, params=params)
        texts = got.set_index(S.PASSAGE_ID)[S.TEXT]
        # ids are unique in a run: the test is cheap and cached for `with_text`'s lookups, where
        # dropping duplicates on every read took 0.1-0.35 s at 383k passages
        return texts if texts.index.is_unique else texts[~texts.index.duplicated()]

    def frames_of(self, passage_ids: Sequence[str], frame_id: str | None = None) -> pd.DataFrame:
        """The frames rows (score, presence, evidence) of these passages, one frame or all, read
        out of core: the whole frames table (passages × frames rows) is never loaded."""
        where, params = f"{S.PASSAGE_ID} IN (SELECT UNNEST(?))", [[str(p) for p in passage_ids]]
        if frame_id is not None:
            where, params = f"{where} AND {S.FRAME_ID} = ?", [*params, frame_id]
        return runread.read_table(self.folder, "frames", where=where, params=params)


@st.cache_resource(show_spinner=False, max_entries=8)
def _results(db: str, key: str) -> Results | None:
    s = _store_at(db)
    folder, manifest = s.run_path(key), s.run_manifest(key)
    if folder is None or manifest is None:
        return None
    frame_ids = [c[len("present_"):] for c in runread.columns_of(folder, "passages") if c.startswith("present_")]
    labels = {f: (manifest.get("frames") or {}).get(f, f.replace("_", " ").capitalize()) for f in frame_ids}
    clusters = runread.read_table(folder, "clusters")
    cl = {int(c): str(lab) for c, lab in zip(clusters[S.CLUSTER_ID], clusters["label"], strict=True)}
    maps.ensure_map(s.path, folder, str(manifest.get("model_id", "")))  # once per run, in the background
    # read once per run, not per filtered view: whether any passage is a reprint to count per outlet
    reprinted = CARRIED_BY in runread.columns_of(folder, "passages") and bool(runread.read_table(
        folder, "passages", columns=[CARRIED_BY], where=f"{CARRIED_BY} <> ''", limit=1).shape[0])
    return Results(key, folder, manifest, frame_ids, labels, cl, clusters, reprinted)


def results(key: str) -> Results | None:
    return _results(str(default_store_path()), key)


# --- pinned runs: a run folder opened, or the analysis grown without re-clustering -----------

@dataclass(frozen=True)
class PinnedRun:
    """A stored run the pages show in place of the analysis of the sidebar's settings: a run
    folder opened on the Data page, or the current analysis with data sets added to it without
    re-clustering. Its settings are the run's own: the sidebar shows them and cannot change them."""

    kind: str  # runs.FOLDER | runs.EXTENSION
    spec: runs.RunSpec  # key, data sets, configuration; an extension's base run and added data sets
    params: Mapping[str, Any]  # as recorded in the run index (an opened folder's path)

    @property
    def key(self) -> str:
        return self.spec.key


def run_config(values: Mapping[str, Any]) -> PipelineConfig:
    """A run's recorded configuration; a codebook file that is not on this server is looked up by
    its name among the dashboard's codebooks (a run folder made elsewhere names its own path)."""
    try:
        config = PipelineConfig.from_dict(values)
    except (TypeError, ValueError):
        config = PipelineConfig(model=str(values.get("model") or PipelineConfig().model))
    if not Path(config.codebook).exists():
        config = config.replace(codebook=str(codebooks().get(Path(config.codebook).stem, config.codebook)))
    return config


def pinned_run(key: str) -> PinnedRun | None:
    """The pinned run of this key from the store's run index, or None when the store has no such run."""
    params = store().run_params(key)
    if not params or params.get("kind") not in (runs.FOLDER, runs.EXTENSION):
        return None
    return PinnedRun(params["kind"], runs.pinned_spec(key, params, run_config(params.get("config") or {})), params)


@dataclass(frozen=True)
class View:
    """A run's passages under the current date/outlet filters (without their text and hash, and
    articles without their text: all are in the run's tables; `with_text` adds a listing's text);
    `table(name)` recomputes an aggregate table on them, only when a page asks for it.

    `counted` holds the rows the tables count: with reprints counted per outlet, a reprinted
    passage appears once for every outlet that carried it (flagged `reprint`, at that outlet's
    date), so a drill-down from a per-outlet or per-period mark lists what its count counts."""

    passages: pd.DataFrame
    articles: pd.DataFrame
    period: str
    counted: pd.DataFrame
    results: Results
    key: tuple = ()  # the run folder, row filter and period it was made of (its cache key)

    def table(self, name: str, cache: ByteLRU | None = None) -> pd.DataFrame:
        """One of `pipeline.SUMMARY_TABLES`, or "clusters" (the run's clusters, sized under the
        filters), made once per view and table: a filter change on the Frames page makes the
        frames tables only, not the clusters', volume and similarity tables it does not show
        (`prefetch_views` makes those once the page is drawn)."""
        return (cache or _table_cache()).get_or_make((*self.key, "table", name), lambda: self.make_table(name),
                                                     frame_bytes)

    def with_text(self, rows: pd.DataFrame) -> pd.DataFrame:
        """Rows of this view (a listing, a sample, one side of a comparison) with their passage
        text after the title (`Results.texts`): a view leaves the text out, which was 60 % of its
        memory and of the time to read it (0.38 s against 0.16 s for 64k of 383k passages)."""
        if S.PASSAGE_ID not in rows or S.TEXT in rows:  # an empty listing, or rows that have their text
            return rows
        ids = rows[S.PASSAGE_ID]
        out = rows.assign(**{S.TEXT: ids.map(self.results.texts_of(ids)).to_numpy()})
        if S.TITLE in rows:
            cols = list(rows.columns)
            cols.insert(cols.index(S.TITLE) + 1, S.TEXT)
            out = out[cols]
        return out

    def prepare_words(self) -> None:
        """Load the word segmenter and stop lists its passages' languages need, before the
        Compare page's distinctive words do (jieba's dictionary: 1-3 s on first use)."""
        from analysis.tokens import prepare

        prepare(self.passages[S.LANGUAGE].dropna().unique() if S.LANGUAGE in self.passages else ())

    def deferred_table(self, name: str) -> Deferred:
        """`table(name)` for a download button, made only when clicked, outside the page's run (so
        the cache is looked up now): a table the page or the prefetch made is not made again."""
        cache = _table_cache()
        return Deferred(None, lambda: self.table(name, cache))

    def make_table(self, name: str) -> pd.DataFrame:
        """`table(name)` made afresh, without the cache."""
        from analysis.pipeline import summary_tables

        if name == "clusters":
            return filtered_clusters(self.results.clusters, self.passages)
        cfg = PipelineConfig(period=self.period, count_syndicated=COUNTING)  # counted rows count as they are
        return summary_tables(self.counted, self.results.frame_ids, self.results.cluster_labels, cfg,
                              names=(name,))[name]


COUNTING = PipelineConfig().count_syndicated  # how the views count reprints: as the CLI's tables do
# a view's rows without their text (read for the rows a page lists: View.with_text) and hash
VIEW_SKIPS = {"passages": (S.TEXT_HASH, S.TEXT), "articles": (S.TEXT,)}


def _columns_but(res: Results, table: str, skips: Mapping[str, tuple[str, ...]]) -> list[str]:
    return [c for c in runread.columns_of(res.folder, table) if c not in skips.get(table, ())]


def _kept_or_reprinted(res: Results, rf: runread.RowFilter) -> pd.DataFrame:
    """The passages the filter keeps and those carried by other outlets, in table order."""
    have = runread.columns_of(res.folder, "passages")
    cond, params = runread.where_clause(rf, have, runread.table_path(res.folder, "passages"))
    return runread.read_table(res.folder, "passages", columns=_columns_but(res, "passages", VIEW_SKIPS),
                              where=f"({cond}) OR {CARRIED_BY} <> ''", params=params)


def _make_view(res: Results, rf: runread.RowFilter, period: str) -> View:
    from analysis.reprints import counted_passages

    articles = runread.read_table(res.folder, "articles", rf, columns=_columns_but(res, "articles", VIEW_SKIPS))
    # reprints count where they ran: expand before filtering, since a copy may run in a kept
    # outlet or period while its origin does not. Only the kept rows and the reprinted ones
    # can be counted, so only those are read (never the whole table with its text), once
    if res.reprinted:
        read = _kept_or_reprinted(res, rf)
        passages = filter_rows(read, rf).reset_index(drop=True)
        counted = filter_rows(counted_passages(read, COUNTING), rf)
    else:
        passages = runread.read_table(res.folder, "passages", rf, columns=_columns_but(res, "passages", VIEW_SKIPS))
        counted = passages
    resolved = view_period(period, counted[S.DATE]) if len(counted) else "month"
    return View(passages, articles, resolved, counted, res, _view_key(res, rf, period))


def _view_key(res: Results, rf: runread.RowFilter, period: str) -> tuple:
    return ("view", str(res.folder), rf, period)


def view(res: Results, f: Filters) -> View:
    """Read out of core (DuckDB over the run's Parquet) and cached by bytes across sessions."""
    rf = f.selection()
    v = _table_cache().get_or_make(
        _view_key(res, rf, f.period), lambda: _make_view(res, rf, f.period),
        lambda v: frame_bytes(v.passages, v.articles, *([v.counted] if v.counted is not v.passages else [])))
    st.session_state[K.DRAWN_VIEW] = weakref.ref(v)  # for `prefetch_views`, without keeping it alive
    return v


# every table a view makes, in the order the prefetch makes them: the Frames page's, the Clusters
# page's, the Outlets page's, then those only a download asks for
VIEW_TABLES = ("frames_over_time", "frames_by_outlet", "frames_by_outlet_period", "clusters", "clusters_over_time",
               "outlet_similarity", "clusters_by_outlet", "volume_by_outlet")


class _Activity:
    """The page runs in progress in this server, and when the last one ended: background work
    waits for a quiet moment instead of competing with a page a user is waiting for."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running = 0
        self._ended = 0.0

    @contextmanager
    def page_run(self) -> Iterator[None]:
        with self._lock:
            self._running += 1
        try:
            yield
        finally:
            with self._lock:
                self._running -= 1
                self._ended = time.monotonic()

    def quiet_for(self) -> float:
        """Seconds since the last page run ended; 0 while one runs."""
        with self._lock:
            return 0.0 if self._running else time.monotonic() - self._ended


ACTIVITY = _Activity()
# the prefetch starts a step only after this long without a page run: the browser is still
# drawing the page that just ran (0.3–0.5 s on two cores), and the next click often comes soon
QUIET_S = 0.5


def page_run() -> AbstractContextManager[None]:
    """Wrap a whole script run (app.py), so background work knows when the server is busy."""
    return ACTIVITY.page_run()


class _Prefetcher:
    """One background thread for the server that reads a view's run texts, makes its tables and
    loads the word lists its languages need, one step at a time, each when no page has run for
    QUIET_S; a newer request (the next filter change, from any session) supersedes an unfinished
    one between steps.

    With no pause between clicks, making the tables at once had a 10k-article view's filter
    change take 0.60 s instead of 0.37 s: the prefetch of the previous view competed with the
    next page and with the browser drawing it, on the same two cores."""

    def __init__(self, activity: _Activity) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="framescope-prefetch")
        self._activity = activity
        self._latest = 0
        self._lock = threading.Lock()

    def submit(self, v: View, cache: ByteLRU) -> None:
        with self._lock:
            self._latest += 1
            number = self._latest
        self._pool.submit(self._make, v, cache, number)

    def _current_when_quiet(self, number: int) -> bool:
        """Wait for a quiet moment; False when a newer request superseded this one meanwhile."""
        while self._latest == number:
            if self._activity.quiet_for() >= QUIET_S:
                return True
            time.sleep(0.05)
        return False

    def _make(self, v: View, cache: ByteLRU, number: int) -> None:
        steps = [("texts", functools.partial(v.results.texts, cache)),
                 *((name, functools.partial(v.table, name, cache)) for name in VIEW_TABLES),
                 ("word lists", v.prepare_words)]
        for name, make in steps:
            if not self._current_when_quiet(number):
                return
            try:
                make()
            except Exception:  # the page that shows the table reports it; the log keeps the details
                log.exception("prefetching %s failed", name)
                return


@st.cache_resource(show_spinner=False)
def _prefetcher() -> _Prefetcher:
    return _Prefetcher(ACTIVITY)


def prefetch_views() -> None:
    """Make the other tables of the view this run drew, in the background, once the page is
    drawn: a page makes only the tables it shows, so the next page's first visit paid for its
    own (0.3–0.8 s at 380k passages); now it usually finds them made, or waits for the one
    being made, never makes it twice. The cache is looked up here: the worker thread runs
    outside Streamlit's script context."""
    ref = st.session_state.pop(K.DRAWN_VIEW, None)
    v = ref() if ref is not None else None
    if v is not None:
        _prefetcher().submit(v, _table_cache())


def manifest_for(res: Results, f: Filters, **extra: Any) -> dict[str, Any]:
    """The run's manifest plus the view's filters, for every download."""
    return {
        **res.manifest,
        "view": {"datasets": list(f.datasets), "date_from": str(f.date_from or ""), "date_to": str(f.date_to or ""),
                 "outlets": list(f.outlets) or "all", "languages": list(f.languages) or "all", "period": f.period,
                 **extra},
    }


# --- model, scorer and vectors (the Article page) -------------------------------------------


@st.cache_resource(show_spinner="Loading the embedding model…")
def embedder(model: str, precision: str, batch_size: int):
    return runs.embedder_for(PipelineConfig(model=model, precision=precision, batch_size=batch_size))


@st.cache_resource(show_spinner=False, max_entries=4)
def scorer(codebook_path: str, codebook_digest: str, model: str, precision: str, batch_size: int):
    from analysis.pipeline import make_scorer

    cfg = PipelineConfig(model=model, precision=precision, batch_size=batch_size, codebook=codebook_path)
    return make_scorer(cfg, embedder(model, precision, batch_size), runs.codebook_at(codebook_path))


def _load_vectors(db: str, res: Results, model_id: str) -> np.ndarray | None:
    hashes = runread.read_table(res.folder, "passages", columns=[S.TEXT_HASH])[S.TEXT_HASH].tolist()
    found = _store_at(db).get_vectors(model_id, hashes)
    if len(found) < len(set(hashes)):
        return None
    return np.stack([found[h] for h in hashes]) if hashes else np.zeros((0, 0), np.float32)


def corpus_vectors(res: Results) -> np.ndarray | None:
    """The run's passage vectors from the embedding cache, aligned with `res.passages`."""
    model_id = str(res.manifest.get("model_id", ""))
    return _table_cache().get_or_make(
        ("vectors", str(res.folder), model_id), lambda: _load_vectors(str(default_store_path()), res, model_id),
        lambda v: 0 if v is None else int(v.nbytes))


def chart_spec(builder: Callable[..., Any], args: tuple, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """`builder(*args, **kwargs)`, cached by the content of the inputs (see ui.spec)."""
    make = lambda: builder(*args, **kwargs)  # noqa: E731
    try:
        key = ("chart", builder.__module__, builder.__qualname__, fingerprint(args), fingerprint(dict(kwargs)))
    except Unhashable:
        return make()
    return _table_cache().get_or_make(key, make, spec_bytes)


def view_memo(v: View, name: Hashable, make: Callable[[], Any], size_of: Callable[[Any], int]) -> Any:
    """Something made from a filtered view alone (e.g. the map's sample and spec), made once per view."""
    return _table_cache().get_or_make((*v.key, name), make, size_of)


def memo(key: tuple, make: Callable[[], pd.DataFrame]) -> pd.DataFrame:
    """A page's costly table, shared across reruns and sessions in the byte-bounded cache."""
    return _table_cache().get_or_make(("memo", *key), make, frame_bytes)


def umap_points(res: Results) -> pd.DataFrame | None:
    """The run's UMAP map (passage_id, map_x, map_y of a per-cluster sample), or None while it is
    computed in the background (or cannot be: vectors not cached)."""
    if maps.ensure_map(store().path, res.folder, str(res.manifest.get("model_id", ""))) != maps.READY:
        return None
    return res.table(maps.MAP_TABLE)


def view_vectors(res: Results, passages: pd.DataFrame) -> np.ndarray | None:
    """The vectors of some of the run's passages (e.g. a filtered view), aligned with them."""
    vectors = corpus_vectors(res)
    if vectors is None:
        return None
    order = _table_cache().get_or_make(
        ("passage_index", str(res.folder)),
        lambda: pd.Index(runread.read_table(res.folder, "passages", columns=[S.PASSAGE_ID])[S.PASSAGE_ID]),
        lambda idx: int(idx.memory_usage(deep=True)))
    return vectors[order.get_indexer(passages[S.PASSAGE_ID])]


def clear_caches() -> None:
    """After a data set is added, renamed or deleted."""
    _corpus.clear()


def session_id() -> str:
    """This browser session's id: the run queue lets each session wait for one run only."""
    from streamlit.runtime.scriptrunner import get_script_run_ctx

    ctx = get_script_run_ctx()
    return ctx.session_id if ctx is not None else ""


def release_upload() -> None:
    """Forget an upload left unsaved on the Data page (its bytes and checked articles), so an
    abandoned upload does not stay in the server's memory for the rest of the session."""
    ss = st.session_state
    gen = ss.get(K.UPLOAD_GEN, 0)
    if ss.pop(K.UPLOAD_CHECK, None) is not None or ss.get(f"fs_uploader_{gen}"):
        ss[K.UPLOAD_GEN] = gen + 1


def flash(message: str) -> None:
    """A success message shown once, on the next run (survives st.rerun)."""
    st.session_state[K.FLASH] = message


def pop_flash() -> str | None:
    return st.session_state.pop(K.FLASH, None)


def last_event(name: str) -> Any:
    return st.session_state.get(K.LAST_EVENT + name)


def remember_event(name: str, value: Any) -> None:
    st.session_state[K.LAST_EVENT + name] = value
