"""What a run learned, saved as a small versioned folder: JSON plus .npy arrays, no pickle.

A run's tables say what it found; this artifact says how to place new passages in it:
the encoder's model id, the centroids with their stable cluster ids, each cluster's label
terms and c-TF-IDF weights, the similarity thresholds that mark a passage `low_fit`, the
frame scorer (codebook digest, thresholds, a fitted frame model's weights when there is
one), the map axes, the resolved period and every setting. `framescope run --base` loads
it to add articles without re-clustering (analysis.incremental).

Layout of the folder (ARTIFACT_VERSION 1):

    model.json           kind, version, ids, labels, statistics, settings
    centroids.npy        (k, d) float32 unit rows, row i is cluster_ids[i]
    low_fit_threshold.npy (k,) float32: the 5th percentile of the cluster's cosines in the base run
    map_mean.npy, map_axes.npy   (d,), (2, d): the 2-D map's PCA frame
    frame_coef.npy, frame_intercept.npy   only for a fitted frame model
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import __version__
from . import schema as S
from .errors import FramescopeError

ARTIFACT_KIND = "framescope-analysis-model"
ARTIFACT_VERSION = 1
MODEL_DIR = "model"  # the artifact's folder inside a run's --out folder
LOW_FIT = "low_fit"  # passages column: cosine below its cluster's threshold (kept, flagged)
LOW_FIT_PERCENTILE = 5.0


class ModelArtifactError(FramescopeError):
    """A model folder that is missing, of another version, or inconsistent."""


def fit_thresholds(positions: np.ndarray, similarity: np.ndarray, k: int,
                   percentile: float = LOW_FIT_PERCENTILE) -> np.ndarray:
    """Per cluster (row position 0..k-1), the `percentile` of its members' cosines (-1 when empty)."""
    out = np.full(k, -1.0, dtype=np.float32)
    if len(positions) == 0:
        return out
    order = np.argsort(positions, kind="stable")
    bounds = np.searchsorted(positions[order], np.arange(k + 1))
    sims = similarity[order]
    for c in range(k):
        part = sims[bounds[c]:bounds[c + 1]]
        if len(part):
            out[c] = np.percentile(part, percentile)
    return out


def low_fit_flags(positions: np.ndarray, similarity: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """True where a passage is less similar to its centroid than its cluster's threshold."""
    if len(positions) == 0:
        return np.zeros(0, bool)
    return np.asarray(similarity) < thresholds[positions]


@dataclass(frozen=True)
class FrameScorerSpec:
    """Enough of the frame scorer to check a later run scores frames the same way."""

    codebook_name: str
    codebook_digest: str
    frame_ids: tuple[str, ...]
    thresholds: np.ndarray  # (F,)
    kind: str  # "zero-shot" or "fitted"
    params: dict[str, float] = field(default_factory=dict)  # zero-shot ScoringParams
    coef: np.ndarray | None = None  # (F, d) fitted model
    intercept: np.ndarray | None = None  # (F,)


@dataclass(frozen=True)
class AnalysisModel:
    """A run's fitted state: see the module docstring for the file layout."""

    model_id: str  # the encoder; vectors of another encoder cannot be assigned
    cluster_ids: np.ndarray  # (k,) int: the stable id of each centroid row
    centroids: np.ndarray  # (k, d) unit rows
    labels: tuple[str, ...]
    top_terms: tuple[tuple[str, ...], ...]
    term_weights: tuple[tuple[float, ...], ...]
    n_passages: np.ndarray  # (k,) passages per cluster when the model was saved
    low_fit_threshold: np.ndarray  # (k,) cosine threshold per cluster (base run's 5th percentile)
    drift_reference: float  # the base run's overall 5th percentile of cosines
    frame_scorer: FrameScorerSpec
    map_mean: np.ndarray
    map_axes: np.ndarray
    period: str
    config: dict[str, Any]
    run_key: str = ""
    created_utc: str = ""
    history: tuple[dict[str, Any], ...] = ()  # one entry per incremental update or re-cluster

    @property
    def k(self) -> int:
        return len(self.cluster_ids)

    def position_of(self, cluster_ids: np.ndarray) -> np.ndarray:
        """Row positions of the given cluster ids."""
        lookup = {int(c): i for i, c in enumerate(self.cluster_ids)}
        return np.array([lookup[int(c)] for c in cluster_ids], dtype=int)

    def save(self, folder: str | Path) -> Path:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        arrays = {"centroids": self.centroids.astype(np.float32),
                  "low_fit_threshold": self.low_fit_threshold.astype(np.float32),
                  "map_mean": self.map_mean.astype(np.float32), "map_axes": self.map_axes.astype(np.float32)}
        fs = self.frame_scorer
        if fs.coef is not None:
            arrays["frame_coef"] = fs.coef.astype(np.float64)
            arrays["frame_intercept"] = fs.intercept.astype(np.float64)
        for name, arr in arrays.items():
            np.save(folder / f"{name}.npy", arr, allow_pickle=False)
        doc = {
            "kind": ARTIFACT_KIND, "version": ARTIFACT_VERSION, "framescope_version": __version__,
            "created_utc": self.created_utc or datetime.now(UTC).isoformat(timespec="seconds"),
            "run_key": self.run_key, "model_id": self.model_id, "k": self.k,
            "dim": int(self.centroids.shape[1]) if self.centroids.ndim == 2 else 0,
            "clusters": [
                {"cluster_id": int(c), "label": lab, "top_terms": list(t), "term_weights": list(w),
                 "n_passages": int(n), "low_fit_threshold": round(float(th), 6)}
                for c, lab, t, w, n, th in zip(self.cluster_ids, self.labels, self.top_terms, self.term_weights,
                                               self.n_passages, self.low_fit_threshold, strict=True)
            ],
            "drift_reference": round(float(self.drift_reference), 6),
            "low_fit_percentile": LOW_FIT_PERCENTILE,
            "frame_scorer": {"kind": fs.kind, "codebook_name": fs.codebook_name, "codebook_digest": fs.codebook_digest,
                             "frame_ids": list(fs.frame_ids), "thresholds": [float(t) for t in fs.thresholds],
                             "params": fs.params},
            "period": self.period, "config": self.config, "history": list(self.history),
            "arrays": {name: f"{name}.npy" for name in arrays},
        }
        (folder / "model.json").write_text(json.dumps(doc, indent=1, default=str) + "\n", encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> AnalysisModel:
        """Read and check a model folder; every problem is one ModelArtifactError line."""
        folder = Path(folder)
        if (folder / MODEL_DIR / "model.json").is_file():  # a run's --out folder
            folder = folder / MODEL_DIR
        path = folder / "model.json"
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelArtifactError(f"{folder}: no fitted model here (model.json missing); "
                                     "give the --out folder of a framescope run") from None
        except (OSError, ValueError) as exc:
            raise ModelArtifactError(f"{path}: cannot read ({exc})") from None
        if doc.get("kind") != ARTIFACT_KIND:
            raise ModelArtifactError(f"{path}: not a framescope analysis model (kind {doc.get('kind')!r})")
        if doc.get("version") != ARTIFACT_VERSION:
            raise ModelArtifactError(f"{path}: model format version {doc.get('version')!r}, this framescope reads "
                                     f"version {ARTIFACT_VERSION}; re-run the base analysis with this version")
        try:
            arrays = {name: np.load(folder / file, allow_pickle=False) for name, file in doc["arrays"].items()}
            clusters = doc["clusters"]
            fs = doc["frame_scorer"]
            model = cls(
                model_id=doc["model_id"],
                cluster_ids=np.array([c["cluster_id"] for c in clusters], dtype=int),
                centroids=arrays["centroids"].astype(np.float32),
                labels=tuple(c["label"] for c in clusters),
                top_terms=tuple(tuple(c["top_terms"]) for c in clusters),
                term_weights=tuple(tuple(c["term_weights"]) for c in clusters),
                n_passages=np.array([c["n_passages"] for c in clusters], dtype=int),
                low_fit_threshold=arrays["low_fit_threshold"].astype(np.float32),
                drift_reference=float(doc["drift_reference"]),
                frame_scorer=FrameScorerSpec(
                    fs["codebook_name"], fs["codebook_digest"], tuple(fs["frame_ids"]), np.array(fs["thresholds"]),
                    fs["kind"], fs.get("params", {}), arrays.get("frame_coef"), arrays.get("frame_intercept")),
                map_mean=arrays["map_mean"], map_axes=arrays["map_axes"],
                period=doc["period"], config=doc["config"], run_key=doc.get("run_key", ""),
                created_utc=doc.get("created_utc", ""), history=tuple(doc.get("history", ())),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelArtifactError(f"{folder}: incomplete or damaged model ({type(exc).__name__}: {exc})") from None
        k = len(model.cluster_ids)
        if model.centroids.shape[0] != k or len(model.low_fit_threshold) != k or doc.get("k") != k:
            raise ModelArtifactError(f"{path}: {k} clusters listed but centroids have shape {model.centroids.shape}")
        if len(set(model.cluster_ids.tolist())) != k:
            raise ModelArtifactError(f"{path}: cluster ids repeat")
        return model


def frame_scorer_spec(scorer: Any, codebook: Any, thresholds: np.ndarray) -> FrameScorerSpec:
    """The spec of a pipeline.make_scorer result (zero-shot CodebookScorer or FittedScorer)."""
    from dataclasses import asdict

    from .framing import FittedScorer

    if isinstance(scorer, FittedScorer):
        m = scorer.model
        return FrameScorerSpec(codebook.name, codebook.digest(), tuple(m.frame_ids), np.asarray(m.thresholds),
                               "fitted", asdict(scorer.evidence_from.params), np.asarray(m.coef),
                               np.asarray(m.intercept))
    return FrameScorerSpec(codebook.name, codebook.digest(), tuple(codebook.ids), np.asarray(thresholds),
                           "zero-shot", asdict(scorer.params))


def build_model(
    *, model_id: str, cluster_ids: np.ndarray, centroids: np.ndarray, clusters: pd.DataFrame,
    positions: np.ndarray, similarity: np.ndarray, frame_scorer: FrameScorerSpec,
    map_axes: tuple[np.ndarray, np.ndarray], period: str, config: dict[str, Any], run_key: str = "",
    thresholds: np.ndarray | None = None, drift_reference: float | None = None,
    history: tuple[dict[str, Any], ...] = (),
) -> AnalysisModel:
    """An AnalysisModel from a run's centroids, cluster table and per-passage cosines.

    `positions` are the passages' centroid rows. Thresholds default to this run's 5th
    percentiles; an incremental update passes the base run's so drift stays measured
    against the same reference.
    """
    k = len(cluster_ids)
    by_id = clusters.set_index(S.CLUSTER_ID).reindex([int(c) for c in cluster_ids])

    def split(cell: Any) -> tuple[str, ...]:
        return tuple(t.strip() for t in str(cell).split(",") if t.strip()) if isinstance(cell, str) else ()

    if thresholds is None:
        thresholds = fit_thresholds(positions, similarity, k)
    if drift_reference is None:
        drift_reference = float(np.percentile(similarity, LOW_FIT_PERCENTILE)) if len(similarity) else -1.0
    return AnalysisModel(
        model_id=model_id, cluster_ids=np.asarray(cluster_ids, dtype=int), centroids=np.asarray(centroids, np.float32),
        labels=tuple(by_id["label"].fillna("").astype(str)),
        top_terms=tuple(split(t) for t in by_id["top_terms"]),
        term_weights=tuple(tuple(float(w) for w in split(t)) for t in by_id.get("term_weights", [""] * k)),
        n_passages=np.bincount(positions, minlength=k)[:k] if len(positions) else np.zeros(k, int),
        low_fit_threshold=np.asarray(thresholds, np.float32), drift_reference=drift_reference,
        frame_scorer=frame_scorer, map_mean=map_axes[0], map_axes=map_axes[1], period=period,
        config=config, run_key=run_key, created_utc=datetime.now(UTC).isoformat(timespec="seconds"),
        history=history,
    )
