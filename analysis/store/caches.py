"""Caches that make a rerun cheap: passage splits of article texts and passage vectors.

Both are keyed by text hash (and the split rule or model), written with INSERT OR IGNORE
so two processes computing the same entries never conflict, and read in chunks of 900
keys (SQLite's limit on parameters).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence

import numpy as np

from .database import Database


class Caches(Database):
    """The embedding cache and the passage-split cache (what `analysis.pipeline.Cache` needs)."""

    # embeddings ----------------------------------------------------------------------------
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
