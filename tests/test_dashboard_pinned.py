"""Pinned runs in the dashboard (issue 13): a `framescope run --out` folder opened on the Data
page, and data sets added to the current analysis without re-clustering it.

AppTest, real model, the 25-article fixture as the demonstration corpus: its run is the base;
the CLI folder reuses the store's cached vectors, and the added data set is four articles.
"""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import schema as S
from analysis.runread import read_table
from dashboard import keys as K
from dashboard import runs

from test_dashboard import SMALL, app, clean, first_start, literal, metric, page, qp

ADDED_CSV = (
    "title,text,outlet,date\n"
    "Gas talks,\"Gazprom and CNPC resumed talks on the Power of Siberia 2 pipeline; Moscow wants Chinese buyers for "
    "the gas it no longer sells to Europe, and Beijing bargains hard on the price.\",Harbour Post,2024-03-02\n"
    "Drills,\"Russian and Chinese navies held joint drills in the Sea of Japan, the third exercise this year, "
    "which Washington called a show of force.\",Harbour Post,2024-03-09\n"
    "Summit words,\"The two presidents praised a friendship without limits and spoke of a multipolar world in which "
    "no single power dictates the rules.\",Steppe Herald,2024-03-16\n"
    "Trade record,\"Bilateral trade reached a record as Chinese cars and machinery replaced Western imports in Russian "
    "shops and factories.\",Steppe Herald,2024-03-23\n"
)


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("pinned")
    mp = pytest.MonkeyPatch()
    mp.setenv(runs.RUN_FOLDERS_ENV, str(tmp / "runs"))
    with first_start(tmp, SMALL) as (at, store):
        keys = []
        for _ in range(100):
            keys = [r[0] for r in store.connection().execute("SELECT run_key FROM runs")]
            if keys:
                break
            import time

            time.sleep(0.1)
        assert runs.wait(store, keys[0], timeout=900).status == "done"
        yield {"tmp": tmp, "store": store, "key": keys[0]}
    mp.undo()


def _cli_folder(env) -> str:
    """A CLI run of 15 of the fixture's articles (vectors from the store's cache), k = 3."""
    from analysis.cli import main

    tmp = env["tmp"]
    src = pd.read_csv(SMALL).head(15)
    src.to_csv(tmp / "fifteen.csv", index=False)
    out = tmp / "runs" / "week-48"
    assert main(["run", str(tmp / "fifteen.csv"), "--out", str(out), "--k", "3",
                 "--store", str(tmp / "fs.db"), "--quiet"]) == 0
    return str(out)


def test_a_cli_run_folder_opens_as_it_was_computed(env):
    folder = _cli_folder(env)
    cli_passages = pd.read_csv(f"{folder}/passages.csv")
    at = page(app().run(), "data")
    clean(at)
    at.text_input(key="fs_open_path").set_value(folder).run()
    next(b for b in at.button if b.label == "Open").click().run()
    clean(at)
    key = qp(at, "run")
    assert len(key) == 1, (at.query_params, [w.value for w in at.warning])
    assert "codebook" not in at.query_params and "k" not in at.query_params  # the run fixes them
    stored = env["store"].run_path(key[0])
    assert stored is not None
    assert len(read_table(stored, "passages")) == len(cli_passages)
    at = page(at, "overview")
    clean(at)
    assert metric(at, "Passages") == f"{len(cli_passages):,}"
    assert metric(at, "Articles") == "15"
    assert any("Opened run folder" in m.value for m in at.sidebar.markdown)
    assert any("k = 3" in c.value for c in at.sidebar.caption)
    # the link opens the same run in a new session
    fresh = app(run=key[0]).run()
    clean(fresh)
    assert qp(fresh, "run") == key and metric(fresh, "Passages") == f"{len(cli_passages):,}"
    # opening it again reuses the first import: no second data set
    n_sets = len(env["store"].datasets())
    at = page(at, "data")
    at.text_input(key="fs_open_path").set_value(folder).run()
    next(b for b in at.button if b.label == "Open").click().run()
    assert len(env["store"].datasets()) == n_sets and qp(at, "run") == key
    # and back: the data sets analysed afresh with the run's settings
    next(b for b in at.button if b.label == "Analyse these data sets afresh").click().run()
    clean(at)
    assert "run" not in at.query_params and qp(at, "k") == ["3"]
    at.session_state[K.PENDING_DATASETS] = [1]
    at.run()


def test_a_folder_made_elsewhere_is_imported_with_its_model(env, tmp_path):
    """The store of another server never saw the run: its tables and model are imported."""
    from analysis.store import Store

    folder = env["tmp"] / "runs" / "week-48"
    if not folder.exists():
        _cli_folder(env)
    other = Store(tmp_path / "other.db")
    try:
        key, datasets = runs.open_run_folder(other, str(folder))
        assert other.run_params(key)["kind"] == runs.FOLDER and list(datasets) == other.run_params(key)["datasets"]
        assert len(other.articles(list(datasets))) == 15
        assert len(read_table(other.run_path(key), "passages")) == len(pd.read_csv(folder / "passages.csv"))
        assert other.run_model(key) is not None and other.run_model(key).k == 3
        assert runs.open_run_folder(other, str(folder)) == (key, datasets)  # again: nothing added
        assert len(other.datasets()) == 1
    finally:
        other.close()


def test_a_folder_outside_the_allowed_ones_or_not_a_run_is_refused_in_one_line(env, tmp_path):
    at = page(app().run(), "data")
    at.text_input(key="fs_open_path").set_value(str(tmp_path)).run()
    next(b for b in at.button if b.label == "Open").click().run()
    assert not at.exception
    assert any("outside the folders" in literal(e) for e in at.error), [e.value for e in at.error]
    empty = env["tmp"] / "runs" / "empty"
    empty.mkdir(parents=True, exist_ok=True)
    at.text_input(key="fs_open_path").set_value(str(empty)).run()
    next(b for b in at.button if b.label == "Open").click().run()
    assert not at.exception
    assert any("manifest.json" in literal(e) for e in at.error), [e.value for e in at.error]
    assert "run" not in at.query_params


def test_adding_a_data_set_grows_the_analysis_and_keeps_cluster_ids(env):
    from analysis.ingest import ingest

    store = env["store"]
    got = ingest([("added.csv", ADDED_CSV.encode())])
    info = store.add_dataset("Added week", got.articles, got.rejected, [("added.csv", "a" * 64)])
    at = page(app().run(), "data")
    clean(at)
    at.multiselect(key="fs_add_pick").select(info.dataset_id).run()
    next(b for b in at.button if b.label == "Add to the current analysis").click().run()
    clean(at)
    key = qp(at, "run")
    assert len(key) == 1 and key[0] != env["key"]
    assert runs.wait(store, key[0], timeout=600).status == "done"
    base, grown = store.run_tables(env["key"])[0], store.run_tables(key[0])[0]
    old = base["passages"].set_index(S.PASSAGE_ID)[S.CLUSTER_ID]
    kept = grown["passages"].set_index(S.PASSAGE_ID)[S.CLUSTER_ID].reindex(old.index)
    assert (kept == old).all()  # every earlier passage keeps its cluster id
    assert len(grown["passages"]) > len(base["passages"])
    assert set(grown["passages"][S.CLUSTER_ID]) <= set(base["passages"][S.CLUSTER_ID])  # no new clusters
    at = page(at, "overview")
    clean(at)
    assert metric(at, "Articles") == "29"
    assert sorted(qp(at, "ds")) == sorted([str(i) for i in (1, info.dataset_id)])
    assert any("Grown analysis" in m.value for m in at.sidebar.markdown)
    assert any("added passages fit their cluster poorly" in c.value for c in at.sidebar.caption) or \
        any("added passages fit their cluster poorly" in w.value for w in at.sidebar.warning)
    # drift above the warning level (set so here: the 4 added articles fit) offers a re-cluster
    # that keeps the ids of clusters that persist
    import json

    from dashboard import state

    manifest = store.run_manifest(key[0])
    manifest["incremental"]["drift_warn_level"] = -1.0
    with store.write() as con:
        con.execute("UPDATE runs SET manifest=? WHERE run_key=?", (json.dumps(manifest), key[0]))
    state._results.clear()
    at.run()
    assert any("re-cluster" in w.value.lower() or "above" in w.value for w in at.sidebar.warning)
    next(b for b in at.button if b.label == "Re-cluster, keeping cluster ids").click().run()
    clean(at)
    again = qp(at, "run")
    assert len(again) == 1 and again[0] not in (key[0], env["key"])
    assert runs.wait(store, again[0], timeout=600).status == "done"
    inc = store.run_manifest(again[0])["incremental"]
    assert inc["recluster"] and inc["base_run_key"] == env["key"] and inc["match"]["kept"]
    at.run()
    assert any("Re-clustered analysis" in m.value for m in at.sidebar.markdown)
    at.session_state[K.PENDING_DATASETS] = [1]
    at.run()
    store.delete_dataset(info.dataset_id)
