"""Suite 7 — scale-out: the fast encoder, incremental runs, the Dask engine.

- fast encoder: passages/s of `--model fast` (model2vec static, distilled from MiniLM) and
  MiniLM on the same demo paragraphs; quality of the fast encoder: BBC article NMI at k=5
  (article unit, as suite quality-clusters), GVFC extension headlines zero-shot top-1
  macro-F1 (as quality-frames), demo gold paragraphs zero-shot top-1 macro-F1. MiniLM's
  quality figures come from those suites (its vectors take minutes on a loaded 2-core
  machine); FRAMESCOPE_SCALE_OUT_MINILM_QUALITY=1 measures its GVFC and demo figures here too.
- incremental: a run of N articles whose vectors are *seeded* (one real MiniLM vector per
  article plus noise, under the real model id, as the pipeline suite does), then +100 new
  articles embedded for real through `analysis.incremental.extend`; compared with encoding
  the new passages and the sentences sentence scoring encodes alone (model loaded), measured
  before and after the extension and averaged. Old passages keeping their cluster id is counted.
- Dask, real encoder: the same articles through `run_dask` with 1 worker × 1 thread and
  2 workers × 1 thread (LocalCluster, processes), fresh embedding caches, wall time.
- Dask, fast encoder: 100k and 1M passages end to end; wall time, peak RSS per worker.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from .common import (CACHE, GVFC_CODEBOOK, GVFC_EXTENSION, SuiteResult, check, demo_labels, embed_cached, log,
                     peak_rss_mb, run_worker)
from .corpora import bbc_sample, scaled_csv, scaled_csvs

# incremental base, new, dask-real articles, dask-fast passages; dask-real needs enough passages that
# each worker's fixed start (model load, encoding the codebook: ~11 s on an AVX2 core) does not
# dominate: at 160 articles (538 passages) 2 workers gave 1.38× on an idle machine
SIZES = {
    "tiny": (40, 5, 16, (2_000,)),
    "quick": (300, 20, 60, (20_000,)),
    "full": (10_000, 100, 640, (100_000, 1_000_000)),
}


def _speed(embedder, texts: list[str]) -> float:
    embedder.encode(texts[:8])  # load / warm
    t = time.perf_counter()
    embedder.encode(texts)
    return len(texts) / (time.perf_counter() - t)


def fast_encoder(res: SuiteResult, mode: str) -> None:
    from sklearn.metrics import normalized_mutual_info_score

    from analysis import schema as S
    from analysis.clustering import cluster_embeddings
    from analysis.codebook import load_codebook
    from analysis.config import DEFAULT_CODEBOOK, PipelineConfig
    from analysis.embeddings import load_embedder
    from analysis.framing import CodebookScorer
    from analysis.passages import split_passages
    from analysis.validation import load_labels, top1_metrics

    t = time.perf_counter()
    fast = load_embedder("fast")
    load_s = time.perf_counter() - t
    mini = load_embedder()
    tmp = Path(tempfile.mkdtemp())
    demo_cb, gvfc_cb = load_codebook(DEFAULT_CODEBOOK), load_codebook(GVFC_CODEBOOK)
    demo = demo_labels(tmp, demo_cb)
    n_speed = {"tiny": 64, "quick": 120, "full": 120}[mode]
    minilm_quality = os.environ.get("FRAMESCOPE_SCALE_OUT_MINILM_QUALITY") == "1"
    texts = demo.texts[:n_speed]
    rows = []
    arts, gold_by_id = bbc_sample({"tiny": 60, "quick": 300, "full": None}[mode])
    cfg = PipelineConfig()
    gvfc = load_labels(GVFC_EXTENSION, gvfc_cb, text_column="title", label_columns=["theme1"]) \
        if GVFC_EXTENSION.exists() else None
    for name, emb in (("fast (model2vec static)", fast), ("MiniLM (all-MiniLM-L6-v2)", mini)):
        row = {"encoder": name, "model_id": emb.model_id, "passages/s": round(_speed(emb, list(texts)), 1)}
        encode = emb.encode if emb is fast else (lambda ts: embed_cached(ts).vectors)
        if emb is fast or minilm_quality:
            zs = CodebookScorer(demo_cb, emb).score(encode(demo.texts))
            row["demo gold top-1 macro-F1"] = round(top1_metrics(demo, zs.scores)["macro_f1"], 3)
            if gvfc is not None:
                zs = CodebookScorer(gvfc_cb, emb).score(encode(gvfc.texts))
                row["GVFC headlines zero-shot macro-F1"] = round(top1_metrics(gvfc, zs.scores)["macro_f1"], 3)
        if emb is fast:  # MiniLM's BBC NMI is the quality-clusters suite's (its 10k passages take minutes)
            ps = split_passages(arts, min_words=cfg.min_passage_words, max_tokens=cfg.max_passage_tokens,
                                count=emb.count_tokens)
            pv = emb.encode(ps[S.TEXT].tolist())
            codes, uniq = pd.factorize(ps[S.ARTICLE_ID])
            sums = np.zeros((len(uniq), pv.shape[1]))
            np.add.at(sums, codes, pv)
            gold = np.array([gold_by_id[str(a).split("~")[0]] for a in uniq])
            c = cluster_embeddings(sums.astype(np.float32), 5, seed=0)
            row["BBC NMI k=5 (article unit)"] = round(normalized_mutual_info_score(gold, c.labels), 3)
        rows.append(row)
    shutil.rmtree(tmp, ignore_errors=True)
    res.extra["fast_encoder"] = rows
    res.rows += [{"part": "encoder", **r} for r in rows]
    ratio = rows[0]["passages/s"] / rows[1]["passages/s"]
    res.target("fast encoder speed ÷ MiniLM (same passages, this machine)", round(ratio, 1), "report", None,
               f"{rows[0]['passages/s']} vs {rows[1]['passages/s']} passages/s; loading (incl. any first distillation) "
               f"{load_s:.1f}s")


def incremental(res: SuiteResult, mode: str) -> None:
    from analysis import schema as S
    from analysis.config import PipelineConfig
    from analysis.embeddings import embed_texts, load_embedder
    from analysis.framing import scored_sentences
    from analysis.incremental import extend, read_run
    from analysis.ingest import ingest
    from analysis.passages import split_key, split_passages, text_hash
    from analysis.pipeline import all_tables, analyse, write_outputs
    from analysis.store import Store

    n, n_new = SIZES[mode][:2]
    work = CACHE / f"scale-out-{mode}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    base_csv, new_csv = scaled_csv(n, seed=0, prefix="s"), scaled_csv(n_new, seed=2, prefix="add")
    emb = load_embedder()
    cfg = PipelineConfig(k=20)  # a fixed k: the base run's k search is not what is measured
    # real vectors of a few base articles, then seeded vectors for all (bench.worker seed)
    real_store = work / "real.db"
    few = ingest([base_csv]).articles.head(60)
    ps = split_passages(few, min_words=cfg.min_passage_words, max_tokens=cfg.max_passage_tokens, count=emb.count_tokens)
    store = Store(real_store)
    embed_texts(ps[S.TEXT].tolist(), ps[S.TEXT_HASH].tolist(), emb, store)
    store.close()
    store_path = work / "store.db"
    log(f"  scale-out: seeding {n} articles' vectors")
    run_worker("seed", {"inputs": [str(base_csv)], "store": str(store_path), "real_from": str(real_store)})
    store = Store(store_path)
    try:
        log(f"  scale-out: base run of {n} articles (vectors seeded)")
        arts = ingest([base_csv]).articles
        t = time.perf_counter()
        a = analyse(arts, cfg, embedder=emb, cache=store)
        base_s = time.perf_counter() - t
        write_outputs(all_tables(a), a.manifest, work / "base")
        a.model.save(work / "base" / "model")
        new = ingest([new_csv]).articles
        new_ps = split_passages(new, min_words=cfg.min_passage_words, max_tokens=cfg.max_passage_tokens,
                                count=emb.count_tokens,
                                cache_key=split_key(emb.model_id.split("/")[0], cfg.min_passage_words,
                                                    cfg.max_passage_tokens))
        emb.encode(["warm up the network"])
        # sentence scoring also encodes the sentences of multi-sentence passages: the encoding the
        # new articles need in any run, reported beside the passages-only figure the issue names
        _, sents = scored_sentences(new_ps[S.TEXT].tolist())

        def encode_alone() -> tuple[float, float]:
            t = time.perf_counter()
            embed_texts(new_ps[S.TEXT].tolist(), new_ps[S.TEXT_HASH].tolist(), emb, None)
            mid = time.perf_counter()
            embed_texts(sents, [text_hash(x) for x in sents], emb, None)
            return mid - t, time.perf_counter() - mid

        before = encode_alone()
        t = time.perf_counter()
        base = read_run(work / "base")
        ext = extend(base, new, embedder=emb, cache=store)
        total = time.perf_counter() - t
        after = encode_alone()  # before and after extend, averaged: a load change during the run evens out
        alone, alone_sentences = (before[0] + after[0]) / 2, (before[1] + after[1]) / 2
        log(f"  scale-out: +{n_new} articles ({len(new_ps)} passages alone {before[0]:.1f}s / {after[0]:.1f}s; "
            f"{len(sents)} sentences {before[1]:.1f}s / {after[1]:.1f}s; extend {total:.1f}s)")
        t = time.perf_counter()
        ext.write(work / "incr")
        write_s = time.perf_counter() - t
    finally:
        store.close()
    kept = ext.manifest["incremental"]["old_passages_keeping_cluster_id"]
    row = {"part": "incremental", "base articles": n, "base passages": len(a.passages), "new passages":
           ext.n_new_passages, "embed alone s": round(alone, 2), "new sentences": len(sents),
           "embed sentences alone s": round(alone_sentences, 2), "extend s": round(total, 2),
           "write s": round(write_s, 2), **{f"{k} s": v for k, v in ext.manifest["timings_s"].items()},
           "base run s (seeded)": round(base_s, 1), "old ids kept": kept,
           "low-fit share new": ext.manifest["incremental"]["low_fit_share_new"]}
    res.rows.append(row)
    res.extra["incremental"] = row
    encode = alone + alone_sentences
    res.target(f"incremental +{n_new} on {n}: extend ÷ encoding the new passages and their scored sentences alone",
               round(total / encode, 3), "≤ 1.3×", check(total / encode, "<=", 1.3),
               f"{total:.1f}s vs {encode:.1f}s ({ext.n_new_passages} passages {alone:.1f}s + {len(sents)} sentences "
               f"{alone_sentences:.1f}s); ÷ the passages alone {total / alone:.2f}×; writing every table again "
               f"{write_s:.1f}s more")
    res.target(f"old passages keeping their cluster id (+{n_new} on {n})", round(100 * kept, 3), "≥ 99.9 %",
               check(kept, ">=", 0.999), "")


def _dask_run(articles, config, n_workers: int, work: Path, **kw) -> dict:
    from distributed import Client, LocalCluster

    from analysis.engine_dask import run_dask

    import dask

    shutil.rmtree(work, ignore_errors=True)
    # a worker encoding in one thread on a machine at load 30+ misses heartbeats for minutes
    dask.config.set({"distributed.scheduler.worker-ttl": None})
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=None,
                           memory_limit="3GiB", silence_logs=logging.WARNING)
    client = Client(cluster)
    try:
        t = time.perf_counter()
        run = run_dask(articles, config, client, work / "out", cache_dir=work / "cache", **kw)
        wall = time.perf_counter() - t
        peaks = client.run(peak_rss_mb)  # VmHWM: ru_maxrss of a spawned worker starts at its parent's RSS
    finally:
        client.close()
        cluster.close()
    return {"wall s": round(wall, 2), "passages": run.manifest["counts"]["passages"],
            "peak RSS per worker MiB": round(max(peaks.values()), 1),
            # the bench process: ingest, the client's sums and copy groups (a peak over its runs so far)
            "client peak RSS MiB so far": round(peak_rss_mb(), 1), "timings": run.manifest["timings_s"]}


def dask_real(res: SuiteResult, mode: str) -> None:
    from analysis.config import PipelineConfig
    from analysis.ingest import ingest

    n = int(os.environ.get("FRAMESCOPE_SCALE_OUT_REAL_ARTICLES") or SIZES[mode][2])
    arts = ingest([scaled_csv(n, seed=5, prefix="dk")]).articles
    cfg = PipelineConfig(k=8)
    runs = {}
    for w in (1, 2):
        log(f"  scale-out: Dask, real encoder, {w} worker(s) × 1 thread, {n} articles")
        runs[w] = _dask_run(arts, cfg, w, CACHE / f"scale-out-dask-{w}", partition_rows=max(4, n // 8))
        res.rows.append({"part": f"dask MiniLM {w}×1", **{k: v for k, v in runs[w].items() if k != "timings"}})
    speedup = runs[1]["wall s"] / runs[2]["wall s"]
    per_thread = runs[1]["passages"] / runs[1]["wall s"]
    res.extra["dask_real"] = runs
    res.target("Dask 2 workers × 1 thread vs 1 × 1, MiniLM", round(speedup, 2), "≥ 1.7×", check(speedup, ">=", 1.7),
               f"{runs[1]['wall s']:.1f}s vs {runs[2]['wall s']:.1f}s for {runs[1]['passages']} passages; "
               f"{per_thread:.1f} passages/s per worker thread end to end")


def dask_fast(res: SuiteResult, mode: str) -> None:
    from analysis.config import COMMAND_LINE_LIMITS, PipelineConfig
    from analysis.ingest import ingest

    sizes = tuple(int(x) for x in os.environ.get("FRAMESCOPE_SCALE_OUT_FAST_SIZES", "").split(",") if x) \
        or SIZES[mode][3]
    out = {}
    for target in sizes:
        n_articles = max(10, int(target / 3.4))  # ~3.4 passages per scaled article
        log(f"  scale-out: Dask, fast encoder, ~{target:,} passages ({n_articles:,} articles), 2 workers × 1 thread")
        t = time.perf_counter()
        arts = ingest(scaled_csvs(n_articles, per_file=10_000, seed=7, prefix="m"), limits=COMMAND_LINE_LIMITS).articles
        prep = time.perf_counter() - t
        r = _dask_run(arts, PipelineConfig(model="fast", k=20), 2, CACHE / f"scale-out-fast-{target}",
                      partition_rows=10_000, sample=50_000)
        r["corpus and ingest s"] = round(prep, 1)
        out[target] = r
        res.rows.append({"part": f"dask fast {r['passages']:,} passages", **{k: v for k, v in r.items()
                                                                             if k != "timings"}})
    res.extra["dask_fast"] = out
    big = out[sizes[-1]]
    res.target(f"Dask + fast encoder, {big['passages']:,} passages: peak RSS per worker", big["peak RSS per worker MiB"],
               "≤ 2048 MiB", check(big["peak RSS per worker MiB"], "<=", 2048), f"wall {big['wall s']:.0f}s")
    if len(sizes) > 1:
        small = out[sizes[0]]
        growth = (big["wall s"] / big["passages"]) / (small["wall s"] / small["passages"])
        res.target("time per passage, largest ÷ smallest run (≤ 1: no worse than linear)", round(growth, 3), "≤ 1.0",
                   check(growth, "<=", 1.0), f"{small['passages']:,} in {small['wall s']:.0f}s, "
                   f"{big['passages']:,} in {big['wall s']:.0f}s")


PARTS = {"encoder": fast_encoder, "incremental": incremental, "dask-real": dask_real, "dask-fast": dask_fast}


def run(mode: str = "full") -> SuiteResult:
    """All parts, or those named in $FRAMESCOPE_SCALE_OUT_PARTS (comma-separated: encoder, incremental,
    dask-real, dask-fast); $FRAMESCOPE_SCALE_OUT_FAST_SIZES overrides the passage counts of dask-fast."""
    parts = [p for p in os.environ.get("FRAMESCOPE_SCALE_OUT_PARTS", ",".join(PARTS)).split(",") if p]
    res = SuiteResult("scale-out", mode, "Fast encoder, incremental runs, Dask engine")
    res.rows, res.extra = [], {}
    for name in parts:
        try:
            PARTS[name](res, mode)
        except Exception as exc:  # one part failing must not hide the others
            res.notes.append(f"{name} failed: {type(exc).__name__}: {exc}"[:400])
    res.columns = sorted({k for r in res.rows for k in r}, key=lambda k: (k != "part", k))
    res.notes.append("The machine is shared with other engineers' jobs; see the load average of the run.")
    return res
