"""Clusters: the passage map, one cluster (its outlets, frames, volume and passages) and the
cluster table, one tab each.

The tabs are lazy: only the open tab is computed and drawn. A click on a dot of the map opens
its cluster in the "One cluster" tab."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from analysis import schema as S
from dashboard import charts, filters, keys, state, ui
from dashboard.cache import frame_bytes, spec_bytes
from dashboard.downloads import Deferred, downloads
from dashboard.explore import map_points, overall_frame_shares, present_frames

MAP_KEY = "cluster_map"
MAP, ONE_CLUSTER, TABLE = "Map", "One cluster", "Cluster table"


@dataclass(frozen=True)
class _Page:
    """What every tab reads: the run, its filtered view and the clusters under the filter."""

    res: state.Results
    view: state.View
    f: filters.Filters
    clusters: pd.DataFrame  # sizes under the filter, the run's size beside

    @property
    def ids(self) -> list[int]:
        return self.clusters[S.CLUSTER_ID].astype(int).tolist()


def _open_picked_cluster() -> None:
    """The map's click callback: open the clicked dot's cluster (before the page reruns, so the
    tabs can still be switched)."""
    picked = ui.selection_values(st.session_state.get(MAP_KEY), charts.CLUSTER_SELECT)
    value = picked[0].get(S.CLUSTER_ID) if picked else None
    if value is not None:
        st.session_state[keys.CLUSTER] = int(value)
        st.session_state[keys.CLUSTERS_TAB] = ONE_CLUSTER


def map_tab(p: _Page) -> None:
    passages, labels = p.view.passages, p.res.cluster_labels
    umap_xy = state.umap_points(p.res)
    kind = "PCA" if umap_xy is None else "UMAP"

    def sampled_map() -> tuple[dict, int, bool]:
        on_map = passages
        if umap_xy is not None:  # the run's UMAP sample: its passages, never a merge of the whole view
            mapped = passages[passages[S.PASSAGE_ID].isin(umap_xy[S.PASSAGE_ID])]
            on_map = mapped.drop(columns=["map_x", "map_y"]).merge(umap_xy, on=S.PASSAGE_ID)
        points, sampled = map_points(on_map, with_text=p.view.with_text)
        return charts.cluster_map(points, labels, kind), len(points), sampled

    map_chart, n_points, sampled = state.view_memo(p.view, ("cluster_map", kind), sampled_map,
                                                   lambda m: spec_bytes(m[0]))
    ui.chart(map_chart, width="stretch", on_select=_open_picked_cluster, key=MAP_KEY)
    st.caption(
        ("Each dot is a passage placed by the first two principal axes of its embedding; clusters that overlap "
         "here may still be apart in the full space. A UMAP map that separates clusters is being computed in "
         "the background and replaces this one when you next open the page."
         if umap_xy is None else
         "Each dot is a passage placed by UMAP: passages close in meaning stay close; distances between far "
         "clusters and cluster sizes on the map mean little. The map holds a fixed sample per cluster.")
        + f" Click a dot to open its cluster in the “{ONE_CLUSTER}” tab."
        + (f" Showing {n_points:,} of {len(passages):,} passages (a sample per cluster)."
           if sampled or umap_xy is not None else "")
    )
    downloads("clusters_map", {"passages": Deferred(len(passages), lambda: p.view.with_text(passages))},
              {"cluster_map": map_chart}, state.manifest_for(p.res, p.f))


def one_cluster_tab(p: _Page) -> None:
    res, view, passages, labels = p.res, p.view, p.view.passages, p.res.cluster_labels
    if st.session_state.get(keys.CLUSTER) not in p.ids:
        st.session_state[keys.CLUSTER] = p.ids[0]
    cid = st.selectbox("Cluster", p.ids, key=keys.CLUSTER, format_func=lambda c: f"{c} · {labels.get(c, '')}")
    mine = passages[passages[S.CLUSTER_ID] == cid]
    row = p.clusters[p.clusters[S.CLUSTER_ID] == cid].iloc[0]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Passages (filtered)", f"{len(mine):,}", help=f"{int(row[keys.N_PASSAGES_ALL]):,} in the whole run.")
    c2.metric("Articles", f"{mine[S.ARTICLE_ID].nunique():,}")
    c3.metric("Outlets", f"{mine[S.OUTLET].nunique():,}")
    c4.metric("Share of filtered passages", f"{len(mine) / max(len(passages), 1):.1%}")
    st.text(f"Top terms: {row[keys.TOP_TERMS]}")

    left, right = st.columns(2)
    outlets = mine.groupby(S.OUTLET).size().rename("passages").reset_index()
    colour = charts.cluster_colours([cid])[cid]
    outlet_chart = ui.spec(charts.bar_counts, outlets, S.OUTLET, "passages", "Passages by outlet", colour)
    ui.chart(outlet_chart, where=left, width="stretch")
    shares = state.view_memo(view, ("cluster_frames", cid), lambda: overall_frame_shares(mine, res.frame_ids),
                             frame_bytes) if len(mine) else None
    frame_chart = ui.spec(charts.frame_share_bars, shares, res.frame_labels, res.frame_ids) if shares is not None else None
    if frame_chart is not None:
        ui.chart(frame_chart, where=right, width="stretch")
    timeline = (ui.spec(charts.cluster_timeline, view.table("clusters_over_time"), cid, colour, view.period)
                if ui.timeline_note(mine[S.DATE], "passages of this cluster") else None)
    if timeline is not None:
        ui.chart(timeline, width="stretch")

    st.markdown("**Passages of this cluster** (closest to the centre first)")
    listing = view.with_text(mine.sort_values(S.SIMILARITY, ascending=False).head(300))
    listing["frames"] = [present_frames(r, res.frame_ids, res.frame_labels) for r in listing.to_dict("records")]
    ui.table(listing[[S.DATE, S.OUTLET, S.TITLE, "frames", S.SIMILARITY, S.TEXT]], height=420)

    chart_map = {"cluster_outlets": outlet_chart}
    if frame_chart is not None:
        chart_map["cluster_frames"] = frame_chart
    if timeline is not None:
        chart_map["cluster_volume"] = timeline
    downloads("clusters_one", {"cluster_passages": Deferred(len(mine), lambda: view.with_text(mine))}, chart_map,
              state.manifest_for(res, p.f, cluster=int(cid)))


def table_tab(p: _Page) -> None:
    view, clusters = p.view, p.clusters
    st.caption(f"Sizes, outlets and dates count the {len(view.passages):,} passages under the filter; "
               f"“n passages unfiltered” is the cluster's size in the whole run ({p.res.n_passages:,} passages)."
               + (" “low fit” counts passages less similar to their cluster than 95 % of the run's passages in it "
                  "were when it was fitted: many of them, after articles were added, mean the cluster no longer "
                  "covers them well." if keys.N_LOW_FIT in clusters else ""))
    rep_cols = [c for c in clusters.columns if c.startswith(keys.REPRESENTATIVE_PREFIX)]
    ui.table(clusters.drop(columns=rep_cols),
             column_config={keys.N_PASSAGES_ALL: st.column_config.NumberColumn("n passages unfiltered"),
                            keys.N_LOW_FIT: st.column_config.NumberColumn("low fit")})
    with st.expander("Representative passages of every cluster"):
        reps = clusters.melt(id_vars=[S.CLUSTER_ID, keys.LABEL], value_vars=rep_cols, var_name="rank",
                             value_name="text").dropna(subset=["text"])
        ui.table(reps.sort_values([S.CLUSTER_ID, "rank"]))
    downloads("clusters_table",
              {"clusters": clusters,
               "clusters_over_time": view.deferred_table("clusters_over_time"),
               "clusters_by_outlet": view.deferred_table("clusters_by_outlet")},
              {}, state.manifest_for(p.res, p.f))


TABS = {MAP: map_tab, ONE_CLUSTER: one_cluster_tab, TABLE: table_tab}

st.title("Clusters", anchor=False)
f = filters.filters()
got = ui.filtered_results(f, what="the passage map")
if got is not None:
    res, view = got
    page = _Page(res, view, f, view.table("clusters"))
    ui.lazy_tabs(TABS, keys.CLUSTERS_TAB, page)
