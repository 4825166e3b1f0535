"""Passages × codebook → a score in [0, 1] for every frame, with the evidence.

How a score is made (zero-shot, from the codebook alone):

1. Each frame's prototypes are its description and its examples, embedded with the
   same model as the passages. The description is embedded without its boundary notes
   ("Not X (other_frame)"): an embedding has no negation, so such a note pulled the
   frame toward the frame it excludes (`Codebook.embedded_descriptions`). Passages and
   prototypes are then centred on the mean of all the codebook's examples (and
   re-normalised): every passage of a China–Russia corpus is close to every
   China–Russia example, and removing that shared direction leaves what distinguishes
   one frame from another. Centring raised macro-F1 of
   `present` from 0.49 to 0.57 on the demo corpus’s gold paragraphs and from 0.36 to
   0.49 on GVFC headlines, and cut the frames lit per seed-article passage from ~7 to ~2.
2. The raw similarity of a passage to a frame is the mean cosine to the frame's
   `top_k` closest examples, blended with the cosine to its description
   (`description_weight`). The closest prototype is the evidence shown to the user.
   With `sentences` on and the passage texts given, each sentence of a passage is
   scored the same way and the passage keeps, per frame, the higher of its own raw
   similarity and its best sentence's. A passage's vector averages its sentences, so
   the one sentence that carries an angle ("relies on China for high-tech imports for
   its military") is diluted by the general prose around it, and that prose goes to
   whichever frame's examples are most generic: on the seed article one frame was
   dominant in 4-5 of 8 paragraphs and the person-coded frame in 1. Sentence scoring
   finds the angle sentences (figures in README, "How frames are scored").
   A sentence lifts a frame only by what exceeds that frame's *typical lift*: some
   frames' examples are short event sentences ("the two leaders met in Moscow"), so
   the best sentence of almost any passage scores higher on them than the passage
   does, and such a frame became a sink (`personal_diplomacy` was dominant in 169 of
   the demo corpus's 598 single-label gold paragraphs, gold 76). The typical lift is
   measured on the codebook alone, so a passage's scores never depend on the rest
   of the corpus: for every pair of examples of two other frames, how far the better
   of the two scores above their blend (the normalised mean of their vectors, a
   stand-in for a two-sentence passage). On the demo corpus it correlates 0.89 with
   the lift actually seen there.
   Keywords: a frame whose codebook keywords occur in the passage (whole words, any
   case) gets `keyword_weight` background standard deviations on top of step 3's z.
   Embeddings of short texts blur decisive terms ("NRA", "Second Amendment", "poll");
   the codebook author's own terms restore them. Skipped for multilingual models, whose
   passages in other languages could never match English keywords.
3. Raw cosines are put on a scale against a background: the similarity of each
   frame's examples to the *other* frames (what "not this frame" looks like), pooled
   over all frames, giving z = (raw − mean_bg) / sd_bg. One transform for every frame
   keeps the ranking of the raw similarities: per-frame standardisation was tried and
   ranked worse on both labelled sets (top-1 macro-F1 on GVFC headlines 0.48 against
   0.55 pooled; 0.60 against 0.64 on the demo corpus's gold paragraphs).
4. score = logistic(slope · (z − z_mid)) × domain: 0.5 at `z_mid` background standard
   deviations above the background mean. Centring would let an unrelated passage
   (a bakery's opening hours) look like a frame, so `domain` checks the passage is in
   the codebook's subject at all: a logistic in its uncentred cosine to the examples'
   mean direction, 0.5 at two standard deviations below the examples' own mean (which
   keeps 97 % of the demo's framed paragraphs at full weight). `present` = score ≥ the frame's threshold
   (0.5 unless `framescope validate` suggested another), and the dominant frame is
   the highest score among present frames, or `none`.

Because every frame goes through the same transform, a score of 0.7 means the same
similarity to a frame's prototypes for every frame; `framescope validate` measures
where each frame's threshold should sit on labelled passages. A fitted model from labelled
passages (`FittedFrameModel`) replaces steps 2–4 with a logistic regression on the
embeddings and keeps the codebook's evidence.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.special import expit

from . import schema as S
from .codebook import Codebook
from .embeddings import Embedder, VectorCache, embed_texts, is_multilingual
from .passages import sentences, text_hash


@dataclass(frozen=True)
class ScoringParams:
    """Options of the zero-shot scorer; the steps they set are in the module docstring.

    top_k: examples averaged per frame (step 2); description_weight: share of the description
    in the raw similarity (step 2); sentences / sentence_weight: score sentences too and lift a
    passage towards its best sentence (step 2); typical_lift: how much of each frame's
    typical sentence lift is discounted (step 2; 0 = none); keyword_weight: z added for a frame
    whose keyword occurs in the passage (step 2; 0 = none); z_mid / slope: the logistic (step 4).
    """

    top_k: int = 3
    description_weight: float = 0.25
    z_mid: float = 1.5  # chosen on the demo gold paragraphs, checked on GVFC (figures in the module docstring)
    slope: float = 1.5
    sentences: bool = True  # also score each sentence of a passage and keep the best (step 2)
    sentence_weight: float = 1.0  # how far a better sentence lifts its passage (1 = all the way)
    typical_lift: float = 1.0  # discount of a frame's typical sentence lift (chosen on the demo gold)
    keyword_weight: float = 0.25  # chosen on the demo gold, the seed article and a GVFC dev half (README)


@dataclass(frozen=True)
class FrameScores:
    """Scores of n passages on F frames."""

    frame_ids: tuple[str, ...]
    scores: np.ndarray  # (n, F) in [0, 1]
    present: np.ndarray  # (n, F) bool
    evidence: np.ndarray  # (n, F) object: the prototype text that matched best
    thresholds: np.ndarray  # (F,)

    @classmethod
    def concat(cls, parts: Sequence[FrameScores]) -> FrameScores:
        """The scores of consecutive batches of passages as one (same frames and thresholds)."""
        first = parts[0]
        return cls(first.frame_ids, np.concatenate([p.scores for p in parts]),
                   np.concatenate([p.present for p in parts]), np.concatenate([p.evidence for p in parts]),
                   first.thresholds)

    def dominant(self) -> np.ndarray:
        """Per passage, the id of its strongest present frame, or schema.NO_FRAME."""
        masked = np.where(self.present, self.scores, -1.0)
        best = masked.argmax(axis=1)
        ids = np.array(self.frame_ids, dtype=object)[best]
        return np.where(masked.max(axis=1) >= 0, ids, S.NO_FRAME)

    def long_table(self, passage_ids: pd.Series) -> pd.DataFrame:
        """frames.csv: one row per (passage, frame)."""
        n, f = self.scores.shape
        return pd.DataFrame({
            S.PASSAGE_ID: np.repeat(passage_ids.to_numpy(), f),
            S.FRAME_ID: np.tile(np.array(self.frame_ids, dtype=object), n),
            S.SCORE: self.scores.reshape(-1).round(4),
            S.PRESENT: self.present.reshape(-1),
            S.EVIDENCE: self.evidence.reshape(-1),
        })


def scored_sentences(texts: Sequence[str]) -> tuple[list[int], list[str]]:
    """The sentences sentence scoring encodes besides the passages: every sentence of a passage
    of two or more (a one-sentence passage is its own sentence), with the passage it belongs to."""
    owner, sents = [], []
    for i, t in enumerate(texts):
        parts = sentences(t)
        if len(parts) > 1:
            owner.extend([i] * len(parts))
            sents.extend(parts)
    return owner, sents


@dataclass
class CodebookScorer:
    """Zero-shot scorer fitted to one codebook (see module docstring)."""

    codebook: Codebook
    embedder: Embedder
    params: ScoringParams = field(default_factory=ScoringParams)
    thresholds: dict[str, float] = field(default_factory=dict)
    cache: VectorCache | None = None  # prototypes are embedded once, like passages

    def __post_init__(self) -> None:
        cb = self.codebook
        owner = [j for j, fr in enumerate(cb.frames) for _ in fr.examples]
        prototypes = cb.prototype_texts()
        texts = prototypes[: len(owner)]
        self.example_texts_ = np.array(texts, dtype=object)
        self.example_owner_ = np.array(owner)
        vectors = embed_texts(prototypes, [text_hash(t) for t in prototypes], self.embedder, self.cache).vectors
        self.centre_ = vectors[: len(texts)].mean(axis=0)
        self.domain_axis_ = self.centre_ / max(float(np.linalg.norm(self.centre_)), 1e-12)
        on_axis = vectors[: len(texts)] @ self.domain_axis_
        self.domain_sd_ = float(max(on_axis.std(), 0.02))
        self.domain_floor_ = float(on_axis.mean()) - 2 * self.domain_sd_
        examples_uncentred, vectors = vectors[: len(texts)], self._centred(vectors)
        self.examples_, self.descriptions_ = vectors[: len(texts)], vectors[len(texts) :]
        self.description_texts_ = np.array([f.description for f in cb.frames], dtype=object)  # evidence: as written
        self.bg_mean_, self.bg_sd_ = self._background()
        self.typical_lift_ = self._typical_lift(examples_uncentred)

    def _centred(self, x: np.ndarray) -> np.ndarray:
        c = np.asarray(x, dtype=np.float32) - self.centre_
        return c / np.maximum(np.linalg.norm(c, axis=1, keepdims=True), 1e-12)

    def _raw(self, x: np.ndarray, exclude_self: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Raw similarity (n, F) of centred rows and the best prototype per frame (-1 = description)."""
        p = self.params
        sims = x @ self.examples_.T  # (n, E)
        if exclude_self:  # background rows are the examples themselves
            np.fill_diagonal(sims, -np.inf)
        desc = x @ self.descriptions_.T  # (n, F)
        n, nf = len(x), len(self.codebook.frames)
        raw = np.empty((n, nf), dtype=np.float32)
        best = np.empty((n, nf), dtype=int)
        for j in range(nf):
            cols = np.flatnonzero(self.example_owner_ == j)
            s = sims[:, cols]
            k = min(p.top_k, len(cols) - (1 if exclude_self else 0))
            k = max(k, 1)
            top = -np.sort(-s, axis=1)[:, :k]
            finite = np.isfinite(top)
            n_top = finite.sum(axis=1)
            # a frame's only example, left out of its own background row, leaves the description
            ex = np.where(n_top > 0, np.where(finite, top, 0.0).sum(axis=1) / np.maximum(n_top, 1), desc[:, j])
            raw[:, j] = (1 - p.description_weight) * ex + p.description_weight * desc[:, j]
            arg = cols[np.argmax(np.where(np.isfinite(s), s, -np.inf), axis=1)]
            best_ex = sims[np.arange(n), arg]
            best[:, j] = np.where(desc[:, j] > best_ex, -1, arg)
        return raw, best

    def _background(self) -> tuple[float, float]:
        """Pooled mean and sd of every frame's similarity to the other frames' examples."""
        raw, _ = self._raw(self.examples_, exclude_self=True)
        nf = len(self.codebook.frames)
        other = raw[self.example_owner_[:, None] != np.arange(nf)[None, :]]
        if len(other) < 2:  # a one-frame codebook has no background: use all examples
            other = raw.reshape(-1)
        return float(other.mean()), float(max(other.std(), 0.02))

    def _typical_lift(self, examples: np.ndarray, max_pairs: int = 20_000) -> np.ndarray:
        """Per frame: the mean lift its better sentence gives a two-sentence passage of two other
        frames (pairs of examples of different frames; their blend stands in for the passage)."""
        nf = len(self.codebook.frames)
        i, k = np.triu_indices(len(examples), 1)
        keep = self.example_owner_[i] != self.example_owner_[k]
        i, k = i[keep], k[keep]
        if len(i) > max_pairs:  # large codebooks: a fixed sample of pairs
            pick = np.sort(np.random.default_rng(0).choice(len(i), max_pairs, replace=False))
            i, k = i[pick], k[pick]
        lift = np.zeros(nf, dtype=np.float32)
        if not len(i):
            return lift
        single, _ = self._raw(self.examples_)
        pair = examples[i] + examples[k]
        blend, _ = self._raw(self._centred(pair / np.linalg.norm(pair, axis=1, keepdims=True)))
        gain = np.maximum(np.maximum(single[i], single[k]) - blend, 0)
        for j in range(nf):
            other = (self.example_owner_[i] != j) & (self.example_owner_[k] != j)
            lift[j] = gain[other, j].mean() if other.any() else 0.0
        return lift

    def _sentence_raw(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Per passage, per frame: the best sentence's raw similarity (-inf for one-sentence
        passages, which the passage itself covers), that sentence's best prototype and its row."""
        owner, sents = scored_sentences(texts)
        nf = len(self.codebook.frames)
        top = np.full((len(texts), nf), -np.inf, dtype=np.float32)
        best = np.zeros((len(texts), nf), dtype=int)
        if not sents:
            return top, best
        v = embed_texts(sents, [text_hash(s) for s in sents], self.embedder, self.cache).vectors
        raw, arg = self._raw(self._centred(v))
        for r, i in enumerate(owner):  # few sentences per passage: a loop is clear and cheap
            better = raw[r] > top[i]
            top[i] = np.where(better, raw[r], top[i])
            best[i] = np.where(better, arg[r], best[i])
        return top, best

    def score(self, x: np.ndarray, texts: list[str] | None = None) -> FrameScores:
        """Scores of passages given their (unit, uncentred) embeddings, and their texts
        for sentence scoring (`params.sentences`; without texts, passages only)."""
        raw, best = self._raw(self._centred(x))
        if texts is not None and self.params.sentences and len(texts):
            s_raw, s_best = self._sentence_raw(list(texts))
            lift = np.maximum(s_raw - raw - self.params.typical_lift * self.typical_lift_, 0)
            best = np.where(lift > 0, s_best, best)
            raw = raw + self.params.sentence_weight * lift
        z = (raw - self.bg_mean_) / self.bg_sd_
        if texts is not None and self.params.keyword_weight and not is_multilingual(self.embedder):
            z = z + self.params.keyword_weight * (self.codebook.keyword_hits(list(texts)) > 0)
        domain = expit((np.asarray(x) @ self.domain_axis_ - self.domain_floor_) / (0.25 * self.domain_sd_))
        scores = domain[:, None] * expit(self.params.slope * (z - self.params.z_mid))
        ids = tuple(self.codebook.ids)
        thr = np.array([self.thresholds.get(f, 0.5) for f in ids])
        evidence = np.where(best >= 0, self.example_texts_[np.maximum(best, 0)],
                            np.broadcast_to(self.description_texts_, best.shape))
        return FrameScores(ids, scores.astype(np.float32), scores >= thr, evidence.astype(object), thr)


# the codebook's zero-shot score counts as this many labelled passages of a frame: with k positives
# the fitted probability weighs k / (k + 10). Chosen on GVFC headlines and the demo gold (10, 20 and 50
# labels per frame, 5 draws each); 5 and 20 were within 0.01-0.02 of it (README, "Frame quality and
# few-shot fitting")
ZERO_SHOT_PRIOR_LABELS = 10.0


@dataclass
class FittedFrameModel:
    """Per-frame logistic regression on embeddings, learned from labelled passages, blended with
    the codebook's zero-shot score by how many positives each frame had: a few labels correct the
    codebook instead of replacing it (with 10 per frame the regression alone scored below zero-shot).

    Saved as JSON (weights as lists, no pickle) with the model id it was fitted on,
    so it is never applied to vectors from another encoder.
    """

    frame_ids: tuple[str, ...]
    coef: np.ndarray  # (F, d)
    intercept: np.ndarray  # (F,)
    thresholds: np.ndarray  # (F,), on the blended score
    model_id: str
    codebook_digest: str
    fitted_weight: np.ndarray  # (F,): the regression's share of the blend; the rest is the zero-shot score

    @classmethod
    def fit(
        cls, x: np.ndarray, y: np.ndarray, frame_ids: list[str], model_id: str, codebook_digest: str,
        *, c: float = 4.0, prior_labels: float = ZERO_SHOT_PRIOR_LABELS,
    ) -> FittedFrameModel:
        """`y` is (n, F) 0/1. A frame whose labels are all one way keeps its zero-shot score."""
        from sklearn.linear_model import LogisticRegression

        d = x.shape[1]
        coef = np.zeros((len(frame_ids), d))
        intercept = np.full(len(frame_ids), -10.0)
        weight = np.zeros(len(frame_ids))
        for j in range(len(frame_ids)):
            positives = int(y[:, j].sum())
            if 0 < positives < len(y):
                lr = LogisticRegression(C=c, class_weight="balanced", max_iter=2000)
                lr.fit(x, y[:, j])
                coef[j], intercept[j] = lr.coef_[0], lr.intercept_[0]
                weight[j] = positives / (positives + prior_labels)
        return cls(tuple(frame_ids), coef, intercept, np.full(len(frame_ids), 0.5), model_id, codebook_digest, weight)

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        """The regression's probabilities alone."""
        return 1.0 / (1.0 + np.exp(-(x @ self.coef.T + self.intercept)))

    def blended(self, x: np.ndarray, zero_shot: np.ndarray) -> np.ndarray:
        """The model's score: the regression's probability and the codebook's zero-shot score
        (`CodebookScorer.score(...).scores` of the same passages), weighed per frame."""
        return self.fitted_weight * self.probabilities(x) + (1.0 - self.fitted_weight) * zero_shot

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text(json.dumps({
            "kind": "framescope-frame-model", "version": 2, "frame_ids": list(self.frame_ids),
            "coef": self.coef.round(7).tolist(), "intercept": self.intercept.tolist(),
            "thresholds": self.thresholds.tolist(), "model_id": self.model_id,
            "codebook_digest": self.codebook_digest, "fitted_weight": self.fitted_weight.round(6).tolist(),
        }), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> FittedFrameModel:
        from .errors import CodebookError

        try:
            d = json.loads(Path(path).read_text(encoding="utf-8"))
            if d.get("kind") != "framescope-frame-model":
                raise ValueError("not a framescope frame model")
            return cls(tuple(d["frame_ids"]), np.array(d["coef"]), np.array(d["intercept"]),
                       np.array(d["thresholds"]), d["model_id"], d["codebook_digest"],
                       # a model saved before the blend was the regression alone
                       np.array(d.get("fitted_weight", [1.0] * len(d["frame_ids"]))))
        except (OSError, ValueError, KeyError) as exc:
            raise CodebookError(f"{path}: cannot read frame model ({exc})") from None


@dataclass
class FittedScorer:
    """Scores from a fitted model blended with the codebook scorer's, evidence from the codebook scorer."""

    model: FittedFrameModel
    evidence_from: CodebookScorer

    def score(self, x: np.ndarray, texts: list[str] | None = None) -> FrameScores:
        zs = self.evidence_from.score(x, texts)
        if tuple(self.model.frame_ids) != zs.frame_ids:
            from .errors import CodebookError

            raise CodebookError("the frame model was fitted on a codebook with other frame ids")
        p = self.model.blended(x, zs.scores).astype(np.float32)
        return FrameScores(zs.frame_ids, p, p >= self.model.thresholds, zs.evidence, self.model.thresholds)


def article_frame_mix(passages: pd.DataFrame, scores: FrameScores) -> pd.DataFrame:
    """Share of each article's passages in which each frame is present (columns = frame ids)."""
    df = pd.DataFrame(scores.present.astype(float), columns=list(scores.frame_ids))
    df[S.ARTICLE_ID] = passages[S.ARTICLE_ID].to_numpy()
    return df.groupby(S.ARTICLE_ID, sort=False).mean().round(4)
