"""Syndicated passages: near-copies of one text printed by several outlets.

A pair of passages from different outlets is a copy when both hold:
- their word-trigram sets overlap (Jaccard ≥ `jaccard`), so they share wording, not
  only a topic; and
- their embeddings are close (cosine ≥ `cosine`), so small edits are tolerated but a
  shared quotation inside otherwise different text is not enough.

Candidates come from MinHash locality-sensitive hashing over each passage's trigram set:
`bands` × `rows` min-hashes, and two passages are candidates when all the min-hashes of one
band agree (probability 1 − (1 − J^rows)^bands: 99.6 % at Jaccard 0.5 with 42 × 3). Time
and memory grow with the passages and the candidate pairs, not with n², and a paragraph
reprinted by hundreds of outlets is found like one reprinted twice (a document-frequency
cut-off on trigrams, used before, hid exactly those). The signatures and bands are numpy
over the sparse trigram matrix: datasketch's MinHashLSH, tried first, inserts and queries
band by band in Python (4.6 ms a passage here, minutes for a 60,000-passage corpus). Every
candidate is then checked on its exact trigram Jaccard and its cosine. Copies are joined
transitively into groups; the earliest passage (date, then passage id) is the group's
origin. Undated copies never become origins over dated ones.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import HashingVectorizer

from . import schema as S

GROUP = "syndication_group"  # -1 for passages printed once
ORIGIN = "syndication_origin"  # passage id of the group's earliest copy ("" when not syndicated)
IS_COPY = "syndicated_copy"  # True for every member except the origin


@dataclass(frozen=True)
class SyndicationParams:
    cosine: float = 0.92
    jaccard: float = 0.5
    bands: int = 42  # LSH bands of `rows` min-hashes each (see the module docstring)
    rows: int = 3


_BUCKETS = 2**24


def trigram_sets(texts: list[str]):
    """Binary passage × hashed-trigram matrix (2^24 buckets: collisions between two passages
    of ~100 trigrams each have odds of about 1 in 1,700, and building no vocabulary is 6× faster)."""
    if not texts:  # the vectorizer cannot take none
        from scipy.sparse import csr_matrix

        return csr_matrix((0, _BUCKETS), dtype=np.float32)
    vec = HashingVectorizer(
        ngram_range=(3, 3), binary=True, lowercase=True, token_pattern=r"(?u)\b\w+\b",
        n_features=_BUCKETS, norm=None, alternate_sign=False, dtype=np.float32,
    )
    return vec.transform(texts).tocsr()


_PRIME = (1 << 31) - 1  # min-hashes are (a·h + b) mod p over the 24-bit trigram hashes


def _signatures(x, n_hashes: int) -> np.ndarray:
    """(passages, n_hashes) MinHash signatures of the rows of a binary CSR matrix (rows with
    no trigram get the sentinel p and never meet another row)."""
    rng = np.random.default_rng(1)
    a = rng.integers(1, _PRIME, n_hashes, dtype=np.int64)
    b = rng.integers(0, _PRIME, n_hashes, dtype=np.int64)
    cols = x.indices.astype(np.int64)
    starts = x.indptr[:-1]
    filled = np.diff(x.indptr) > 0
    sig = np.full((x.shape[0], n_hashes), _PRIME, dtype=np.int64)
    for k in range(n_hashes):
        h = (a[k] * cols + b[k]) % _PRIME
        sig[filled, k] = np.minimum.reduceat(h, starts[filled])
    return sig


def band_keys(x, params: SyndicationParams) -> np.ndarray:
    """(passages, bands) LSH keys: a band's min-hashes folded into one 64-bit key, salted by
    band so keys of different bands never meet (a rare collision only adds a candidate).
    Rows with no trigram get key 0 in every band and are never candidates."""
    sig = _signatures(x, params.bands * params.rows).astype(np.uint64)
    mix = np.random.default_rng(2).integers(1, 2**63, params.rows, dtype=np.int64).astype(np.uint64) | np.uint64(1)
    salt = np.random.default_rng(3).integers(1, 2**63, params.bands, dtype=np.int64).astype(np.uint64)
    keys = np.stack([(sig[:, b * params.rows:(b + 1) * params.rows] @ mix) ^ salt[b]  # wraps modulo 2^64
                     for b in range(params.bands)], axis=1)
    keys[np.diff(x.indptr) == 0] = 0
    return keys


def pairs_sharing_a_key(keys: np.ndarray) -> np.ndarray:
    """Row pairs (i < j) whose keys agree in at least one band (column), sorted and unique;
    key 0 (no trigram) never pairs."""
    pairs = []
    for band in range(keys.shape[1]):
        rows = np.flatnonzero(keys[:, band] != 0)
        _, bucket = np.unique(keys[rows, band], return_inverse=True)
        shared = np.flatnonzero(np.bincount(bucket)[bucket] > 1)  # rows whose bucket has company
        order = shared[np.argsort(bucket[shared], kind="stable")]
        members, in_bucket = rows[order], bucket[order]
        for d in range(1, len(order)):  # every pair of one bucket, d apart in bucket order
            same = in_bucket[:-d] == in_bucket[d:]
            if not same.any():
                break
            pairs.append(np.stack([members[:-d][same], members[d:][same]], axis=1))
    if not pairs:
        return np.zeros((0, 2), dtype=np.int64)
    return np.unique(np.sort(np.concatenate(pairs), axis=1), axis=0)


def verify(x, vectors: np.ndarray, outlets: np.ndarray, pairs: np.ndarray, params: SyndicationParams) -> pd.DataFrame:
    """The candidate pairs of different outlets that are copies: exact trigram Jaccard and cosine."""
    pairs = pairs[outlets[pairs[:, 0]] != outlets[pairs[:, 1]]] if len(pairs) else pairs
    if len(pairs) == 0:
        return pd.DataFrame({"i": [], "j": [], "jaccard": [], "cosine": []})
    i, j = pairs[:, 0], pairs[:, 1]
    sizes = np.asarray(x.sum(axis=1)).ravel()
    inter = np.asarray(x[i].multiply(x[j]).sum(axis=1)).ravel().astype(float)
    jac = inter / np.maximum(sizes[i] + sizes[j] - inter, 1)
    cos = np.einsum("ij,ij->i", vectors[i], vectors[j])
    ok = (jac >= params.jaccard) & (cos >= params.cosine)
    return pd.DataFrame({"i": i[ok], "j": j[ok], "jaccard": jac[ok].round(4), "cosine": cos[ok].round(4)})


def find_copies(passages: pd.DataFrame, vectors: np.ndarray, params: SyndicationParams = SyndicationParams()) -> pd.DataFrame:
    """Pairs (i, j, jaccard, cosine) of row positions that are copies across outlets."""
    texts = passages[S.TEXT].astype(str).tolist()
    x = trigram_sets(texts) if len(texts) > 1 else None
    if x is None or x.nnz == 0:  # nothing to pair, or no passage has three words
        return verify(x, vectors, np.array([]), np.zeros((0, 2), np.int64), params)
    return verify(x, vectors, passages[S.OUTLET].to_numpy(), pairs_sharing_a_key(band_keys(x, params)), params)


def representative_links(keys: np.ndarray, part: np.ndarray, row: np.ndarray, outlet: np.ndarray) -> np.ndarray:
    """Candidate copy pairs across partitions, linear in the holders of a key, not quadratic.

    Rows are (band key, partition, row, outlet hash) of every passage holding a key. Each key
    held in two or more partitions gets a representative, its first holder (partition, then
    row), and a second one, its first holder of another outlet; every holder is paired with
    the first representative of another outlet than its own, so a same-outlet reprint still
    meets the group. A wire story reprinted by 500 outlets gives 500 candidates, not 125,000;
    pairs inside one partition are left to the partition (they are found there in full).
    Returns unique (partition, row, rep partition, rep row) rows."""
    if len(keys) == 0:
        return np.zeros((0, 4), np.int64)
    order = np.lexsort((row, part, keys))
    k, p, r, o = keys[order], part[order], row[order], outlet[order]
    first = np.r_[True, k[1:] != k[:-1]]
    starts = np.flatnonzero(first)
    group = np.cumsum(first) - 1
    spread = np.maximum.reduceat(p, starts) != np.minimum.reduceat(p, starts)
    rep1 = starts[group]
    index = np.arange(len(k))
    other = np.where(o != o[rep1], index, len(k))  # holders of another outlet than rep1's
    rep2 = np.minimum.reduceat(other, starts)[group]
    target = np.where(o != o[rep1], rep1, rep2)
    ok = spread[group] & (target < len(k))
    target = np.where(ok, target, 0)
    ok &= p[target] != p
    links = np.stack([p[ok], r[ok], p[target[ok]], r[target[ok]]], axis=1).astype(np.int64)
    return np.unique(links, axis=0)


def _components(n: int, pairs: pd.DataFrame) -> np.ndarray:
    """Connected components of the copy pairs (scipy's union of the pairs' graph)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    i, j = pairs["i"].to_numpy(dtype=np.int64), pairs["j"].to_numpy(dtype=np.int64)
    graph = coo_matrix((np.ones(len(i), np.int8), (i, j)), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def no_copies(n: int) -> pd.DataFrame:
    """The syndication columns of `n` passages printed once."""
    return pd.DataFrame({GROUP: np.full(n, -1), ORIGIN: np.full(n, "", dtype=object), IS_COPY: np.zeros(n, bool)})


def copy_groups(pairs: pd.DataFrame, dates: pd.Series, passage_ids: np.ndarray) -> pd.DataFrame:
    """Per row (aligned with `dates` and `passage_ids`): group id, origin passage id and whether
    it is a copy, from the verified copy pairs. Groups are numbered in the order of their
    origins' rows, so the numbering follows the (canonical) row order."""
    n = len(passage_ids)
    out = no_copies(n)
    if pairs.empty:
        return out
    comp = _components(n, pairs)
    members = np.zeros(n, bool)
    members[pairs["i"].astype(int)] = members[pairs["j"].astype(int)] = True
    dates = pd.to_datetime(pd.Series(dates).reset_index(drop=True), utc=True)
    pids = np.asarray(passage_ids).astype(str)
    order = pd.DataFrame({
        "comp": comp, "undated": dates.isna().to_numpy(), "date": dates.to_numpy(), "pid": pids, "row": np.arange(n),
    })[members].sort_values(["comp", "undated", "date", "pid"], kind="stable")
    origin_row = order.groupby("comp", sort=False)["row"].first()
    group_ids = {c: g for g, c in enumerate(origin_row.sort_values().index)}
    rows = order["row"].to_numpy()
    comps = order["comp"].to_numpy()
    out.loc[rows, GROUP] = [group_ids[c] for c in comps]
    origins = origin_row.reindex(comps).to_numpy()
    out.loc[rows, ORIGIN] = pids[origins]
    out.loc[rows, IS_COPY] = rows != origins
    return out


def syndication(passages: pd.DataFrame, vectors: np.ndarray, params: SyndicationParams = SyndicationParams()) -> pd.DataFrame:
    """Per passage (aligned rows): group id, origin passage id and whether it is a copy."""
    return copy_groups(find_copies(passages, vectors, params), passages[S.DATE], passages[S.PASSAGE_ID].to_numpy())


def syndication_table(passages: pd.DataFrame) -> pd.DataFrame:
    """Every syndicated passage with its group, outlet, date and origin, for review."""
    s = passages[passages[GROUP] >= 0]
    cols = [GROUP, S.PASSAGE_ID, S.ARTICLE_ID, S.OUTLET, S.DATE, ORIGIN, IS_COPY, S.TEXT]
    return s[cols].sort_values([GROUP, IS_COPY, S.DATE], kind="stable").reset_index(drop=True)
