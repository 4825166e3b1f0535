"""Search a run's passages: nearest by embedding (a sentence or keywords) plus exact keyword hits.

Meaning and wording answer different questions: the nearest passages find a claim however it is
phrased, the keyword hits find every passage that uses the words. Both are returned in one
table, each row saying how it matched, so a researcher sees what each method contributed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from . import aggregates as A
from . import schema as S

MATCH = "match"
QUERY_SIMILARITY = "query_similarity"  # cosine to the query (S.SIMILARITY is to the cluster centre)
MEANING, WORDS, BOTH = "meaning", "words", "meaning and words"
FRAMES = "frames"
CLUSTER_LABEL = "cluster_label"
RESULT_COLUMNS = (MATCH, QUERY_SIMILARITY, S.DATE, S.OUTLET, S.TITLE, S.CLUSTER_ID, CLUSTER_LABEL, FRAMES, S.TEXT,
                  S.PASSAGE_ID, S.ARTICLE_ID)
_WORD = re.compile(r"\w[\w'-]*", re.UNICODE)


@dataclass(frozen=True)
class SearchConfig:
    n_nearest: int = 50  # passages returned by meaning
    max_keyword_hits: int = 500  # passages returned by wording (all of them up to this cap)
    min_similarity: float = 0.2  # nearest passages below this cosine are not shown (unrelated)


def query_terms(query: str) -> list[str]:
    """The words of a query; a phrase in double quotes stays one term ("belt and road")."""
    phrases = [p.strip().casefold() for p in re.findall(r'"([^"]+)"', query) if p.strip()]
    rest = re.sub(r'"[^"]*"', " ", query)
    words = [w.casefold() for w in _WORD.findall(rest)]
    return list(dict.fromkeys(phrases + words))


def keyword_mask(texts: pd.Series, terms: Sequence[str]) -> np.ndarray:
    """Passages that contain every term as whole words, ignoring case."""
    mask = np.ones(len(texts), dtype=bool)
    if not terms:
        return np.zeros(len(texts), dtype=bool)
    for term in terms:
        pattern = r"(?<!\w)" + r"\s+".join(re.escape(w) for w in term.split()) + r"(?!\w)"
        mask &= texts.str.contains(pattern, case=False, regex=True, na=False).to_numpy(dtype=bool)
    return mask


def frames_present(passages: pd.DataFrame, frame_ids: Sequence[str], labels: Mapping[str, str]) -> pd.Series:
    """The labels of the frames present in each passage, comma-joined ("—" when none)."""
    names = pd.Series([""] * len(passages), index=passages.index, dtype=object)
    for f in frame_ids:
        col = A.present_column(f)
        if col in passages:
            on = passages[col].astype(bool)
            names[on] = names[on] + ", " + labels.get(f, f)
    return names.str.removeprefix(", ").replace("", "—")


def search_passages(
    query: str,
    query_vector: np.ndarray | None,
    passages: pd.DataFrame,
    vectors: np.ndarray | None,
    frame_ids: Sequence[str],
    frame_labels: Mapping[str, str],
    cluster_labels: Mapping[int, str],
    config: SearchConfig = SearchConfig(),
) -> pd.DataFrame:
    """Nearest passages by cosine to `query_vector` and every keyword hit, best first.

    `vectors` are unit rows aligned with `passages` (None: keyword hits only). Columns:
    RESULT_COLUMNS; `query_similarity` is the cosine to the query for every row.
    """
    n = len(passages)
    sims = np.full(n, np.nan, dtype=np.float32)
    near = np.zeros(n, dtype=bool)
    if query_vector is not None and vectors is not None and n:
        sims = vectors @ np.asarray(query_vector, dtype=np.float32).ravel()
        k = min(config.n_nearest, n)
        top = np.argpartition(-sims, k - 1)[:k]
        near[top[sims[top] >= config.min_similarity]] = True
    words = keyword_mask(passages[S.TEXT], query_terms(query))
    if words.sum() > config.max_keyword_hits:  # keep the hits closest in meaning (else the first ones)
        order = np.flatnonzero(words)
        if not np.isnan(sims).all():
            order = order[np.argsort(-sims[order], kind="stable")]
        words = np.zeros(n, dtype=bool)
        words[order[: config.max_keyword_hits]] = True
    keep = np.flatnonzero(near | words)
    out = passages.iloc[keep].copy()
    out[MATCH] = np.where(near[keep] & words[keep], BOTH, np.where(near[keep], MEANING, WORDS))
    out[QUERY_SIMILARITY] = np.round(sims[keep].astype(float), 3)
    out[CLUSTER_LABEL] = out[S.CLUSTER_ID].map(cluster_labels) if S.CLUSTER_ID in out else ""
    out[FRAMES] = frames_present(out, frame_ids, frame_labels)
    rank = np.where(out[MATCH] == WORDS, 1, 0)  # nearest (and both) first, then keyword-only hits
    out = out.assign(_rank=rank).sort_values(["_rank", QUERY_SIMILARITY], ascending=[True, False], na_position="last")
    return out[[c for c in RESULT_COLUMNS if c in out]].reset_index(drop=True)
