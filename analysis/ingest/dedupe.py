"""Duplicates across all files of one upload: one article per text, with the reprints it had.

The copy that survives is chosen by content and date, never by input order, and its id
is made unique with the same rule the store uses (`analysis.ids.unique_ids`).
"""

from __future__ import annotations

import pandas as pd

from analysis import schema
from analysis.ids import article_key, unique_ids
from analysis.reprints import format_carriers


def deduplicate(articles: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """Articles of every file collapsed to one per text, with unique ids; and the copies dropped."""
    kept, n_duplicates = collapse_duplicates(articles)
    keys = [article_key(t, o) for t, o in zip(kept[schema.TEXT], kept[schema.OUTLET], strict=True)]
    kept[schema.ARTICLE_ID] = unique_ids(kept[schema.ARTICLE_ID].tolist(), keys)
    return kept, n_duplicates


def collapse_duplicates(articles: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """One article per normalised text: the earliest dated copy survives; ties go to the
    smallest (outlet, id, title, url), then input order, so a shuffled file keeps the same copy.

    The other outlets that carried it are kept with the date each ran it (earliest per
    outlet, the survivor's own outlet left out), so the aggregates can count the reprints
    where they appeared (analysis.reprints).
    """
    ordered = articles.assign(_order=range(len(articles))).sort_values(
        [schema.DATE, schema.OUTLET, schema.ARTICLE_ID, schema.TITLE, schema.URL, "_order"], na_position="last"
    )
    first = ~ordered.duplicated("_key")
    copies = ordered[~first]
    origin_outlet = ordered[first].set_index("_key")[schema.OUTLET]
    elsewhere = copies[copies[schema.OUTLET].to_numpy() != copies["_key"].map(origin_outlet).to_numpy()]
    carriers = (
        elsewhere.drop_duplicates(["_key", schema.OUTLET]).sort_values([schema.OUTLET, "_order"], kind="stable")
        .groupby("_key")[[schema.OUTLET, schema.DATE]]
        .apply(lambda g: format_carriers(zip(g[schema.OUTLET], g[schema.DATE], strict=True)))
    ) if len(elsewhere) else pd.Series(dtype=object)
    kept = ordered[first].sort_values("_order")
    kept[schema.DUPLICATES] = kept["_key"].map(copies.groupby("_key").size()).fillna(0).astype("int64")
    kept[schema.DUPLICATE_OUTLETS] = kept["_key"].map(carriers).astype(object).fillna("").astype(str)
    return kept[list(schema.ARTICLE_COLUMNS)].reset_index(drop=True), int((~first).sum())
