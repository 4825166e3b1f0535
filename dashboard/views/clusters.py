"""Clusters: the passage map, the cluster table and one cluster's passages, outlets, frames and volume."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis import schema as S
from dashboard import charts, state, ui
from dashboard.downloads import downloads
from dashboard.explore import map_points, overall_frame_shares, present_frames

st.title("Clusters", anchor=False)
f = state.filters()
got = ui.filtered_results(f, what="the passage map")
if got is not None:
    res, view = got
    passages = view.passages
    ids = res.clusters[S.CLUSTER_ID].astype(int).tolist()
    labels = res.cluster_labels

    umap_xy = state.umap_points(res)
    on_map = passages if umap_xy is None else passages.drop(columns=["map_x", "map_y"]).merge(umap_xy, on=S.PASSAGE_ID)
    points, sampled = map_points(on_map)
    map_chart = charts.cluster_map(points, "PCA" if umap_xy is None else "UMAP")
    event = st.altair_chart(map_chart, width="stretch", on_select="rerun", key="cluster_map")
    st.caption(
        ("Each dot is a passage placed by the first two principal axes of its embedding; clusters that overlap "
         "here may still be apart in the full space. A UMAP map that separates clusters is being computed in "
         "the background and replaces this one when you next open the page."
         if umap_xy is None else
         "Each dot is a passage placed by UMAP: passages close in meaning stay close; distances between far "
         "clusters and cluster sizes on the map mean little. The map holds a fixed sample per cluster.")
        + " Click a dot to open its cluster."
        + (f" Showing {len(points):,} of {len(passages):,} passages (a sample per cluster)."
           if sampled or umap_xy is not None else "")
    )
    picked = ui.selection_values(event, charts.CLUSTER_SELECT)
    if picked:
        value = picked[0].get(S.CLUSTER_ID)
        if value is not None and value != state.last_event("cluster_map") and int(value) in ids:
            st.session_state[state.K_CLUSTER] = int(value)
        state.remember_event("cluster_map", value)

    st.subheader("Cluster table", anchor=False)
    ui.table(res.clusters.drop(columns=[c for c in res.clusters.columns if c.startswith("representative_")]))
    with st.expander("Representative passages of every cluster"):
        reps = res.clusters.melt(id_vars=[S.CLUSTER_ID, "label"],
                                 value_vars=[c for c in res.clusters.columns if c.startswith("representative_")],
                                 var_name="rank", value_name="text").dropna(subset=["text"])
        ui.table(reps.sort_values([S.CLUSTER_ID, "rank"]))

    if st.session_state.get(state.K_CLUSTER) not in ids:
        st.session_state[state.K_CLUSTER] = ids[0]
    st.subheader("One cluster", anchor=False)
    cid = st.selectbox("Cluster", ids, key=state.K_CLUSTER, format_func=lambda c: f"{c} · {labels.get(c, '')}")
    mine = passages[passages[S.CLUSTER_ID] == cid]
    row = res.clusters[res.clusters[S.CLUSTER_ID] == cid].iloc[0]
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Passages (filtered)", f"{len(mine):,}")
    c2.metric("Articles", f"{mine[S.ARTICLE_ID].nunique():,}")
    c3.metric("Outlets", f"{mine[S.OUTLET].nunique():,}")
    c4.metric("Share of filtered passages", f"{len(mine) / max(len(passages), 1):.1%}")
    st.text(f"Top terms: {row['top_terms']}")

    left, right = st.columns(2)
    outlets = mine.groupby(S.OUTLET).size().rename("passages").reset_index()
    outlet_chart = charts.bar_counts(outlets, S.OUTLET, "passages", "Passages by outlet")
    left.altair_chart(outlet_chart, width="stretch")
    shares = overall_frame_shares(mine, res.frame_ids) if len(mine) else None
    frame_chart = charts.frame_share_bars(shares, res.frame_labels, res.frame_ids) if shares is not None else None
    if frame_chart is not None:
        right.altair_chart(frame_chart, width="stretch")
    timeline = charts.cluster_timeline(view.tables["clusters_over_time"], cid) if view.tables else None
    if timeline is not None:
        st.altair_chart(timeline, width="stretch")

    st.markdown("**Passages of this cluster** (closest to the centre first)")
    listing = mine.sort_values(S.SIMILARITY, ascending=False).head(300).copy()
    listing["frames"] = [present_frames(r, res.frame_ids, res.frame_labels) for r in listing.to_dict("records")]
    ui.table(listing[[S.DATE, S.OUTLET, S.TITLE, "frames", S.SIMILARITY, S.TEXT]], height=420)

    tables = {
        "clusters": res.clusters,
        "passages": passages,
        "cluster_passages": mine,
        "clusters_over_time": view.tables.get("clusters_over_time", pd.DataFrame()),
        "clusters_by_outlet": view.tables.get("clusters_by_outlet", pd.DataFrame()),
    }
    chart_map = {"cluster_map": map_chart, "cluster_outlets": outlet_chart}
    if frame_chart is not None:
        chart_map["cluster_frames"] = frame_chart
    if timeline is not None:
        chart_map["cluster_volume"] = timeline
    downloads("clusters", tables, chart_map, state.manifest_for(res, f, cluster=int(cid)))
