"""Syndicated passages: near-copies of one text printed by several outlets.

A pair of passages from different outlets is a copy when both hold:
- their word-trigram sets overlap (Jaccard ≥ `jaccard`), so they share wording, not
  only a topic; and
- their embeddings are close (cosine ≥ `cosine`), so small edits are tolerated but a
  shared quotation inside otherwise different text is not enough.

Candidates come from a sparse product of (hashed) trigram incidence restricted to trigrams that
occur in 2–`max_df` passages, so memory grows with the number of candidate pairs, not
with n². Copies are joined transitively into groups; the earliest passage (date, then
passage id) is the group's origin. Undated copies never become origins over dated ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.sparse import triu
from sklearn.feature_extraction.text import HashingVectorizer

from . import schema as S

GROUP = "syndication_group"  # -1 for passages printed once
ORIGIN = "syndication_origin"  # passage id of the group's earliest copy ("" when not syndicated)
IS_COPY = "syndicated_copy"  # True for every member except the origin


@dataclass(frozen=True)
class SyndicationParams:
    cosine: float = 0.92
    jaccard: float = 0.5
    min_shared: int = 3  # candidate pairs share at least this many informative trigrams
    max_df: int = 50  # trigrams in more passages than this are phrases, not copies


def _trigram_sets(texts: list[str]):
    """Binary passage × hashed-trigram matrix (2^24 buckets: collisions between two passages
    of ~100 trigrams each have odds of about 1 in 1,700, and building no vocabulary is 6× faster)."""
    vec = HashingVectorizer(
        ngram_range=(3, 3), binary=True, lowercase=True, token_pattern=r"(?u)\b\w+\b",
        n_features=2**24, norm=None, alternate_sign=False, dtype=np.float32,
    )
    return vec.transform(texts).tocsr()


def find_copies(passages: pd.DataFrame, vectors: np.ndarray, params: SyndicationParams = SyndicationParams()) -> pd.DataFrame:
    """Pairs (i, j, jaccard, cosine) of row positions that are copies across outlets."""
    empty = pd.DataFrame({"i": [], "j": [], "jaccard": [], "cosine": []})
    texts = passages[S.TEXT].astype(str).tolist()
    if len(texts) < 2:
        return empty
    x = _trigram_sets(texts)
    if x.nnz == 0:  # no passage has three words
        return empty
    sizes = np.asarray(x.sum(axis=1)).ravel()
    df = np.asarray(x.sum(axis=0)).ravel()
    informative = np.flatnonzero((df >= 2) & (df <= params.max_df))
    xi = x[:, informative].tocsr().astype(np.int32)
    shared = triu(xi @ xi.T, k=1).tocoo()
    keep = shared.data >= params.min_shared
    i, j, inter = shared.row[keep], shared.col[keep], shared.data[keep].astype(float)
    outlets = passages[S.OUTLET].to_numpy()
    other = outlets[i] != outlets[j]
    i, j, inter = i[other], j[other], inter[other]
    if len(i) == 0:
        return empty
    # exact intersection over all trigrams (the candidate count ignored common ones)
    inter = np.asarray(x[i].multiply(x[j]).sum(axis=1)).ravel().astype(float)
    jac = inter / np.maximum(sizes[i] + sizes[j] - inter, 1)
    cos = np.einsum("ij,ij->i", vectors[i], vectors[j])
    ok = (jac >= params.jaccard) & (cos >= params.cosine)
    return pd.DataFrame({"i": i[ok], "j": j[ok], "jaccard": jac[ok].round(4), "cosine": cos[ok].round(4)})


def _components(n: int, pairs: pd.DataFrame) -> np.ndarray:
    parent = np.arange(n)

    def root(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in zip(pairs["i"].astype(int), pairs["j"].astype(int), strict=True):
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return np.array([root(a) for a in range(n)])


def syndication(passages: pd.DataFrame, vectors: np.ndarray, params: SyndicationParams = SyndicationParams()) -> pd.DataFrame:
    """Per passage (aligned rows): group id, origin passage id and whether it is a copy."""
    n = len(passages)
    out = pd.DataFrame({GROUP: np.full(n, -1), ORIGIN: np.full(n, "", dtype=object), IS_COPY: np.zeros(n, bool)})
    pairs = find_copies(passages, vectors, params)
    if pairs.empty:
        return out
    comp = _components(n, pairs)
    members = np.zeros(n, bool)
    members[pairs["i"].astype(int)] = members[pairs["j"].astype(int)] = True
    dates = pd.to_datetime(passages[S.DATE], utc=True)
    order = pd.DataFrame({
        "comp": comp, "undated": dates.isna().to_numpy(), "date": dates.to_numpy(),
        "pid": passages[S.PASSAGE_ID].astype(str).to_numpy(), "row": np.arange(n),
    })[members].sort_values(["comp", "undated", "date", "pid"], kind="stable")
    origin_row = order.groupby("comp", sort=False)["row"].first()
    group_ids = {c: g for g, c in enumerate(origin_row.sort_values().index)}
    rows = order["row"].to_numpy()
    comps = order["comp"].to_numpy()
    out.loc[rows, GROUP] = [group_ids[c] for c in comps]
    origins = origin_row.reindex(comps).to_numpy()
    out.loc[rows, ORIGIN] = passages[S.PASSAGE_ID].astype(str).to_numpy()[origins]
    out.loc[rows, IS_COPY] = rows != origins
    return out


def syndication_table(passages: pd.DataFrame) -> pd.DataFrame:
    """Every syndicated passage with its group, outlet, date and origin, for review."""
    s = passages[passages[GROUP] >= 0]
    cols = [GROUP, S.PASSAGE_ID, S.ARTICLE_ID, S.OUTLET, S.DATE, ORIGIN, IS_COPY, S.TEXT]
    return s[cols].sort_values([GROUP, IS_COPY, S.DATE], kind="stable").reset_index(drop=True)
