"""The whole job: articles → passages → embeddings → clusters → frames → tables.

`analyse` runs the stages in order on one batch of articles and returns an `Analysis`
holding every table; `summary_tables` turns (possibly filtered) passages into the
aggregate tables, so the dashboard recomputes them for any filter without re-running
the model. Each stage is a function of frames and arrays from its own module; this
module only wires them, times them and writes the manifest.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from . import __version__
from . import aggregates as A
from . import schema as S
from .clustering import Clustering, cluster_embeddings
from .codebook import Codebook, load_codebook
from .config import PipelineConfig
from .embeddings import Embedder, VectorCache, embed_texts, is_multilingual, load_embedder
from .errors import CodebookError
from .export import to_xlsx_bytes, write_json, write_table
from .framing import CodebookScorer, FittedFrameModel, FittedScorer, FrameScores, article_frame_mix
from .ingest import IngestResult
from .language import align_languages, article_languages, detect_languages, language_mix
from .labeling import cluster_table, main_cluster
from .passages import SplitCache, split_key, split_passages
from .model_artifact import LOW_FIT, AnalysisModel, build_model, fit_thresholds, frame_scorer_spec, low_fit_flags
from .projection import MAP_X, MAP_Y, map_axes, project_2d
from .relevance import REASON, RELEVANT, relevance
from .store import Store, article_key
from .similarity import outlet_similarity_table
from .syndication import IS_COPY, SyndicationParams, syndication, syndication_table

log = logging.getLogger(__name__)

StageProgress = Callable[[str, int, int], None]  # (stage, done, total)


class Cache(VectorCache, SplitCache, Protocol):
    """What the pipeline keeps between runs (analysis.store.Store is one)."""

CLUSTER_LABEL = "cluster_label"
MAIN_CLUSTER_ID = "main_cluster_id"  # articles: the cluster holding most of the article's passages


@dataclass(frozen=True)
class Analysis:
    """Everything one run produced; tables use the column names of `schema`."""

    config: PipelineConfig
    articles: pd.DataFrame  # one row per article, with main cluster and frame mix columns
    passages: pd.DataFrame  # one row per passage, with cluster, frame scores and syndication
    vectors: np.ndarray  # (n_passages, dim) unit rows aligned with `passages`
    clusters: pd.DataFrame  # the cluster table (labeling.cluster_table)
    clustering: Clustering
    codebook: Codebook
    scores: FrameScores
    rejected: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(S.REJECTED_COLUMNS)))
    timings: dict[str, float] = field(default_factory=dict)
    manifest: dict[str, Any] = field(default_factory=dict)
    model: AnalysisModel | None = None  # what the run learned (analysis.model_artifact)

    @property
    def frame_ids(self) -> list[str]:
        return list(self.scores.frame_ids)

    def frames_long(self) -> pd.DataFrame:
        """frames.csv: one row per (passage, frame) with score, present and evidence."""
        return self.scores.long_table(self.passages[S.PASSAGE_ID])


def make_scorer(
    config: PipelineConfig, embedder: Embedder, codebook: Codebook | None = None, cache: VectorCache | None = None
):
    """The codebook's zero-shot scorer, or the fitted model when the config names one."""
    codebook = codebook or load_codebook(config.codebook)
    zero_shot = CodebookScorer(codebook, embedder, cache=cache)
    if not config.frame_model:
        return zero_shot
    model = FittedFrameModel.load(config.frame_model)
    if model.model_id.split("/")[0] != embedder.model_id.split("/")[0]:
        raise CodebookError(
            f"{config.frame_model}: fitted on embeddings of {model.model_id}, but this run uses {embedder.model_id}"
        )
    return FittedScorer(model, zero_shot)


class _Timer:
    def __init__(self, progress: StageProgress | None) -> None:
        self.timings: dict[str, float] = {}
        self.progress = progress

    def stage(self, name: str):
        timer = self

        class _Ctx:
            def __enter__(self):
                if timer.progress:
                    timer.progress(name, 0, 1)
                self.t0 = time.perf_counter()

            def __exit__(self, *exc):
                timer.timings[name] = round(time.perf_counter() - self.t0, 4)
                if timer.progress and exc[0] is None:
                    timer.progress(name, 1, 1)

        return _Ctx()


def _cluster(config: PipelineConfig, passages: pd.DataFrame, vectors: np.ndarray) -> Clustering:
    kw = dict(k_min=config.k_min, k_max=config.k_max, seed=config.seed)
    if config.unit == "passage" or passages.empty:
        return cluster_embeddings(vectors, config.k, **kw)
    # article unit: cluster the mean passage vector of each article, then give every
    # passage its article's cluster and its cosine to that cluster's centroid
    codes, uniques = pd.factorize(passages[S.ARTICLE_ID])
    sums = np.zeros((len(uniques), vectors.shape[1]), dtype=np.float64)
    np.add.at(sums, codes, vectors)
    art = cluster_embeddings(sums.astype(np.float32), config.k, **kw)
    labels = art.labels[codes]
    sims = np.einsum("ij,ij->i", vectors, art.centroids[labels]).astype(np.float32)
    return Clustering(labels, art.centroids, sims, art.k, f"{art.criterion} (articles)", art.k_scores, art.seed)


def analyse(
    articles: pd.DataFrame,
    config: PipelineConfig = PipelineConfig(),
    *,
    embedder: Embedder | None = None,
    cache: Cache | None = None,
    progress: StageProgress | None = None,
    rejected: pd.DataFrame | None = None,
    sources: Sequence[Mapping[str, Any]] = (),
) -> Analysis:
    """Run every stage on `articles` (schema.ARTICLE_COLUMNS)."""
    config = config.validated()
    timer = _Timer(progress)
    t_start = time.perf_counter()
    with timer.stage("load_model"):  # the tokenizer; the network loads on the first encode
        embedder = embedder or load_embedder(config.model, config.precision, config.batch_size)
    codebook = load_codebook(config.codebook)
    articles = articles.reset_index(drop=True).copy()

    with timer.stage("relevance"):
        gate = relevance(articles)
        articles[RELEVANT] = gate[RELEVANT].to_numpy() if config.relevance else True
        articles[REASON] = gate[REASON].to_numpy()
        kept = articles[articles[RELEVANT]]

    with timer.stage("passages"):
        passages = split_passages(
            kept, min_words=config.min_passage_words, max_tokens=config.max_passage_tokens,
            count=embedder.count_tokens, cache=cache,
            cache_key=split_key(embedder.model_id.split("/")[0], config.min_passage_words, config.max_passage_tokens),
        )

    with timer.stage("language"):
        passages[S.LANGUAGE] = detect_languages(passages[S.TEXT].tolist())
        articles[S.LANGUAGE] = article_languages(articles[S.LANGUAGE], articles[S.ARTICLE_ID], passages)
        mix = language_mix(passages[S.LANGUAGE], is_multilingual(embedder))
        if mix.warning:
            log.warning(mix.warning)

    def embed_progress(done: int, total: int) -> None:
        if progress:
            progress("embed", done, total)

    with timer.stage("embed"):
        emb = embed_texts(
            passages[S.TEXT].tolist(), passages[S.TEXT_HASH].tolist(), embedder, cache, progress=embed_progress
        )
        vectors = emb.vectors
        if config.align_languages and is_multilingual(embedder):
            vectors = align_languages(vectors, passages[S.LANGUAGE].tolist())

    with timer.stage("cluster"):
        clustering = _cluster(config, passages, vectors)
        low_fit_threshold = fit_thresholds(clustering.labels, clustering.similarity, clustering.k)
        low_fit = low_fit_flags(clustering.labels, clustering.similarity, low_fit_threshold)

    with timer.stage("label"):
        clusters = cluster_table(
            passages, clustering.labels, clustering.similarity, n_terms=config.n_label_terms,
            n_representatives=config.n_representatives, seed=config.seed, low_fit=low_fit,
        )
        label_of = dict(zip(clusters[S.CLUSTER_ID], clusters["label"], strict=True))

    with timer.stage("frames"):
        scorer = make_scorer(config, embedder, codebook, cache)
        scores = scorer.score(vectors, passages[S.TEXT].tolist()) if len(vectors) else _no_scores(codebook)

    with timer.stage("syndication"):
        synd = syndication(
            passages, vectors, SyndicationParams(cosine=config.syndication_cosine, jaccard=config.syndication_jaccard)
        )

    with timer.stage("map"):
        axes = map_axes(vectors)
        coords = project_2d(vectors, axes)

    passages = annotate_passages(passages, articles, clustering.labels, label_of, clustering.similarity, low_fit,
                                 scores, synd, coords)
    articles = _article_table(articles, passages, clustering, scores, label_of)
    timings = {**timer.timings, "total": round(time.perf_counter() - t_start, 4)}
    manifest = _manifest(config, embedder, codebook, clustering, articles, passages, rejected, sources, emb, timings)
    manifest["languages"] = {"passages": mix.counts, "multilingual_model": mix.multilingual_model,
                             "aligned": bool(config.align_languages and mix.multilingual_model)}
    manifest["warnings"] = [mix.warning] if mix.warning else []
    model = build_model(
        model_id=embedder.model_id, cluster_ids=np.arange(clustering.k), centroids=clustering.centroids,
        clusters=clusters, positions=clustering.labels, similarity=clustering.similarity,
        frame_scorer=frame_scorer_spec(scorer, codebook, scores.thresholds), map_axes=axes,
        period=A.resolve_period(config.period, passages[S.DATE]), config=config.as_dict(),
        thresholds=low_fit_threshold,
    )
    return Analysis(
        config, articles, passages, vectors, clusters, clustering, codebook, scores,
        rejected if rejected is not None else pd.DataFrame(columns=list(S.REJECTED_COLUMNS)),
        timings, manifest, model,
    )


def annotate_passages(
    passages: pd.DataFrame, articles: pd.DataFrame, cluster_ids: np.ndarray, label_of: Mapping[int, str],
    similarity: np.ndarray, low_fit: np.ndarray, scores: FrameScores, synd: pd.DataFrame, coords: np.ndarray,
) -> pd.DataFrame:
    """The passages table every engine publishes: split passages plus what each stage found."""
    titles = articles.set_index(S.ARTICLE_ID)[S.TITLE]
    return passages.assign(
        **{S.TITLE: passages[S.ARTICLE_ID].map(titles).to_numpy()},
        **{S.CLUSTER_ID: cluster_ids, CLUSTER_LABEL: [label_of[c] for c in cluster_ids]},
        **{S.SIMILARITY: np.asarray(similarity).round(4), LOW_FIT: low_fit, S.DOMINANT_FRAME: scores.dominant()},
        **{A.score_column(f): scores.scores[:, j].round(4) for j, f in enumerate(scores.frame_ids)},
        **{A.present_column(f): scores.present[:, j] for j, f in enumerate(scores.frame_ids)},
        **{c: synd[c].to_numpy() for c in synd.columns},
        **{MAP_X: coords[:, 0].round(4), MAP_Y: coords[:, 1].round(4)},
    )


def _no_scores(codebook: Codebook) -> FrameScores:
    f = len(codebook.frames)
    return FrameScores(tuple(codebook.ids), np.zeros((0, f), np.float32), np.zeros((0, f), bool),
                       np.empty((0, f), object), np.full(f, 0.5))


def _article_table(
    articles: pd.DataFrame, passages: pd.DataFrame, clustering: Clustering, scores: FrameScores,
    label_of: Mapping[int, str],
) -> pd.DataFrame:
    main = main_cluster(passages, clustering.labels, clustering.similarity)
    mix = article_frame_mix(passages, scores)
    n = passages.groupby(S.ARTICLE_ID).size()
    out = articles.copy()
    ids = out[S.ARTICLE_ID]
    out["n_passages"] = ids.map(n).fillna(0).astype("int64")
    out[MAIN_CLUSTER_ID] = ids.map(main).fillna(-1).astype("int64")  # -1: no passages (set aside)
    out[CLUSTER_LABEL] = out[MAIN_CLUSTER_ID].map(label_of).fillna("")
    frames = list(scores.frame_ids)
    mix = mix.reindex(ids).reset_index(drop=True)
    for f in frames:
        out[f] = mix[f].to_numpy() if f in mix else np.nan
    # an article's dominant frame: the frame present in most of its passages
    shares = out[frames].fillna(0.0).to_numpy()
    best = shares.argmax(axis=1) if frames else np.zeros(len(out), int)
    out[S.DOMINANT_FRAME] = np.where(
        shares.max(axis=1, initial=0) > 0, np.array(frames, dtype=object)[best] if frames else S.NO_FRAME, S.NO_FRAME
    )
    return out


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("torch", "sentence-transformers", "transformers", "scikit-learn", "numpy", "pandas", "scipy"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _manifest(config, embedder, codebook, clustering, articles, passages, rejected, sources, emb, timings) -> dict:
    dated = passages[S.DATE].dropna()
    return {
        "framescope_version": __version__,
        "library_versions": _versions(),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "inputs": list(sources),
        "config": config.as_dict(),
        "model_id": embedder.model_id,
        "model_weights_sha256": getattr(embedder, "weights_sha256", None),
        "codebook": {"name": codebook.name, "version": codebook.version, "digest": codebook.digest(),
                     "source": codebook.source},
        "clustering": {"k": clustering.k, "criterion": clustering.criterion,
                       "k_scores": {str(k): round(v, 4) for k, v in clustering.k_scores.items()}},
        "counts": {
            "rows_read": int(sum(s.get("rows_read", 0) for s in sources)),
            "rows_accepted": int(sum(s.get("accepted", 0) for s in sources)),
            "articles": int(len(articles)),
            "articles_relevant": int(articles[RELEVANT].sum()),
            "articles_excluded": int((~articles[RELEVANT]).sum()),
            "passages": int(len(passages)),
            "outlets": int(passages[S.OUTLET].nunique()),
            "rejected_rows": int(len(rejected)) if rejected is not None else 0,
            "duplicate_copies": int(articles[S.DUPLICATES].sum()) if S.DUPLICATES in articles else 0,
            "undated_passages": int(passages[S.DATE].isna().sum()),
            "passages_embedded_now": int(emb.n_embedded),
        },
        "date_span": [str(dated.min().date()), str(dated.max().date())] if len(dated) else None,
        "timings_s": timings,
    }


def summary_tables(
    passages: pd.DataFrame,
    frame_ids: Sequence[str],
    cluster_labels: Mapping[int, str],
    config: PipelineConfig = PipelineConfig(),
) -> dict[str, pd.DataFrame]:
    """Aggregate tables of (possibly filtered) passages: over time, by outlet, similarity."""
    if config.count_syndicated == "once" and IS_COPY in passages:
        passages = passages[~passages[IS_COPY].astype(bool)]
    passages = passages.reset_index(drop=True)
    period = A.resolve_period(config.period, passages[S.DATE])
    fi = A.frame_indicators(passages, frame_ids)
    ci = A.cluster_indicators(passages, sorted(cluster_labels))
    kw = dict(period=period, min_n=config.min_cell_n)
    tables = {
        "frames_over_time": A.over_time(passages, fi, category=S.FRAME_ID, **kw),
        "frames_by_outlet": A.by_group(passages, fi, category=S.FRAME_ID, min_n=config.min_cell_n),
        "frames_by_outlet_period": A.over_time(passages, fi, category=S.FRAME_ID, by=(S.OUTLET,), **kw),
        "clusters_over_time": A.over_time(passages, ci, category=S.CLUSTER_ID, **kw),
        "clusters_by_outlet": A.by_group(passages, ci, category=S.CLUSTER_ID, min_n=config.min_cell_n),
        "volume_by_outlet": A.volume(passages, period=period),
        "outlet_similarity": outlet_similarity_table(passages, fi, ci),
    }
    for name in ("clusters_over_time", "clusters_by_outlet"):
        tables[name].insert(tables[name].columns.get_loc(S.CLUSTER_ID) + 1, CLUSTER_LABEL,
                            tables[name][S.CLUSTER_ID].map(cluster_labels))
    return tables


def excluded_table(articles: pd.DataFrame) -> pd.DataFrame:
    """Articles the relevance gate set aside, with the reason (empty when the gate is off)."""
    cols = [S.ARTICLE_ID, S.TITLE, S.OUTLET, S.DATE, S.URL, REASON]
    return articles.loc[~articles[RELEVANT].astype(bool), cols].reset_index(drop=True)


def all_tables(analysis: Analysis) -> dict[str, pd.DataFrame]:
    """Every table a run publishes, by file stem."""
    labels = dict(zip(analysis.clusters[S.CLUSTER_ID], analysis.clusters["label"], strict=True))
    return {
        "articles": analysis.articles,
        "passages": analysis.passages,
        "clusters": analysis.clusters,
        "frames": analysis.frames_long(),
        **summary_tables(analysis.passages, analysis.frame_ids, labels, analysis.config),
        "syndication": syndication_table(analysis.passages),
        "excluded": excluded_table(analysis.articles),
        "rejected": analysis.rejected,
    }


def write_outputs(
    tables: Mapping[str, pd.DataFrame], manifest: Mapping[str, Any], out_dir: str | Path, *, xlsx: bool = False
) -> list[Path]:
    """CSV per table plus manifest.json (and one workbook with every table when asked)."""
    t0 = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [write_table(df, out / f"{name}.csv") for name, df in tables.items()]
    if xlsx:
        path = out / "framescope.xlsx"
        path.write_bytes(to_xlsx_bytes(tables, manifest))
        written.append(path)
    timings = {**manifest.get("timings_s", {}), "export": round(time.perf_counter() - t0, 4)}
    written.append(write_json({**manifest, "timings_s": timings, "files": [p.name for p in written]},
                              out / "manifest.json"))
    return written


# --- runs: content-addressed, computed once ------------------------------------------------


def articles_digest(articles: pd.DataFrame) -> str:
    """sha256 over the sorted content keys (text and outlet) plus id, date and title of each article."""
    keys = sorted(
        "\x1f".join((article_key(text, outlet), str(aid), "" if pd.isna(date) else str(date), str(title)))
        for aid, title, text, outlet, date in zip(
            articles[S.ARTICLE_ID], articles[S.TITLE], articles[S.TEXT], articles[S.OUTLET],
            articles[S.DATE], strict=True,
        )
    )
    h = hashlib.sha256()
    for k in keys:
        h.update(k.encode("utf-8"))
        h.update(b"\x1e")
    return h.hexdigest()


@functools.cache
def code_digest() -> str:
    """sha256 of the analysis library's source: results of older code are never served as current."""
    h = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return h.hexdigest()


def run_key(articles_sha: str, config: PipelineConfig, codebook_digest: str) -> str:
    """The cache key of a run: article content, parameters, codebook and frame-model content, code."""
    params = config.as_dict()
    params["codebook"] = codebook_digest  # content, not the file's path
    if config.frame_model:
        params["frame_model"] = hashlib.sha256(Path(config.frame_model).read_bytes()).hexdigest()
    payload = json.dumps({"articles": articles_sha, "config": params, "code": code_digest()},
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RunOutput:
    key: str
    tables: dict[str, pd.DataFrame]
    manifest: dict[str, Any]
    analysis: Analysis | None  # None when the tables were served from the store


def run(
    articles: pd.DataFrame,
    config: PipelineConfig = PipelineConfig(),
    *,
    store: Store | None = None,
    owner: str = "framescope",
    **analyse_kw: Any,
) -> RunOutput:
    """`analyse` + `all_tables`, computed once per run key: a finished run in the store is reused.

    The run is claimed in the store while it computes, so a dashboard session or another
    CLI asking for the same key at the same time does not compute it twice.
    """
    t0 = time.perf_counter()
    key = run_key(articles_digest(articles), config, load_codebook(config.codebook).digest())
    cached = store.run_tables(key) if store is not None else None
    if cached is not None:
        tables, manifest = cached
        counts = {**manifest.get("counts", {}), "passages_embedded_now": 0}
        reuse = {"reused_run": True, "computed_utc": manifest.get("created_utc"),
                 "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
                 "timings_s": {"total": round(time.perf_counter() - t0, 4)}}
        return RunOutput(key, tables, {**manifest, **reuse, "counts": counts,
                                       "inputs": list(analyse_kw.get("sources", ()))}, None)
    claimed = store is not None and store.claim_run(key, {"config": config.as_dict()}, owner)
    try:
        analysis = analyse(articles, config, cache=store, **analyse_kw)
        tables = all_tables(analysis)
    except BaseException as exc:
        if claimed:
            store.fail_run(key, str(exc) or type(exc).__name__)
        raise
    manifest = {**analysis.manifest, "run_key": key, "reused_run": False}
    if claimed:
        store.finish_run(key, tables, manifest)
    return RunOutput(key, tables, manifest, analysis)


def sources_of(result: IngestResult) -> list[dict[str, Any]]:
    """Manifest entries for the input files."""
    return [{"file": f.name, "sha256": f.sha256, "format": f.format, "rows_read": f.rows_read,
             "accepted": f.accepted, "rejected": f.rejected, "documents_expected": f.documents_expected}
            for f in result.files]
