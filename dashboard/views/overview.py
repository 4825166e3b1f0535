"""Overview: corpus size, the largest clusters, frame shares and the volume timeline by outlet."""

from __future__ import annotations

import streamlit as st

from analysis import aggregates as A
from analysis import schema as S
from dashboard import charts, state, ui
from dashboard.downloads import downloads
from dashboard.explore import filter_rows, overall_frame_shares

st.title("Overview", anchor=False)
f = state.filters()
corpus = state.corpus(f.datasets)
articles = filter_rows(corpus.articles, f.selection())
names = ", ".join(ui.plain(d.name) for d in corpus.datasets) or "none"
st.caption(f"Active data sets: {names}")

spec, prog = state.ensure_run(f) if f.datasets else (None, None)
res = state.results(spec.key) if spec is not None and prog is not None and prog.status == "done" else None
view = state.view(res, f) if res is not None else None

cols = st.columns(6)
dated = articles[S.DATE].dropna()
cols[0].metric("Articles", f"{len(articles):,}")
cols[1].metric("Passages", f"{len(view.passages):,}" if view is not None else "…",
               help="Paragraph-sized units that are embedded, clustered and framed.")
cols[2].metric("Outlets", f"{articles[S.OUTLET].nunique():,}")
cols[3].metric("Date span", f"{dated.min():%Y}–{dated.max():%Y}" if len(dated) else "undated",
               help=(f"{dated.min():%Y-%m-%d} to {dated.max():%Y-%m-%d}; " if len(dated) else "")
               + f"{int(articles[S.DATE].isna().sum())} undated article(s)")
cols[4].metric("Rejected rows", f"{corpus.n_rejected:,}", help="Rows the upload check left out (see the Data page).")
cols[5].metric("Duplicates", f"{corpus.n_duplicates:,}", help="Extra copies of the same article collapsed at upload.")

# the volume timeline needs no model: it is drawn from the articles right away
period = A.resolve_period(f.period, articles[S.DATE]) if len(articles) else "month"
volume = A.volume(articles, period=period) if len(articles) else None
volume_chart = charts.volume_chart(volume, "n_articles", f"Articles per {period}, by outlet") if volume is not None else None
if volume_chart is not None:
    st.altair_chart(volume_chart, width="stretch")

if res is None:
    ui.results_or_progress(f, what="the clusters and frames overview")
else:
    ui.run_caption(res)
    left, right = st.columns(2)
    clusters_chart = charts.cluster_size_bars(res.clusters)
    left.altair_chart(clusters_chart, width="stretch")
    shares = overall_frame_shares(view.passages, res.frame_ids) if len(view.passages) else None
    shares_chart = charts.frame_share_bars(shares, res.frame_labels, res.frame_ids) if shares is not None else None
    if shares_chart is not None:
        right.altair_chart(shares_chart, width="stretch")
    else:
        right.info("No passages under the current filters.")
    st.subheader("Largest clusters", anchor=False)
    top = res.clusters.sort_values("n_passages", ascending=False).head(10)
    ui.table(top[[S.CLUSTER_ID, "label", "top_terms", "n_passages", "n_articles", "n_outlets", "share"]])
    tables = {"clusters": res.clusters, "articles": view.articles}
    if volume is not None:
        tables["volume_by_outlet"] = volume
    if shares is not None:
        tables["frame_shares"] = shares
    chart_map = {"volume_by_outlet": volume_chart, "largest_clusters": clusters_chart}
    if shares_chart is not None:
        chart_map["frame_shares"] = shares_chart
    downloads("overview", tables, {k: v for k, v in chart_map.items() if v is not None}, state.manifest_for(res, f))
