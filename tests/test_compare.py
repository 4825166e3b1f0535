"""Compare: share differences with Newcombe intervals, Monroe et al. weighted log-odds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis import schema as S
from analysis.compare import (
    cluster_differences,
    distinctive_words,
    frame_differences,
    log_odds_dirichlet,
    passages_with_word,
    share_difference,
)


def test_log_odds_matches_a_hand_computed_example():
    # y_a = (10, 2, 5), y_b = (2, 8, 5), prior α = pooled counts (12, 10, 10): α0 = 32, n_a = 17, n_b = 15.
    # word 1: δ = ln(22 / 27) − ln(14 / 33) = −0.204794 + 0.857450 = 0.652656;
    #         sd = √(1/22 + 1/14) = 0.341882; z = 1.909011
    # word 3 (α = 10): a: 15 / (17 + 32 − 15) = 15 / 34, b: 15 / (15 + 32 − 15) = 15 / 32 → δ = ln(32 / 34)
    delta, z = log_odds_dirichlet(np.array([10, 2, 5]), np.array([2, 8, 5]), np.array([12, 10, 10]))
    assert delta[0] == pytest.approx(0.652656, abs=1e-6)
    assert z[0] == pytest.approx(1.909011, abs=1e-6)
    assert delta[2] == pytest.approx(np.log(32 / 34), abs=1e-9)
    assert z[1] < 0 < z[0]


def test_share_difference_reproduces_newcombes_published_interval():
    # Newcombe (1998), Stat Med 17:873, example (a): 56/70 vs 48/80, method 10: 0.0524 to 0.3339
    ind_a = pd.DataFrame({"x": [True] * 56 + [False] * 14})
    ind_b = pd.DataFrame({"x": [True] * 48 + [False] * 32})
    row = share_difference(ind_a, ind_b).iloc[0]
    assert row["difference"] == pytest.approx(0.2)
    assert row["ci_low"] == pytest.approx(0.0524, abs=1e-4)
    assert row["ci_high"] == pytest.approx(0.3339, abs=1e-4)
    assert bool(row["clear"])


def test_distinctive_words_find_each_sides_vocabulary_and_list_their_passages():
    a = ["The pipeline carries gas to China.", "Gas pipeline talks resumed.", "A new pipeline deal on gas.",
         "Leaders met to discuss trade."]
    b = ["Sanctions hit the banks.", "New sanctions on Russian banks.", "Banks fear sanctions.",
         "Leaders met to discuss trade."]
    got = distinctive_words(a, b, n=3, min_count=2)
    top_a = got[got["side"] == "a"]["word"].tolist()
    top_b = got[got["side"] == "b"]["word"].tolist()
    assert {"pipeline", "gas"} <= set(top_a) and {"sanctions", "banks"} <= set(top_b)
    assert "trade" not in top_a + top_b  # used equally by both
    listing = passages_with_word(pd.DataFrame({S.TEXT: a + b}), "sanctions")
    assert len(listing) == 3 and listing[S.TEXT].str.contains("anctions").all()


def test_two_outlets_of_the_demo_compared(sample_analysis):
    p = sample_analysis.passages
    top2 = p[S.OUTLET].value_counts().index[:2]
    a, b = p[p[S.OUTLET] == top2[0]], p[p[S.OUTLET] == top2[1]]
    labels = {f.id: f.label for f in sample_analysis.codebook.frames}
    fr = frame_differences(a, b, sample_analysis.frame_ids, labels)
    f0 = sample_analysis.frame_ids[0]
    row = fr.set_index("category").loc[f0]
    assert row["count_a"] == int(a[f"present_{f0}"].sum()) and row["n_b"] == len(b)
    assert (fr["ci_low"] <= fr["difference"] + 1e-9).all() and (fr["difference"] <= fr["ci_high"] + 1e-9).all()
    cl = dict(zip(sample_analysis.clusters[S.CLUSTER_ID], sample_analysis.clusters["label"], strict=True))
    cd = cluster_differences(a, b, cl)
    assert cd["share_a"].sum() == pytest.approx(1.0, abs=1e-3) and cd["difference"].is_monotonic_decreasing
    words = distinctive_words(a[S.TEXT].tolist(), b[S.TEXT].tolist(), n=10)
    assert set(words["side"]) == {"a", "b"}
    w = words.iloc[0]
    assert w["count_a"] / len(a) > w["count_b"] / len(b)  # a side's top word is relatively more frequent there


def test_term_counts_are_scikit_learns_counts():
    """`terms_of` counts words and two-word phrases by hand (CountVectorizer built and sorted a
    matrix the log-odds only sum): it must count exactly what CountVectorizer counts."""
    from collections import Counter

    from sklearn.feature_extraction.text import CountVectorizer

    from analysis.compare import terms_of
    from analysis.tokens import ScriptTokenizer

    texts = ["Gazprom and CNPC signed the Power of Siberia 2 pipeline deal.",
             "Путин и Си Цзиньпин обсудили газопровод «Сила Сибири — 2».",
             "中俄关系 is described as a partnership without limits; the deal, the deal!",
             "the of and", "Sanctions, sanctions and more sanctions on dual-use goods."]
    vec = CountVectorizer(tokenizer=ScriptTokenizer(), token_pattern=None, ngram_range=(1, 2), lowercase=False)
    totals = vec.fit_transform(texts).sum(axis=0).A1
    expected = {t: int(totals[i]) for t, i in vec.vocabulary_.items()}
    got = Counter(terms_of(texts, ScriptTokenizer()))
    assert got == expected
    assert got["sanctions"] == 3 and got["deal"] == 3 and got["pipeline deal"] == 1
