"""Search: nearest passages by embedding (real model) plus exact keyword hits."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analysis import schema as S
from analysis.search import BOTH, MATCH, MEANING, QUERY_SIMILARITY, WORDS, keyword_mask, query_terms, search_passages


def _search(a, query, embedder, passages=None, vectors=None, **kw):
    passages = a.passages if passages is None else passages
    vectors = a.vectors if vectors is None else vectors
    labels = {f.id: f.label for f in a.codebook.frames}
    clusters = dict(zip(a.clusters[S.CLUSTER_ID], a.clusters["label"], strict=True))
    qv = embedder.encode([query])[0]
    return search_passages(query, qv, passages, vectors, a.frame_ids, labels, clusters, **kw)


def test_query_terms_keep_quoted_phrases_whole():
    assert query_terms('"Power of Siberia" gas, Gas') == ["power of siberia", "gas"]


def test_keyword_hits_are_whole_words_every_term_any_case():
    texts = pd.Series(["Gas flows east.", "gaseous talk", "GAS and oil", "oil only", None])
    assert keyword_mask(texts, ["gas"]).tolist() == [True, False, True, False, False]
    assert keyword_mask(texts, ["gas", "oil"]).tolist() == [False, False, True, False, False]


def test_a_paraphrase_with_no_shared_word_finds_the_passage_by_meaning(sample_analysis, embedder):
    a = sample_analysis
    target = a.passages.iloc[int(np.flatnonzero(a.passages[S.TEXT].str.contains("pipeline", case=False))[0])]
    query = "a conduit carrying fuel across the frontier"  # no word of it needs to appear
    got = _search(a, query, embedder)
    assert (got[MATCH] != WORDS).all()  # nothing matched by wording alone
    top = got.head(10)
    assert top[S.TEXT].str.contains("pipeline|gas|oil|energy", case=False).mean() >= 0.5
    assert got[QUERY_SIMILARITY].is_monotonic_decreasing
    assert target[S.TEXT] in set(_search(a, target[S.TEXT], embedder).head(1)[S.TEXT])  # itself first


def test_every_keyword_hit_is_listed_and_only_those(sample_analysis, embedder):
    a = sample_analysis
    got = _search(a, '"Power of Siberia"', embedder)
    has = a.passages[S.TEXT].str.contains(r"power\s+of\s+siberia", case=False, regex=True)
    assert has.sum() > 0
    by_words = got[got[MATCH].isin([WORDS, BOTH])]
    assert set(by_words[S.PASSAGE_ID]) == set(a.passages.loc[has, S.PASSAGE_ID])
    assert set(got.loc[got[MATCH] == MEANING, S.PASSAGE_ID]).isdisjoint(by_words[S.PASSAGE_ID])
    row = by_words.iloc[0]
    src = a.passages.set_index(S.PASSAGE_ID).loc[row[S.PASSAGE_ID]]
    assert row[S.OUTLET] == src[S.OUTLET] and row[S.CLUSTER_ID] == src[S.CLUSTER_ID]
    present = [f.label for f in a.codebook.frames if src[f"present_{f.id}"]]
    assert row["frames"] == (", ".join(present) or "—")


def test_search_stays_inside_the_filtered_passages(sample_analysis, embedder):
    a = sample_analysis
    outlet = a.passages[S.OUTLET].value_counts().index[0]
    keep = (a.passages[S.OUTLET] == outlet).to_numpy()
    got = _search(a, "gas pipeline", embedder, a.passages[keep], a.vectors[keep])
    assert len(got) and set(got[S.OUTLET]) == {outlet}
