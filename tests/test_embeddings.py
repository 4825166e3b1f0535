import numpy as np
import pytest

from analysis.embeddings import SentenceTransformerEmbedder, embed_texts, native_bf16
from analysis.errors import ModelUnavailableError
from analysis.passages import text_hash

TEXTS = [
    "Gas deliveries through the Power of Siberia pipeline reached a new annual high.",
    "The two leaders signed a joint statement on a multipolar world order.",
    "Western governments sanctioned suppliers of dual-use components.",
]


def test_packaged_model_loads_offline_and_returns_unit_vectors(embedder):
    v = embedder.encode(TEXTS)
    assert v.shape == (3, embedder.dim) and embedder.dim == 384
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-3)
    assert v[0] @ v[1] < 0.9  # different sentences, different vectors
    assert embedder.model_id.endswith("/" + embedder.precision_used)


def test_bf16_agrees_with_fp32():
    if not native_bf16():
        pytest.skip("this CPU has no native bf16; auto precision uses fp32")
    fp32 = SentenceTransformerEmbedder(precision="fp32").encode(TEXTS)
    bf16 = SentenceTransformerEmbedder(precision="bf16").encode(TEXTS)
    cos = np.einsum("ij,ij->i", fp32, bf16)
    assert cos.min() >= 0.999


def test_cache_means_no_passage_is_embedded_twice(embedder, store):
    texts = TEXTS + [TEXTS[0]]  # a repeated passage is encoded once
    hashes = [text_hash(t) for t in texts]
    first = embed_texts(texts, hashes, embedder, store)
    assert first.n_embedded == 3
    second = embed_texts(texts, hashes, embedder, store)
    assert second.n_embedded == 0
    np.testing.assert_array_equal(first.vectors, second.vectors)
    np.testing.assert_array_equal(first.vectors[0], first.vectors[3])


def test_a_missing_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelUnavailableError, match="cannot load the embedding model"):
        SentenceTransformerEmbedder(model=str(tmp_path / "no-such-model"))
