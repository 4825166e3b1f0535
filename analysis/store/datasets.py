"""Data sets: named uploads, their articles (each stored once, however many data sets share it),
rejected rows and ingest reports.

Article ids are unique across the whole store (`analysis.ids.unique_ids`, the rule ingest
uses too), so combining data sets never gives two articles one id; a deleted data set's id
is never reused, so a shared link naming it can never show other data.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analysis import schema as S
from analysis.errors import StoreError
from analysis.ids import article_key, unique_ids

from .database import ADDED_ARTICLE_COLUMNS, ARTICLE_FIELDS, Database


@dataclass(frozen=True)
class DatasetInfo:
    dataset_id: int
    name: str
    created_at: float
    files: tuple[str, ...]
    n_articles: int
    n_rejected: int
    n_duplicates: int


class Datasets(Database):
    """Saved data sets and their articles."""

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
            optional = {c: None for c, _ in ADDED_ARTICLE_COLUMNS if c not in new}
            for key, aid, rec in zip(new["_key"], new_ids, new.assign(**optional)[list(ARTICLE_FIELDS)]
                                     .itertuples(index=False, name=None), strict=True):
                rec = dict(zip(ARTICLE_FIELDS, rec, strict=True))
                date = rec[S.DATE]
                rows.append((
                    key, aid, rec[S.TITLE], rec[S.TEXT], rec[S.OUTLET],
                    None if pd.isna(date) else pd.Timestamp(date).isoformat(), rec[S.URL],
                    rec[S.LANGUAGE], rec[S.SOURCE_FILE], str(rec[S.SOURCE_ROW]),
                    int(rec[S.DUPLICATES]), rec[S.DUPLICATE_OUTLETS],
                    rec[S.BYLINE], rec[S.SECTION], rec[S.WORD_COUNT],
                ))
            con.executemany(
                f"INSERT OR IGNORE INTO articles (article_key, {', '.join(ARTICLE_FIELDS)})"
                f" VALUES ({', '.join('?' * (len(ARTICLE_FIELDS) + 1))})", rows
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

    def articles(self, dataset_ids: Sequence[int], *, text: bool = True) -> pd.DataFrame:
        """Articles of the given data sets (each stored article once), in schema.ARTICLE_COLUMNS.

        `text=False`: the stored `article_key` in place of the text, for callers that count, filter
        or digest articles (`pipeline.articles_digest`) without reading it: the text was 90 % of
        the bytes read, and reading 100k articles took 3.4 s."""
        fields = ARTICLE_FIELDS if text else tuple(S.ARTICLE_KEY if f == S.TEXT else f for f in ARTICLE_FIELDS)
        if not dataset_ids:
            return _empty_articles(fields)
        marks = ",".join("?" * len(dataset_ids))
        df = pd.read_sql_query(
            f"SELECT {', '.join(fields)} FROM articles WHERE article_key IN "
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


def _dataset_info(row: tuple) -> DatasetInfo:
    ds_id, name, created, files, n_art, n_rej, n_dup = row
    return DatasetInfo(int(ds_id), name, float(created), tuple(json.loads(files)), n_art, n_rej, n_dup)


def _empty_articles(fields: Sequence[str] = ARTICLE_FIELDS) -> pd.DataFrame:
    df = pd.DataFrame({c: pd.Series(dtype="object") for c in fields})
    df[S.DATE] = pd.to_datetime(df[S.DATE], utc=True)
    df[S.DUPLICATES] = df[S.DUPLICATES].astype("int64")
    return df
