"""Issue 10, part B: figures that are right — reprints, intervals, dates, lost text, labels, relevance.

Each test here fails on the code before the fix it names.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis import aggregates as A
from analysis import schema as S
from analysis.codebook import load_codebook, parse_codebook_text
from analysis.config import DEFAULT_CODEBOOK, PipelineConfig
from analysis.ingest import ingest
from analysis.labeling import cluster_table
from analysis.passages import is_boilerplate, paragraphs, split_passages
from analysis.pipeline import analyse, summary_tables
from analysis.relevance import REASON, RELEVANT, mentions
from analysis.syndication import GROUP, IS_COPY, syndication

FIXTURES = Path(__file__).parent / "fixtures"

GAS = ("Energy ministers of Russia and China agreed on Tuesday to raise gas deliveries through the eastern "
       "pipeline, extending a supply contract that officials said would run into the next decade and "
       "settling payments in roubles and yuan.")
SUMMIT = ("Chinese and Russian leaders met in Beijing for a summit on their strategic partnership, signing a "
          "joint statement on a multipolar world order and promising closer coordination at the United Nations.")


def csv_source(rows: list[list[str]]) -> tuple[str, bytes]:
    return "in.csv", pd.DataFrame(rows[1:], columns=rows[0]).to_csv(index=False).encode()


# --- 2. reprints count where they appeared ---------------------------------------------------


@pytest.fixture(scope="module")
def reprinted(embedder):
    """GAS printed by Alpha and reprinted by Beta and Gamma; SUMMIT by Delta only."""
    result = ingest([csv_source([
        ["title", "text", "outlet", "date"],
        ["Gas deal", GAS, "Alpha", "2024-03-04"],
        ["Gas deal", GAS, "Beta", "2024-03-05"],
        ["Gas deal", GAS, "Gamma", "2024-04-02"],
        ["Summit", "By Jane Smith\n\n" + SUMMIT, "Delta", "2024-03-06"],
    ])])
    analysis = analyse(result.articles, PipelineConfig(k=2), embedder=embedder)
    labels = dict(zip(analysis.clusters[S.CLUSTER_ID], analysis.clusters["label"], strict=True))
    return result, analysis, labels


def test_ingest_keeps_every_outlet_and_date_that_carried_a_collapsed_article(reprinted):
    result, _, _ = reprinted
    gas = result.articles.set_index(S.OUTLET).loc["Alpha"]
    assert gas[S.DUPLICATES] == 2 and gas[S.DUPLICATE_OUTLETS] == "Beta @ 2024-03-05; Gamma @ 2024-04-02"


def test_per_outlet_counts_a_reprint_for_every_outlet_and_once_only_at_its_origin(reprinted):
    _, analysis, labels = reprinted
    tables = {how: summary_tables(analysis.passages, analysis.frame_ids, labels,
                                  PipelineConfig(count_syndicated=how, period="month"))
              for how in ("per-outlet", "once")}
    volume = {how: t["volume_by_outlet"].groupby(S.OUTLET)["n_articles"].sum() for how, t in tables.items()}
    assert volume["per-outlet"].to_dict() == {"Alpha": 1, "Beta": 1, "Delta": 1, "Gamma": 1}
    assert volume["once"].to_dict() == {"Alpha": 1, "Delta": 1}
    share = {how: v["Alpha"] / v.sum() for how, v in volume.items()}
    assert share == {"per-outlet": 0.25, "once": 0.5}  # the outlet shares differ
    # Gamma's copy ran in April, on its own date
    gamma = tables["per-outlet"]["volume_by_outlet"].query("outlet == 'Gamma' and n_articles > 0")
    assert gamma[A.PERIOD].tolist() == ["2024-04"]
    outlets = set(tables["per-outlet"]["outlet_similarity"]["outlet_a"])
    assert outlets == {"Alpha", "Beta", "Gamma", "Delta"}
    assert set(tables["once"]["frames_by_outlet"][S.OUTLET]) == {"Alpha", "Delta"}


def test_a_paragraph_reprinted_by_sixty_outlets_is_one_syndication_group(embedder):
    n = 62
    texts = [f"{GAS} Reported for outlet number {i}." for i in range(n)] + [SUMMIT]
    passages = pd.DataFrame({
        S.PASSAGE_ID: [f"a{i}:0" for i in range(n + 1)], S.ARTICLE_ID: [f"a{i}" for i in range(n + 1)],
        S.OUTLET: [f"Outlet {i}" for i in range(n + 1)],
        S.DATE: pd.to_datetime([f"2024-03-{1 + i % 28:02d}" for i in range(n + 1)], utc=True), S.TEXT: texts,
    })
    s = syndication(passages, embedder.encode(texts))
    assert s[GROUP].iloc[:n].nunique() == 1 and (s[GROUP].iloc[:n] >= 0).all()
    assert s[GROUP].iloc[n] == -1 and s[IS_COPY].sum() == n - 1


# --- 3. intervals that respect the data --------------------------------------------------------


def nested(frame_articles: int, other_articles: int, per_article: int, month: str = "2024-01-10") -> pd.DataFrame:
    """Articles whose passages all carry the frame or all do not."""
    n = frame_articles + other_articles
    return pd.DataFrame({
        S.ARTICLE_ID: np.repeat([f"a{i}" for i in range(n)], per_article),
        S.OUTLET: "X", S.DATE: pd.Timestamp(month, tz="UTC"),
        A.present_column("energy"): np.repeat(np.arange(n) < frame_articles, per_article),
    })


def test_intervals_are_clustered_by_article_and_article_shares_stand_beside():
    p = nested(8, 12, per_article=10)  # 200 passages, but only 20 independent articles
    row = A.by_group(p, A.frame_indicators(p, ["energy"]), category=S.FRAME_ID).iloc[0]
    naive_lo, naive_hi = A.wilson(np.array([80]), np.array([200]))
    assert row[A.SHARE] == 0.4 and row[A.N_ARTICLES] == 20 and row[A.ARTICLES_WITH] == 8
    assert row[A.ARTICLE_SHARE] == 0.4
    assert row[A.CI_HIGH] - row[A.CI_LOW] > 1.5 * (naive_hi[0] - naive_lo[0])
    by_article_lo, by_article_hi = A.wilson(np.array([8]), np.array([20]))
    assert row[A.CI_LOW] == pytest.approx(by_article_lo[0], abs=0.02)
    assert row[A.CI_HIGH] == pytest.approx(by_article_hi[0], abs=0.02)
    # independent passages (one per article): the interval is Wilson's
    q = nested(80, 120, per_article=1)
    row = A.by_group(q, A.frame_indicators(q, ["energy"]), category=S.FRAME_ID).iloc[0]
    assert (row[A.CI_LOW], row[A.CI_HIGH]) == pytest.approx((naive_lo[0], naive_hi[0]), abs=1e-3)


def test_thin_counts_articles_and_an_empty_period_has_no_share():
    p = pd.concat([nested(1, 0, per_article=12, month="2024-01-10"), nested(3, 3, per_article=1, month="2024-03-10")])
    p[S.ARTICLE_ID] = [f"{a}-{d:%m}" for a, d in zip(p[S.ARTICLE_ID], p[S.DATE], strict=True)]
    t = A.over_time(p, A.frame_indicators(p, ["energy"]), category=S.FRAME_ID, period="month", min_n=5)
    t = t.set_index(A.PERIOD)
    assert t.loc["2024-01", A.N_PASSAGES] == 12 and t.loc["2024-01", A.THIN]  # 12 passages, 1 article
    assert not t.loc["2024-03", A.THIN]  # 6 passages, 6 articles
    assert t.loc["2024-02", A.N_PASSAGES] == 0
    assert t.loc["2024-02", [A.SHARE, A.CI_LOW, A.CI_HIGH, A.ARTICLE_SHARE]].isna().all()


# --- 4. dates on the publisher's calendar ------------------------------------------------------


def test_dates_keep_the_calendar_day_of_their_offset():
    result = ingest([csv_source([
        ["text", "date"], ["Moscow.", "2024-03-06T01:00+03:00"], ["Beijing.", "2024-03-06T07:30:00+08:00"],
        ["New York.", "2024-03-05T23:30:00-05:00"], ["Naive.", "2024-03-06T01:00"], ["Day.", "2024-03-06"],
    ])])
    assert result.articles[S.DATE].dt.strftime("%Y-%m-%d").tolist() == [
        "2024-03-06", "2024-03-06", "2024-03-05", "2024-03-06", "2024-03-06"]


# --- 7. text is never silently lost ------------------------------------------------------------


def test_only_bylines_and_credits_are_dropped_and_prose_is_kept():
    for credit in ("By Jane Smith", "By JANE SMITH and Li Wei, Reuters", "By Anna Petrova | Moscow",
                   "Copyright 2024 Reuters. All rights reserved.", "© 2024 The Associated Press"):
        assert is_boilerplate(credit), credit
    for prose in ("By Tuesday, Moscow had agreed to the terms.", "By Monday Beijing had agreed.",
                  "Copyright law in Russia changed after 2022, and Chinese publishers followed.",
                  "Copyright holders in China said the Russian platforms had ignored them for years."):
        assert not is_boilerplate(prose), prose
    text = "By Jane Smith\n\nBy Tuesday, Moscow had agreed to the terms.\n\nCopyright disputes slowed the deal."
    assert paragraphs(text) == ["By Tuesday, Moscow had agreed to the terms.", "Copyright disputes slowed the deal."]


def test_dropped_lines_are_counted_in_the_run_manifest(reprinted):
    _, analysis, _ = reprinted
    assert analysis.manifest["counts"]["lines_dropped"] == 1  # "By Jane Smith"
    assert analysis.articles.set_index(S.OUTLET).loc["Delta", "lines_dropped"] == 1


def test_a_sentence_longer_than_the_model_window_is_split_by_tokens_not_cut(embedder):
    words = [f"partnership{i % 50} energy cooperation" for i in range(200)]  # one 600-word sentence
    sentence = " ".join(words)
    articles = pd.DataFrame({S.ARTICLE_ID: ["a"], S.OUTLET: ["X"], S.DATE: [pd.NaT], S.TEXT: [sentence]})
    passages = split_passages(articles, max_tokens=256, count=embedder.count_tokens)
    assert len(passages) >= 3
    assert max(embedder.count_tokens(passages[S.TEXT].tolist())) <= 256
    assert " ".join(passages[S.TEXT]).split() == sentence.split()


# --- 8. labels from distinctive terms ----------------------------------------------------------


def test_labels_at_k3_keep_a_term_found_in_one_cluster_only():
    topics = ["pipeline gas siberia", "summit beijing leaders", "sanctions banks payments"]
    texts, labels = [], []
    for c, words in enumerate(topics):
        for i in range(6):
            texts.append(f"Officials discussed {words} again on day {i}; the {words} question dominated.")
            labels.append(c)
    texts[0] += " Kazakhstan kazakhstan kazakhstan transit."  # unique to cluster 0
    passages = pd.DataFrame({S.ARTICLE_ID: [f"a{i}" for i in range(len(texts))], S.OUTLET: "X",
                             S.DATE: pd.NaT, S.TEXT: texts})
    table = cluster_table(passages, np.array(labels), np.ones(len(texts)), n_terms=8)
    # every topic word is unique to its cluster: a document-frequency floor of 2 dropped them all
    assert "pipeline" in table.loc[0, "label"] and "summit" in table.loc[1, "label"]
    assert "sanctions" in table.loc[2, "top_terms"] and "kazakhstan" in table.loc[0, "top_terms"]


# --- 9. relevance gate -------------------------------------------------------------------------


def test_co_mention_needs_whole_words():
    assert mentions("Dumplings in Chinatown and a Russian tea room") == (False, True)
    assert mentions("A fine bone china service from a Russian workshop") == (False, True)
    assert mentions("The PRCA awards went to Moscow agencies") == (False, True)
    assert mentions("China and Russia") == (True, True) and mentions("Sino-Russian trade") == (True, True)
    assert mentions("the PRC and the Kremlin") == (True, True)


def test_codebook_topic_is_read_validated_and_changes_the_digest():
    book = load_codebook(DEFAULT_CODEBOOK)
    assert book.topic is not None and len(book.topic.examples) >= 5
    again = parse_codebook_text(book.to_yaml())
    assert again.topic == book.topic
    without = parse_codebook_text(book.to_yaml().split("topic:")[0])
    assert without.topic is None and without.digest() != book.digest()


@pytest.fixture(scope="module")
def gated(embedder):
    sample = pd.read_csv(FIXTURES / "relevance_sample.csv", dtype=str)
    result = ingest([("sample.csv", sample.to_csv(index=False).encode())], mapping={"article_id": "case_id"})
    analysis = analyse(result.articles, PipelineConfig(relevance=True, k=2), embedder=embedder)
    out = analysis.articles.set_index(S.ARTICLE_ID)
    gold = sample.set_index("case_id")["relevant"] == "1"
    return out, gold.reindex(out.index)


def test_the_topic_check_sets_aside_sports_tables_and_lists_that_name_both_countries(gated):
    out, _ = gated
    tables = out[out["title"].str.contains("Medal table|Group B|Chess olympiad")]
    assert len(tables) == 3 and not tables[RELEVANT].any()
    assert tables[REASON].str.startswith("far from the codebook's topic").all()
    assert out.loc["r15", REASON] == "mentions Russia only"  # Chinatown


def test_gate_precision_and_recall_on_the_borderline_sample(gated):
    out, gold = gated
    kept = out[RELEVANT].to_numpy(bool)
    g = gold.to_numpy(bool)
    precision = (kept & g).sum() / kept.sum()
    recall = (kept & g).sum() / g.sum()
    assert precision >= 0.9 and recall >= 0.9, (precision, recall)
