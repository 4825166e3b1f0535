"""The UMAP cluster map of a finished run: computed once, in a background thread, stored with the run.

The map table (`umap.parquet` in the run folder: passage_id, map_x, map_y) holds a per-cluster
sample of at most `PER_CLUSTER` passages, so the fit stays minutes at any corpus size; the page
draws a bounded sample of it (`explore.map_points`). Until it is there (or when the run's
vectors are not in the embedding cache) the Clusters page draws the PCA map stored by the run.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import runread
from analysis import schema as S
from analysis.projection import MAP_X, MAP_Y, map_sample, umap_2d
from analysis.store import Store

MAP_TABLE = "umap"
PER_CLUSTER = 300
SEED = 0
READY, COMPUTING, FAILED, UNAVAILABLE = "ready", "computing", "failed", "unavailable"

log = logging.getLogger(__name__)
_lock = threading.Lock()
_threads: dict[str, threading.Thread] = {}
_failed: dict[str, str] = {}


def map_table(folder: Path) -> pd.DataFrame:
    """The stored UMAP coordinates of the run's sampled passages."""
    return runread.read_table(folder, MAP_TABLE)


def status(folder: Path) -> str:
    key = folder.name
    if runread.table_path(folder, MAP_TABLE).exists():
        return READY
    t = _threads.get(key)
    if t is not None and t.is_alive():
        return COMPUTING
    return _failed.get(key, COMPUTING)


def ensure_map(store_path: Path, folder: Path, model_id: str) -> str:
    """Start the map of this run in the background unless it is stored, running or failed here."""
    key = folder.name
    with _lock:
        now = status(folder)
        if now != COMPUTING or key in _threads:
            return now
        thread = threading.Thread(target=_work, args=(store_path, folder, model_id), daemon=True,
                                  name=f"framescope-map-{key[:8]}")
        _threads[key] = thread
        thread.start()
    return COMPUTING


def compute_map(passages: pd.DataFrame, vectors: np.ndarray, per_cluster: int = PER_CLUSTER,
                seed: int = SEED) -> pd.DataFrame:
    """UMAP of a per-cluster sample of the passages (aligned `vectors`): passage_id, map_x, map_y."""
    rows = map_sample(passages[S.CLUSTER_ID].to_numpy(), per_cluster, seed)
    xy = umap_2d(vectors[rows], seed=seed)
    return pd.DataFrame({S.PASSAGE_ID: passages[S.PASSAGE_ID].to_numpy()[rows], MAP_X: xy[:, 0], MAP_Y: xy[:, 1]})


def _work(store_path: Path, folder: Path, model_id: str) -> None:
    key = folder.name
    store = Store(store_path)
    try:
        passages = runread.read_table(folder, "passages", columns=[S.PASSAGE_ID, S.CLUSTER_ID, S.TEXT_HASH])
        rows = map_sample(passages[S.CLUSTER_ID].to_numpy(), PER_CLUSTER, SEED)
        sample = passages.iloc[rows].reset_index(drop=True)
        found = store.get_vectors(model_id, sample[S.TEXT_HASH].tolist())
        if len(found) < sample[S.TEXT_HASH].nunique():
            _failed[key] = UNAVAILABLE
            return
        vectors = np.stack([found[h] for h in sample[S.TEXT_HASH]])
        store.add_run_table(key, MAP_TABLE, compute_map(sample, vectors, per_cluster=len(sample)))
        log.info("map of run %s stored (%d points)", key[:12], len(sample))
    except Exception:  # the PCA map stays; the console keeps the traceback
        log.exception("map of run %s failed", key[:12])
        _failed[key] = FAILED
    finally:
        store.close()
        with _lock:
            _threads.pop(key, None)
