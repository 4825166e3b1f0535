"""Store housekeeping: what takes the space (`framescope store info`) and dropping what no data
set uses any more (`framescope store gc`), safe while a dashboard or a CLI run uses the store.

What a data set uses: its articles, their passage splits (keyed by article text hash), the
vectors of those passages (keyed by passage text hash), and the runs whose parameters name
only existing data sets. Everything else — runs of deleted data sets, `framescope run`
results of files never saved as a data set, splits and vectors only they used — is garbage.
A queued or running run whose owner is alive is never touched, and while one exists no vector
is dropped (it may be writing vectors for articles not yet in any data set's run).
"""

from __future__ import annotations

import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

from .passages import text_hash
from .store import Store, owner_alive

TABLES = ("datasets", "dataset_files", "articles", "dataset_articles", "rejected", "passage_splits",
          "embeddings", "runs", "meta")


@dataclass(frozen=True)
class StoreInfo:
    path: str
    file_bytes: int  # the database file plus its -wal file
    run_folder_bytes: int  # the finished runs' Parquet tables beside the database
    table_bytes: dict[str, int]  # pages of each table and its indexes (empty if dbstat is unavailable)
    table_rows: dict[str, int]
    runs_by_status: dict[str, int]
    vectors_by_model: dict[str, int]
    datasets: list[tuple[int, str, int]]  # (id, name, articles)


@dataclass(frozen=True)
class GcResult:
    runs_dropped: int
    splits_dropped: int
    vectors_dropped: int
    live_runs: int  # queued/running runs of live owners (left alone; vectors kept while any)
    bytes_before: int
    bytes_after: int


def _file_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal")) if p.exists())


def store_info(store: Store) -> StoreInfo:
    con = store.connection()
    try:
        sizes = dict(con.execute(
            "SELECT COALESCE(m.tbl_name, s.name), SUM(s.pgsize) FROM dbstat s"
            " LEFT JOIN sqlite_schema m ON m.name = s.name GROUP BY 1"
        ).fetchall())
    except sqlite3.OperationalError:  # SQLite built without the dbstat table
        sizes = {}
    rows = {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}  # noqa: S608 (fixed names)
    return StoreInfo(
        path=str(store.path),
        file_bytes=_file_bytes(store.path),
        run_folder_bytes=sum(p.stat().st_size for p in store.runs_dir.rglob("*") if p.is_file())
        if store.runs_dir.exists() else 0,
        table_bytes={t: int(sizes.get(t, 0)) for t in TABLES} if sizes else {},
        table_rows=rows,
        runs_by_status=dict(con.execute("SELECT status, count(*) FROM runs GROUP BY status").fetchall()),
        vectors_by_model=dict(con.execute("SELECT model_id, count(*) FROM embeddings GROUP BY model_id").fetchall()),
        datasets=[(d.dataset_id, d.name, d.n_articles) for d in store.datasets()],
    )


def format_info(info: StoreInfo) -> str:
    mb = 2**20
    out = [f"store {info.path}: {info.file_bytes / mb:.1f} MB on disk (with the WAL file), "
           f"{info.run_folder_bytes / mb:.1f} MB of run tables (Parquet) beside it", "",
           f"{'table':<18} {'rows':>10} {'MB':>9}"]
    for t in TABLES:
        size = f"{info.table_bytes[t] / mb:9.2f}" if info.table_bytes else f"{'?':>9}"
        out.append(f"{t:<18} {info.table_rows[t]:>10,} {size}")
    out.append("")
    out.append("runs: " + (", ".join(f"{n} {s}" for s, n in sorted(info.runs_by_status.items())) or "none"))
    out.append("vectors: " + (", ".join(f"{n:,} of {m}" for m, n in sorted(info.vectors_by_model.items())) or "none"))
    out.append(f"data sets ({len(info.datasets)}):")
    out += [f"  {i:>4}  {n:>8,} articles  {name}" for i, name, n in info.datasets]
    return "\n".join(out)


def collect_garbage(store: Store, *, vacuum: bool = True) -> GcResult:
    """Drop runs, passage splits and vectors no data set uses (one write transaction), then
    VACUUM and truncate the WAL when asked. Other connections keep working meanwhile: the
    dashboard's writes wait on the busy timeout, its reads go on."""
    before = _file_bytes(store.path)
    now = time.time()
    with store.write() as con:
        datasets = {r[0] for r in con.execute("SELECT dataset_id FROM datasets")}
        dead_runs, live = [], 0
        for key, status, params, owner, updated in con.execute(
                "SELECT run_key, status, params, owner, updated_at FROM runs").fetchall():
            if status in ("queued", "running") and owner_alive(owner, now - updated):
                live += 1
                continue
            used = json.loads(params or "{}").get("datasets") or []
            if not used or not set(used) <= datasets:
                dead_runs.append((key,))
        con.executemany("DELETE FROM runs WHERE run_key=?", dead_runs)
        con.execute("CREATE TEMP TABLE IF NOT EXISTS gc_articles (h TEXT PRIMARY KEY) WITHOUT ROWID")
        con.execute("CREATE TEMP TABLE IF NOT EXISTS gc_passages (h TEXT PRIMARY KEY) WITHOUT ROWID")
        con.execute("DELETE FROM gc_articles")
        con.execute("DELETE FROM gc_passages")
        con.executemany("INSERT OR IGNORE INTO gc_articles VALUES (?)",
                        ((text_hash(t),) for (t,) in con.execute(
                            "SELECT text FROM articles WHERE article_key IN (SELECT article_key FROM dataset_articles)")))
        splits = con.execute("DELETE FROM passage_splits WHERE text_hash NOT IN (SELECT h FROM gc_articles)").rowcount
        vectors = 0
        if not live:
            con.executemany("INSERT OR IGNORE INTO gc_passages VALUES (?)",
                            ((text_hash(p),) for (ps,) in con.execute("SELECT passages FROM passage_splits")
                             for p in json.loads(ps)))
            vectors = con.execute("DELETE FROM embeddings WHERE text_hash NOT IN (SELECT h FROM gc_passages)").rowcount
        con.execute("DELETE FROM gc_articles")
        con.execute("DELETE FROM gc_passages")
    for (key,) in dead_runs:  # after the commit: a folder is only removed once its run is gone
        store.remove_run_folder(key)
    if vacuum:
        con = store.connection()
        con.execute("VACUUM")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return GcResult(len(dead_runs), splits, vectors, live, before, _file_bytes(store.path))


def delete_dataset(store: Store, dataset_id: int) -> GcResult:
    """Delete a data set and everything only it used (articles, runs, splits, vectors)."""
    store.delete_dataset(dataset_id)
    return collect_garbage(store, vacuum=False)
