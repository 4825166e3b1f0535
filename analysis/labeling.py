"""Clusters → names and summaries a reader can trust.

A cluster is named by its distinctive terms: class-based TF-IDF (BERTopic's c-TF-IDF)
weighs how often a term occurs in the cluster against how often it occurs overall,
then keeps only terms over-represented in the cluster, weighting each by the log of
its lift (share in the cluster ÷ share in the corpus). Plain c-TF-IDF let the words of
the whole corpus win with few clusters: on the demo corpus every cluster was
"china · beijing · russia"-like; with the lift the same clusters read "yuan · russian ·
trade", "summit · countries · sco", "pipeline · gas · power siberia". Stop words never count, bigrams may, and a unigram already inside
a chosen bigram is dropped so labels don't say "gas · siberia · power siberia". Terms are
words in their own script (analysis.tokens): Russian stems shown as words, Chinese segmented.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.sparse import csr_matrix
from sklearn.feature_extraction.text import CountVectorizer

from . import schema as S
from .tokens import ScriptTokenizer, display_terms


def term_counts(docs: Sequence[str]):
    """(display terms, sparse counts[doc, term]) of unigrams and bigrams, stop words removed."""
    tokenizer = ScriptTokenizer()  # English words, Russian stems, Chinese words; stop words removed
    vec = CountVectorizer(
        tokenizer=tokenizer, token_pattern=None, ngram_range=(1, 2), lowercase=False,
        min_df=1,  # a term in one cluster only is the most distinctive: never drop it
    )
    try:
        counts = vec.fit_transform(docs)
    except ValueError:  # only stop words, or nothing at all
        return np.array([], dtype=object), None
    return np.array(display_terms(tokenizer, vec.get_feature_names_out()), dtype=object), counts


def ctfidf(docs_per_cluster: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(terms, weights[cluster, term]): tf × log(1 + A / f_t) × max(0, log lift)."""
    terms, counts = term_counts(docs_per_cluster)
    if counts is None:
        return terms, np.zeros((len(docs_per_cluster), 0))
    return terms, ctfidf_from_counts(counts)


def ctfidf_from_counts(counts) -> np.ndarray:
    """c-TF-IDF with lift from a (cluster × term) count matrix; counts summed over
    partitions give the same weights as counting the whole corpus at once."""
    counts = csr_matrix(counts).astype(np.float64)
    tf = counts.multiply(1.0 / np.maximum(counts.sum(axis=1), 1)).tocsr()
    freq = np.asarray(counts.sum(axis=0)).ravel()
    avg_words = counts.sum() / max(counts.shape[0], 1)
    idf = np.log1p(avg_words / np.maximum(freq, 1))
    overall = freq / max(freq.sum(), 1)
    w = tf.multiply(idf).tocsr()  # sparse: only terms a cluster uses get a weight
    lift = np.log(w.data / idf[w.indices] / overall[w.indices])  # the cluster's tf ÷ the corpus's
    w.data *= np.maximum(lift, 0.0)
    return w.toarray()


def top_terms(terms: np.ndarray, weights: np.ndarray, n: int) -> list[list[str]]:
    """Best `n` terms per cluster, dropping unigrams covered by a better-ranked bigram."""
    out = []
    for row in weights:
        chosen: list[str] = []
        for j in np.argsort(-row, kind="stable"):
            if row[j] <= 0 or len(chosen) >= n:
                break
            term = terms[j]
            words = set(term.split())
            if any(words <= set(c.split()) or set(c.split()) <= words for c in chosen):
                # overlapping terms: keep the bigram, drop the unigram it contains
                if " " in term:
                    chosen = [c for c in chosen if not set(c.split()) <= words]
                    chosen.append(term)
                continue
            chosen.append(term)
        out.append(chosen)
    return out


def label_from_terms(terms: Sequence[str], n: int = 3) -> str:
    return " · ".join(terms[:n]) if terms else "(no distinctive terms)"


def _label_sample(passages: pd.DataFrame, labels: np.ndarray, per_cluster: int, seed: int) -> list[str]:
    """Concatenated text per cluster from at most `per_cluster` passages (seeded), for speed at scale."""
    rng = np.random.default_rng(seed)
    texts = passages[S.TEXT].to_numpy()
    docs = []
    for c in range(int(labels.max()) + 1 if len(labels) else 0):
        idx = np.flatnonzero(labels == c)
        if len(idx) > per_cluster:
            idx = np.sort(rng.choice(idx, per_cluster, replace=False))
        docs.append(" ".join(texts[idx]))
    return docs


_OUTLET_STATS = {"n_passages": "sum", "n_articles": "sum", "first_date": "min", "last_date": "max"}


def cluster_outlet_stats(passages: pd.DataFrame, labels: np.ndarray) -> pd.DataFrame:
    """Per (cluster, outlet): passages, articles, first and last date. An article has one outlet,
    so the parts of disjoint sets of articles add up (`add_cluster_outlet_stats`) to every
    size `cluster_table` reports."""
    df = pd.DataFrame({S.CLUSTER_ID: labels, S.OUTLET: passages[S.OUTLET].to_numpy(),
                       S.ARTICLE_ID: passages[S.ARTICLE_ID].to_numpy(), S.DATE: passages[S.DATE].reset_index(drop=True)})
    g = df.groupby([S.CLUSTER_ID, S.OUTLET], sort=True, dropna=False)
    return pd.DataFrame({"n_passages": g.size(), "n_articles": g[S.ARTICLE_ID].nunique(),
                         "first_date": g[S.DATE].min(), "last_date": g[S.DATE].max()}).reset_index()


def add_cluster_outlet_stats(parts: list[pd.DataFrame]) -> pd.DataFrame:
    df = pd.concat(parts, ignore_index=True)
    return df.groupby([S.CLUSTER_ID, S.OUTLET], sort=True, dropna=False).agg(_OUTLET_STATS).reset_index()


def cluster_table(
    passages: pd.DataFrame | None,
    labels: np.ndarray,
    similarity: np.ndarray,
    *,
    n_terms: int = 8,
    n_representatives: int = 3,
    seed: int = 0,
    per_cluster_sample: int = 1500,
    low_fit: np.ndarray | None = None,
    term_weights: tuple[np.ndarray, np.ndarray] | None = None,
    outlet_stats: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """One row per cluster: label, terms, sizes, share, outlets, dates and representatives.

    `passages` has schema.PASSAGE_COLUMNS; `labels`/`similarity` (and `low_fit`, counted
    per cluster) align with its rows. Engines that work by partition pass what they summed
    instead: `term_weights` (terms, cluster × term c-TF-IDF) and `outlet_stats`
    (`cluster_outlet_stats` added up); `passages` may then be None (no representatives).
    """
    k = int(labels.max()) + 1 if len(labels) else 0
    if term_weights is None:
        term_weights = ctfidf(_label_sample(passages, labels, per_cluster_sample, seed))
    terms, weights = term_weights
    tops = top_terms(terms, weights, n_terms) if len(terms) else [[] for _ in range(k)]
    index = {t: j for j, t in enumerate(terms)}
    by_outlet = outlet_stats if outlet_stats is not None else cluster_outlet_stats(passages, labels)
    g = by_outlet.groupby(S.CLUSTER_ID, sort=True)
    stats = g.agg(_OUTLET_STATS).assign(n_outlets=g[S.OUTLET].nunique()).reindex(range(k))
    reps = pd.Series([[] for _ in range(k)])
    if n_representatives and passages is not None:
        df = pd.DataFrame({S.TEXT: passages[S.TEXT].to_numpy(), S.CLUSTER_ID: labels, S.SIMILARITY: similarity})
        reps = (
            df.sort_values([S.CLUSTER_ID, S.SIMILARITY], ascending=[True, False], kind="stable")
            .drop_duplicates([S.CLUSTER_ID, S.TEXT])
            .groupby(S.CLUSTER_ID)[S.TEXT]
            .apply(lambda s: list(s.head(n_representatives)))
            .reindex(range(k))
        )
    table = pd.DataFrame({
        S.CLUSTER_ID: range(k),
        "label": [label_from_terms(t) for t in tops],
        "top_terms": [", ".join(t) for t in tops],
        "term_weights": [", ".join(f"{weights[c, index[t]]:.4g}" for t in top) for c, top in enumerate(tops)],
        "n_passages": stats["n_passages"].fillna(0).astype(int).to_numpy(),
        "n_articles": stats["n_articles"].fillna(0).astype(int).to_numpy(),
        "share": (stats["n_passages"].fillna(0) / max(len(labels), 1)).round(6).to_numpy(),
        "n_outlets": stats["n_outlets"].fillna(0).astype(int).to_numpy(),
        "first_date": stats["first_date"].to_numpy(),
        "last_date": stats["last_date"].to_numpy(),
    })
    if low_fit is not None:
        table["n_low_fit"] = np.bincount(labels[np.asarray(low_fit, bool)], minlength=k)[:k]
    for i in range(n_representatives):
        table[f"representative_{i + 1}"] = [
            (r[i] if isinstance(r, list) and len(r) > i else "") for r in reps
        ]
    return table


def main_cluster(passages: pd.DataFrame, labels: np.ndarray, similarity: np.ndarray) -> pd.Series:
    """Article → the cluster holding most of its passages (ties: higher summed similarity)."""
    df = pd.DataFrame({
        S.ARTICLE_ID: passages[S.ARTICLE_ID].to_numpy(), S.CLUSTER_ID: labels, S.SIMILARITY: similarity,
    })
    agg = df.groupby([S.ARTICLE_ID, S.CLUSTER_ID], sort=False)[S.SIMILARITY].agg(["size", "sum"])
    agg = agg.reset_index().sort_values(
        [S.ARTICLE_ID, "size", "sum", S.CLUSTER_ID], ascending=[True, False, False, True], kind="stable"
    )
    return agg.drop_duplicates(S.ARTICLE_ID).set_index(S.ARTICLE_ID)[S.CLUSTER_ID]

