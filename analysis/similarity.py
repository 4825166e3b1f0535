"""Which outlets frame alike: Jensen–Shannon distance between their distributions.

An outlet's distribution over frames is the share of its frame mentions falling on each
frame (multi-label counts normalised to sum to one); over clusters, the share of its
passages in each cluster. The distance is the Jensen–Shannon distance with base 2, so
0 = identical profiles and 1 = disjoint ones. Rows are ordered by average-linkage
hierarchical clustering with optimal leaf ordering, so similar outlets sit together on
the heatmap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import leaves_list, linkage, optimal_leaf_ordering
from scipy.spatial.distance import jensenshannon, squareform

from . import schema as S


def distributions(groups: pd.Series, indicators: pd.DataFrame) -> tuple[pd.DataFrame, pd.Series]:
    """(group × category distribution summing to 1, passages per group)."""
    df = indicators.astype("int64").copy()
    df["_g"] = groups.to_numpy()
    return _normalised(df.groupby("_g", sort=True).sum()), df.groupby("_g", sort=True).size()


def _normalised(counts: pd.DataFrame) -> pd.DataFrame:
    totals = counts.sum(axis=1).replace(0, np.nan)
    return counts.div(totals, axis=0).fillna(0.0)


def counts_from_sums(sums: pd.DataFrame, categories, *, category: str, by: str = S.OUTLET) -> tuple[pd.DataFrame, pd.Series]:
    """(group × category counts, passages per group) from by-group cell sums
    (aggregates.group_sums), groups sorted as in `distributions`."""
    counts = (sums.pivot(index=by, columns=category, values="y")
              .reindex(columns=list(categories), fill_value=0).fillna(0).astype("int64").sort_index())
    n = sums.drop_duplicates(by).set_index(by)["x"].reindex(counts.index).astype("int64")
    return counts, n


def js_distance_matrix(dist: pd.DataFrame) -> pd.DataFrame:
    """Square group × group Jensen–Shannon distances (base 2, in [0, 1])."""
    p = dist.to_numpy(dtype=float)
    m = len(p)
    out = np.zeros((m, m))
    empty = p.sum(axis=1) == 0
    for i in range(m):
        for j in range(i + 1, m):
            d = 1.0 if empty[i] or empty[j] else float(jensenshannon(p[i], p[j], base=2))
            out[i, j] = out[j, i] = 0.0 if np.isnan(d) else d
    return pd.DataFrame(out, index=dist.index, columns=dist.index)


def hierarchical_order(dm: pd.DataFrame) -> list:
    """Leaf order of average-linkage clustering with optimal leaf ordering."""
    if len(dm) < 3:
        return list(dm.index)
    condensed = squareform(dm.to_numpy(), checks=False)
    z = optimal_leaf_ordering(linkage(condensed, method="average"), condensed)
    return [dm.index[i] for i in leaves_list(z)]


def outlet_similarity(
    passages: pd.DataFrame, indicators: pd.DataFrame, *, by: str = S.OUTLET
) -> pd.DataFrame:
    """Long table outlet_a, outlet_b, distance, order_a, order_b, n_a, n_b for a heatmap."""
    dist, n = distributions(passages[by], indicators)
    return similarity_from_distributions(dist, n, by=by)


def similarity_from_distributions(dist: pd.DataFrame, n: pd.Series, *, by: str = S.OUTLET) -> pd.DataFrame:
    """`outlet_similarity` from the groups' distributions and passage counts."""
    dm = js_distance_matrix(dist)
    order = hierarchical_order(dm)
    rank = {o: i for i, o in enumerate(order)}
    long = dm.rename_axis(index=f"{by}_a", columns=f"{by}_b").stack().rename("distance").reset_index()
    long["distance"] = long["distance"].round(6)
    long["order_a"] = long[f"{by}_a"].map(rank)
    long["order_b"] = long[f"{by}_b"].map(rank)
    long["n_a"] = long[f"{by}_a"].map(n).astype("int64")
    long["n_b"] = long[f"{by}_b"].map(n).astype("int64")
    return long.sort_values(["order_a", "order_b"]).reset_index(drop=True)


def profile_against_corpus(
    passages: pd.DataFrame, indicators: pd.DataFrame, group: str, *, by: str = S.OUTLET
) -> pd.DataFrame:
    """One outlet's distribution next to the rest of the corpus, with the difference."""
    mine = (passages[by] == group).to_numpy()
    rows = []
    for name, mask in (("outlet", mine), ("rest_of_corpus", ~mine)):
        c = indicators[mask].astype("int64").sum()
        total = c.sum()
        rows.append((c / total if total else c * 0.0).rename(name))
    out = pd.concat(rows, axis=1)
    out["difference"] = out["outlet"] - out["rest_of_corpus"]
    out.index.name = "category"
    return out.round(6).reset_index()


def similarity_table_from_counts(frames: tuple[pd.DataFrame, pd.Series], clusters: tuple[pd.DataFrame, pd.Series],
                                 *, by: str = S.OUTLET) -> pd.DataFrame:
    """outlet_similarity.csv: both distances per outlet pair, each with its own display order,
    from (counts, passages) per group of frames and of clusters (`counts_from_sums`)."""
    keys = [f"{by}_a", f"{by}_b"]
    parts = []
    for prefix, (counts, n) in (("frame", frames), ("cluster", clusters)):
        long = similarity_from_distributions(_normalised(counts), n, by=by)
        parts.append(long.rename(columns={
            "distance": f"{prefix}_jsd", "order_a": f"{prefix}_order_a", "order_b": f"{prefix}_order_b"}))
    sizes = parts[0][[*keys, "n_a", "n_b"]]
    merged = parts[0].drop(columns=["n_a", "n_b"]).merge(parts[1].drop(columns=["n_a", "n_b"]), on=keys)
    return merged.merge(sizes, on=keys)
