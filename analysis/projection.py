"""A 2-D map of passage embeddings for the cluster scatter plot.

PCA (deterministic, linear, O(n·d) memory) keeps the map honest about distances along
its two main axes and scales to any corpus; clusters that overlap on the map may still
be apart in the full space, which the dashboard says next to the chart.
"""

from __future__ import annotations

import numpy as np

MAP_X = "map_x"
MAP_Y = "map_y"


def project_2d(vectors: np.ndarray) -> np.ndarray:
    """(n, 2) coordinates on the first two principal axes, signs fixed for stable maps."""
    n = len(vectors)
    if n < 3:
        return np.zeros((n, 2), dtype=np.float32)
    x = vectors - vectors.mean(axis=0, keepdims=True)
    _, eigvecs = np.linalg.eigh(x.T @ x)  # d × d covariance: O(n·d²) time, O(d²) memory
    axes = eigvecs[:, ::-1][:, :2].T.copy()
    axes *= np.sign(axes[np.arange(2), np.abs(axes).argmax(axis=1)])[:, None]
    return (x @ axes.T).astype(np.float32)
