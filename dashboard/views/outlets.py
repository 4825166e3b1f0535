"""Outlets: which outlets frame alike (Jensen–Shannon heatmap) and one outlet against the corpus."""

from __future__ import annotations

import streamlit as st

from analysis import aggregates as A
from analysis import schema as S
from analysis.similarity import profile_against_corpus
from dashboard import charts, filters, keys, state, ui
from dashboard.downloads import downloads

st.title("Outlets", anchor=False)
f = filters.filters()
got = ui.filtered_results(f, what="the outlet comparison")
n_outlets = got[1].counted[S.OUTLET].nunique() if got is not None else 0
if got is not None and n_outlets < 2:
    st.info(f"The passages under the current filters come from {n_outlets} outlet: comparing outlets "
            "needs at least two. Widen the outlet filter, or add a data set with other outlets in the sidebar.")
elif got is not None:
    res, view = got
    if st.session_state.get(keys.SIM_BASIS) not in ("frames", "clusters"):
        st.session_state[keys.SIM_BASIS] = "frames"
    basis = st.segmented_control("Compare outlets by", ["frames", "clusters"], key=keys.SIM_BASIS) or "frames"
    heat = ui.spec(charts.similarity_heatmap, view.table("outlet_similarity"), what=basis)
    ui.chart(heat, width="stretch")
    st.caption("Rows and columns are in hierarchical-clustering order (average linkage, optimal leaf order), "
               "so outlets that frame alike sit next to each other. Each outlet shows its number of passages (n).")
    n_by_outlet = view.counted.groupby(S.OUTLET).size()
    thin = n_by_outlet[n_by_outlet < charts.THIN_OUTLET_N].sort_values()
    if len(thin):
        st.warning(f"{len(thin)} outlet(s) have fewer than {charts.THIN_OUTLET_N} passages under the filter: "
                   + ", ".join(f"{ui.plain(o)} (n={n})" for o, n in thin.items())
                   + ". Their distances rest on few passages: a small distance (even 0.00) between thin outlets "
                   "says little.", icon=":material/warning:")

    st.subheader("One outlet against the rest of the corpus", anchor=False)
    outlets = sorted(view.counted[S.OUTLET].dropna().unique())
    if st.session_state.get(keys.PROFILE_OUTLET) not in outlets:
        st.session_state[keys.PROFILE_OUTLET] = outlets[0]
    outlet = st.selectbox("Outlet", outlets, key=keys.PROFILE_OUTLET)
    if basis == "frames":
        ind = A.frame_indicators(view.counted, res.frame_ids)
        names = res.frame_labels
    else:
        ind = A.cluster_indicators(view.counted, sorted(res.cluster_labels))
        names = {c: f"{c} · {lab}" for c, lab in res.cluster_labels.items()}
    profile = profile_against_corpus(view.counted, ind, outlet)
    profile["name"] = profile["category"].map(lambda c: names.get(c, str(c)))
    n_out = int((view.counted[S.OUTLET] == outlet).sum())
    st.caption(f"{ui.plain(outlet)}: {n_out:,} passages" + (" (thin: read with care)" if n_out < charts.THIN_OUTLET_N else "")
               + f". Shares are of the outlet's {basis} mentions"
               + (" (a passage can carry several frames)." if basis == "frames" else "."))
    prof_chart = ui.spec(charts.profile_chart, profile, outlet)
    ui.chart(prof_chart, width="stretch")
    ui.table(profile[["name", "outlet", "rest_of_corpus", "difference"]].sort_values("difference", ascending=False),
             column_config={c: st.column_config.NumberColumn(c.replace("_", " "), format="percent")
                            for c in ("outlet", "rest_of_corpus", "difference")})
    downloads(
        "outlets",
        {"outlet_similarity": view.table("outlet_similarity"),
         "volume_by_outlet": view.deferred_table("volume_by_outlet"), f"profile_{basis}": profile},
        {f"outlet_similarity_{basis}": heat, f"outlet_profile_{basis}": prof_chart},
        state.manifest_for(res, f, outlet=outlet, basis=basis),
    )
