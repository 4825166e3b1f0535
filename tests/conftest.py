"""Shared fixtures: the real model (loaded once), a small real corpus, a fresh store."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis.config import DEMO_CORPUS

SHARED = Path(__file__).resolve().parents[1].parent / "shared"
BBC = SHARED / "data" / "bbc_news" / "bbc_news.csv"
GVFC = SHARED / "data" / "gvfc"
SEEDS = SHARED / "seeds"


def shared_or_skip(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"research data not on this machine: {path}")
    return path


@pytest.fixture(scope="session")
def embedder():
    from analysis.embeddings import load_embedder

    return load_embedder()


@pytest.fixture(scope="session")
def demo_articles() -> pd.DataFrame:
    from analysis.ingest import ingest

    return ingest([DEMO_CORPUS]).articles


@pytest.fixture(scope="session")
def demo_sample(demo_articles) -> pd.DataFrame:
    """60 demo articles spread over outlets and time: a real corpus that analyses in seconds."""
    return demo_articles.sort_values("article_id").iloc[::5].head(60).reset_index(drop=True)


@pytest.fixture
def store(tmp_path):
    from analysis.store import Store

    s = Store(tmp_path / "test.db")
    yield s
    s.close()


@pytest.fixture(scope="session")
def seed_text() -> str:
    files = sorted(shared_or_skip(SEEDS).glob("*.txt"))
    if not files:
        pytest.skip("no seed article")
    return files[0].read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def sample_analysis(demo_sample, embedder):
    """The pipeline's real analysis of `demo_sample` (k fixed so it runs in seconds)."""
    from analysis.config import PipelineConfig
    from analysis.pipeline import analyse

    return analyse(demo_sample, PipelineConfig(k=6), embedder=embedder)
class HashEmbedder:
    """A cheap deterministic encoder (hashed word uni- and bigrams) behind the Embedder interface,
    for tests of the machinery around the encoder (incremental runs, engines) on a loaded machine."""

    model_id = "hash-test@v1/fp32"
    dim = 256

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def encode(self, texts):
        import numpy as np
        from sklearn.feature_extraction.text import HashingVectorizer

        self.encoded.extend(texts)
        x = HashingVectorizer(n_features=self.dim, ngram_range=(1, 2), alternate_sign=False, norm="l2",
                              stop_words="english").transform(list(texts)).toarray().astype(np.float32)
        x[np.linalg.norm(x, axis=1) == 0, 0] = 1.0
        return x / np.linalg.norm(x, axis=1, keepdims=True)

    def count_tokens(self, texts):
        return [len(t.split()) for t in texts]


@pytest.fixture
def hash_embedder():
    return HashEmbedder()
