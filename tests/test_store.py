import sqlite3
import threading

import numpy as np
import pandas as pd

from analysis.ingest import ingest
from analysis.store import Store


def test_store_is_wal_and_survives_reopen(tmp_path, demo_sample):
    path = tmp_path / "s.db"
    s = Store(path)
    assert s.connection().execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    info = s.add_dataset("demo", demo_sample, pd.DataFrame(columns=["file", "row", "reason"]), [("a.csv", "f" * 64)])
    s.close()
    again = Store(path)
    assert [d.name for d in again.datasets()] == ["demo"]
    assert len(again.articles([info.dataset_id])) == len(demo_sample)
    assert again.dataset_for_file("f" * 64).dataset_id == info.dataset_id


def test_same_articles_saved_twice_are_stored_once(store, demo_sample):
    empty = pd.DataFrame(columns=["file", "row", "reason"])
    a = store.add_dataset("one", demo_sample, empty, [("a.csv", "1" * 64)])
    b = store.add_dataset("one", demo_sample.head(10), empty, [("b.csv", "2" * 64)])
    assert b.name == "one (2)"  # names never collide
    n = store.connection().execute("SELECT COUNT(*) FROM articles").fetchone()[0]
    assert n == len(demo_sample)
    both = store.articles([a.dataset_id, b.dataset_id])
    assert len(both) == len(demo_sample)


def test_vectors_round_trip_and_are_keyed_by_model(store):
    v = np.random.default_rng(0).normal(size=(3, 4)).astype(np.float32)
    store.put_vectors("m1", ["a", "b", "c"], v)
    got = store.get_vectors("m1", ["c", "a", "zz"])
    assert set(got) == {"a", "c"}
    np.testing.assert_array_equal(got["c"], v[2])
    assert store.get_vectors("m2", ["a"]) == {}


def test_a_failed_write_leaves_nothing_behind(store, demo_sample):
    bad = demo_sample.drop(columns=["title"])  # add_dataset fails half-way
    try:
        store.add_dataset("broken", bad, pd.DataFrame(columns=["file", "row", "reason"]), [("x", "3" * 64)])
    except (KeyError, ValueError, sqlite3.Error):
        pass
    assert store.datasets() == []
    assert store.connection().execute("SELECT COUNT(*) FROM dataset_files").fetchone()[0] == 0


def test_concurrent_writers_do_not_lose_rows(tmp_path):
    path = tmp_path / "c.db"
    Store(path).close()
    errors = []

    def writer(w: int) -> None:
        s = Store(path)
        try:
            for i in range(30):
                s.put_vectors("m", [f"{w}-{i}"], np.ones((1, 4), np.float32))
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            s.close()

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert Store(path).connection().execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == 120


def test_runs_are_claimed_once_and_results_persist(tmp_path):
    path = tmp_path / "r.db"
    s = Store(path)
    assert s.claim_run("k1", {"k": 5}, owner="session-a")
    assert not s.claim_run("k1", {"k": 5}, owner="session-b")  # running and alive
    s.update_run("k1", stage="embed", done=5, total=10)
    assert s.run_status("k1").stage == "embed"
    assert s.run_tables("k1") is None  # not done yet
    s.finish_run("k1", {"t": pd.DataFrame({"x": [1, 2]})}, {"note": "hi"})
    s.close()
    tables, manifest = Store(path).run_tables("k1")
    assert tables["t"]["x"].tolist() == [1, 2] and manifest == {"note": "hi"}
    assert not Store(path).claim_run("k1", {}, owner="c")  # done runs are never recomputed


def test_ingested_demo_round_trips_through_the_store(store):
    from analysis.config import DEMO_CORPUS

    r = ingest([DEMO_CORPUS])
    info = store.add_dataset("demo", r.articles, r.rejected, [(f.name, f.sha256) for f in r.files])
    back = store.articles([info.dataset_id])
    assert len(back) == len(r.articles) == info.n_articles
    assert back["date"].isna().sum() == r.articles["date"].isna().sum()  # undated stay undated


def test_articles_without_text_give_the_same_digest(store, demo_sample):
    """The dashboard reads the articles it only counts and filters without their text; the run
    key made of them must be the one `framescope run` makes of the full articles."""
    from analysis import schema as S
    from analysis.pipeline import articles_digest

    empty = pd.DataFrame(columns=["file", "row", "reason"])
    a = store.add_dataset("one", demo_sample, empty, [("a.csv", "1" * 64)])
    b = store.add_dataset("two", demo_sample.tail(5), empty, [("b.csv", "2" * 64)])
    full, lean = store.articles([a.dataset_id, b.dataset_id]), store.articles([a.dataset_id, b.dataset_id], text=False)
    assert S.TEXT not in lean and lean[S.ARTICLE_KEY].str.fullmatch("[0-9a-f]{32}").all()
    assert lean.drop(columns=S.ARTICLE_KEY).equals(full.drop(columns=S.TEXT))
    assert articles_digest(lean) == articles_digest(full)
    assert articles_digest(lean.head(-1)) != articles_digest(full)
    assert list(store.articles([], text=False).columns) == list(lean.columns)
