"""The database object: one SQLite file in WAL mode, a connection per thread, one write
transaction at a time, and the schema with its version and migrations.

Rules that make sharing one file safe (see RELIABILITY.md F1): a connection per thread,
every write in `BEGIN IMMEDIATE` so a busy writer waits `busy_timeout` instead of failing,
and each logical change (an upload, a run's results) in one transaction so an interrupted
one leaves nothing half-written. The repositories (`datasets`, `caches`, `runs`) and
`analysis.coding.LabelBook` only read and write tables created here.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from analysis import schema as S
from analysis.errors import StoreError
from analysis.ids import unique_ids

SCHEMA_VERSION = 2  # 2: data set ids never reused (AUTOINCREMENT), article ids unique

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
-- coders' labels (analysis.coding.LabelBook)
CREATE TABLE IF NOT EXISTS frame_labels (
    codebook TEXT NOT NULL, codebook_version TEXT NOT NULL, coder TEXT NOT NULL, text_hash TEXT NOT NULL,
    frames TEXT NOT NULL, text TEXT NOT NULL, article_id TEXT, title TEXT, outlet TEXT, date TEXT,
    labelled_at REAL NOT NULL, PRIMARY KEY (codebook, coder, text_hash)) WITHOUT ROWID;
"""

ARTICLE_FIELDS = (
    S.ARTICLE_ID, S.TITLE, S.TEXT, S.OUTLET, S.DATE, S.URL, S.LANGUAGE,
    S.SOURCE_FILE, S.SOURCE_ROW, S.DUPLICATES, S.DUPLICATE_OUTLETS, S.BYLINE, S.SECTION, S.WORD_COUNT,
)
# columns added to `articles` after its first release: (name, SQL type), added to older stores on open
ADDED_ARTICLE_COLUMNS = ((S.BYLINE, "TEXT"), (S.SECTION, "TEXT"), (S.WORD_COUNT, "TEXT"))


class Database:
    """A handle on the database file; cheap to create, safe to share between threads.

    Opening it creates missing tables and brings an older store to this schema in place.
    """

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
                for column, kind in ADDED_ARTICLE_COLUMNS:
                    if column not in have:
                        con.execute(f"ALTER TABLE articles ADD COLUMN {column} {kind}")
            self._migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the store {self.path}: {exc}") from exc

    # migrations (run on open, in this order) ---------------------------------------------
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

    # settings (the meta table) ----------------------------------------------------------
    def setting(self, key: str) -> str | None:
        """A small named value kept across restarts (e.g. the dashboard's active data sets)."""
        row = self.connection().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def set_setting(self, key: str, value: str) -> None:
        with self.write() as con:
            con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))
