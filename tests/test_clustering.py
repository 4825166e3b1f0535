import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

from analysis.clustering import assign, cluster_embeddings
from analysis.labeling import cluster_table, main_cluster


def blobs(n_per: int, k: int, d: int = 32, noise: float = 0.35, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d))
    x = np.concatenate([c + noise * rng.normal(size=(n_per, d)) for c in centres])
    y = np.repeat(np.arange(k), n_per)
    return x.astype(np.float32), y


def test_automatic_k_recovers_planted_clusters_and_says_how():
    x, y = blobs(80, 6)
    c = cluster_embeddings(x, k_min=3, k_max=12)
    assert c.k == 6
    assert "silhouette" in c.criterion and set(c.k_scores) >= {3, 6, 12}
    assert adjusted_rand_score(y, c.labels) > 0.95


def test_same_input_and_seed_give_identical_clusters_and_every_point_is_assigned():
    x, _ = blobs(50, 5, noise=1.0)
    a, b = cluster_embeddings(x, 5, seed=3), cluster_embeddings(x, 5, seed=3)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.labels.min() == 0 and a.labels.max() == 4 and len(a.labels) == len(x)
    sizes = np.bincount(a.labels)
    assert (np.diff(sizes) <= 0).all()  # cluster 0 is the largest


def test_large_inputs_use_the_linear_memory_path():
    x, y = blobs(14_000, 5, d=16, noise=0.3)  # 70k points: above the mini-batch threshold
    c = cluster_embeddings(x, 5)
    assert adjusted_rand_score(y, c.labels) > 0.95


def test_blockwise_assignment_matches_a_full_product():
    x, _ = blobs(40, 4)
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    cent = x[[0, 50, 90, 130]]
    labels, sims = assign(x, cent, block=7)
    full = x @ cent.T
    np.testing.assert_array_equal(labels, full.argmax(axis=1))
    np.testing.assert_allclose(sims, full.max(axis=1), rtol=1e-6)


def test_labels_come_from_distinctive_terms_without_stop_words():
    energy = "Gas exports through the pipeline rose as oil and gas revenues grew for the pipeline operator."
    army = "Military drills and joint naval exercises showed the armed forces training together at sea."
    texts = [energy] * 6 + [army] * 6
    passages = pd.DataFrame({
        "passage_id": [f"a{i}:0" for i in range(12)], "article_id": [f"a{i}" for i in range(12)],
        "outlet": ["X", "Y"] * 6, "date": pd.to_datetime(["2024-01-01"] * 12, utc=True),
        "position": 0, "text": texts, "text_hash": "h",
    })
    labels = np.array([0] * 6 + [1] * 6)
    t = cluster_table(passages, labels, np.linspace(0.5, 1, 12).astype(np.float32))
    assert "gas" in t.loc[0, "top_terms"] or "pipeline" in t.loc[0, "top_terms"]
    assert any(w in t.loc[1, "label"] for w in ("military", "naval", "drills", "exercises"))
    for stop in (" the ", " and ", " of "):
        assert stop not in f" {t.loc[0, 'label']} "
    assert t["n_passages"].tolist() == [6, 6] and t["n_outlets"].tolist() == [2, 2]
    assert t["share"].sum() == 1.0
    assert t.loc[1, "representative_1"] == army


def test_article_main_cluster_is_the_majority_of_its_passages():
    passages = pd.DataFrame({"article_id": ["a", "a", "a", "b", "b"]})
    m = main_cluster(passages, np.array([2, 1, 2, 0, 1]), np.array([0.5, 0.9, 0.5, 0.2, 0.8]))
    assert m["a"] == 2
    assert m["b"] == 1  # a tie is broken by similarity
