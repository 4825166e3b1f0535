"""`--model fast`: the static model distilled from MiniLM, behind the same Embedder interface."""

import threading
import time

import numpy as np
import pytest

from analysis import static_encoder
from analysis.embeddings import embed_texts, load_embedder
from analysis.passages import text_hash


@pytest.fixture(scope="module")
def fast():
    return load_embedder("fast")  # distils once into the models folder on first use (minutes), then loads


def test_fast_encoder_has_its_own_model_id_and_unit_vectors(fast, embedder):
    assert fast.model_id != embedder.model_id and fast.model_id.endswith("/static")
    v = fast.encode(["Gas flows through Power of Siberia.", "Putin met Xi in Moscow."])
    assert v.shape == (2, fast.dim) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    np.testing.assert_array_equal(v, fast.encode(["Gas flows through Power of Siberia.", "Putin met Xi in Moscow."]))
    assert fast.count_tokens(["one two three"])[0] >= 3


def test_caches_never_mix(fast, embedder, store):
    texts = ["The yuan share of bilateral trade rose again."]
    embed_texts(texts, [text_hash(t) for t in texts], fast, store)
    assert store.get_vectors(embedder.model_id, [text_hash(texts[0])]) == {}
    assert len(store.get_vectors(fast.model_id, [text_hash(texts[0])])) == 1


def test_fast_neighbours_agree_with_minilm(fast, embedder, demo_sample):
    """The distilled model keeps MiniLM's notion of which passages are alike (rank agreement)."""
    from scipy.stats import spearmanr

    texts = [p for t in demo_sample["text"].head(12) for p in t.split("\n\n")][:60]
    a, b = fast.encode(texts), embedder.encode(texts)
    iu = np.triu_indices(len(texts), 1)
    rho = spearmanr((a @ a.T)[iu], (b @ b.T)[iu]).statistic
    assert rho > 0.5


def test_workers_starting_together_distil_once(tmp_path, monkeypatch):
    calls = []

    def slow_distil(folder, source, pca_dims=static_encoder.PCA_DIMS):
        calls.append(folder)
        time.sleep(0.3)  # long enough for the other threads to arrive while it runs
        (folder / "model.safetensors").write_bytes(b"weights")
        return {"source": source}

    monkeypatch.setattr(static_encoder, "distil", slow_distil)
    target = tmp_path / "models" / "minilm-static-x"
    errors = []

    def worker():
        try:
            static_encoder.ensure_distilled(target, "source")
        except Exception as exc:  # a race used to fail here: "Directory not empty"
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(calls) == 1
    assert (target / static_encoder._META).is_file() and (target / "model.safetensors").read_bytes() == b"weights"
    assert [p for p in target.parent.glob(".minilm-static-x.*") if p.is_dir()] == []  # no temporary folder left
