"""The embedded store: one SQLite database in WAL mode, and a runs folder beside it.

SQLite holds data sets, their articles, the embedding cache and the run index (status,
owner, manifest), so the dashboard, a second browser session and a `framescope` CLI run
can share one file at once (WAL: readers never block the one writer). A finished run's
tables are Parquet files in `<db stem>_runs/<run key>/` (see DECISIONS.md "Storage of
runs"), with its fitted model in `model/`: written to a temporary folder and renamed into
place, so a run folder is whole or absent, and read out of core (DuckDB, `analysis.runread`)
instead of loaded whole.

`database.Database` is the file itself (connections per thread, the write transaction,
schema version and migrations, settings); the repositories over it each own their tables:
`datasets` (data sets, articles, rejected rows, reports), `caches` (passage splits,
vectors) and `runs` (the run index and run folders). `Store` is all of them on one file.
"""

from __future__ import annotations

from .caches import Caches
from .database import SCHEMA_VERSION, Database
from .datasets import DatasetInfo, Datasets
from .runs import RUNS_SUFFIX, STALE_RUN_S, TABLE_EXT, RunStatus, Runs, owner_alive, run_owner_id

__all__ = [
    "RUNS_SUFFIX", "SCHEMA_VERSION", "STALE_RUN_S", "TABLE_EXT", "Caches", "Database", "DatasetInfo", "Datasets",
    "RunStatus", "Runs", "Store", "owner_alive", "run_owner_id",
]


class Store(Datasets, Caches, Runs):
    """A handle on the store file with every repository's methods; cheap to create, safe to share
    between threads (each repository is a `Database`, so they share its one connection per thread)."""
