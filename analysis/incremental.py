"""Add articles to a finished run without re-clustering it, or re-cluster keeping ids.

`extend` takes a base run, read from a folder (`read_run`: a `framescope run --out`
folder with its fitted model in `model/`) or from the store (`stored_base`: a stored run
with the model the store keeps beside its tables, or one rebuilt from its tables and the
vector cache). It splits, embeds and scores only the new articles' passages, assigns them
to the run's centroids and recomputes every summary over old + new passages. Old passages
keep their cluster ids, cosines and frame scores.

An extension is a run of its own: its key (`extension_key`) is the sha256 of the base
run's key, the new articles' digest, `recluster` and the code, distinct from any content
key. `run_extension` computes it once per key in the store, as `pipeline.run` does for
content keys, and stores its tables (`Extension.stored_tables`) and updated model.

Drift is measured, not hidden: a new passage whose cosine to its centroid falls below
its cluster's threshold (the base run's 5th percentile) is `low_fit`; the share of such
passages, per cluster and overall, is reported (5 % is what the base run itself shows).
Above `drift_warn` the user is told and offered `--recluster`.

`recluster=True` clusters old + new vectors again and keeps ids where clusters persist:
new centroids are matched to old ones by the Hungarian method on cosine
(scipy.optimize.linear_sum_assignment); matched pairs with cosine >= `MATCH_COSINE` keep
the old id, other new clusters get fresh ids (max old id + 1, ...), unmatched old ids
are retired; an old cluster whose centroid is also the nearest (>= MATCH_COSINE) to a
fresh cluster is reported as split.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import aggregates as A
from . import schema as S
from .clustering import Clustering, assign
from .codebook import load_codebook
from .config import COMMAND_LINE_LIMITS, PipelineConfig
from .embeddings import Embedder, embed_texts, load_embedder
from .errors import FramescopeError
from .export import neutralise
from .ids import article_key, unique_ids
from .model_artifact import (
    LOW_FIT, MODEL_DIR, AnalysisModel, ModelArtifactError, build_model, fit_thresholds, low_fit_flags,
)
from .passages import split_key, split_passages
from .pipeline import (
    CLUSTER_LABEL, MAIN_CLUSTER_ID, Cache, RunOutput, StageProgress, _article_table, _cluster, annotate_passages,
    articles_digest, code_digest, compute_once, excluded_table, make_scorer, score_passages, summary_tables,
)
from .projection import project_2d
from .relevance import REASON, RELEVANT, relevance
from .syndication import GROUP, IS_COPY, ORIGIN, SyndicationParams, syndication, syndication_table

MATCH_COSINE = 0.5  # below this a "matched" pair of centroids is two different clusters
DRIFT_WARN = 0.15  # low-fit share of new passages above which a re-cluster is suggested (base: 0.05)
DRIFT_TABLE = "drift"

_STRING_COLUMNS = (S.ARTICLE_ID, S.PASSAGE_ID, S.TITLE, S.TEXT, S.OUTLET, S.URL, S.LANGUAGE, S.SOURCE_FILE,
                   S.SOURCE_ROW, S.TEXT_HASH, S.DUPLICATE_OUTLETS, S.DOMINANT_FRAME, S.EVIDENCE, S.FRAME_ID,
                   CLUSTER_LABEL, ORIGIN, REASON, "label", "top_terms", "term_weights")


# --- reading a finished run back ---------------------------------------------------------


def _unneutralise(value: Any) -> Any:
    """Undo export.neutralise: a "'" that export added in front of a formula-like string."""
    if isinstance(value, str) and value.startswith("'") and neutralise(value[1:]) == value:
        return value[1:]
    return value


def read_table(path: Path) -> pd.DataFrame:
    """A table written by export.write_table, with string ids, UTC dates and texts as written."""
    try:
        head = pd.read_csv(path, encoding="utf-8-sig", nrows=0)
    except FileNotFoundError:
        raise FramescopeError(f"{path.parent}: {path.name} missing; give the --out folder of a framescope run") from None
    dtypes = {c: str for c in head.columns if c in _STRING_COLUMNS}
    df = pd.read_csv(path, encoding="utf-8-sig", dtype=dtypes)
    for c in dtypes:
        df[c] = df[c].map(_unneutralise)
    for c in (S.DATE, "first_date", "last_date"):
        if c in df:
            df[c] = pd.to_datetime(df[c], utc=True, errors="coerce").dt.as_unit("ns")  # as the pipeline's
    return df


def read_parquet_parts(folder: Path) -> pd.DataFrame | None:
    """A table written as Parquet parts (`folder/part-NNNNN.parquet`, the Dask engine's), in part
    order, on the parts' unified schema (a part may hold only nulls in a column); None without parts."""
    import pyarrow as pa
    import pyarrow.dataset as ds
    import pyarrow.parquet as pq

    parts = sorted(str(p) for p in folder.glob("*.parquet")) if folder.is_dir() else []
    if not parts:
        return None
    try:
        schema = pa.unify_schemas([pq.read_schema(p) for p in parts], promote_options="permissive")
        return ds.dataset(parts, schema=schema, format="parquet").to_table().to_pandas()
    except (OSError, pa.ArrowException) as exc:
        raise FramescopeError(f"{folder}: cannot read the Parquet parts ({exc})") from None


def read_frames(path: Path) -> pd.DataFrame:
    """A base run's frames table: frames.csv, a stored run's frames.parquet or a Dask run's frames/ parts."""
    if path.suffix == ".csv":
        return read_table(path)
    return read_parquet_parts(path) if path.is_dir() else pd.read_parquet(path)


@dataclass(frozen=True)
class BaseRun:
    """A finished run to extend, read from its folder (`read_run`) or the store (`stored_base`)."""

    folder: Path
    model: AnalysisModel
    manifest: dict[str, Any]
    articles: pd.DataFrame
    passages: pd.DataFrame
    rejected: pd.DataFrame
    key: str = ""  # the run's key (a folder's: runfolder.folder_key); "" falls back to the model's

    @property
    def frames_path(self) -> Path:
        """The frames table (one row per passage × frame), which an extension's new rows extend and
        which is read only when a whole table is needed: it is the largest table."""
        for name in ("frames.csv", "frames.parquet"):
            if (self.folder / name).is_file():
                return self.folder / name
        return self.folder / "frames"  # a Dask run's Parquet parts

    @property
    def run_key(self) -> str:
        return self.key or self.model.run_key


def read_run(folder: str | Path) -> BaseRun:
    """A run folder of any layout `runfolder.read_run_folder` reads, with its fitted model; the
    frames table is left on disk (see BaseRun.frames_path)."""
    from .runfolder import read_run_folder

    folder = Path(folder)
    if not folder.is_dir():
        raise FramescopeError(f"--base {folder}: no such run folder")
    opened = read_run_folder(folder, tables=("articles", "passages"))
    model = opened.model or AnalysisModel.load(folder / MODEL_DIR)  # no model: the loader's one-line error
    rejected = read_table(folder / "rejected.csv") if (folder / "rejected.csv").is_file() \
        else pd.DataFrame(columns=list(S.REJECTED_COLUMNS))
    return BaseRun(folder, model, opened.manifest, opened.tables["articles"], opened.tables["passages"], rejected,
                   opened.key)


def stored_base(store: Any, key: str, *, embedder: Embedder | None = None) -> BaseRun:
    """A finished run of the store as a base: its tables, and the model stored with it (or, for
    a run stored before runs kept their model, one rebuilt from the tables and the vector cache)."""
    stored = store.run_tables(key)
    if stored is None:
        raise FramescopeError(f"run {key[:12]} is not a finished run in the store {store.path}")
    tables, manifest = stored
    model = store.run_model(key)
    if model is None:
        config = PipelineConfig.from_dict(manifest.get("config", {}))
        model = dataclasses.replace(
            model_from_tables(tables["passages"], tables["clusters"], config, store, embedder), run_key=key)
    return BaseRun(store.run_path(key), model, manifest, tables["articles"], tables["passages"],
                   pd.DataFrame(columns=list(S.REJECTED_COLUMNS)), key)


# --- ids that stay stable ------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterMatch:
    """How a re-clustering's centroids map to the old ids."""

    ids: np.ndarray  # (k_new,) the id of each new centroid row
    kept: dict[int, float]  # old id -> cosine of the matched pair
    new: list[int]  # fresh ids
    retired: list[int]  # old ids with no match
    split: dict[int, list[int]]  # old id -> fresh ids whose nearest old centroid it is

    def as_dict(self) -> dict[str, Any]:
        return {"kept": {str(k): round(v, 4) for k, v in self.kept.items()}, "new": self.new,
                "retired": self.retired, "split": {str(k): v for k, v in self.split.items()}}


def match_clusters(old_ids: np.ndarray, old_centroids: np.ndarray, new_centroids: np.ndarray,
                   min_cosine: float = MATCH_COSINE) -> ClusterMatch:
    """Hungarian matching of new to old centroids on cosine (see module docstring)."""
    from scipy.optimize import linear_sum_assignment

    sim = new_centroids @ old_centroids.T
    rows, cols = linear_sum_assignment(-sim)
    ids = np.full(len(new_centroids), -1, dtype=int)
    kept: dict[int, float] = {}
    for r, c in zip(rows, cols, strict=True):
        if sim[r, c] >= min_cosine:
            ids[r] = int(old_ids[c])
            kept[int(old_ids[c])] = float(sim[r, c])
    next_id = int(max(old_ids, default=-1)) + 1
    new, split = [], {}
    for r in np.flatnonzero(ids < 0):
        ids[r] = next_id
        new.append(next_id)
        nearest = int(sim[r].argmax()) if sim.shape[1] else -1
        if nearest >= 0 and sim[r, nearest] >= min_cosine and int(old_ids[nearest]) in kept:
            split.setdefault(int(old_ids[nearest]), []).append(next_id)
        next_id += 1
    retired = sorted(int(i) for i in old_ids if int(i) not in kept)
    return ClusterMatch(ids, kept, new, retired, split)


# --- drift ---------------------------------------------------------------------------------


def drift_table(cluster_ids: np.ndarray, low_fit: np.ndarray, model: AnalysisModel) -> pd.DataFrame:
    """Per cluster: new passages, how many are low-fit and their share; the last row is the total."""
    df = pd.DataFrame({S.CLUSTER_ID: cluster_ids, LOW_FIT: low_fit})
    g = df.groupby(S.CLUSTER_ID)[LOW_FIT].agg(["size", "sum"]).reindex(model.cluster_ids, fill_value=0)
    table = pd.DataFrame({S.CLUSTER_ID: model.cluster_ids.astype(str), "label": model.labels,
                          "threshold": model.low_fit_threshold.round(4),
                          "new_passages": g["size"].to_numpy(), "new_low_fit": g["sum"].to_numpy()})
    total = pd.DataFrame({S.CLUSTER_ID: ["all"], "label": [""], "threshold": [np.nan],
                          "new_passages": [len(df)], "new_low_fit": [int(df[LOW_FIT].sum())]})
    table = pd.concat([table, total], ignore_index=True)
    table["low_fit_share"] = (table["new_low_fit"] / table["new_passages"].where(table["new_passages"] > 0)).round(4)
    return table


# --- extending a run -----------------------------------------------------------------------


@dataclass(frozen=True)
class Extension:
    """The result of `extend`: every table of a run, its manifest and its updated model."""

    tables: dict[str, pd.DataFrame]  # "frames" holds the new passages' rows only (see write)
    manifest: dict[str, Any]
    model: AnalysisModel
    drift: pd.DataFrame
    n_new_passages: int
    base_frames: Path  # the base run's frames table (BaseRun.frames_path), which the new rows extend

    def frames(self) -> pd.DataFrame:
        """The whole frames table: the base run's rows, then the new passages' rows."""
        return pd.concat([read_frames(self.base_frames), self.tables["frames"]], ignore_index=True)

    def stored_tables(self) -> dict[str, pd.DataFrame]:
        """The tables a stored run keeps (pipeline.ANALYSIS_TABLES, with the whole frames table) and the drift table."""
        from .pipeline import ANALYSIS_TABLES

        return {**{n: self.frames() if n == "frames" else self.tables[n] for n in ANALYSIS_TABLES},
                DRIFT_TABLE: self.tables[DRIFT_TABLE]}

    def write(self, out_dir: str | Path, *, xlsx: bool = False) -> list[Path]:
        """Every table, manifest and model into out_dir; frames.csv is the base table plus the new rows
        (a CSV base is copied and appended to, never parsed)."""
        from .export import to_csv_bytes, write_json, write_table
        from .pipeline import write_outputs

        out = Path(out_dir)
        if xlsx:  # the workbook needs the whole table in memory anyway
            tables = {**self.tables, "frames": self.frames()}
            return [*write_outputs(tables, self.manifest, out, xlsx=True), self.model.save(out / MODEL_DIR)]
        tables = {k: v for k, v in self.tables.items() if k != "frames"}
        written = write_outputs(tables, self.manifest, out)
        frames = out / "frames.csv"
        tmp = frames.with_suffix(".csv.tmp")
        if self.base_frames.suffix == ".csv":
            shutil.copyfile(self.base_frames, tmp)
        else:
            write_table(read_frames(self.base_frames), tmp)
        new_rows = to_csv_bytes(self.tables["frames"]).split(b"\r\n", 1)[1]  # without BOM and header
        with tmp.open("ab") as fh:
            fh.write(new_rows)
        tmp.replace(frames)
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        write_json({**manifest, "files": [*manifest.get("files", []), "frames.csv"]}, out / "manifest.json")
        return [*written, frames, self.model.save(out / MODEL_DIR)]


def _new_only(base: pd.DataFrame, new: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """New articles not already in the base run (same text and outlet), with ids that do not clash."""
    seen = {article_key(t, o) for t, o in zip(base[S.TEXT], base[S.OUTLET].fillna(""), strict=True)}
    keys = [article_key(t, o) for t, o in zip(new[S.TEXT], new[S.OUTLET].fillna(""), strict=True)]
    fresh = [k not in seen for k in keys]
    out = new[fresh].reset_index(drop=True).copy()
    out[S.ARTICLE_ID] = unique_ids(out[S.ARTICLE_ID].astype(str).tolist(), [k for k in keys if k not in seen],
                                   base[S.ARTICLE_ID].astype(str))
    return out, len(new) - len(out)


def _syndication_with_base(all_passages: pd.DataFrame, n_old: int, new_vectors: np.ndarray,
                           old_vectors: np.ndarray | None, params: SyndicationParams) -> tuple[pd.DataFrame, str]:
    """Syndication columns for old + new, recomputed only around the new passages.

    Copies must be near-identical in embedding (cosine >= params.cosine), so only old
    passages that close to a new one, and the groups they belong to, can change.
    """
    old = all_passages.iloc[:n_old]
    cols = [GROUP, ORIGIN, IS_COPY]
    out = pd.concat([old[cols], pd.DataFrame({GROUP: -1, ORIGIN: "", IS_COPY: False},
                                             index=range(n_old, len(all_passages)))])
    out[ORIGIN] = out[ORIGIN].fillna("").astype(str)
    out[IS_COPY] = out[IS_COPY].astype(bool)
    if old_vectors is None:
        near = np.zeros(0, int)
        note = "old passages' vectors not in the store: copies searched among the new passages only"
    else:
        best = (old_vectors @ new_vectors.T).max(axis=1) if len(new_vectors) and n_old else np.zeros(n_old)
        near = np.flatnonzero(best >= params.cosine)
        note = f"copies searched among the new passages and the {len(near)} old passages within cosine {params.cosine}"
    groups = set(old[GROUP].iloc[near][old[GROUP].iloc[near] >= 0])
    rows = np.union1d(near, np.flatnonzero(old[GROUP].isin(groups).to_numpy())).astype(int)
    rows = np.concatenate([rows, np.arange(n_old, len(all_passages))])
    vecs = np.vstack([old_vectors[rows[rows < n_old]] if old_vectors is not None else np.zeros((0, new_vectors.shape[1])),
                      new_vectors]).astype(np.float32)
    part = syndication(all_passages.iloc[rows].reset_index(drop=True), vecs, params)
    offset = int(out[GROUP].max()) + 1 if len(out) else 0
    part[GROUP] = np.where(part[GROUP] >= 0, part[GROUP] + max(offset, 0), -1)
    out.iloc[rows, out.columns.get_loc(GROUP)] = part[GROUP].to_numpy()
    out.iloc[rows, out.columns.get_loc(ORIGIN)] = part[ORIGIN].to_numpy()
    out.iloc[rows, out.columns.get_loc(IS_COPY)] = part[IS_COPY].to_numpy()
    return out.reset_index(drop=True), note


def _old_vectors(cache: Cache | None, model_id: str, hashes: Sequence[str]) -> np.ndarray | None:
    if cache is None:
        return None
    found = cache.get_vectors(model_id, hashes)
    if len(found) < len(set(hashes)):
        return None
    return np.stack([found[h] for h in hashes]).astype(np.float32) if len(hashes) else None


def extend(
    base: BaseRun,
    new_articles: pd.DataFrame,
    *,
    embedder: Embedder | None = None,
    cache: Cache | None = None,
    progress: StageProgress | None = None,
    rejected: pd.DataFrame | None = None,
    sources: Sequence[Mapping[str, Any]] = (),
    recluster: bool = False,
    k: int | None = None,
    drift_warn: float = DRIFT_WARN,
    key: str | None = None,
) -> Extension:
    """The base run plus `new_articles` (see module docstring); nothing of the base is re-embedded
    unless `recluster` (which reads the old vectors from the cache). `key` is the extension's run
    key, by default `extension_key` of the base and the new articles."""
    t0 = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(name: str, since: float) -> float:
        """Time a finished stage, and report it as pipeline.analyse does: (stage, 1, 1)."""
        now = time.perf_counter()
        timings[name] = round(now - since, 4)
        if progress:
            progress(name, 1, 1)
        return now

    model = base.model
    base_key = base.run_key
    key = key or extension_key(base_key, articles_digest(new_articles), recluster)
    config = PipelineConfig.from_dict(model.config).replace(
        period=model.period, **({"k": k} if recluster and k else {}))
    embedder = embedder or load_embedder(config.model, config.precision, config.batch_size)
    if embedder.model_id != model.model_id:
        raise ModelArtifactError(f"{base.folder}: the run was embedded with {model.model_id}, this encoder is "
                                 f"{embedder.model_id}; add data with the same --model and --precision")
    codebook = load_codebook(config.codebook)
    if codebook.digest() != model.frame_scorer.codebook_digest:
        raise ModelArtifactError(f"{base.folder}: the run used codebook {model.frame_scorer.codebook_name!r} "
                                 f"({model.frame_scorer.codebook_digest[:12]}); {config.codebook} differs")
    t = lap("load_model", t0)

    new, n_known = _new_only(base.articles, new_articles.reset_index(drop=True))
    gate = relevance(new)
    new[RELEVANT] = gate[RELEVANT].to_numpy() if config.relevance else True
    new[REASON] = gate[REASON].to_numpy()
    passages = split_passages(
        new[new[RELEVANT]], min_words=config.min_passage_words, max_tokens=config.max_passage_tokens,
        count=embedder.count_tokens, cache=cache,
        cache_key=split_key(embedder.model_id.split("/")[0], config.min_passage_words, config.max_passage_tokens),
    )
    t = lap("passages", t)
    emb = embed_texts(passages[S.TEXT].tolist(), passages[S.TEXT_HASH].tolist(), embedder, cache,
                      progress=(lambda d, n: progress("embed", d, n)) if progress else None)
    vectors = emb.vectors
    t = lap("embed", t)

    scorer = make_scorer(config, embedder, codebook, cache)
    scores = score_passages(scorer, codebook, vectors, passages[S.TEXT].tolist())
    t = lap("frames", t)

    old = base.passages
    n_old = len(old)
    need_old = recluster or n_old > 0
    old_vectors = _old_vectors(cache, model.model_id, old[S.TEXT_HASH].tolist()) if need_old else None
    t = lap("old_vectors", t)
    match: ClusterMatch | None = None
    if recluster:
        if old_vectors is None:
            raise FramescopeError("--recluster needs the base run's vectors in the embedding store; run it with the "
                                  "same --store as the base run")
        every = pd.concat([old[list(S.PASSAGE_COLUMNS)], passages[list(S.PASSAGE_COLUMNS)]], ignore_index=True)
        all_vectors = np.vstack([old_vectors, vectors])
        clustering = _cluster(config, every, all_vectors)
        match = match_clusters(model.cluster_ids, model.centroids, clustering.centroids)
        ids_all = match.ids[clustering.labels]
        thresholds = fit_thresholds(clustering.labels, clustering.similarity, clustering.k)
        low_all = low_fit_flags(clustering.labels, clustering.similarity, thresholds)
        new_ids, new_sims, new_low = ids_all[n_old:], clustering.similarity[n_old:], low_all[n_old:]
        old = old.assign(**{S.CLUSTER_ID: ids_all[:n_old], S.SIMILARITY: clustering.similarity[:n_old].round(4),
                            LOW_FIT: low_all[:n_old]})
        cluster_ids, centroids = match.ids, clustering.centroids
        new_positions = clustering.labels[n_old:]
    else:
        new_positions, new_sims = assign(vectors, model.centroids)
        new_ids = model.cluster_ids[new_positions]
        new_low = low_fit_flags(new_positions, new_sims, model.low_fit_threshold)
        cluster_ids, centroids, thresholds = model.cluster_ids, model.centroids, model.low_fit_threshold
    t = lap("cluster", t)

    coords = project_2d(vectors, (model.map_mean, model.map_axes))
    placeholder = {c: "" for c in (CLUSTER_LABEL,)}
    new_passages = annotate_passages(
        passages, new, new_ids, {int(c): placeholder[CLUSTER_LABEL] for c in cluster_ids}, new_sims, new_low, scores,
        pd.DataFrame({GROUP: np.full(len(passages), -1), ORIGIN: "", IS_COPY: False}), coords,
    )
    every = pd.concat([old, new_passages], ignore_index=True)
    synd, synd_note = _syndication_with_base(
        every, n_old, vectors, old_vectors,
        SyndicationParams(cosine=config.syndication_cosine, jaccard=config.syndication_jaccard))
    for c in synd.columns:
        every[c] = synd[c].to_numpy()
    t = lap("syndication", t)

    from .labeling import cluster_table

    position = {int(c): i for i, c in enumerate(cluster_ids)}
    positions = every[S.CLUSTER_ID].map(position).to_numpy(dtype=int)
    clusters = cluster_table(every, positions, every[S.SIMILARITY].to_numpy(dtype=np.float32),
                             n_terms=config.n_label_terms, n_representatives=config.n_representatives,
                             seed=config.seed, low_fit=every[LOW_FIT].astype(bool).to_numpy())
    clusters[S.CLUSTER_ID] = np.asarray(cluster_ids, dtype=int)
    label_of = dict(zip(clusters[S.CLUSTER_ID], clusters["label"], strict=True))
    every[CLUSTER_LABEL] = every[S.CLUSTER_ID].map(label_of)
    t = lap("label", t)

    new_clustering = Clustering(new_ids, centroids, new_sims, len(cluster_ids), "assigned to the base run's centroids")
    new_table = _article_table(new, new_passages, new_clustering, scores, label_of)
    old_articles = base.articles
    if recluster:
        from .labeling import main_cluster

        main = main_cluster(every, every[S.CLUSTER_ID].to_numpy(), every[S.SIMILARITY].to_numpy())
        old_articles = old_articles.assign(
            **{MAIN_CLUSTER_ID: old_articles[S.ARTICLE_ID].map(main).fillna(-1).astype("int64")})
    old_articles = old_articles.assign(**{CLUSTER_LABEL: old_articles[MAIN_CLUSTER_ID].map(label_of).fillna("")})
    articles = pd.concat([old_articles, new_table], ignore_index=True)
    frames = scores.long_table(passages[S.PASSAGE_ID])
    rejected_all = pd.concat([base.rejected, rejected], ignore_index=True) if rejected is not None else base.rejected
    tables = {
        "articles": articles, "passages": every, "clusters": clusters, "frames": frames,
        **summary_tables(every, list(scores.frame_ids), label_of, config),
        "syndication": syndication_table(every), "excluded": excluded_table(articles), "rejected": rejected_all,
    }
    t = lap("aggregates", t)

    drift_model = model if not recluster else dataclasses.replace(
        model, cluster_ids=np.asarray(cluster_ids), labels=tuple(clusters["label"]),
        low_fit_threshold=np.asarray(thresholds, np.float32))
    drift = drift_table(new_ids, new_low, drift_model)
    tables[DRIFT_TABLE] = drift
    overall = float(drift["low_fit_share"].iloc[-1]) if len(passages) else 0.0
    event = {"created_utc": pd.Timestamp.now("UTC").isoformat(timespec="seconds"),
             "kind": "recluster" if recluster else "add", "new_articles": len(new), "new_passages": len(passages),
             "low_fit_share_new": round(overall, 4), **({"match": match.as_dict()} if match else {})}
    updated = build_model(
        model_id=model.model_id, cluster_ids=np.asarray(cluster_ids), centroids=centroids, clusters=clusters,
        positions=positions, similarity=every[S.SIMILARITY].to_numpy(dtype=np.float32),
        frame_scorer=model.frame_scorer, map_axes=(model.map_mean, model.map_axes), period=model.period,
        config=config.as_dict(), run_key=key, thresholds=thresholds,
        drift_reference=None if recluster else model.drift_reference, history=(*model.history, event),
    )
    timings["total"] = round(time.perf_counter() - t0, 4)
    old_kept = float((base.passages[S.CLUSTER_ID].to_numpy() == every[S.CLUSTER_ID].to_numpy()[:n_old]).mean()) \
        if n_old else 1.0
    manifest = {
        **{k_: v for k_, v in base.manifest.items() if k_ not in ("files", "timings_s", "reused_run")},
        "run_key": key, "base_run_key": base_key,
        "created_utc": pd.Timestamp.now("UTC").isoformat(timespec="seconds"),
        "inputs": [*base.manifest.get("inputs", []), *sources],
        "config": config.as_dict(),
        "clustering": {"k": len(cluster_ids), "criterion": "re-clustered, ids matched to the base run"
                       if recluster else "base run's centroids (incremental)",
                       "cluster_ids": [int(c) for c in cluster_ids]},
        "incremental": {
            "base": str(base.folder), "base_run_key": base_key, "recluster": recluster,
            "new_articles": len(new), "articles_already_in_base": n_known, "new_passages": len(passages),
            "passages_embedded_now": emb.n_embedded, "old_passages": n_old,
            "old_passages_keeping_cluster_id": round(old_kept, 6),
            "low_fit_share_new": round(overall, 4), "drift_warn_level": drift_warn,
            "drift_warning": overall > drift_warn,
            "drift_reference_percentile": 5, "syndication": synd_note,
            **({"match": match.as_dict()} if match else {}),
        },
        "counts": {**base.manifest.get("counts", {}), "articles": len(articles),
                   "articles_relevant": int(articles[RELEVANT].astype(bool).sum()), "passages": len(every),
                   "passages_embedded_now": emb.n_embedded, "low_fit_passages": int(every[LOW_FIT].astype(bool).sum())},
        "timings_s": timings,
    }
    return Extension(tables, manifest, updated, drift, len(passages), base.frames_path)


# --- the CLI's model saving and the --base / --engine paths --------------------------------


def save_run_model(out: RunOutput, config: PipelineConfig, out_dir: str | Path, *, store_path: Any = None) -> Path:
    """Write the run's fitted model into OUT/model: when the run itself was reused from the store,
    the model stored with it, else one rebuilt from the stored tables and the vector cache."""
    if out.analysis is not None:
        model = out.analysis.model
    else:
        from .store import Store

        store = Store(store_path)
        try:
            model = store.run_model(out.key) or model_from_tables(out.tables["passages"], out.tables["clusters"],
                                                                  config, store)
        finally:
            store.close()
    return dataclasses.replace(model, run_key=out.key).save(Path(out_dir) / MODEL_DIR)


def model_from_tables(passages: pd.DataFrame, clusters: pd.DataFrame, config: PipelineConfig, cache: Cache,
                      embedder: Embedder | None = None) -> AnalysisModel:
    """The model of a run that has none saved: centroids are the normalised means of its clusters'
    cached vectors, which is where k-means left them."""
    from .model_artifact import frame_scorer_spec
    from .projection import map_axes

    embedder = embedder or load_embedder(config.model, config.precision, config.batch_size)
    vectors = _old_vectors(cache, embedder.model_id, passages[S.TEXT_HASH].tolist())
    if vectors is None:
        raise FramescopeError("the stored run's vectors are not in the store; re-run with another --store")
    codebook = load_codebook(config.codebook)
    scorer = make_scorer(config, embedder, codebook, cache)
    ids = clusters[S.CLUSTER_ID].to_numpy(dtype=int)
    positions = pd.Series(range(len(ids)), index=ids)[passages[S.CLUSTER_ID].to_numpy()].to_numpy()
    sums = np.zeros((len(ids), vectors.shape[1]))
    np.add.at(sums, positions, vectors)
    centroids = sums / np.maximum(np.linalg.norm(sums, axis=1, keepdims=True), 1e-12)
    zs = getattr(scorer, "score", None)
    thresholds = zs(vectors[:1]).thresholds if zs and len(vectors) else np.full(len(codebook.ids), 0.5)
    return build_model(
        model_id=embedder.model_id, cluster_ids=ids, centroids=centroids, clusters=clusters, positions=positions,
        similarity=passages[S.SIMILARITY].to_numpy(dtype=np.float32),
        frame_scorer=frame_scorer_spec(scorer, codebook, thresholds), map_axes=map_axes(vectors),
        period=A.resolve_period(config.period, passages[S.DATE]), config=config.as_dict(),
    )


def extension_key(base_key: str, new_articles_digest: str, recluster: bool) -> str:
    """The run key of `base_key` extended with articles of `new_articles_digest`
    (`pipeline.articles_digest`): sha256 of a payload no content key (`pipeline.run_key`) has."""
    payload = json.dumps({"extension_of": base_key, "articles": new_articles_digest, "recluster": bool(recluster),
                          "code": code_digest()}, sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def run_extension(
    store: Any,
    base_key: str,
    key: str,
    new_articles: pd.DataFrame,
    *,
    embedder: Embedder | None = None,
    owner: str,
    recluster: bool = False,
    sources: Sequence[Mapping[str, Any]] = (),
    progress: StageProgress | None = None,
    claimed: bool = False,
    stale_s: float = 600.0,
    poll_s: float = 0.5,
) -> dict[str, Any]:
    """Compute the extension `key` of the stored run `base_key` once, as `pipeline.run` does a
    content key: a finished one is not recomputed (its manifest is returned), one another caller
    computes is waited for, otherwise it is claimed (unless `claimed`), extended (`extend`) and
    stored with its tables and model (`pipeline.compute_once`); on an error the run is marked failed."""

    def compute() -> tuple[dict[str, pd.DataFrame], dict[str, Any], AnalysisModel]:
        base = stored_base(store, base_key, embedder=embedder)
        ext = extend(base, new_articles, embedder=embedder, cache=store, progress=progress, sources=sources,
                     recluster=recluster, key=key)
        return ext.stored_tables(), ext.manifest, ext.model

    params = {"base_run_key": base_key, "recluster": recluster, "new_articles": len(new_articles)}
    stored = compute_once(store, key, params, owner, compute, claimed=claimed, stale_s=stale_s, poll_s=poll_s,
                          progress=progress)
    return stored[1] if stored is not None else store.run_manifest(key)


def print_drift(drift: pd.DataFrame, level: float, stream=sys.stderr) -> bool:
    """Print the drift table; True (and a warning) when the overall share passes `level`."""
    overall = drift.iloc[-1]
    share = float(overall["low_fit_share"]) if pd.notna(overall["low_fit_share"]) else 0.0
    print(f"framescope: drift: {int(overall['new_low_fit'])} of {int(overall['new_passages'])} new passages "
          f"({share:.1%}) fall below their cluster's threshold (the base run's 5th percentile; 5 % expected)",
          file=stream)
    for _, r in drift.iloc[:-1].iterrows():
        if r["new_passages"] and pd.notna(r["low_fit_share"]) and r["low_fit_share"] > level:
            print(f"  cluster {r[S.CLUSTER_ID]} ({r['label']}): {int(r['new_low_fit'])} of {int(r['new_passages'])} "
                  f"new passages low-fit ({r['low_fit_share']:.0%})", file=stream)
    if share > level:
        print(f"framescope: warning: drift {share:.1%} is above {level:.0%}: the new articles fit the base clusters "
              "poorly; re-cluster with --recluster (ids of clusters that persist are kept)", file=stream)
        return True
    return False


def cmd_run_scaled(args: Any, config: PipelineConfig) -> int:
    """`framescope run --base RUN_DIR` and `--engine dask`."""
    if args.engine == "dask":
        try:
            from .engine_dask import cmd_run_dask
        except ImportError as exc:
            raise FramescopeError(f"--engine dask needs Dask ({exc.name} is missing): pip install -e '.[scale]'") from None

        return cmd_run_dask(args, config)
    from .cli import _mapping
    from .config import default_store_path
    from .ingest import ingest
    from .pipeline import sources_of
    from .store import Store

    if not args.inputs:
        raise FramescopeError("--base needs the new INPUT file(s) to add")
    t0 = time.perf_counter()
    store_path = None if args.no_store else Path(args.store or default_store_path())
    # --base: a run folder, or the key of a finished run in an existing store (e.g. a dashboard's run)
    by_key = store_path is not None and store_path.is_file() and not Path(args.base).is_dir()
    base = None if by_key else read_run(args.base)  # a folder, or its one-line error before any work
    result = ingest(args.inputs, mapping=_mapping(args.map), dayfirst=args.dayfirst, limits=COMMAND_LINE_LIMITS)
    store = None if store_path is None else Store(store_path)
    try:
        if base is None:
            base = stored_base(store, args.base) if store.run_path(args.base) is not None else read_run(args.base)
        ext = extend(base, result.articles, cache=store, rejected=result.rejected, sources=sources_of(result),
                     recluster=args.recluster, k=config.k, drift_warn=args.drift_warn)
    finally:
        if store is not None:
            store.close()
    written = ext.write(args.out, xlsx=args.xlsx)
    if not args.quiet:
        inc = ext.manifest["incremental"]
        print(f"framescope: added {inc['new_articles']} articles ({inc['articles_already_in_base']} already in the "
              f"base), {inc['new_passages']} new passages ({inc['passages_embedded_now']} embedded now) to "
              f"{inc['old_passages']} old ones; {len(written)} files in {args.out} in {time.perf_counter() - t0:.1f}s",
              file=sys.stderr)
        if args.recluster:
            m = inc["match"]
            print(f"framescope: re-clustered: ids kept {sorted(int(k) for k in m['kept'])}, new {m['new']}, "
                  f"retired {m['retired']}, split {m['split']}; {inc['old_passages_keeping_cluster_id']:.1%} of old "
                  "passages keep their cluster id", file=sys.stderr)
        print_drift(ext.drift, args.drift_warn)
    return 0
