"""Pure helpers behind the pages: filtering, drill-downs, pasted-text scoring, nearest passages.

No Streamlit here, so each is tested as a plain function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis import aggregates as A
from analysis import schema as S
from analysis.ingest import SUPPORTED_FORMATS, row_word
from analysis.model_artifact import LOW_FIT
from analysis.passages import article_passages, text_hash
from analysis.projection import map_sample
from analysis.reprints import REPRINT
from analysis.runread import RowFilter

from . import keys as K

CLUSTER_LABEL = "cluster_label"
SNIPPET_CHARS = 220


Selection = RowFilter  # the filters acting on a finished run's tables: one type for pandas and DuckDB reads


def filter_rows(df: pd.DataFrame, sel: Selection) -> pd.DataFrame:
    """Rows (articles or passages) inside the date range and outlets; undated rows only when asked;
    passages in the chosen languages (articles follow their passages: `runread.read_table`)."""
    mask = np.ones(len(df), dtype=bool)
    if sel.languages:
        if S.PASSAGE_ID not in df or S.LANGUAGE not in df:
            raise ValueError("the language filter applies to passages with their detected language")
        mask &= df[S.LANGUAGE].isin(sel.languages).to_numpy()
    if sel.outlets:
        mask &= df[S.OUTLET].isin(sel.outlets).to_numpy()
    if sel.date_from is not None or sel.date_to is not None:
        d = pd.to_datetime(df[S.DATE], utc=True)
        dated = d.notna().to_numpy()
        inside = np.ones(len(df), dtype=bool)
        if sel.date_from is not None:
            inside &= (d >= pd.Timestamp(sel.date_from, tz="UTC")).fillna(False).to_numpy(dtype=bool)
        if sel.date_to is not None:
            end = pd.Timestamp(sel.date_to, tz="UTC") + pd.Timedelta(days=1)
            inside &= (d < end).fillna(False).to_numpy(dtype=bool)
        mask &= np.where(dated, inside, sel.include_undated)
    return df[mask]


TYPICAL_CELL_N = 40  # passages the typical period should hold when the bucket is "auto"


def view_period(period: str, dates: pd.Series) -> str:
    """The dashboard's time bucket: "auto" takes the finest period whose typical cell is not thin."""
    return A.readable_period(dates, TYPICAL_CELL_N) if period == "auto" else period


def frame_ids_of(passages: pd.DataFrame) -> list[str]:
    """Frame ids in codebook order, from the passages' present_<frame> columns."""
    return [c[len("present_"):] for c in passages.columns if c.startswith("present_")]


def overall_frame_shares(passages: pd.DataFrame, frame_ids: Sequence[str], min_n: int = 5) -> pd.DataFrame:
    """Share of passages carrying each frame, with n, count and Wilson interval."""
    fi = A.frame_indicators(passages, frame_ids)
    keys = pd.DataFrame(index=range(len(passages)))
    return A.shares(keys, fi, category=S.FRAME_ID, articles=passages[S.ARTICLE_ID], min_n=min_n)


def with_period(passages: pd.DataFrame, period: str) -> pd.Series:
    label, _ = A.period_of(passages[S.DATE], period)
    return pd.Series(label.to_numpy(), index=passages.index)


def passages_in_cell(
    passages: pd.DataFrame,
    frames_of: Callable[[Sequence[str], str], pd.DataFrame],
    frame_id: str,
    *,
    period: str | None = None,
    period_label: str | None = None,
    outlet: str | None = None,
    limit: int = 200,
) -> pd.DataFrame:
    """The passages behind one mark: frame present, in this period and/or outlet, strongest
    first, with the evidence of the `limit` shown (`frames_of(passage ids, frame id)` reads
    their frames rows, so the frames table is never scanned whole)."""
    col = A.present_column(frame_id)
    if col not in passages:
        return pd.DataFrame()
    # the cell and the strongest rows are found on a few columns; only those rows are then taken
    # whole (taking every column of every matching row took 0.3 s at 380k passages)
    keep = passages[col].to_numpy(dtype=bool, copy=True)  # written to below
    if outlet is not None:
        keep &= (passages[S.OUTLET] == outlet).to_numpy(dtype=bool)
    at = np.flatnonzero(keep)
    if period is not None and period_label is not None:
        at = at[(with_period(passages[[S.DATE]].iloc[at], period) == period_label).to_numpy(dtype=bool)]
    score = passages[A.score_column(frame_id)].to_numpy()[at]
    order = np.argsort(-score, kind="stable")[:limit]  # strongest first, ties in table order
    out = passages.iloc[at[order]].assign(**{S.SCORE: score[order]})
    ev = frames_of(out[S.PASSAGE_ID].drop_duplicates().tolist(), frame_id)
    out = out.merge(ev[[S.PASSAGE_ID, S.EVIDENCE]].drop_duplicates(S.PASSAGE_ID), on=S.PASSAGE_ID, how="left")
    cols = [S.DATE, S.OUTLET, *([REPRINT] if REPRINT in out else []), S.TITLE, S.TEXT, S.SCORE, S.EVIDENCE,
            CLUSTER_LABEL, S.PASSAGE_ID]
    return out[[c for c in cols if c in out]].reset_index(drop=True)  # the text, where the rows have it


def filtered_clusters(clusters: pd.DataFrame, passages: pd.DataFrame) -> pd.DataFrame:
    """The run's cluster table with sizes, share, outlets and dates counted on the filtered
    passages, the run's own size kept beside as `n_passages_unfiltered`; largest first."""
    g = passages.groupby(S.CLUSTER_ID)
    out = clusters.copy()
    ids = out[S.CLUSTER_ID]
    out[K.N_PASSAGES_ALL] = out[K.N_PASSAGES]
    out[K.N_PASSAGES] = ids.map(g.size()).fillna(0).astype("int64")
    out[K.N_ARTICLES] = ids.map(g[S.ARTICLE_ID].nunique()).fillna(0).astype("int64")
    out[K.N_OUTLETS] = ids.map(g[S.OUTLET].nunique()).fillna(0).astype("int64")
    out[K.SHARE] = (out[K.N_PASSAGES] / max(len(passages), 1)).round(6)
    if K.N_LOW_FIT in out and LOW_FIT in passages:  # passages below their cluster's fit threshold, filtered too
        out[K.N_LOW_FIT] = ids.map(g[LOW_FIT].sum()).fillna(0).astype("int64")
    for col, how in (("first_date", "min"), ("last_date", "max")):
        if col in out:
            out[col] = ids.map(g[S.DATE].agg(how)) if len(passages) else pd.NaT  # no passage kept: no dates
    front = [S.CLUSTER_ID, K.LABEL, K.TOP_TERMS, K.N_PASSAGES, K.N_PASSAGES_ALL]
    out = out[[c for c in front if c in out] + [c for c in out.columns if c not in front]]
    return out.sort_values([K.N_PASSAGES, S.CLUSTER_ID], ascending=[False, True], kind="stable").reset_index(drop=True)


def present_frames(row: Mapping, frame_ids: Sequence[str], labels: Mapping[str, str]) -> str:
    names = [labels.get(f, f) for f in frame_ids if bool(row.get(A.present_column(f), False))]
    return ", ".join(names) if names else "—"


MAP_MAX_POINTS = 3_000


def map_points(passages: pd.DataFrame, max_per_cluster: int = 300, seed: int = 0,
               with_text: Callable[[pd.DataFrame], pd.DataFrame] | None = None,
               max_points: int = MAP_MAX_POINTS) -> tuple[pd.DataFrame, bool]:
    """Passages for the map, the same number of each cluster (seeded), with a snippet column: at
    most `max_per_cluster` of a cluster and `max_points` in all, so the browser draws a bounded
    number of points at any corpus size and any k (28 clusters × 300 points cost Chromium a second
    of CPU on two cores, and as long again to take down when the next page opened). `with_text`
    adds the sample's text when the passages come without it (a view: `state.View.with_text`)."""
    cols = [S.PASSAGE_ID, S.OUTLET, S.DATE, S.TITLE, S.CLUSTER_ID, CLUSTER_LABEL, "map_x", "map_y", S.TEXT]
    ids = passages[S.CLUSTER_ID].to_numpy()
    per_cluster = min(max_per_cluster, max(1, max_points // max(len(np.unique(ids)), 1)))
    rows = map_sample(ids, per_cluster, seed)
    pts = passages[[c for c in cols if c in passages]].iloc[rows]  # the columns first: never every column's rows
    if with_text is not None:
        pts = with_text(pts)
    pts = pts.assign(snippet=pts[S.TEXT].map(snippet)).drop(columns=[S.TEXT])
    return pts.reset_index(drop=True), len(rows) < len(passages)


def snippet(text: str, n: int = SNIPPET_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1].rstrip() + "…"


def cluster_centroids(vectors: np.ndarray, cluster_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(ids, unit centroid rows) from passage vectors and their cluster ids."""
    ids = np.unique(cluster_ids)
    cents = np.stack([vectors[cluster_ids == c].mean(axis=0) for c in ids]) if len(ids) else np.zeros((0, vectors.shape[1]))
    norms = np.linalg.norm(cents, axis=1, keepdims=True)
    return ids, (cents / np.maximum(norms, 1e-12)).astype(np.float32)


def analyse_text(
    text: str,
    embedder,
    scorer,
    *,
    min_words: int = 25,
    max_tokens: int = 256,
    centroids: tuple[np.ndarray, np.ndarray] | None = None,
    cluster_labels: Mapping[int, str] | None = None,
) -> tuple[pd.DataFrame, np.ndarray]:
    """Pasted text → passages with frame scores/presence/evidence and nearest cluster; and their vectors."""
    parts = article_passages(text, min_words=min_words, max_tokens=max_tokens, count=embedder.count_tokens)
    if not parts:
        return pd.DataFrame(), np.zeros((0, getattr(embedder, "dim", 0)), dtype=np.float32)
    vectors = embedder.encode(parts)
    scores = scorer.score(vectors, parts)
    df = pd.DataFrame({
        S.POSITION: range(len(parts)), S.TEXT: parts, S.TEXT_HASH: [text_hash(p) for p in parts],
        S.DOMINANT_FRAME: scores.dominant(),
    })
    for j, f in enumerate(scores.frame_ids):
        df[A.score_column(f)] = scores.scores[:, j].round(4)
        df[A.present_column(f)] = scores.present[:, j]
        df[f"evidence_{f}"] = scores.evidence[:, j]
    if centroids is not None and len(centroids[0]):
        ids, cents = centroids
        sims = vectors @ cents.T
        best = sims.argmax(axis=1)
        df[S.CLUSTER_ID] = ids[best].astype("int64")
        df[S.SIMILARITY] = sims[np.arange(len(best)), best].round(4)
        df[CLUSTER_LABEL] = [(cluster_labels or {}).get(int(c), str(c)) for c in df[S.CLUSTER_ID]]
    return df, vectors


def frame_mix(passages: pd.DataFrame, frame_ids: Sequence[str], labels: Mapping[str, str]) -> pd.DataFrame:
    """Per frame: share of the article's passages where it is present, and its mean score."""
    n = max(len(passages), 1)
    rows = []
    for f in frame_ids:
        pres = passages[A.present_column(f)].astype(bool) if A.present_column(f) in passages else pd.Series(dtype=bool)
        score = passages[A.score_column(f)] if A.score_column(f) in passages else pd.Series(dtype=float)
        rows.append({S.FRAME_ID: f, "frame": labels.get(f, f), "passages": int(pres.sum()),
                     "share": round(float(pres.sum()) / n, 4), "mean_score": round(float(score.mean()), 4) if len(score) else 0.0})
    return pd.DataFrame(rows)


NEAREST_COLUMNS = ["query", "similarity", S.OUTLET, S.DATE, S.TITLE, CLUSTER_LABEL, S.PASSAGE_ID]  # text: View.with_text


def nearest_passages(
    query: np.ndarray,
    corpus: np.ndarray,
    passages: pd.DataFrame,
    *,
    exclude_outlet: str | None = None,
    exclude_article: str | None = None,
    per_query: int = 3,
) -> pd.DataFrame:
    """For each query passage, the most similar corpus passages (cosine) from other outlets, by
    passage id (a view's rows carry no text: `View.with_text` adds it)."""
    if len(query) == 0 or len(corpus) == 0:
        return pd.DataFrame(columns=NEAREST_COLUMNS)
    keep = np.ones(len(passages), dtype=bool)
    if exclude_outlet is not None:
        keep &= (passages[S.OUTLET] != exclude_outlet).to_numpy()
    if exclude_article is not None:
        keep &= (passages[S.ARTICLE_ID] != exclude_article).to_numpy()
    idx = np.flatnonzero(keep)
    if len(idx) == 0:
        return pd.DataFrame(columns=NEAREST_COLUMNS)
    sims = query @ corpus[idx].T  # (q, m)
    rows = []
    k = min(per_query, len(idx))
    for qi in range(len(query)):
        top = np.argpartition(-sims[qi], k - 1)[:k]
        top = top[np.argsort(-sims[qi][top])]
        for t in top:
            p = passages.iloc[idx[t]]
            rows.append({"query": qi + 1, "similarity": round(float(sims[qi, t]), 3), S.OUTLET: p[S.OUTLET],
                         S.DATE: p[S.DATE], S.TITLE: p[S.TITLE], CLUSTER_LABEL: p.get(CLUSTER_LABEL, ""),
                         S.PASSAGE_ID: p[S.PASSAGE_ID]})
    return pd.DataFrame(rows, columns=NEAREST_COLUMNS)


# --- uploads -------------------------------------------------------------------------------


def ingest_report(result) -> dict:
    """What the data set's report keeps of an IngestResult (JSON-serialisable)."""
    from dataclasses import asdict

    return {
        "files": [asdict(f) for f in result.files],
        "rows_read": int(result.n_rows_read),
        "accepted": int(len(result.articles)),
        "rejected": int(len(result.rejected)),
        "duplicates": int(result.n_duplicates),
        "warnings": list(result.warnings[:100]),
    }


def files_table(result) -> pd.DataFrame:
    """One row per file: format found, encoding, rows read/accepted/rejected, the documents a
    news-database batch announces, and the column mapping used."""
    rows = []
    for f in result.files:
        expected = f.documents_expected
        rows.append({
            "file": f.name, "format": f.format, "encoding": f.encoding or "", "rows read": f.rows_read,
            "accepted": f.accepted, "rejected": f.rejected,
            "documents announced": "" if expected is None else str(expected),
            "mapping used": ", ".join(f"{k} ← {v}" for k, v in f.mapping.items()),
        })
    return pd.DataFrame(rows)


def batch_lines(result) -> list[str]:
    """'file: format; N documents announced, M read' for each news-database batch."""
    return [f"{f.name}: {f.format}; {f.documents_expected} documents announced, {f.accepted} read"
            + (f", {f.rejected} not read (listed above)" if f.rejected else "")
            for f in result.files if f.documents_expected is not None]


UPLOAD_TYPES = SUPPORTED_FORMATS  # from the one reader registry in analysis.ingest
MAPPABLE_FIELDS = (S.TEXT, S.TITLE, S.OUTLET, S.DATE, S.URL, S.ARTICLE_ID, S.LANGUAGE)


@dataclass(frozen=True)
class UploadCheck:
    """The validation report of one batch of uploaded files (or the error that stopped it)."""

    result: object | None  # IngestResult
    error: str | None
    columns: tuple[str, ...]  # every column seen in the files, for the mapping form
    already_saved: tuple[tuple[str, str], ...]  # (file, data set name) for files saved before


def upload_problem(sizes: Sequence[tuple[str, int]], session_bytes: int, limits=None) -> str | None:
    """Why this batch of (name, size) files may not be read, before reading it; None when it may.

    Checked on the sizes the server received, so an over-large batch never gets copied.
    """
    from analysis.config import IngestLimits

    limits = limits or IngestLimits()
    total = sum(size for _, size in sizes)
    mb = 2**20
    for name, size in sizes:
        if size > limits.max_file_bytes:
            return f"{name} is {size / mb:.1f} MB; the limit per file is {limits.max_file_bytes / mb:.0f} MB"
    if total > limits.max_upload_bytes:
        return (f"these {len(sizes)} files are {total / mb:.1f} MB together; the limit for one upload is "
                f"{limits.max_upload_bytes / mb:.0f} MB")
    if session_bytes + total > limits.max_session_bytes:
        return (f"this session has uploaded {session_bytes / mb:.1f} MB already; with these files it would pass "
                f"the limit of {limits.max_session_bytes / mb:.0f} MB per session (open a new session to go on)")
    return None


def check_upload(files, *, mapping=None, dayfirst: bool = False, store=None, limits=None) -> UploadCheck:
    """Ingest (name, bytes) pairs with an optional column mapping; never raises for bad input."""
    import hashlib

    from analysis.config import IngestLimits
    from analysis.errors import FramescopeError
    from analysis.ingest import file_columns, ingest

    limits = limits or IngestLimits()
    columns: list[str] = []
    for name, data in files:
        try:
            for c in file_columns(name, data, limits):
                if c not in columns:
                    columns.append(c)
        except FramescopeError:
            pass  # the ingest below reports it
    already = []
    if store is not None:
        for name, data in files:
            info = store.dataset_for_file(hashlib.sha256(data).hexdigest())
            if info is not None:
                already.append((name, info.name))
    try:
        result = ingest(list(files), mapping={k: v for k, v in (mapping or {}).items() if v}, limits=limits,
                        dayfirst=dayfirst)
    except FramescopeError as exc:
        return UploadCheck(None, str(exc), tuple(columns), tuple(already))
    return UploadCheck(result, None, tuple(columns), tuple(already))


def rejected_lines(rejected: pd.DataFrame, limit: int = 8) -> list[str]:
    """'file, line N: reason' (row, line or archive member, as the reader counts) for the first rejected rows."""
    out = []
    for fname, row, reason in rejected[list(S.REJECTED_COLUMNS)].head(limit).itertuples(index=False, name=None):
        kind = row_word(str(fname))
        where = (f"{fname}, {kind} {row}" if kind else f"{fname}, {row}") if str(row) else f"{fname}"
        out.append(f"{where}: {reason}")
    return out


def save_upload(store, name: str, result):
    """Save an ingested batch as a named data set in one transaction; returns its DatasetInfo."""
    return store.add_dataset(
        name, result.articles, result.rejected, [(f.name, f.sha256) for f in result.files],
        n_duplicates=result.n_duplicates, report=ingest_report(result),
    )


def language_table(articles: pd.DataFrame, passages: pd.DataFrame) -> pd.DataFrame:
    """Articles and passages per language (the pipeline's detected `language` columns)."""
    counts = {
        "articles": articles[S.LANGUAGE].fillna("und").value_counts() if S.LANGUAGE in articles else pd.Series(),
        "passages": passages[S.LANGUAGE].fillna("und").value_counts() if S.LANGUAGE in passages else pd.Series(),
    }
    out = pd.DataFrame(counts).fillna(0).astype("int64").rename_axis(S.LANGUAGE).reset_index()
    return out.sort_values(["passages", "articles"], ascending=False, ignore_index=True)
