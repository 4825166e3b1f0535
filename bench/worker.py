"""Subprocess side of the suites that need a fresh process: clean peak memory, cold imports.

    python -m bench.worker pipeline SPEC.json OUT.json
    python -m bench.worker seed     SPEC.json OUT.json
    python -m bench.worker scale    SPEC.json OUT.json

`pipeline` does what `framescope run` does (ingest → load model → run → write_outputs),
timing each stage; `seed` fills a store with synthetic vectors for a corpus (see
suite_pipeline); `scale` clusters, labels, scores and aggregates given vectors.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from .common import peak_rss_mb, reset_peak_rss, rss_mb


def pipeline(spec: dict[str, Any]) -> dict[str, Any]:
    from analysis.config import PipelineConfig
    from analysis.embeddings import embed_texts, load_embedder
    from analysis.ingest import ingest
    from analysis.passages import split_passages
    from analysis.pipeline import all_tables, run, sources_of, write_outputs
    from analysis.store import Store

    reset_peak_rss()
    base_rss = rss_mb()
    config = PipelineConfig().replace(**spec.get("config", {}))
    t_all = time.perf_counter()
    t = time.perf_counter()
    result = ingest(spec["inputs"])
    timings = {"ingest": time.perf_counter() - t}
    store = Store(spec["store"])
    try:  # no embedder up front: a run read back from the store never needs one (analyse builds it)
        run_out = run(result.articles, config, store=store, owner="bench",
                      rejected=result.rejected, sources=sources_of(result))
        t = time.perf_counter()
        write_outputs(run_out.tables, run_out.manifest, spec["out"])
        timings["export"] = time.perf_counter() - t
    finally:
        store.close()
    timings["total"] = time.perf_counter() - t_all
    peak = peak_rss_mb()
    analysis = run_out.analysis
    if analysis is not None:  # computed now (a reused run has no stage timings of its own)
        for k, v in analysis.timings.items():
            if k not in ("total", "export"):
                timings[k] = v
        timings["analyse_total"] = analysis.timings["total"]
        t = time.perf_counter()
        all_tables(analysis)  # aggregates alone, timed apart (run() computed them once already)
        timings["aggregates"] = time.perf_counter() - t
    m = run_out.manifest
    out = {"timings": timings, "peak_rss_mb": peak, "start_rss_mb": base_rss,
           "articles": m["counts"]["articles"], "passages": m["counts"]["passages"],
           "embedded_now": m["counts"]["passages_embedded_now"], "k": m["clustering"]["k"],
           "model_id": m["model_id"], "reused_run": bool(m.get("reused_run"))}
    if spec.get("embed_alone"):
        # the new articles' passages encoded with no store at all: "the time to embed them alone"
        embedder = load_embedder(config.model, config.precision, config.batch_size)
        new = ingest(spec["embed_alone"]).articles
        ps = split_passages(new, min_words=config.min_passage_words, max_tokens=config.max_passage_tokens,
                            count=embedder.count_tokens)
        t = time.perf_counter()
        embed_texts(ps["text"].tolist(), ps["text_hash"].tolist(), embedder, None)
        out["embed_alone_s"] = time.perf_counter() - t
        out["embed_alone_passages"] = len(ps)
    return out


def seed(spec: dict[str, Any]) -> dict[str, Any]:
    """Store synthetic vectors (real vectors of another store + noise) and the splits of a corpus's passages."""
    import sqlite3

    import numpy as np

    from analysis.config import PipelineConfig
    from analysis.embeddings import load_embedder
    from analysis.ingest import ingest
    from analysis.passages import split_key, split_passages
    from analysis.store import Store

    emb = load_embedder()
    arts = ingest(spec["inputs"]).articles
    cfg = PipelineConfig()
    store = Store(spec["store"])
    # a store that analysed this corpus before holds its passage splits as well as its vectors
    ps = split_passages(arts, min_words=cfg.min_passage_words, max_tokens=cfg.max_passage_tokens,
                        count=emb.count_tokens, cache=store,
                        cache_key=split_key(emb.model_id.split("/")[0], cfg.min_passage_words, cfg.max_passage_tokens))
    con = sqlite3.connect(spec["real_from"])
    real = np.stack([np.frombuffer(b, dtype=np.float32) for (b,) in con.execute(
        "SELECT vector FROM embeddings WHERE model_id=?", (emb.model_id,))])
    con.close()
    rng = np.random.default_rng(spec.get("seed", 0))
    hashes = list(dict.fromkeys(ps["text_hash"]))
    # one real vector per article (its topic), a little noise per passage
    art_of = dict(zip(ps["text_hash"], ps["article_id"], strict=False))
    codes = {a: i for i, a in enumerate(dict.fromkeys(ps["article_id"]))}
    topic = rng.integers(0, len(real), size=len(codes))
    base = real[topic[[codes[art_of[h]] for h in hashes]]]
    vecs = base + rng.normal(0, 0.025, size=base.shape).astype(np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    # the sentences sentence scoring encodes: each near its passage's vector (else a seeded run
    # would encode ~3 sentences per passage for real, hours at 10k articles on two cores)
    from analysis.framing import scored_sentences
    from analysis.passages import text_hash

    vec_of = dict(zip(hashes, vecs, strict=True))
    texts = list(dict.fromkeys(ps["text"]))
    owner, sents = scored_sentences(texts)
    hash_of_text = dict(zip(ps["text"], ps["text_hash"], strict=False))
    s_hashes = [text_hash(s) for s in sents]
    s_vecs = np.stack([vec_of[hash_of_text[texts[o]]] for o in owner]) if sents else np.zeros((0, vecs.shape[1]))
    s_vecs = s_vecs + rng.normal(0, 0.05, size=s_vecs.shape).astype(np.float32)
    s_vecs /= np.maximum(np.linalg.norm(s_vecs, axis=1, keepdims=True), 1e-12)
    new = {h: v for h, v in zip(s_hashes, s_vecs, strict=True) if h not in vec_of}
    all_hashes, all_vecs = hashes + list(new), np.concatenate([vecs, np.stack(list(new.values()))]) if new else vecs
    try:
        for i in range(0, len(all_hashes), 5000):
            store.put_vectors(emb.model_id, all_hashes[i:i + 5000], all_vecs[i:i + 5000].astype(np.float32))
    finally:
        store.close()
    return {"passages": len(ps), "seeded": len(hashes), "seeded_sentences": len(new), "real_vectors": len(real),
            "model_id": emb.model_id}


class _GivenVectors:
    """An Embedder whose vectors for the codebook texts were computed by the parent process."""

    def __init__(self, texts: list[str], vectors) -> None:
        self._v = {t: v for t, v in zip(texts, vectors, strict=True)}
        self.dim = vectors.shape[1]
        self.model_id = "given"

    def encode(self, texts):
        import numpy as np

        return np.stack([self._v[t] for t in texts]).astype(np.float32)

    def count_tokens(self, texts):
        return [len(t.split()) for t in texts]


def scale(spec: dict[str, Any]) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    from analysis import aggregates as A
    from analysis import schema as S
    from analysis.clustering import cluster_embeddings
    from analysis.codebook import load_codebook
    from analysis.config import PipelineConfig
    from analysis.framing import CodebookScorer
    from analysis.labeling import cluster_table
    from analysis.pipeline import CLUSTER_LABEL, summary_tables

    data = np.load(spec["inputs"], allow_pickle=True)
    n = int(spec["n"])
    x = data["vectors"][:n]
    passages = pd.read_parquet(spec["passages"]).iloc[:n].reset_index(drop=True)
    passages[S.DATE] = pd.to_datetime(passages[S.DATE], utc=True)
    cb_texts = list(data["codebook_texts"])
    config = PipelineConfig()
    codebook = load_codebook(config.codebook)
    inputs_rss = rss_mb()
    reset_peak_rss()
    t = {}
    t0 = time.perf_counter()
    c = cluster_embeddings(x, config.k, k_min=config.k_min, k_max=config.k_max, seed=config.seed)
    t["cluster"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    clusters = cluster_table(passages, c.labels, c.similarity, n_terms=config.n_label_terms,
                             n_representatives=config.n_representatives, seed=config.seed)
    t["label"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    scorer = CodebookScorer(codebook, _GivenVectors(cb_texts, data["codebook_vectors"]))
    scores = scorer.score(x)
    t["frames"] = time.perf_counter() - t0
    label_of = dict(zip(clusters[S.CLUSTER_ID], clusters["label"], strict=True))
    t0 = time.perf_counter()
    passages = passages.assign(
        **{S.CLUSTER_ID: c.labels, CLUSTER_LABEL: [label_of[k] for k in c.labels]},
        **{A.present_column(f): scores.present[:, j] for j, f in enumerate(scores.frame_ids)},
    )
    tables = summary_tables(passages, list(scores.frame_ids), label_of, config)
    t["aggregates"] = time.perf_counter() - t0
    peak = peak_rss_mb()
    return {"n": n, "timings": t, "peak_rss_mb": peak, "inputs_rss_mb": inputs_rss, "k": c.k,
            "criterion": c.criterion, "tables": {k: len(v) for k, v in tables.items()}}


def main() -> int:
    kind, spec_path, out_path = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
    spec = json.loads(spec_path.read_text())
    fn = {"pipeline": pipeline, "seed": seed, "scale": scale}[kind]
    out = fn(spec)
    out_path.write_text(json.dumps(out, default=float))
    return 0


if __name__ == "__main__":
    sys.exit(main())
