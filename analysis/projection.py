"""2-D maps of passage embeddings for the cluster scatter plot.

PCA (deterministic, linear, O(n·d) memory) keeps the map honest about distances along
its two main axes and scales to any corpus, but clusters overlap on it. UMAP (umap-learn)
keeps neighbourhoods and so separates clusters; it is non-linear and costs minutes, so the
dashboard computes it once per run in the background on a per-cluster sample (the points it
draws) and shows PCA until it is ready.
"""

from __future__ import annotations

import numpy as np

MAP_X = "map_x"
MAP_Y = "map_y"


def map_axes(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mean (d,), axes (2, d)): the first two principal axes, signs fixed for stable maps."""
    d = vectors.shape[1] if vectors.ndim == 2 else 0
    if len(vectors) < 3:
        return np.zeros(d, np.float32), np.zeros((2, d), np.float32)
    mean = vectors.mean(axis=0)
    x = vectors - mean
    _, eigvecs = np.linalg.eigh(x.T @ x)  # d × d covariance: O(n·d²) time, O(d²) memory
    axes = eigvecs[:, ::-1][:, :2].T.copy()
    axes *= np.sign(axes[np.arange(2), np.abs(axes).argmax(axis=1)])[:, None]
    return mean.astype(np.float32), axes.astype(np.float32)


def project_2d(vectors: np.ndarray, axes: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """(n, 2) coordinates on the first two principal axes (of `vectors`, or the given ones)."""
    if axes is None:
        if len(vectors) < 3:
            return np.zeros((len(vectors), 2), dtype=np.float32)
        axes = map_axes(vectors)
    mean, ax = axes
    return ((vectors - mean) @ ax.T).astype(np.float32)


def map_sample(cluster_ids: np.ndarray, per_cluster: int, seed: int = 0) -> np.ndarray:
    """Sorted row positions of at most `per_cluster` passages of each cluster (seeded)."""
    rng = np.random.default_rng(seed)
    picks = []
    for c in np.unique(cluster_ids):
        rows = np.flatnonzero(cluster_ids == c)
        picks.append(rows if len(rows) <= per_cluster else rng.choice(rows, per_cluster, replace=False))
    return np.sort(np.concatenate(picks)) if picks else np.zeros(0, dtype=np.int64)


def umap_2d(vectors: np.ndarray, *, seed: int = 0, n_neighbors: int = 15, min_dist: float = 0.1) -> np.ndarray:
    """(n, 2) UMAP coordinates (cosine metric); deterministic for a seed (random_state)."""
    n = len(vectors)
    if n < 4:
        return project_2d(vectors)
    import umap  # heavy (numba): only where a map is computed

    reducer = umap.UMAP(n_components=2, n_neighbors=min(n_neighbors, n - 1), min_dist=min_dist, metric="cosine",
                        random_state=seed, init="spectral" if n > n_neighbors + 1 else "random", n_jobs=1)
    return reducer.fit_transform(np.asarray(vectors, dtype=np.float32)).astype(np.float32)
