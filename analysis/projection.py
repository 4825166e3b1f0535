"""A 2-D map of passage embeddings for the cluster scatter plot.

PCA (deterministic, linear, O(n·d) memory) keeps the map honest about distances along
its two main axes and scales to any corpus; clusters that overlap on the map may still
be apart in the full space, which the dashboard says next to the chart.
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
