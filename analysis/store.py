"""The embedded store: one SQLite database in WAL mode, and a runs folder beside it.

SQLite holds data sets, their articles, the embedding cache and the run index (status,
owner, manifest), so the dashboard, a second browser session and a `framescope` CLI run
can share one file at once (WAL: readers never block the one writer). A finished run's
tables are Parquet files in `<db stem>_runs/<run key>/` (see DECISIONS.md "Storage of
runs"): written to a temporary folder and renamed into place, so a run folder is whole or
absent, and read out of core (DuckDB, `analysis.runread`) instead of loaded whole.

Rules that make that safe (see RELIABILITY.md F1): a connection per thread, every
write in `BEGIN IMMEDIATE` so a busy writer waits `busy_timeout` instead of failing,
and each logical change (an upload, a run's results) in one transaction so an
interrupted one leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import schema as S
from .errors import StoreError
from .ids import article_key, unique_ids

SCHEMA_VERSION = 2  # 2: data set ids never reused (AUTOINCREMENT), article ids unique
# a run on another host that writes no progress for this long is presumed dead and taken over
STALE_RUN_S = 600.0

# AUTOINCREMENT: a deleted data set's id is never given to a new one, so a shared link
# naming it can never show other data
_DATASETS_DDL = """CREATE TABLE IF NOT EXISTS {name} (
    dataset_id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, created_at REAL NOT NULL,
    files TEXT NOT NULL, n_articles INTEGER NOT NULL, n_rejected INTEGER NOT NULL,
    n_duplicates INTEGER NOT NULL, report TEXT NOT NULL);"""

_DDL = _DATASETS_DDL.format(name="datasets") + """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS passage_splits (
    split_key TEXT NOT NULL, text_hash TEXT NOT NULL, passages TEXT NOT NULL,
    PRIMARY KEY (split_key, text_hash)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS embeddings (
    model_id TEXT NOT NULL, text_hash TEXT NOT NULL, vector BLOB NOT NULL,
    PRIMARY KEY (model_id, text_hash)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dataset_files (
    sha256 TEXT NOT NULL, dataset_id INTEGER NOT NULL REFERENCES datasets ON DELETE CASCADE,
    name TEXT NOT NULL, PRIMARY KEY (sha256, dataset_id));
CREATE TABLE IF NOT EXISTS articles (
    article_key TEXT PRIMARY KEY, article_id TEXT NOT NULL, title TEXT, text TEXT NOT NULL,
    outlet TEXT, date TEXT, url TEXT, language TEXT, source_file TEXT, source_row TEXT,
    duplicates INTEGER NOT NULL DEFAULT 0, duplicate_outlets TEXT,
    byline TEXT, section TEXT, word_count TEXT) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS dataset_articles (
    dataset_id INTEGER NOT NULL REFERENCES datasets ON DELETE CASCADE,
    article_key TEXT NOT NULL REFERENCES articles, PRIMARY KEY (dataset_id, article_key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS rejected (
    dataset_id INTEGER NOT NULL REFERENCES datasets ON DELETE CASCADE,
    file TEXT, row TEXT, reason TEXT);
CREATE TABLE IF NOT EXISTS runs (
    run_key TEXT PRIMARY KEY, status TEXT NOT NULL, stage TEXT, done INTEGER, total INTEGER,
    message TEXT, params TEXT NOT NULL, created_at REAL NOT NULL, updated_at REAL NOT NULL,
    owner TEXT, manifest TEXT);
"""
RUNS_SUFFIX = "_runs"
TABLE_EXT = ".parquet"
_TMP_PREFIX = ".tmp-"

_ARTICLE_FIELDS = (
    S.ARTICLE_ID, S.TITLE, S.TEXT, S.OUTLET, S.DATE, S.URL, S.LANGUAGE,
    S.SOURCE_FILE, S.SOURCE_ROW, S.DUPLICATES, S.DUPLICATE_OUTLETS, S.BYLINE, S.SECTION, S.WORD_COUNT,
)
# columns added to `articles` after its first release: (name, SQL type), added to older stores on open
_ADDED_ARTICLE_COLUMNS = ((S.BYLINE, "TEXT"), (S.SECTION, "TEXT"), (S.WORD_COUNT, "TEXT"))


@dataclass(frozen=True)
class DatasetInfo:
    dataset_id: int
    name: str
    created_at: float
    files: tuple[str, ...]
    n_articles: int
    n_rejected: int
    n_duplicates: int


@dataclass(frozen=True)
class RunStatus:
    run_key: str
    status: str  # queued | running | done | failed
    stage: str
    done: int
    total: int
    message: str
    updated_at: float


class Store:
    """A handle on the database file; cheap to create, safe to share between threads."""

    def __init__(self, path: str | Path, *, busy_timeout_ms: int = 30_000) -> None:
        self.path = Path(path)
        self.busy_timeout_ms = busy_timeout_ms
        self._local = threading.local()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.connection().executescript(_DDL)  # idempotent: IF NOT EXISTS everywhere
            self._migrate_run_blobs()
            with self.write() as con:
                have = {row[1] for row in con.execute("PRAGMA table_info(articles)")}
                for column, kind in _ADDED_ARTICLE_COLUMNS:
                    if column not in have:
                        con.execute(f"ALTER TABLE articles ADD COLUMN {column} {kind}")
            self._migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store {self.path}: {exc}") from exc

    def _migrate(self) -> None:
        """Bring a store of an older schema to this one, in place, keeping every row."""
        con = self.connection()
        version = con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if version is not None and int(version[0]) >= SCHEMA_VERSION:
            return
        con.execute("PRAGMA foreign_keys=OFF")  # the rebuild drops `datasets`: no cascades
        try:
            with self.write() as con:
                sql = con.execute("SELECT sql FROM sqlite_master WHERE type='table' AND name='datasets'").fetchone()[0]
                if "AUTOINCREMENT" not in sql.upper():  # schema 1: SQLite reused deleted ids
                    con.execute(_DATASETS_DDL.format(name="datasets_v2"))
                    con.execute("INSERT INTO datasets_v2 SELECT * FROM datasets")
                    con.execute("DROP TABLE datasets")
                    con.execute("ALTER TABLE datasets_v2 RENAME TO datasets")
                if con.execute("SELECT 1 FROM articles GROUP BY article_id HAVING count(*) > 1 LIMIT 1").fetchone():
                    # schema 1 suffixed clashing ids only when reading; fix them once, for good
                    keys, ids = zip(*con.execute("SELECT article_key, article_id FROM articles"), strict=True)
                    con.executemany("UPDATE articles SET article_id=? WHERE article_key=?",
                                    zip(unique_ids(ids, keys), keys, strict=True))
                con.execute("CREATE UNIQUE INDEX IF NOT EXISTS articles_by_id ON articles (article_id)")
                con.execute("INSERT OR REPLACE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        finally:
            con.execute("PRAGMA foreign_keys=ON")

    # settings (the meta table) ----------------------------------------------------------
    def setting(self, key: str) -> str | None:
        """A small named value kept across restarts (e.g. the dashboard's active data sets)."""
        row = self.connection().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_setting(self, key: str, value: str) -> None:
        with self.write() as con:
            con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
    @property
    def runs_dir(self) -> Path:
        """The folder of finished runs' Parquet tables, beside the database file."""
        return self.path.with_name(self.path.stem + RUNS_SUFFIX)

    def _migrate_run_blobs(self) -> None:
        """Stores of the first design kept run tables as blobs in SQLite: forget those runs
        (they recompute from the embedding cache) and drop the blob table."""
        con = self.connection()
        cols = {r[1] for r in con.execute("PRAGMA table_info(runs)")}
        legacy = con.execute("SELECT 1 FROM sqlite_master WHERE name='run_tables'").fetchone()
        if "manifest" in cols and not legacy:
            return
        with self.write() as con:
            if "manifest" not in cols:
                con.execute("ALTER TABLE runs ADD COLUMN manifest TEXT")
            con.execute("DELETE FROM runs WHERE status='done' AND manifest IS NULL")
            con.execute("DROP TABLE IF EXISTS run_tables")

    # connections -------------------------------------------------------------------------
    def connection(self) -> sqlite3.Connection:
        """This thread's connection (sqlite3 objects must not cross threads)."""
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=self.busy_timeout_ms / 1000, isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute(f"PRAGMA busy_timeout={self.busy_timeout_ms}")
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute("PRAGMA foreign_keys=ON")
            self._local.con = con
        return con

    @contextmanager
    def write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken with BEGIN IMMEDIATE; rolled back on any error."""
        con = self.connection()
        con.execute("BEGIN IMMEDIATE")
        try:
            yield con
        except BaseException:
            con.execute("ROLLBACK")
            raise
        con.execute("COMMIT")

    def close(self) -> None:
        con = getattr(self._local, "con", None)
        if con is not None:
            con.close()
            self._local.con = None

    # embeddings ------------------------------------------------------------------------
    def get_vectors(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached vectors for the hashes that have one."""
        rows = self._select_in("SELECT text_hash, vector FROM embeddings WHERE model_id=? AND text_hash IN ({})",
                               model_id, hashes)
        return {h: np.frombuffer(blob, dtype=np.float32) for h, blob in rows}

    def put_vectors(self, model_id: str, hashes: Sequence[str], vectors: np.ndarray) -> None:
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        with self.write() as con:
            con.executemany(
                "INSERT OR IGNORE INTO embeddings VALUES (?, ?, ?)",
                ((model_id, h, v.tobytes()) for h, v in zip(hashes, vectors, strict=True)),
            )

    # passage splits ----------------------------------------------------------------------
    def get_splits(self, split_key: str, hashes: Sequence[str]) -> dict[str, list[str]]:
        """Cached passage lists of article texts (by text hash) split under `split_key`."""
        rows = self._select_in(
            "SELECT text_hash, passages FROM passage_splits WHERE split_key=? AND text_hash IN ({})", split_key, hashes
        )
        return {h: json.loads(passages) for h, passages in rows}

    def _select_in(self, sql: str, key: str, hashes: Sequence[str]) -> Iterator[tuple]:
        """Rows of `sql` (one `{}` for the IN list) over distinct hashes, 900 per query (SQLite's limit)."""
        con = self.connection()
        unique = list(dict.fromkeys(hashes))
        for i in range(0, len(unique), 900):
            chunk = unique[i : i + 900]
            yield from con.execute(sql.format(",".join("?" * len(chunk))), (key, *chunk))

    def put_splits(self, split_key: str, splits: dict[str, list[str]]) -> None:
        with self.write() as con:
            con.executemany(
                "INSERT OR IGNORE INTO passage_splits VALUES (?, ?, ?)",
                ((split_key, h, json.dumps(p, ensure_ascii=False)) for h, p in splits.items()),
            )

    # data sets ---------------------------------------------------------------------------
    def dataset_for_file(self, sha256: str) -> DatasetInfo | None:
        """The data set a file with this content was already saved in, if any."""
        row = self.connection().execute(
            "SELECT dataset_id FROM dataset_files WHERE sha256=? LIMIT 1", (sha256,)
        ).fetchone()
        return self.dataset(row[0]) if row else None

    def add_dataset(
        self,
        name: str,
        articles: pd.DataFrame,
        rejected: pd.DataFrame,
        files: Sequence[tuple[str, str]],
        *,
        n_duplicates: int = 0,
        report: dict[str, Any] | None = None,
    ) -> DatasetInfo:
        """Save an ingested data set in one transaction; articles already stored are reused.

        `files` are (name, sha256) pairs. A name already taken gets a numbered suffix. A new
        article whose id another stored article holds gets a suffix (`ids.unique_ids`), so
        ids are unique in the store and stay put whatever data sets are combined.
        """
        now = time.time()
        with self.write() as con:
            name = self._free_name(con, name.strip() or "data set")
            cur = con.execute(
                "INSERT INTO datasets (name, created_at, files, n_articles, n_rejected, n_duplicates, report)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (name, now, json.dumps([f for f, _ in files]), len(articles), len(rejected),
                 n_duplicates, json.dumps(report or {}, default=str)),
            )
            ds_id = int(cur.lastrowid)
            con.executemany(
                "INSERT OR IGNORE INTO dataset_files VALUES (?, ?, ?)",
                ((sha, ds_id, fname) for fname, sha in files),
            )
            keys = [article_key(t, o) for t, o in zip(articles[S.TEXT], articles[S.OUTLET], strict=True)]
            stored = dict(con.execute("SELECT article_key, article_id FROM articles").fetchall())
            new = articles.assign(_key=keys).drop_duplicates("_key")
            new = new[~new["_key"].isin(stored.keys())]
            new_ids = unique_ids(new[S.ARTICLE_ID].astype(str).tolist(), new["_key"].tolist(), stored.values())
            rows = []
            optional = {c: None for c, _ in _ADDED_ARTICLE_COLUMNS if c not in new}
            for key, aid, rec in zip(new["_key"], new_ids, new.assign(**optional)[list(_ARTICLE_FIELDS)]
                                     .itertuples(index=False, name=None), strict=True):
                rec = dict(zip(_ARTICLE_FIELDS, rec, strict=True))
                date = rec[S.DATE]
                rows.append((
                    key, aid, rec[S.TITLE], rec[S.TEXT], rec[S.OUTLET],
                    None if pd.isna(date) else pd.Timestamp(date).isoformat(), rec[S.URL],
                    rec[S.LANGUAGE], rec[S.SOURCE_FILE], str(rec[S.SOURCE_ROW]),
                    int(rec[S.DUPLICATES]), rec[S.DUPLICATE_OUTLETS],
                    rec[S.BYLINE], rec[S.SECTION], rec[S.WORD_COUNT],
                ))
            con.executemany(
                f"INSERT OR IGNORE INTO articles (article_key, {', '.join(_ARTICLE_FIELDS)})"
                f" VALUES ({', '.join('?' * (len(_ARTICLE_FIELDS) + 1))})", rows
            )
            con.executemany(
                "INSERT OR IGNORE INTO dataset_articles VALUES (?, ?)", ((ds_id, k) for k in keys)
            )
            con.executemany(
                "INSERT INTO rejected VALUES (?, ?, ?, ?)",
                ((ds_id, str(f), str(r), str(why)) for f, r, why in
                 rejected[list(S.REJECTED_COLUMNS)].itertuples(index=False, name=None)),
            )
        info = self.dataset(ds_id)
        assert info is not None
        return info

    @staticmethod
    def _free_name(con: sqlite3.Connection, name: str) -> str:
        taken = {r[0] for r in con.execute("SELECT name FROM datasets")}
        candidate, n = name, 2
        while candidate in taken:
            candidate, n = f"{name} ({n})", n + 1
        return candidate

    def datasets(self) -> list[DatasetInfo]:
        rows = self.connection().execute(
            "SELECT dataset_id, name, created_at, files, n_articles, n_rejected, n_duplicates"
            " FROM datasets ORDER BY dataset_id"
        ).fetchall()
        return [_dataset_info(r) for r in rows]

    def dataset(self, dataset_id: int) -> DatasetInfo | None:
        row = self.connection().execute(
            "SELECT dataset_id, name, created_at, files, n_articles, n_rejected, n_duplicates"
            " FROM datasets WHERE dataset_id=?", (dataset_id,)
        ).fetchone()
        return _dataset_info(row) if row else None

    def dataset_by_name(self, name: str) -> DatasetInfo | None:
        row = self.connection().execute(
            "SELECT dataset_id FROM datasets WHERE name=?", (name,)
        ).fetchone()
        return self.dataset(row[0]) if row else None

    def rename_dataset(self, dataset_id: int, new_name: str) -> None:
        new_name = new_name.strip()
        if not new_name:
            raise StoreError("a data set needs a name")
        with self.write() as con:
            clash = con.execute(
                "SELECT 1 FROM datasets WHERE name=? AND dataset_id<>?", (new_name, dataset_id)
            ).fetchone()
            if clash:
                raise StoreError(f"a data set named {new_name!r} exists already")
            con.execute("UPDATE datasets SET name=? WHERE dataset_id=?", (new_name, dataset_id))

    def delete_dataset(self, dataset_id: int) -> None:
        """Remove a data set and the articles no other data set uses."""
        with self.write() as con:
            con.execute("DELETE FROM datasets WHERE dataset_id=?", (dataset_id,))
            con.execute(
                "DELETE FROM articles WHERE article_key NOT IN (SELECT article_key FROM dataset_articles)"
            )

    def articles(self, dataset_ids: Sequence[int]) -> pd.DataFrame:
        """Articles of the given data sets (each stored article once), in schema.ARTICLE_COLUMNS."""
        if not dataset_ids:
            return _empty_articles()
        marks = ",".join("?" * len(dataset_ids))
        df = pd.read_sql_query(
            f"SELECT {', '.join(_ARTICLE_FIELDS)} FROM articles WHERE article_key IN "
            f"(SELECT article_key FROM dataset_articles WHERE dataset_id IN ({marks}))"
            " ORDER BY date, article_id",
            self.connection(), params=list(dataset_ids),
        )
        df[S.DATE] = pd.to_datetime(df[S.DATE], utc=True, format="ISO8601")
        df[S.DUPLICATES] = df[S.DUPLICATES].astype("int64")
        return df

    def rejected(self, dataset_id: int) -> pd.DataFrame:
        return pd.read_sql_query(
            "SELECT file, row, reason FROM rejected WHERE dataset_id=?",
            self.connection(), params=[dataset_id],
        )

    def dataset_report(self, dataset_id: int) -> dict[str, Any]:
        row = self.connection().execute(
            "SELECT report FROM datasets WHERE dataset_id=?", (dataset_id,)
        ).fetchone()
        return json.loads(row[0]) if row else {}

    # runs --------------------------------------------------------------------------------
    def claim_run(self, run_key: str, params: dict[str, Any], owner: str, *, stale_s: float = STALE_RUN_S) -> bool:
        """Mark a run as ours to compute. False when it is done, or queued/running for an owner
        that is alive: a process on this host whose pid exists, or another host's process that
        updated the run within `stale_s` seconds. A dead owner's run is taken over."""
        now = time.time()
        with self.write() as con:
            row = con.execute("SELECT status, updated_at, owner FROM runs WHERE run_key=?", (run_key,)).fetchone()
            if row and (row[0] == "done" or (row[0] in ("queued", "running") and row[2] != owner
                                              and owner_alive(row[2], now - row[1], stale_s))):
                return False
            con.execute(
                "INSERT OR REPLACE INTO runs (run_key, status, stage, done, total, message, params, created_at,"
                " updated_at, owner, manifest) VALUES (?, 'running', 'starting', 0, 0, '', ?, ?, ?, ?, NULL)",
                (run_key, json.dumps(params, default=str), now, now, owner),
            )
        # a folder left by a run that died after its rename, and temporary folders of one that died writing
        self.remove_run_folder(run_key)
        for stale in self.runs_dir.glob(f"{_TMP_PREFIX}{run_key}-*"):
            shutil.rmtree(stale, ignore_errors=True)
        return True

    def update_run(self, run_key: str, *, stage: str, done: int = 0, total: int = 0, message: str = "",
                   owner: str | None = None) -> bool:
        """Record progress; with `owner`, only while that owner still holds the run (False if not)."""
        with self.write() as con:
            cur = con.execute(
                "UPDATE runs SET stage=?, done=?, total=?, message=?, updated_at=? WHERE run_key=?"
                + _OWNED, (stage, done, total, message, time.time(), run_key, *_owner_args(owner)),
            )
        return cur.rowcount > 0

    def finish_run(self, run_key: str, tables: dict[str, pd.DataFrame], manifest: dict[str, Any],
                   owner: str | None = None) -> bool:
        """Write every result table as Parquet into a temporary folder, rename it into place
        (so the run folder is whole or absent), then mark the run done with its manifest.
        With `owner`, nothing is saved unless that owner still holds the run (returns False)."""
        if owner is not None and not self.connection().execute(
            "SELECT 1 FROM runs WHERE run_key=? AND owner=? AND status='running'", (run_key, owner)
        ).fetchone():
            return False
        tmp = self.runs_dir / f"{_TMP_PREFIX}{run_key}-{os.getpid()}-{threading.get_ident()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        try:
            for name, df in tables.items():
                df.to_parquet(tmp / f"{name}{TABLE_EXT}", index=False)
            self.remove_run_folder(run_key)
            tmp.rename(self.run_dir(run_key))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        with self.write() as con:
            con.execute(
                "UPDATE runs SET status='done', stage='done', message='', manifest=?, updated_at=? WHERE run_key=?",
                (json.dumps(manifest, default=str), time.time(), run_key),
            )
        return True

    def add_run_table(self, run_key: str, name: str, df: pd.DataFrame) -> Path:
        """Add one table to a finished run (e.g. a map computed after it), atomically: written
        beside its final name and renamed, so readers see the old state or the whole table."""
        folder = self.run_dir(run_key)
        if not folder.is_dir():
            raise StoreError(f"run {run_key[:12]} has no stored tables")
        final = folder / f"{name}{TABLE_EXT}"
        tmp = folder / f"{_TMP_PREFIX}{name}-{os.getpid()}-{threading.get_ident()}{TABLE_EXT}"
        try:
            df.to_parquet(tmp, index=False)
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        return final

    def run_dir(self, run_key: str) -> Path:
        return self.runs_dir / run_key

    def run_path(self, run_key: str) -> Path | None:
        """The folder of a finished run's Parquet tables, or None when the run is not done."""
        status = self.run_status(run_key)
        folder = self.run_dir(run_key)
        return folder if status is not None and status.status == "done" and folder.is_dir() else None

    def run_manifest(self, run_key: str) -> dict[str, Any] | None:
        row = self.connection().execute(
            "SELECT manifest FROM runs WHERE run_key=? AND status='done'", (run_key,)
        ).fetchone()
        return json.loads(row[0]) if row and row[0] else None

    def remove_run_folder(self, run_key: str) -> None:
        folder = self.run_dir(run_key)
        if folder.exists():  # renamed aside first, so the key's folder is never half-deleted
            trash = self.runs_dir / f"{_TMP_PREFIX}old-{run_key}-{os.getpid()}-{threading.get_ident()}"
            folder.rename(trash)
            shutil.rmtree(trash, ignore_errors=True)

    def fail_run(self, run_key: str, message: str, owner: str | None = None) -> bool:
        """Mark a run failed; with `owner`, only while that owner holds a running run."""
        with self.write() as con:
            cur = con.execute(
                "UPDATE runs SET status='failed', message=?, updated_at=? WHERE run_key=? AND status<>'done'"
                + _OWNED, (message, time.time(), run_key, *_owner_args(owner)),
            )
        return cur.rowcount > 0

    def run_status(self, run_key: str) -> RunStatus | None:
        row = self.connection().execute(
            "SELECT run_key, status, stage, done, total, message, updated_at FROM runs WHERE run_key=?",
            (run_key,),
        ).fetchone()
        return RunStatus(*row) if row else None

    def run_owner(self, run_key: str) -> str | None:
        """Who claimed a run (the `owner` given to claim_run), or None when there is no run."""
        row = self.connection().execute("SELECT owner FROM runs WHERE run_key=?", (run_key,)).fetchone()
        return row[0] if row else None

    def run_tables(self, run_key: str) -> tuple[dict[str, pd.DataFrame], dict[str, Any]] | None:
        """A finished run's tables (all loaded) and manifest, or None when it is not done."""
        folder = self.run_path(run_key)
        manifest = self.run_manifest(run_key)
        if folder is None or manifest is None:
            return None
        tables = {p.name[: -len(TABLE_EXT)]: pd.read_parquet(p) for p in sorted(folder.glob(f"*{TABLE_EXT}"))
                  if not p.name.startswith(_TMP_PREFIX)}
        return tables, manifest


_OWNED = " AND (? IS NULL OR owner=?)"


def _owner_args(owner: str | None) -> tuple[str | None, str | None]:
    return owner, owner


def run_owner_id(kind: str) -> str:
    """This process as a run owner: `kind@host:pid` (kind is `dashboard` or `cli`)."""
    return f"{kind}@{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str | None, quiet_s: float, stale_s: float = STALE_RUN_S) -> bool:
    """Whether a run's owner may still be computing it.

    An owner `kind@host:pid` on this host is alive exactly while its pid exists (a killed
    server or CLI is recognised at once); any other owner is presumed alive until the run
    has been quiet (no progress written) for `stale_s` seconds.
    """
    host, _, pid = (owner or "").rpartition("@")[2].rpartition(":")
    if host == socket.gethostname() and pid.isdigit():
        if int(pid) == os.getpid():
            return True  # this process: its own queue decides (dashboard.jobs)
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return quiet_s < stale_s


def _dataset_info(row: tuple) -> DatasetInfo:
    ds_id, name, created, files, n_art, n_rej, n_dup = row
    return DatasetInfo(int(ds_id), name, float(created), tuple(json.loads(files)), n_art, n_rej, n_dup)


def _empty_articles() -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series(dtype="object") for c in _ARTICLE_FIELDS})
    df[S.DATE] = pd.to_datetime(df[S.DATE], utc=True)
    df[S.DUPLICATES] = df[S.DUPLICATES].astype("int64")
    return df


