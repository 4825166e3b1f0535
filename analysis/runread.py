"""Out-of-core reads of a finished run's Parquet tables (DuckDB), for the dashboard.

A run folder (see `analysis.store`) holds one `<table>.parquet` per result table. The
dashboard never loads a whole passage table to show a filtered view: DuckDB scans the file,
applies the date, outlet and language filter and returns only the rows and columns asked for.
The filter has the same meaning as `dashboard.explore.filter_rows`: outlets in the list
(all when empty); dates from `date_from` to `date_to` inclusive, in UTC; undated rows kept
when there is no date bound, else only with `include_undated`; passages whose detected
language is in `languages` (all when empty), and the articles with at least one such passage.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq

from . import schema as S
from .store import TABLE_EXT

_local = threading.local()


@dataclass(frozen=True)
class RowFilter:
    """Date range, outlets and languages of a view (the dashboard's sidebar filter, minus the run's
    parameters). `languages` are passage languages (the run's detection, ISO 639-1): an article is
    kept when one of its passages is, whatever language the article as a whole is given."""

    date_from: date | None = None
    date_to: date | None = None
    outlets: tuple[str, ...] = ()
    include_undated: bool = True
    languages: tuple[str, ...] = ()


# rows per Arrow batch: a view's columns come out in one chunk, not one per scan thread. Taking
# rows (a map sample, a drill-down) from a chunked string column concatenated the chunks first:
# 0.6 s for three columns of a 383k-passage view, 5 ms from one chunk
ONE_BATCH = 10_000_000


@functools.cache
def _database() -> duckdb.DuckDBPyConnection:
    """One in-memory DuckDB database per process, in UTC: opening one took 30 ms, paid by every
    Streamlit rerun (each runs in a new thread) before it read a row."""
    db = duckdb.connect()
    db.execute("SET GLOBAL TimeZone='UTC'")
    db.execute("SET GLOBAL preserve_insertion_order=true")
    return db


def _con() -> duckdb.DuckDBPyConnection:
    """This thread's connection to the process's database (a cursor: 30 µs; connections are not
    shared across threads)."""
    con = getattr(_local, "con", None)
    if con is None:
        con = _local.con = _database().cursor()
    return con


def table_path(folder: str | Path, name: str) -> Path:
    return Path(folder) / f"{name}{TABLE_EXT}"


def columns_of(folder: str | Path, name: str) -> list[str]:
    """A table's column names from the Parquet footer (no rows read)."""
    return list(pq.read_schema(table_path(folder, name)).names)


def n_rows(folder: str | Path, name: str) -> int:
    return int(pq.read_metadata(table_path(folder, name)).num_rows)


def where_clause(rf: RowFilter, columns: Sequence[str], passages: Path | None = None) -> tuple[str, list]:
    """SQL condition and parameters of a row filter (only on the columns the table has).

    The language filter reads a passage table's own `language`; any other table with article
    ids keeps the articles that have a passage in those languages in `passages` (the run's
    passage table), since an article's `language` is one language for all its paragraphs.
    """
    parts, params = [], []
    if rf.languages:
        marks = ", ".join("?" * len(rf.languages))
        if S.PASSAGE_ID in columns and S.LANGUAGE in columns:
            parts.append(f"{S.LANGUAGE} IN ({marks})")
            params += list(rf.languages)
        elif S.ARTICLE_ID in columns and passages is not None:
            parts.append(f"{S.ARTICLE_ID} IN (SELECT {S.ARTICLE_ID} FROM read_parquet(?) WHERE {S.LANGUAGE} IN ({marks}))")
            params += [str(passages), *rf.languages]
        else:
            raise ValueError("the language filter needs passage languages: a passage table, or article ids "
                             "and the run's passage table")
    if rf.outlets and S.OUTLET in columns:
        parts.append(f"{S.OUTLET} IN ({', '.join('?' * len(rf.outlets))})")
        params += list(rf.outlets)
    if (rf.date_from is not None or rf.date_to is not None) and S.DATE in columns:
        inside = []
        if rf.date_from is not None:
            inside.append(f"{S.DATE} >= ?::TIMESTAMPTZ")
            params.append(datetime.combine(rf.date_from, datetime.min.time(), UTC))
        if rf.date_to is not None:
            inside.append(f"{S.DATE} < ?::TIMESTAMPTZ")
            params.append(datetime.combine(rf.date_to + timedelta(days=1), datetime.min.time(), UTC))
        dated = " AND ".join(inside)
        undated = f" OR {S.DATE} IS NULL" if rf.include_undated else ""
        parts.append(f"(({S.DATE} IS NOT NULL AND {dated}){undated})")
    return (" AND ".join(parts) or "TRUE"), params


def _quote(col: str) -> str:
    return '"' + col.replace('"', '""') + '"'


def read_table(
    folder: str | Path,
    name: str,
    rf: RowFilter = RowFilter(),
    *,
    columns: Sequence[str] | None = None,
    where: str = "",
    params: Sequence = (),
    limit: int | None = None,
) -> pd.DataFrame:
    """Rows of one run table under the filter (file order kept), only the columns asked for.

    `where`/`params` add a condition of the caller's (e.g. `passage_id IN (...)`).
    """
    path = table_path(folder, name)
    have = columns_of(folder, name)
    cols = [c for c in columns if c in have] if columns is not None else have
    cond, args = where_clause(rf, have, table_path(folder, "passages"))
    if where:
        cond, args = f"({cond}) AND ({where})", [*args, *params]
    sql = f"SELECT {', '.join(map(_quote, cols))} FROM read_parquet(?) WHERE {cond}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    return _con().sql(sql, params=[str(path), *args]).to_arrow_table(ONE_BATCH).to_pandas()

