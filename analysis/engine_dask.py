"""`framescope run --engine dask`: the same stages mapped over partitions by Dask.

Partitions are blocks of articles (each input file, cut into blocks of `partition_rows`).
Each worker loads the encoder and the frame scorer once (`StageWorker`, a Dask
WorkerPlugin) and runs, per partition, the in-process engine's own stage functions:
relevance → split_passages → embed_texts (vectors cached in a Parquet folder per
partition, not in SQLite) → frame scores. The client then

1. fits k-means (clustering.cluster_embeddings) on a reproducible sample: each partition
   gives a seeded share of its vectors, so the sample depends on the data and the seed,
   never on scheduling;
2. sends the centroids back: every partition is assigned (clustering.assign), scored for
   low fit, projected on the sample's map axes, counts its label terms per cluster
   (labeling.term_counts), and finds its copies inside the partition with MinHash LSH;
3. finds copies across partitions on the workers, by a shuffle of the LSH band keys through
   the work folder: pass 2 leaves each partition's keys sorted into buckets (key mod the
   number of partitions); a task per bucket reads that bucket of every partition and pairs
   each holder of a key held in two or more partitions with the key's representative
   (syndication.representative_links: linear in the holders, so a story reprinted across
   hundreds of partitions costs hundreds of checks, not their square); each partition then
   verifies its candidates against the representatives' rows, read from their work folders
   one partition at a time (trigram Jaccard and cosine, exactly as inside a partition). Only
   the verified pairs and the members' dates and ids reach the client, which forms copy
   groups over all pairs (syndication.copy_groups), so a paragraph reprinted across
   partitions is one group;
4. writes, per partition, its passages and frames as Parquet files
   `passages/part-NNNNN.parquet`, `frames/part-NNNNN.parquet`, sums the per-partition
   term counts into c-TF-IDF labels (labeling.ctfidf_from_counts), and adds up the
   partitions' sums: cluster sizes by outlet (labeling.cluster_outlet_stats) and the cells
   of every aggregate table (pipeline.summary_sums: per cell, sums over its articles), from
   which the tables are made as in the in-process engine (pipeline.summary_from_sums). Only
   article rows, cluster assignments and these sums reach the client, never a row per
   passage. The fitted model is saved like any run's.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import aggregates as A
from . import schema as S
from .clustering import Clustering, assign, cluster_embeddings
from .codebook import load_codebook
from .config import COMMAND_LINE_LIMITS, PipelineConfig
from .embeddings import Embedder, embed_texts, load_embedder
from .errors import FramescopeError
from .framing import FrameScores
from .labeling import (
    add_cluster_outlet_stats,
    cluster_outlet_stats,
    cluster_table,
    ctfidf_from_counts,
    label_from_terms,
    term_counts,
    top_terms,
)
from .model_artifact import MODEL_DIR, build_model, fit_thresholds, frame_scorer_spec, low_fit_flags
from .passages import split_key, split_passages
from .pipeline import (
    _article_table,
    add_summary_sums,
    annotate_passages,
    canonical_order,
    excluded_table,
    make_scorer,
    score_passages,
    summary_from_sums,
    summary_sums,
)
from .projection import map_axes, project_2d
from .relevance import REASON, RELEVANT, relevance
from .reprints import counted_passages
from .static_encoder import FAST_MODEL
from .syndication import (
    GROUP,
    SyndicationParams,
    band_keys,
    copy_groups,
    no_copies,
    pairs_sharing_a_key,
    representative_links,
    syndication_table,
    trigram_sets,
    verify,
)

PLUGIN = "framescope-stages"
_VECTOR = "vector"


class ParquetVectorCache:
    """The embedding cache of one partition: `<folder>/<model id>/<partition key>/*.parquet`.

    A folder per partition suits a shared or network file system (no locking, one writer per
    folder); each chunk the encoder finishes is a file of its own, so saving costs the chunk,
    not a rewrite of everything saved before (that was quadratic: 34k passages took minutes).
    A re-run of the same partition reads its vectors back instead of encoding.
    """

    def __init__(self, folder: Path, key: str) -> None:
        self.folder, self.key = Path(folder), key

    def _dir(self, model_id: str) -> Path:
        return self.folder / hashlib.sha256(model_id.encode()).hexdigest()[:16] / self.key

    def get_vectors(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        import pyarrow as pa
        import pyarrow.parquet as pq

        files = sorted(self._dir(model_id).glob("*.parquet"))
        if not files:
            return {}
        table = pa.concat_tables([pq.read_table(f) for f in files])
        column = table[_VECTOR].combine_chunks()
        flat = column.flatten().to_numpy(zero_copy_only=False).astype(np.float32, copy=False)
        vectors = flat.reshape(len(table), column.type.list_size)
        return dict(zip(table[S.TEXT_HASH].to_pylist(), vectors, strict=True))

    def put_vectors(self, model_id: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        x = np.ascontiguousarray(vectors, dtype=np.float32)
        if not len(x):
            return
        folder = self._dir(model_id)
        folder.mkdir(parents=True, exist_ok=True)
        table = pa.table({S.TEXT_HASH: pa.array(list(hashes), pa.string()),
                          _VECTOR: pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), x.shape[1])})
        path = folder / f"{time.time_ns()}-{hashes[0][:12]}.parquet"
        tmp = path.with_suffix(".tmp")
        pq.write_table(table, tmp)
        tmp.replace(path)


def _dask_plugin_base():
    from distributed import WorkerPlugin

    return WorkerPlugin


class StageWorker(_dask_plugin_base()):
    """Loads the encoder and the frame scorer once per worker."""

    name = PLUGIN

    def __init__(self, config: PipelineConfig, embedder_factory: Callable[[], Embedder] | None = None) -> None:
        self.config = config
        self.embedder_factory = embedder_factory

    def setup(self, worker: Any) -> None:
        c = self.config
        if self.embedder_factory is None and c.model != FAST_MODEL:  # a worker's encoder uses its own threads only, or workers fight over cores
            import torch

            torch.set_num_threads(max(1, int(getattr(worker.state, "nthreads", 1) or 1)))
        self.embedder = self.embedder_factory() if self.embedder_factory else load_embedder(
            c.model, c.precision, c.batch_size)
        self.codebook = load_codebook(c.codebook)
        self.scorer = make_scorer(c, self.embedder, self.codebook)


def _stages() -> StageWorker:
    from distributed import get_worker

    return get_worker().plugins[PLUGIN]


def _partition_key(articles: pd.DataFrame) -> str:
    h = hashlib.sha256()
    for t in articles[S.TEXT]:
        h.update(hashlib.sha256(str(t).encode()).digest())
    return h.hexdigest()[:20]


@dataclass(frozen=True)
class PartRef:
    """A partition between passes: what a worker left of it on disk, in the run's work folder
    (`OUT/_work/part-NNNNN/`, on the file system the workers share with the client). Workers hold
    no partition in memory between passes, so a worker's memory is that of one partition at a
    time, whatever the number of partitions it processes."""

    index: int
    folder: str
    cache_key: str
    n_passages: int

    def path(self, name: str) -> Path:
        return Path(self.folder) / name

    def table(self, name: str, columns: Sequence[str] | None = None) -> pd.DataFrame:
        return pd.read_parquet(self.path(f"{name}.parquet"), columns=list(columns) if columns else None)

    def put(self, name: str, table: pd.DataFrame) -> None:
        table.to_parquet(self.path(f"{name}.parquet"), index=False)

    def vectors(self) -> np.ndarray:
        """The partition's passage vectors, saved by pass 1."""
        return np.load(self.path("vectors.npy"), allow_pickle=False)

    def arrays(self, name: str) -> dict[str, np.ndarray]:
        with np.load(self.path(f"{name}.npz"), allow_pickle=False) as z:
            return {k: z[k] for k in z.files}

    def scores(self, frame_ids: Sequence[str]) -> FrameScores:
        a = self.arrays("scores")
        evidence = self.table("evidence").to_numpy(dtype=object).reshape(a["scores"].shape)
        return FrameScores(tuple(frame_ids), a["scores"], a["present"], evidence, a["thresholds"])


def _work_dir(out_dir: Path) -> Path:
    return Path(out_dir) / "_work"


def embed_partition(index: int, articles: pd.DataFrame, cache_dir: str, work_dir: str) -> PartRef:
    """Pass 1 on a worker: relevance, passages, embeddings (cached), frame scores, left on disk."""
    w = _stages()
    c = w.config
    articles = articles.reset_index(drop=True).copy()
    gate = relevance(articles)
    articles[RELEVANT] = gate[RELEVANT].to_numpy() if c.relevance else True
    articles[REASON] = gate[REASON].to_numpy()
    passages = split_passages(
        articles[articles[RELEVANT]], min_words=c.min_passage_words, max_tokens=c.max_passage_tokens,
        count=w.embedder.count_tokens,
        cache_key=split_key(w.embedder.model_id.split("/")[0], c.min_passage_words, c.max_passage_tokens),
    )
    key = _partition_key(articles)
    vectors = embed_texts(passages[S.TEXT].tolist(), passages[S.TEXT_HASH].tolist(), w.embedder,
                          ParquetVectorCache(Path(cache_dir), key)).vectors
    scores = score_passages(w.scorer, w.codebook, vectors, passages[S.TEXT].tolist())
    ref = PartRef(index, str(Path(work_dir) / f"part-{index:05d}"), key, len(passages))
    ref.path("").mkdir(parents=True, exist_ok=True)
    ref.put("articles", articles)
    ref.put("passages", passages)
    np.save(ref.path("vectors.npy"), vectors)  # the later passes read these, not the cache again
    np.savez(ref.path("scores.npz"), scores=scores.scores, present=scores.present, thresholds=scores.thresholds)
    # dictionary-encoded: a few prototype texts repeated (astype(str) made a fixed-width copy: +1.3 GB)
    ref.put("evidence", pd.DataFrame(scores.evidence, columns=list(scores.frame_ids)).astype("category"))
    return ref


def sample_partition(ref: PartRef, share: float, seed: int) -> np.ndarray:
    """A seeded share of the partition's vectors, for fitting k-means on the client."""
    x = ref.vectors()
    rng = np.random.default_rng([seed, ref.index])
    take = rng.random(len(x)) < share
    return x[take]


def assign_partition(ref: PartRef, centroids: np.ndarray, axes: tuple[np.ndarray, np.ndarray],
                     labels_per_cluster: int, seed: int, buckets: int) -> dict[str, Any]:
    """Pass 2 on a worker: nearest centroid, map, term counts, copies inside the partition.

    Leaves the assignments, map coordinates, inside copies and the LSH band keys (sorted into
    `buckets` for the cross-partition shuffle) on disk and returns what the client needs:
    assignments, cosines and term counts."""
    c = _stages().config
    passages = ref.table("passages", [S.TEXT, S.OUTLET])
    x = ref.vectors()
    positions, sims = assign(x, centroids)
    k = len(centroids)
    rng = np.random.default_rng([seed, ref.index, 1])
    texts = passages[S.TEXT].to_numpy()
    docs = []
    for cl in range(k):
        idx = np.flatnonzero(positions == cl)
        if len(idx) > labels_per_cluster:
            idx = np.sort(rng.choice(idx, labels_per_cluster, replace=False))
        docs.append(" ".join(texts[idx]))
    terms, counts = term_counts(docs)
    params = _synd_params(c)
    trigrams = trigram_sets(texts.astype(str).tolist())
    keys = band_keys(trigrams, params)
    outlets = passages[S.OUTLET].to_numpy()
    local = verify(trigrams, x, outlets, pairs_sharing_a_key(keys), params)
    np.savez(ref.path("assigned.npz"), positions=positions, sims=sims, coords=project_2d(x, axes))
    ref.put("local_pairs", local)
    _save_key_buckets(ref, keys, pd.util.hash_array(outlets.astype(str).astype(object)), buckets)
    return {"terms": terms, "counts": counts, "positions": positions, "similarity": sims}


_KEY_FILES = ("bucket_keys", "bucket_rows", "bucket_outlets")


def _save_key_buckets(ref: PartRef, keys: np.ndarray, outlet_hash: np.ndarray, buckets: int) -> None:
    """The partition's side of the key shuffle: every (band key, row, outlet hash), sorted by
    bucket (key mod `buckets`) with the bucket offsets, so a bucket's task reads one slice."""
    rows = np.repeat(np.arange(len(keys), dtype=np.int64), keys.shape[1])
    flat = keys.ravel()
    keep = flat != 0  # passages without a trigram pair with nothing
    flat, rows = flat[keep], rows[keep]
    bucket = (flat % np.uint64(buckets)).astype(np.int64)
    order = np.argsort(bucket, kind="stable")
    for name, values in zip(_KEY_FILES, (flat[order], rows[order], outlet_hash[rows[order]]), strict=True):
        np.save(ref.path(f"{name}.npy"), values)
    np.save(ref.path("bucket_starts.npy"), np.searchsorted(bucket[order], np.arange(buckets + 1)))


def _synd_params(c: PipelineConfig) -> SyndicationParams:
    return SyndicationParams(cosine=c.syndication_cosine, jaccard=c.syndication_jaccard)


def bucket_links(refs: list[PartRef], bucket: int) -> np.ndarray:
    """One bucket of the key shuffle: its keys in every partition, and the candidate pairs of
    holders in different partitions with their key's representative (partition, row, rep
    partition, rep row)."""
    cols: dict[str, list[np.ndarray]] = {"keys": [], "part": [], "row": [], "outlet": []}
    for ref in refs:
        lo, hi = np.load(ref.path("bucket_starts.npy"))[bucket:bucket + 2]
        if hi == lo:
            continue
        keys, rows, outlets = (np.load(ref.path(f"{n}.npy"), mmap_mode="r")[lo:hi] for n in _KEY_FILES)
        cols["keys"].append(np.asarray(keys))
        cols["row"].append(np.asarray(rows))
        cols["outlet"].append(np.asarray(outlets))
        cols["part"].append(np.full(hi - lo, ref.index, np.int64))
    if len(cols["part"]) < 2:
        return np.zeros((0, 4), np.int64)
    return representative_links(*(np.concatenate(cols[c]) for c in ("keys", "part", "row", "outlet")))


def rows_for_checking(ref: PartRef, rows: np.ndarray) -> dict[str, Any]:
    """The texts, vectors and outlets of some of a partition's rows, read from its work folder."""
    p = ref.table("passages", [S.TEXT, S.OUTLET])
    x = np.load(ref.path("vectors.npy"), mmap_mode="r")
    return {"rows": rows, "texts": p[S.TEXT].to_numpy()[rows].astype(str).tolist(), "vectors": np.asarray(x[rows]),
            "outlets": p[S.OUTLET].to_numpy()[rows]}


def verify_links(ref: PartRef, links: np.ndarray, parts: list[PartRef]) -> np.ndarray:
    """Checks the partition's candidate pairs (row, rep partition, rep row) as inside a
    partition (syndication.verify) and returns those that are copies as (partition, row, rep
    partition, rep row). The representatives' rows are read from their partitions' work
    folders one partition at a time, so the task holds its own rows and one other partition's
    (passing them between tasks instead left every asker's rows in worker memory at once and
    went past 2.4 GiB per worker at 1M passages)."""
    from scipy.sparse import vstack

    params = _synd_params(_stages().config)
    own_rows = np.unique(links[:, 0])
    own = rows_for_checking(ref, own_rows)
    own_trigrams = trigram_sets(own["texts"])
    found = [np.zeros((0, 3), np.int64)]
    for q in np.unique(links[:, 1]):
        mine = links[links[:, 1] == q]
        rep = rows_for_checking(parts[int(q)], np.unique(mine[:, 2]))
        # only the own rows paired with this partition: not a copy of the whole block per partition
        used, at = np.unique(np.searchsorted(own_rows, mine[:, 0]), return_inverse=True)
        pairs = np.stack([at, len(used) + np.searchsorted(rep["rows"], mine[:, 2])], axis=1)
        copies = verify(vstack([own_trigrams[used], trigram_sets(rep["texts"])]).tocsr(),
                        np.vstack([own["vectors"][used], rep["vectors"]]),
                        np.concatenate([own["outlets"][used], rep["outlets"]]), pairs, params)
        size = len(used) + len(rep["rows"])
        checked = pairs[:, 0] * size + pairs[:, 1]
        found.append(mine[np.isin(checked, copies["i"].to_numpy(np.int64) * size + copies["j"].to_numpy(np.int64))])
    verified = np.concatenate(found)
    return np.column_stack([np.full(len(verified), ref.index, np.int64), verified])


def copy_members(ref: PartRef, cross_rows: np.ndarray) -> dict[str, Any]:
    """The partition's copies for grouping: its inside pairs, and the dates and ids of every
    passage in a copy pair inside it or across partitions."""
    local = ref.table("local_pairs")
    members = np.union1d(cross_rows, np.concatenate([local["i"], local["j"]]).astype(np.int64))
    p = ref.table("passages", [S.DATE, S.PASSAGE_ID])
    return {"local": local, "members": members, "dates": p[S.DATE].to_numpy()[members],
            "passage_ids": p[S.PASSAGE_ID].astype(str).to_numpy()[members], "n": len(p)}


def finish_partition(ref: PartRef, out_dir: str, thresholds: np.ndarray, label_of: dict[int, str],
                     synd: pd.DataFrame, count_syndicated: str) -> dict[str, Any]:
    """Pass 3 on a worker: low fit, the passages and frames Parquet parts, and the client's share:
    the article rows (without their text, which the client has), cluster sizes by outlet, and the
    date spans of the passages and of the rows the aggregates count (left on disk for the sums)."""
    w = _stages()
    articles, passages = ref.table("articles"), ref.table("passages")
    a = ref.arrays("assigned")
    scores = ref.scores(w.codebook.ids)
    low = low_fit_flags(a["positions"], a["sims"], thresholds)
    annotated = annotate_passages(passages, articles, a["positions"], label_of, a["sims"], low, scores, synd,
                                  a["coords"])
    out = Path(out_dir)
    for name, table in (("passages", annotated), ("frames", scores.long_table(passages[S.PASSAGE_ID]))):
        (out / name).mkdir(parents=True, exist_ok=True)
        table.to_parquet(out / name / f"part-{ref.index:05d}.parquet", index=False)
    clustering = Clustering(a["positions"], np.zeros((0, 0)), a["sims"], len(thresholds), "dask")
    rows = _article_table(articles, annotated, clustering, scores, label_of)
    slim = annotated.drop(columns=[S.TEXT, S.TITLE], errors="ignore")
    counted = counted_passages(slim, count_syndicated)
    ref.put("counted", counted)
    return {"articles": rows.assign(**{S.TEXT: None}),  # the client has the text: not sent back
            "outlet_stats": cluster_outlet_stats(slim, a["positions"]),
            "span": A.date_span(slim[S.DATE]), "counted_span": A.date_span(counted[S.DATE])}


def partition_summary_sums(ref: PartRef, frame_ids: list[str], cluster_ids: list[int], period: str) -> dict[str, Any]:
    return summary_sums(ref.table("counted"), frame_ids, cluster_ids, period)


# --- the client --------------------------------------------------------------------------


@dataclass(frozen=True)
class DaskRun:
    tables: dict[str, pd.DataFrame]
    manifest: dict[str, Any]
    model: Any  # AnalysisModel


def article_blocks(articles: pd.DataFrame, partition_rows: int) -> list[pd.DataFrame]:
    """Articles cut into blocks, one per source file and at most `partition_rows` each."""
    blocks = []
    groups = articles.groupby(S.SOURCE_FILE, sort=False) if S.SOURCE_FILE in articles else [(None, articles)]
    for _, g in groups:
        for i in range(0, len(g), partition_rows):
            blocks.append(g.iloc[i:i + partition_rows])
    return blocks or [articles]


def run_dask(
    articles: pd.DataFrame,
    config: PipelineConfig,
    client: Any,
    out_dir: str | Path,
    *,
    cache_dir: str | Path,
    partition_rows: int = 20_000,
    sample: int = 100_000,
    centroids: np.ndarray | None = None,
    embedder_factory: Callable[[], Embedder] | None = None,
    rejected: pd.DataFrame | None = None,
    sources: Sequence[dict[str, Any]] = (),
    log: Callable[[str], None] = lambda m: None,
) -> DaskRun:
    """Every stage over partitions on `client`; `centroids` skips fitting (assign to given ones)."""
    config = config.validated()
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    out_dir, cache_dir = Path(out_dir), Path(cache_dir)
    for stale in ("passages", "frames"):  # parts of an earlier run in the same folder
        shutil.rmtree(out_dir / stale, ignore_errors=True)
    client.register_plugin(StageWorker(config, embedder_factory), name=PLUGIN)
    work = _work_dir(out_dir)
    shutil.rmtree(work, ignore_errors=True)
    blocks = article_blocks(canonical_order(articles), partition_rows)  # the order analyse uses
    scattered = client.scatter(blocks)  # the article blocks go to the workers once, not inside the task graph
    parts: list[PartRef] = client.gather([client.submit(embed_partition, i, b, str(cache_dir), str(work), pure=False)
                                          for i, b in enumerate(scattered)])
    del scattered  # released on the workers: from here each pass reads its partition from disk
    n = int(sum(p.n_passages for p in parts))
    timings["embed_and_frames"] = round(time.perf_counter() - t0, 3)
    log(f"  passages, embeddings and frame scores of {n} passages in {len(blocks)} partitions: "
        f"{timings['embed_and_frames']:.1f}s")
    t = time.perf_counter()
    share = min(1.0, sample / max(n, 1))
    xs = np.vstack([s for s in client.gather([client.submit(sample_partition, p, share, config.seed)
                                               for p in parts]) if len(s)] or [np.zeros((0, 1), np.float32)])
    if centroids is None:
        fitted = cluster_embeddings(xs, config.k, k_min=config.k_min, k_max=config.k_max, seed=config.seed)
        centroids, criterion, k_scores = fitted.centroids, fitted.criterion, fitted.k_scores
    else:
        criterion, k_scores = "given centroids", {}
    axes = map_axes(xs)
    timings["cluster_fit"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    k = len(centroids)
    per_cluster = max(1, 1500 // max(len(blocks), 1))
    assigned = client.gather([client.submit(assign_partition, p, centroids, axes, per_cluster, config.seed,
                                            len(parts), pure=False) for p in parts])
    positions = np.concatenate([a["positions"] for a in assigned]) if assigned else np.zeros(0, int)
    sims = np.concatenate([a["similarity"] for a in assigned]) if assigned else np.zeros(0, np.float32)
    thresholds = fit_thresholds(positions, sims, k)
    terms, weights = _summed_term_weights(assigned, k)
    del assigned
    timings["assign"] = round(time.perf_counter() - t, 3)
    label_of = {c: label_from_terms(t) for c, t in enumerate(
        top_terms(terms, weights, config.n_label_terms) if len(terms) else [[] for _ in range(k)])}
    t = time.perf_counter()
    synd = _copies_across_partitions(client, parts)
    timings["syndication"] = round(time.perf_counter() - t, 3)
    t = time.perf_counter()
    outputs = client.gather([client.submit(finish_partition, p, str(out_dir), thresholds, label_of, s,
                                           config.count_syndicated, pure=False) for p, s in zip(parts, synd, strict=True)])
    art = _with_text(pd.concat([o["articles"] for o in outputs], ignore_index=True), articles)
    low = low_fit_flags(positions, sims, thresholds)
    clusters = cluster_table(None, positions, sims, n_terms=config.n_label_terms, n_representatives=0,
                             seed=config.seed, low_fit=low, term_weights=(terms, weights),
                             outlet_stats=add_cluster_outlet_stats([o["outlet_stats"] for o in outputs]))
    clusters = _with_representatives(clusters, out_dir, config.n_representatives)
    codebook = load_codebook(config.codebook)
    frame_ids = list(codebook.ids)
    # aggregates are partition sums: the period from the summed date span, then the cells summed
    counted_dates = A.span_dates(A.add_date_spans([o["counted_span"] for o in outputs]))
    period = A.resolve_period(config.period, counted_dates)
    sums = add_summary_sums(client.gather([client.submit(partition_summary_sums, p, frame_ids, list(range(k)), period)
                                           for p in parts]))
    shutil.rmtree(work, ignore_errors=True)
    tables = {
        "articles": art, "clusters": clusters,
        **summary_from_sums(sums, frame_ids, label_of, period, config.min_cell_n),
        "syndication": syndication_table(_syndicated(out_dir)),
        "excluded": excluded_table(art),
        "rejected": rejected if rejected is not None else pd.DataFrame(columns=list(S.REJECTED_COLUMNS)),
    }
    timings["tables"] = round(time.perf_counter() - t, 3)
    embedder = embedder_factory() if embedder_factory else load_embedder(config.model, config.precision,
                                                                         config.batch_size)
    scorer = make_scorer(config, embedder, codebook)
    model = build_model(
        model_id=embedder.model_id, cluster_ids=np.arange(k), centroids=centroids, clusters=clusters,
        positions=positions, similarity=sims,
        frame_scorer=frame_scorer_spec(scorer, codebook, np.full(len(frame_ids), 0.5)
                                       if not hasattr(scorer, "model") else scorer.model.thresholds),
        map_axes=axes, period=A.resolve_period(config.period, A.span_dates(A.add_date_spans(
            [o["span"] for o in outputs]))), config=config.as_dict(),
        thresholds=thresholds,
    )
    timings["total"] = round(time.perf_counter() - t0, 3)
    manifest = {
        "engine": "dask", "workers": len(client.scheduler_info().get("workers", {})),
        "partitions": len(blocks), "inputs": list(sources), "config": config.as_dict(), "model_id": embedder.model_id,
        "codebook": {"name": codebook.name, "version": codebook.version, "digest": codebook.digest()},
        "clustering": {"k": k, "criterion": criterion, "fitted_on_sample": int(len(xs)),
                       "k_scores": {str(kk): round(v, 4) for kk, v in k_scores.items()}},
        "counts": {"articles": int(len(art)), "passages": n, "low_fit_passages": int(low.sum())},
        "tables_as_parquet": ["passages/", "frames/"], "timings_s": timings,
    }
    return DaskRun(tables, manifest, model)


def _copies_across_partitions(client: Any, parts: list[PartRef]) -> list[pd.DataFrame]:
    """Copy groups over the whole corpus, one syndication frame per partition (see step 3 of
    the module docstring): candidates and their checks stay on the workers; the client joins
    the verified pairs into groups."""
    links = client.gather([client.submit(bucket_links, parts, b, pure=False) for b in range(len(parts))])
    links = pd.DataFrame(np.unique(np.concatenate([np.zeros((0, 4), np.int64), *links]), axis=0),
                         columns=["part", "row", "rep_part", "rep_row"])
    checks = [client.submit(verify_links, parts[a], mine[["row", "rep_part", "rep_row"]].to_numpy(), parts, pure=False)
              for a, mine in links.groupby("part")]
    found = np.concatenate([np.zeros((0, 4), np.int64), *client.gather(checks)])
    del checks
    cands = client.gather([client.submit(copy_members, p, np.union1d(found[found[:, 0] == p.index, 1],
                                                                      found[found[:, 2] == p.index, 3]), pure=False)
                           for p in parts])
    # the nodes: every passage in a copy pair, numbered partition by partition
    node_of = []  # per partition: row position -> node
    offset = 0
    for c in cands:
        node_of.append(pd.Series(np.arange(offset, offset + len(c["members"])), index=c["members"]))
        offset += len(c["members"])
    pairs = [pd.DataFrame({"i": node_of[p].reindex(c["local"]["i"].astype(int)).to_numpy(),
                           "j": node_of[p].reindex(c["local"]["j"].astype(int)).to_numpy()})
             for p, c in enumerate(cands) if len(c["local"])]
    for (a, q), g in pd.DataFrame(found, columns=["a", "r", "q", "rr"]).groupby(["a", "q"]):
        pairs.append(pd.DataFrame({"i": node_of[a].reindex(g["r"]).to_numpy(),
                                   "j": node_of[q].reindex(g["rr"]).to_numpy()}))
    groups = copy_groups(pd.concat(pairs, ignore_index=True) if pairs else pd.DataFrame({"i": [], "j": []}),
                         pd.Series(np.concatenate([c["dates"] for c in cands]) if cands else []),
                         np.concatenate([c["passage_ids"] for c in cands]) if cands else np.array([], str))
    out = []
    for p, c in enumerate(cands):
        frame = no_copies(c["n"])
        for col in frame.columns:
            values = frame[col].to_numpy().copy()
            values[c["members"]] = groups[col].to_numpy()[node_of[p].to_numpy()]
            frame[col] = values
        out.append(frame)
    return out


def _with_text(rows: pd.DataFrame, articles: pd.DataFrame) -> pd.DataFrame:
    """The article rows the workers sent (text left empty), with the text the client ingested."""
    text = articles.drop_duplicates(S.ARTICLE_ID).set_index(S.ARTICLE_ID)[S.TEXT]
    return rows.assign(**{S.TEXT: rows[S.ARTICLE_ID].map(text)})


def _summed_term_weights(assigned: list[dict[str, Any]], k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-partition (cluster × term) counts summed on the client, then c-TF-IDF."""
    from scipy.sparse import csr_matrix

    frames = []
    for a in assigned:
        if a["counts"] is None:
            continue
        coo = a["counts"].tocoo()
        frames.append(pd.DataFrame({"c": coo.row, "t": a["terms"][coo.col], "n": coo.data}))
    if not frames:
        return np.array([], dtype=object), np.zeros((k, 0))
    long = pd.concat(frames, ignore_index=True).groupby(["c", "t"], sort=False)["n"].sum().reset_index()
    codes, terms = pd.factorize(long["t"], sort=True)
    counts = csr_matrix((long["n"].to_numpy(float), (long["c"].to_numpy(), codes)), shape=(k, len(terms)))
    return np.asarray(terms, dtype=object), ctfidf_from_counts(counts)


def _with_representatives(clusters: pd.DataFrame, out_dir: Path, n: int) -> pd.DataFrame:
    """The n passages nearest each centroid, read from the Parquet parts (only the needed columns)."""
    import pyarrow.dataset as ds

    data = ds.dataset(out_dir / "passages", format="parquet")
    table = data.to_table(columns=[S.CLUSTER_ID, S.SIMILARITY, S.TEXT]).to_pandas()
    reps = (table.sort_values([S.CLUSTER_ID, S.SIMILARITY], ascending=[True, False], kind="stable")
            .drop_duplicates([S.CLUSTER_ID, S.TEXT]).groupby(S.CLUSTER_ID)[S.TEXT].apply(lambda s: list(s.head(n))))
    out = clusters.copy()
    for i in range(n):
        out[f"representative_{i + 1}"] = [(r[i] if len(r) > i else "") for r in reps.reindex(out[S.CLUSTER_ID],
                                                                                              fill_value=[])]
    return out


def _syndicated(out_dir: Path) -> pd.DataFrame:
    """The syndicated passages, read from the Parquet parts with a filter (never the whole table)."""
    import pyarrow.dataset as ds

    data = ds.dataset(out_dir / "passages", format="parquet")
    return data.to_table(filter=ds.field(GROUP) >= 0).to_pandas()


def cmd_run_dask(args: Any, config: PipelineConfig) -> int:
    """The CLI's --engine dask: ingest on the client, stages on the cluster, tables + model in --out."""
    from distributed import Client, LocalCluster

    from .cli import _mapping
    from .ingest import ingest
    from .pipeline import sources_of, write_outputs

    inputs = _expand(args.inputs)
    t0 = time.perf_counter()
    result = ingest(inputs, mapping=_mapping(args.map), dayfirst=args.dayfirst, limits=COMMAND_LINE_LIMITS)
    if not args.quiet:
        print(f"framescope: read {result.n_rows_read} rows from {len(result.files)} file(s): "
              f"{len(result.articles)} articles, {len(result.rejected)} rejected", file=sys.stderr)
    import dask

    # one-thread workers busy in the encoder can miss heartbeats on a loaded machine: never drop them for that
    dask.config.set({"distributed.scheduler.worker-ttl": None})
    cluster = None
    if args.scheduler:
        client = Client(args.scheduler)
    else:
        cluster = LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, silence_logs=logging.WARNING)
        client = Client(cluster)
    out = Path(args.out)
    try:
        run = run_dask(result.articles, config, client, out, cache_dir=out / "embedding_cache",
                       partition_rows=args.partition_rows, sample=args.sample, rejected=result.rejected,
                       sources=sources_of(result), log=(lambda m: None) if args.quiet else
                       (lambda m: print(m, file=sys.stderr)))
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    written = write_outputs(run.tables, run.manifest, out, xlsx=args.xlsx)
    run.model.save(out / MODEL_DIR)
    if not args.quiet:
        c = run.manifest["counts"]
        print(f"framescope: {c['articles']} articles, {c['passages']} passages, {run.model.k} clusters on "
              f"{run.manifest['workers']} Dask workers; {len(written)} files + passages/ and frames/ (Parquet) in "
              f"{out} in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return 0


def _expand(inputs: Sequence[str]) -> list[str]:
    """Files from paths, folders (every file inside) and glob patterns."""
    import glob

    files: list[str] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            files += sorted(str(f) for f in p.iterdir() if f.is_file() and not f.name.startswith("."))
        elif any(ch in item for ch in "*?["):
            files += sorted(glob.glob(item))
        else:
            files.append(item)
    if not files:
        raise FramescopeError(f"no input files in {' '.join(inputs) or '(nothing given)'}")
    return files
