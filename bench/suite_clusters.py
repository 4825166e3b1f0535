"""Suite 4 — quality-clusters: BBC News topics, Framescope vs BERTopic, identical embeddings.

Documents: the BBC articles after Framescope's ingest (exact duplicates collapsed: 2,225
rows → about 2,088 articles), scored against their `label` (5 sections). Embeddings:
Framescope's own: each article is split into passages, every passage encoded (MiniLM,
auto precision) and the article vector is the normalised mean of its passage vectors —
exactly what `--unit article` clusters. BERTopic receives the *same* article vectors
(`fit_transform(docs, embeddings)`) with the article texts as docs.

- Framescope: `cluster_embeddings` with k auto and k=5 (the pipeline's article unit), then
  `cluster_table` for labels; clustering time is both together, plus cluster-only.
- BERTopic 0.17 defaults (UMAP 15 neighbours → 5-d cosine, HDBSCAN min_cluster_size 10,
  c-TF-IDF), with `UMAP(random_state=seed)` so seeds are reproducible (this also makes UMAP
  single-threaded), and the same with `nr_topics=5`. Time = `fit_transform`.
- Metrics: NMI and ARI vs `label` over all articles (BERTopic outliers, topic -1, count as
  one more cluster), % outliers, ARI between each pair of seeds (stability).
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd

from .common import SuiteResult, Stopwatch, check, embed_cached, embedder, log, median

ARTICLES = {"tiny": 40, "quick": 150, "full": None}
SEEDS = {"tiny": (0,), "quick": (0, 1), "full": (0, 1, 2)}


def _metrics(gold: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

    return {"NMI": normalized_mutual_info_score(gold, pred), "ARI": adjusted_rand_score(gold, pred),
            "outliers %": 100.0 * float((pred == -1).mean()), "clusters": int(len(set(pred) - {-1}))}


def run(mode: str = "full") -> SuiteResult:
    from analysis import schema as S
    from analysis.clustering import cluster_embeddings
    from analysis.config import PipelineConfig
    from analysis.labeling import cluster_table, main_cluster
    from analysis.passages import split_passages

    from .corpora import bbc_sample

    res = SuiteResult("quality-clusters", mode, "BBC News: Framescope vs BERTopic on identical embeddings")
    arts, gold_by_id = bbc_sample(ARTICLES[mode])
    cfg = PipelineConfig()
    passages = split_passages(arts, min_words=cfg.min_passage_words, max_tokens=cfg.max_passage_tokens,
                              count=embedder().count_tokens)
    log(f"  quality-clusters: {len(arts)} articles, {len(passages)} passages (vectors through the benchmark cache)")
    pv = embed_cached(passages[S.TEXT].tolist()).vectors
    codes, uniq = pd.factorize(passages[S.ARTICLE_ID])
    sums = np.zeros((len(uniq), pv.shape[1]), np.float64)
    np.add.at(sums, codes, pv)
    av = (sums / np.linalg.norm(sums, axis=1, keepdims=True)).astype(np.float32)
    docs_df = arts.set_index(S.ARTICLE_ID).loc[list(uniq)]
    docs = (docs_df[S.TEXT]).tolist()
    gold = np.array([gold_by_id[str(a).split("~")[0]] for a in uniq])
    # articles frame for the labeller at article level: one "passage" per article
    art_rows = pd.DataFrame({S.ARTICLE_ID: list(uniq), S.OUTLET: docs_df[S.OUTLET].to_numpy(),
                             S.DATE: docs_df[S.DATE].to_numpy(), S.TEXT: docs})
    seeds = SEEDS[mode]
    methods: dict[str, dict[int, dict]] = {}

    def framescope(k, seed):
        t = Stopwatch()
        c = cluster_embeddings(av, k, k_min=cfg.k_min, k_max=cfg.k_max, seed=seed)
        t_cluster = t()
        cluster_table(art_rows, c.labels, c.similarity, seed=seed)
        return c.labels, t(), t_cluster

    def framescope_passages(seed):
        t = Stopwatch()
        c = cluster_embeddings(pv, None, k_min=cfg.k_min, k_max=cfg.k_max, seed=seed)
        t_cluster = t()
        cluster_table(passages, c.labels, c.similarity, seed=seed)
        main = main_cluster(passages, c.labels, c.similarity)
        return main.reindex(list(uniq)).to_numpy(), t(), t_cluster

    def bertopic(seed, nr_topics):
        from bertopic import BERTopic
        from umap import UMAP

        umap_model = UMAP(n_neighbors=15, n_components=5, min_dist=0.0, metric="cosine", random_state=seed)
        model = BERTopic(umap_model=umap_model, nr_topics=nr_topics)
        t = Stopwatch()
        topics, _ = model.fit_transform(docs, embeddings=av)
        return np.asarray(topics), t(), None

    runners = {
        "Framescope k=auto (article unit)": lambda s: framescope(None, s),
        "Framescope k=5 (article unit)": lambda s: framescope(5, s),
        "BERTopic default": lambda s: bertopic(s, None),
        "BERTopic nr_topics=5": lambda s: bertopic(s, 5),
    }
    if mode == "passage-unit":  # slower extra variant, left out of the 30-minute run
        runners["Framescope k=auto (passage unit → main cluster)"] = framescope_passages
    # warm BERTopic's numba JIT once so compilation does not count as clustering time
    if len(docs) >= 30:
        log("  quality-clusters: warming up UMAP/HDBSCAN (numba compilation, not timed)")
        bertopic(99, None)
    for name, fn in runners.items():
        methods[name] = {}
        for s in seeds:
            labels, secs, secs_cluster = fn(s)
            methods[name][s] = {"labels": labels, "seconds": secs, "cluster_only": secs_cluster,
                                **_metrics(gold, labels)}
            log(f"  {name} seed {s}: NMI {methods[name][s]['NMI']:.3f} in {secs:.1f}s")
    rows = []
    summary: dict[str, dict] = {}
    for name, by_seed in methods.items():
        vals = list(by_seed.values())
        pairs = [_metrics(a["labels"], b["labels"])["ARI"] for a, b in itertools.combinations(vals, 2)]
        row = {"method": name, "NMI": median([v["NMI"] for v in vals]), "ARI": median([v["ARI"] for v in vals]),
               "NMI range": f"{min(v['NMI'] for v in vals):.3f}–{max(v['NMI'] for v in vals):.3f}",
               "clusters": "/".join(str(v["clusters"]) for v in vals),
               "outliers %": median([v["outliers %"] for v in vals]),
               "time s": median([v["seconds"] for v in vals]),
               "cluster-only s": median([v["cluster_only"] for v in vals]) if vals[0]["cluster_only"] is not None else None,
               "ARI between seeds (min)": min(pairs) if pairs else None}
        rows.append(row)
        summary[name] = {**row, "per_seed": {str(s): {k: v for k, v in d.items() if k != "labels"}
                                             for s, d in by_seed.items()}}
    res.rows = rows
    res.columns = ["method", "NMI", "ARI", "NMI range", "clusters", "outliers %", "time s", "cluster-only s",
                   "ARI between seeds (min)"]
    fs, bt = summary["Framescope k=auto (article unit)"], summary["BERTopic default"]
    margin = fs["NMI"] - bt["NMI"]
    res.target("NMI Framescope k=auto − BERTopic default (medians over seeds)", round(margin, 4), "≥ +0.20",
               check(margin, ">=", 0.2), f"Framescope {fs['NMI']:.3f} vs BERTopic {bt['NMI']:.3f}")
    res.target("unexplained outliers, Framescope (% of articles)", fs["outliers %"], "0 %",
               check(fs["outliers %"], "<=", 0.0), f"BERTopic default: {bt['outliers %']:.1f} % in topic -1")
    stab = fs["ARI between seeds (min)"]
    res.target("ARI between seeds, Framescope k=auto (min over pairs)", None if stab is None else round(stab, 4),
               "≥ 0.95", check(stab, ">=", 0.95), f"BERTopic default: {bt['ARI between seeds (min)'] or float('nan'):.3f}")
    res.params = {"articles": len(uniq), "passages": len(passages), "seeds": list(seeds),
                  "gold_labels": sorted(set(gold)), "embedding": embedder().model_id}
    res.extra = {"summary": summary}
    res.notes.append(f"{len(uniq):,} BBC articles after ingest collapsed exact duplicates; "
                     f"{len(passages):,} passages. NMI/ARI medians over {len(seeds)} seed(s). BERTopic was run once "
                     "before timing to compile its numba code.")
    return res
