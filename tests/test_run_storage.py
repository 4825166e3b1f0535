"""Run tables as Parquet folders beside the store, read out of core with DuckDB."""

from __future__ import annotations

import sqlite3
from datetime import date

import numpy as np
import pandas as pd
import pytest

from analysis import schema as S
from analysis.runread import RowFilter, read_table
from analysis.store import Store
from dashboard.cache import ByteLRU, frame_bytes
from dashboard.explore import Selection, filter_rows


def _passages(n: int = 400) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    dates = pd.Timestamp("2023-01-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    dates = pd.Series(dates).mask(rng.random(n) < 0.1)  # some undated
    return pd.DataFrame({
        S.PASSAGE_ID: [f"a{i // 2}:{i % 2}" for i in range(n)],
        S.ARTICLE_ID: [f"a{i // 2}" for i in range(n)],
        S.OUTLET: rng.choice(["Alpha", "Beta", "Gamma's"], n),
        S.LANGUAGE: rng.choice(["en", "ru", "zh"], n),
        S.DATE: dates,
        S.TEXT: [f"passage {i}" for i in range(n)],
        S.CLUSTER_ID: rng.integers(0, 4, n),
        "present_trade": rng.random(n) < 0.3,
    })


def test_a_finished_run_is_a_parquet_folder_and_reads_back_whole(tmp_path):
    s = Store(tmp_path / "x.db")
    assert s.claim_run("k", {}, owner="t")
    assert s.run_path("k") is None
    s.finish_run("k", {"passages": _passages(), "clusters": pd.DataFrame({"c": [1]})}, {"m": 1})
    folder = s.run_path("k")
    assert folder == tmp_path / "x_runs" / "k"
    assert sorted(p.name for p in folder.iterdir()) == ["clusters.parquet", "passages.parquet"]
    assert [p.name for p in (tmp_path / "x_runs").iterdir()] == ["k"]  # no temporary folder left
    tables, manifest = s.run_tables("k")
    pd.testing.assert_frame_equal(tables["passages"], _passages())
    assert manifest == {"m": 1}
    # the blobs are gone from SQLite: only the index remains
    con = sqlite3.connect(tmp_path / "x.db")
    assert con.execute("SELECT name FROM sqlite_master WHERE name='run_tables'").fetchone() is None


class _Boom(Exception):
    pass


class _Exploding(pd.DataFrame):
    def to_parquet(self, *a, **kw):  # a crash half-way through writing the run's tables
        raise _Boom("disk gone")


def test_a_crash_mid_write_leaves_no_run_folder_and_the_run_not_done(tmp_path):
    s = Store(tmp_path / "x.db")
    s.claim_run("k", {}, owner="t")
    with pytest.raises(_Boom):
        s.finish_run("k", {"passages": _passages(), "clusters": _Exploding({"c": [1]})}, {"m": 1})
    assert not (tmp_path / "x_runs" / "k").exists()
    assert list((tmp_path / "x_runs").iterdir()) == []  # the temporary folder is removed too
    assert s.run_status("k").status == "running" and s.run_tables("k") is None


def test_a_killed_writer_leaves_only_a_temporary_folder_which_the_next_claim_removes(tmp_path):
    s = Store(tmp_path / "x.db")
    s.claim_run("k", {}, owner="t")
    left = s.runs_dir / ".tmp-k-999-1"  # what a process killed mid-write leaves behind
    left.mkdir(parents=True)
    (left / "passages.parquet").write_bytes(b"PAR1 half")
    assert s.run_path("k") is None and s.run_tables("k") is None
    assert s.claim_run("k", {}, owner="t2", stale_s=0)
    assert not left.exists()


def test_a_store_of_the_blob_design_forgets_its_runs_and_drops_the_blobs(tmp_path):
    path = tmp_path / "old.db"
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE runs (run_key TEXT PRIMARY KEY, status TEXT NOT NULL, stage TEXT, done INTEGER, total INTEGER,
            message TEXT, params TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL, owner TEXT);
        CREATE TABLE run_tables (run_key TEXT, name TEXT, data BLOB, PRIMARY KEY (run_key, name));
        INSERT INTO runs VALUES ('old', 'done', 'done', 0, 0, '', '{}', 0, 0, 'x');
        INSERT INTO run_tables VALUES ('old', 'passages', x'00');
    """)
    con.commit()
    con.close()
    s = Store(path)
    assert s.run_status("old") is None  # recomputed on demand (vectors stay cached)
    assert s.claim_run("old", {}, owner="t")


@pytest.mark.parametrize("sel", [
    Selection(),
    Selection(outlets=("Beta", "Gamma's")),
    Selection(date(2023, 3, 1), date(2023, 9, 30), (), True),
    Selection(date(2023, 3, 1), date(2023, 9, 30), ("Alpha",), False),
    Selection(None, date(2023, 1, 1), (), False),
    Selection(languages=("ru",)),
    Selection(date(2023, 3, 1), None, ("Alpha",), False, languages=("en", "zh")),
])
def test_duckdb_filtered_reads_equal_pandas_filtering(tmp_path, sel):
    df = _passages()
    df.to_parquet(tmp_path / "passages.parquet", index=False)
    got = read_table(tmp_path, "passages", sel)
    want = filter_rows(df, sel).reset_index(drop=True)
    assert len(want) > 0
    pd.testing.assert_frame_equal(got, want)


def test_the_language_filter_keeps_the_articles_of_the_passages_in_those_languages(tmp_path):
    """Articles follow their passages' detected language, not the one language an article is given."""
    passages = _passages()
    passages.to_parquet(tmp_path / "passages.parquet", index=False)
    articles = pd.DataFrame({S.ARTICLE_ID: passages[S.ARTICLE_ID].unique(), S.LANGUAGE: "en"})
    articles.to_parquet(tmp_path / "articles.parquet", index=False)
    got = read_table(tmp_path, "articles", RowFilter(languages=("ru",)))
    want = sorted(passages.loc[passages[S.LANGUAGE] == "ru", S.ARTICLE_ID].unique())
    assert sorted(got[S.ARTICLE_ID]) == want and 0 < len(want) < len(articles)
    with pytest.raises(ValueError, match="language filter"):
        filter_rows(articles, RowFilter(languages=("ru",)))  # an article table has no passage languages


def test_duckdb_reads_only_the_columns_asked_for(tmp_path):
    _passages().to_parquet(tmp_path / "passages.parquet", index=False)
    got = read_table(tmp_path, "passages", RowFilter(outlets=("Alpha",)), columns=[S.PASSAGE_ID, "nope"], limit=5)
    assert list(got.columns) == [S.PASSAGE_ID] and len(got) == 5


def test_the_table_cache_stays_within_its_byte_budget():
    frames = [pd.DataFrame({"x": np.arange(1000, dtype=np.int64)}) for _ in range(5)]
    size = frame_bytes(frames[0])
    cache = ByteLRU(3 * size)
    made = []
    for i, df in enumerate(frames):
        cache.get_or_make(i, lambda df=df, i=i: made.append(i) or df, frame_bytes)
    assert len(cache) == 3 and cache.nbytes <= 3 * size
    cache.get_or_make(4, lambda: made.append("again"), frame_bytes)  # still cached: not made again
    cache.get_or_make(0, lambda: made.append("again0") or frames[0], frame_bytes)  # evicted: made again
    assert made == [0, 1, 2, 3, 4, "again0"]


def test_listed_rows_get_their_text_whether_or_not_the_run_texts_are_read(tmp_path):
    from dashboard import state

    passages = _passages()
    passages.to_parquet(tmp_path / "passages.parquet", index=False)
    state._table_cache().clear()
    res = state.Results("k", tmp_path, {}, [], {}, {}, pd.DataFrame())
    rows = passages.sample(30, random_state=0).drop(columns=[S.TEXT])
    rows = pd.concat([rows, rows.head(1)], ignore_index=True)  # a reprint lists its passage twice
    view = state.View(rows, pd.DataFrame(), "month", rows, res)
    want = passages.set_index(S.PASSAGE_ID).loc[rows[S.PASSAGE_ID], S.TEXT].tolist()

    by_id = view.with_text(rows)
    assert state._table_cache().get(("texts", str(tmp_path))) is None  # read for these rows alone
    assert by_id[S.TEXT].tolist() == want
    assert list(by_id.columns) == [*rows.columns, S.TEXT]

    assert len(res.texts()) == len(passages)  # the prefetch reads them all; lookups use them from then on
    (tmp_path / "passages.parquet").unlink()
    assert view.with_text(rows)[S.TEXT].tolist() == want
    assert view.with_text(rows.iloc[:0])[S.TEXT].tolist() == []
