"""The demonstration corpus (data/demo): committed files are a fresh build and meet the spec.

Fast, no model: reads the CSVs and rebuilds them from data/demo/parts into a temp dir.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import sys
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "data" / "demo"
CODEBOOK = REPO / "data" / "codebooks" / "partnership.yaml"
CSV_NAMES = ("articles.csv", "gold_frames.csv", "gold_articles.csv")
MAX_BYTES = 3 * 1024 * 1024


def _load_builder():
    spec = importlib.util.spec_from_file_location("build_corpus", DEMO / "build_corpus.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    spec.loader.exec_module(module)
    return module


bc = _load_builder()


def _read(name: str) -> pd.DataFrame:
    return pd.read_csv(DEMO / name, dtype=str, keep_default_na=False, encoding="utf-8")


@pytest.fixture(scope="module")
def fresh(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo_build")
    corpus, counts = bc.build(DEMO / "parts", out)
    return out, corpus, counts


@pytest.fixture(scope="module")
def articles() -> pd.DataFrame:
    return _read("articles.csv")


@pytest.fixture(scope="module")
def gold_frames() -> pd.DataFrame:
    return _read("gold_frames.csv")


@pytest.fixture(scope="module")
def gold_articles() -> pd.DataFrame:
    return _read("gold_articles.csv")


@pytest.fixture(scope="module")
def frame_ids() -> set[str]:
    data = yaml.safe_load(CODEBOOK.read_text(encoding="utf-8"))
    return {f["id"] for f in data["frames"]}


# --- committed output == fresh build ------------------------------------------------------

@pytest.mark.parametrize("name", CSV_NAMES)
def test_committed_csv_matches_fresh_build(fresh, name):
    out, _, _ = fresh
    assert (DEMO / name).read_bytes() == (out / name).read_bytes(), (
        f"data/demo/{name} is stale: run `python data/demo/build_corpus.py`")


def test_readme_counts_match_fresh_build(fresh):
    _, _, counts = fresh
    text = (DEMO / "README.md").read_text(encoding="utf-8")
    block = text.split(bc.COUNTS_START, 1)[1].split(bc.COUNTS_END, 1)[0]
    assert block.strip() == counts.strip(), "README counts are stale: rerun build_corpus.py"


def test_build_is_deterministic(fresh, tmp_path):
    out, _, _ = fresh
    bc.build(DEMO / "parts", tmp_path)
    for name in CSV_NAMES:
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes()


# --- schema and spec ------------------------------------------------------------------------

def test_columns(articles, gold_frames, gold_articles):
    assert list(articles.columns) == ["id", "title", "text", "outlet", "date", "url", "language"]
    assert list(gold_frames.columns) == ["article_id", "paragraph_index", "frame_id"]
    assert list(gold_articles.columns) == [
        "article_id", "dominant_frame", "story", "kind", "syndicated_from"]


def test_size_and_volume(articles):
    assert len(articles) >= 320
    assert articles["outlet"].nunique() >= 10
    assert articles["id"].is_unique
    assert (DEMO / "articles.csv").stat().st_size < MAX_BYTES
    assert sum((DEMO / n).stat().st_size for n in CSV_NAMES) < MAX_BYTES


def test_sorted_by_date_then_id_undated_last(articles):
    keys = [(d == "", d, i) for d, i in zip(articles["date"], articles["id"], strict=True)]
    assert keys == sorted(keys)


def test_urls_on_example_domains(articles):
    for url in articles["url"]:
        parts = urlsplit(url)
        assert parts.scheme in ("http", "https"), url
        assert (parts.hostname or "").endswith(".example"), url


def test_dates_in_range_or_empty(articles):
    undated = 0
    for value in articles["date"]:
        if value == "":
            undated += 1
            continue
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", value), value
        assert date(2022, 1, 1) <= date.fromisoformat(value) <= date(2025, 12, 31), value
    assert 1 <= undated <= 20  # "a few undated"


def test_paragraphs_are_real(articles):
    for aid, text in zip(articles["id"], articles["text"], strict=True):
        paragraphs = text.split("\n\n")
        assert all(p.strip() and p == p.strip() for p in paragraphs), aid


def test_gold_frames_refer_to_codebook_and_existing_paragraphs(articles, gold_frames, frame_ids):
    assert set(gold_frames["frame_id"]) <= frame_ids
    n_paragraphs = {aid: len(text.split("\n\n"))
                    for aid, text in zip(articles["id"], articles["text"], strict=True)}
    assert set(gold_frames["article_id"]) <= set(n_paragraphs)
    for aid, index in zip(gold_frames["article_id"], gold_frames["paragraph_index"], strict=True):
        assert index.isdigit() and int(index) < n_paragraphs[aid], (aid, index)
    assert not gold_frames.duplicated().any()


def test_gold_articles(articles, gold_articles, gold_frames, frame_ids):
    assert list(gold_articles["article_id"]) == list(articles["id"])
    kinds = dict(zip(gold_articles["article_id"], gold_articles["kind"], strict=True))
    labelled = gold_frames.groupby("article_id")["frame_id"].agg(set).to_dict()
    for aid, dominant in zip(gold_articles["article_id"], gold_articles["dominant_frame"],
                             strict=True):
        if kinds[aid] == "offtopic":
            assert dominant == "none" and aid not in labelled, aid
        else:
            assert dominant in frame_ids and dominant in labelled.get(aid, set()), aid
    ids = set(articles["id"])
    sources = [s for s in gold_articles["syndicated_from"] if s]
    assert set(sources) <= ids


def test_realistic_mess(articles, gold_articles):
    kinds = gold_articles["kind"].value_counts()
    assert kinds.get("brief", 0) >= 10
    assert kinds.get("offtopic", 0) >= 10
    reprints = gold_articles[gold_articles["syndicated_from"] != ""]
    assert reprints["syndicated_from"].nunique() >= 15
    by_id = articles.set_index("id")
    for rid, source in zip(reprints["article_id"], reprints["syndicated_from"], strict=True):
        assert by_id.at[rid, "outlet"] != by_id.at[source, "outlet"], rid
        assert by_id.at[rid, "date"] != by_id.at[source, "date"], rid
    languages = set(articles["language"])
    assert any("ru" in lang for lang in languages) and any("zh" in lang for lang in languages)
    assert articles["text"].str.contains(r"[\u0400-\u04ff]").any()
    assert articles["text"].str.contains(r"[\u4e00-\u9fff]").any()
    titles = articles["title"]
    assert titles.str.contains(",").any() and titles.str.contains('"').any()


def test_regular_articles_have_150_to_600_words(articles, gold_articles):
    kinds = dict(zip(gold_articles["article_id"], gold_articles["kind"], strict=True))
    outside = [(aid, bc.word_count(text))
               for aid, text in zip(articles["id"], articles["text"], strict=True)
               if kinds[aid] != "brief" and not 150 <= bc.word_count(text) <= 600]
    assert outside == []


def test_most_articles_mix_two_to_four_frames(gold_frames, gold_articles):
    on_topic = gold_articles.loc[gold_articles["kind"] != "offtopic", "article_id"]
    per_article = gold_frames.groupby("article_id")["frame_id"].nunique()
    mixed = per_article.reindex(on_topic, fill_value=0).between(2, 4)
    assert mixed.mean() > 0.5


# --- the validator fails loudly ----------------------------------------------------------

def _good_record() -> dict:
    first = (DEMO / "parts" / "p1.jsonl").read_text(encoding="utf-8").splitlines()[0]
    return json.loads(first)


def _mutations():
    def dup(r):
        return r

    def unknown_frame(r):
        r["paragraphs"][0]["frames"] = ["not_a_frame"]

    def empty_paragraph(r):
        r["paragraphs"][1]["text"] = "   "

    def blank_line(r):
        r["paragraphs"][0]["text"] += "\n\nSecond block."

    def bad_date(r):
        r["date"] = "2023-02-30"

    def out_of_range(r):
        r["date"] = "2021-12-31"

    def real_url(r):
        r["url"] = "https://www.example.com/news/story"

    return [
        (dup, "duplicate id"),
        (unknown_frame, "unknown frame id 'not_a_frame'"),
        (empty_paragraph, "paragraph 1 is empty"),
        (blank_line, "paragraph 0 contains a blank line"),
        (bad_date, "bad date '2023-02-30'"),
        (out_of_range, "outside"),
        (real_url, "not on a .example domain"),
    ]


@pytest.mark.parametrize(("mutate", "message"), _mutations(),
                         ids=[m.__name__ for m, _ in _mutations()])
def test_validator_names_file_and_line(tmp_path, mutate, message):
    good = _good_record()
    bad = _good_record()
    if mutate.__name__ != "dup":
        bad["id"] = "other-id"
    mutate(bad)
    parts = tmp_path / "parts"
    parts.mkdir()
    (parts / "x.jsonl").write_text(
        json.dumps(good) + "\n" + json.dumps(bad, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(bc.CorpusError) as err:
        bc.build(parts, tmp_path / "out")
    lines = [line.strip() for line in str(err.value).splitlines()]
    assert any(line.startswith("x.jsonl:2:") and message in line for line in lines), lines
    assert not (tmp_path / "out" / "articles.csv").exists()


def test_validator_accepts_the_real_parts(tmp_path):
    shutil.copytree(DEMO / "parts", tmp_path / "parts")
    corpus, _ = bc.build(tmp_path / "parts", tmp_path / "out")
    assert len(corpus.articles) == len(_read("articles.csv"))
