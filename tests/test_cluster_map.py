"""The UMAP cluster map: deterministic, separates clusters better than PCA, computed once per run
in the background and stored with the run, at most a fixed number of points per cluster."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import silhouette_score

from analysis import schema as S
from analysis.projection import map_sample, project_2d, umap_2d
from analysis.store import Store
from dashboard import maps
from dashboard.explore import map_points


def test_map_sample_caps_each_cluster_and_is_seeded():
    ids = np.array([0] * 50 + [1] * 5 + [2] * 20)
    rows = map_sample(ids, 10, seed=1)
    assert np.bincount(ids[rows]).tolist() == [10, 5, 10]
    assert rows.tolist() == map_sample(ids, 10, seed=1).tolist()


def test_umap_separates_the_runs_clusters_better_than_pca_and_is_deterministic(sample_analysis):
    a = sample_analysis
    labels = a.passages[S.CLUSTER_ID].to_numpy()
    u1, u2 = umap_2d(a.vectors, seed=0), umap_2d(a.vectors, seed=0)
    np.testing.assert_array_equal(u1, u2)
    pca = project_2d(a.vectors)
    assert silhouette_score(u1, labels) > silhouette_score(pca, labels) + 0.1


def test_the_map_is_computed_in_the_background_and_stored_with_the_run(tmp_path):
    rng = np.random.default_rng(0)
    n, k = 900, 3
    centres = rng.normal(size=(k, 16))
    cid = np.repeat(np.arange(k), n // k)
    vecs = centres[cid] + rng.normal(0, 0.3, size=(n, 16))
    vecs = (vecs / np.linalg.norm(vecs, axis=1, keepdims=True)).astype(np.float32)
    passages = pd.DataFrame({S.PASSAGE_ID: [f"p{i}" for i in range(n)], S.CLUSTER_ID: cid,
                             S.TEXT_HASH: [f"h{i}" for i in range(n)]})
    s = Store(tmp_path / "m.db")
    s.put_vectors("model", passages[S.TEXT_HASH].tolist(), vecs)
    s.claim_run("key", {}, owner="t")
    s.finish_run("key", {"passages": passages}, {"model_id": "model"})
    folder = s.run_path("key")
    assert maps.ensure_map(s.path, folder, "model") == maps.COMPUTING
    maps._threads["key"].join(timeout=600)
    assert maps.status(folder) == maps.READY
    xy = maps.map_table(folder)
    got = xy.merge(passages, on=S.PASSAGE_ID)
    assert got[S.CLUSTER_ID].value_counts().max() <= maps.PER_CLUSTER and len(got) == k * maps.PER_CLUSTER
    assert silhouette_score(got[["map_x", "map_y"]], got[S.CLUSTER_ID]) > 0.5
    assert maps.ensure_map(s.path, folder, "model") == maps.READY  # never computed twice


def test_the_browser_draws_at_most_a_fixed_number_of_points_per_cluster():
    n = 5000
    p = pd.DataFrame({S.PASSAGE_ID: range(n), S.CLUSTER_ID: np.arange(n) % 4, S.TEXT: "x", "map_x": 0.0,
                      "map_y": 0.0})
    pts, sampled = map_points(p, max_per_cluster=100)
    assert sampled and pts[S.CLUSTER_ID].value_counts().tolist() == [100] * 4
    # many clusters: the same number of each, never more than the fixed total
    p[S.CLUSTER_ID] = np.arange(n) % 40
    pts, _ = map_points(p, max_per_cluster=100, max_points=1_000)
    assert pts[S.CLUSTER_ID].value_counts().tolist() == [25] * 40
