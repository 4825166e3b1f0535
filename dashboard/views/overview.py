"""Overview: corpus size, the largest clusters, frame shares and the volume timeline by outlet."""

from __future__ import annotations

import streamlit as st

from analysis import aggregates as A
from analysis import schema as S
from analysis.embeddings import MULTILINGUAL_MODEL
from analysis.language import mix_of_counts
from analysis.pipeline import excluded_table
from analysis.relevance import RELEVANT
from dashboard import charts, filters, keys, state, ui
from dashboard.downloads import downloads
from dashboard.cache import frame_bytes
from dashboard.explore import language_table, overall_frame_shares, view_period

st.title("Overview", anchor=False)
f = filters.filters()
corpus = state.corpus(f.datasets)
names = ", ".join(ui.plain(d.name) for d in corpus.datasets) or "none"
st.caption(f"Active data sets: {names}")

spec, prog = ui.run_for(f) if f.datasets else (None, None)
res = state.results(spec.key) if spec is not None and prog is not None and prog.status == "done" else None
view = state.view(res, f) if res is not None else None
articles = view.articles if view is not None else ui.articles_in(f)
ui.filter_line(f, res, view)

cols = st.columns(6)
dated = articles[S.DATE].dropna()
cols[0].metric("Articles", f"{len(articles):,}", help=f"Of {len(corpus.articles):,} in the active data sets.")
cols[1].metric("Passages", f"{len(view.passages):,}" if view is not None else "…",
               help="Paragraph-sized units that are embedded, clustered and framed"
               + (f"; {res.n_passages:,} in the whole run." if res is not None else "."))
cols[2].metric("Outlets", f"{articles[S.OUTLET].nunique():,}")
cols[3].metric("Date span", f"{dated.min():%Y}–{dated.max():%Y}" if len(dated) else S.UNDATED,
               help=(f"{dated.min():%Y-%m-%d} to {dated.max():%Y-%m-%d}; " if len(dated) else "")
               + f"{int(articles[S.DATE].isna().sum())} undated article(s)")
cols[4].metric("Rejected rows", f"{corpus.n_rejected:,}", help="Rows the upload check left out (see the Data page).")
cols[5].metric("Duplicates", f"{corpus.n_duplicates:,}", help="Extra copies of the same article collapsed at upload.")

# the volume timeline needs no model: it is drawn from the articles right away
period = view.period if view is not None else view_period(f.period, articles[S.DATE]) if len(articles) else "month"
volume = (state.view_memo(view, "volume", lambda: A.volume(articles, period=period), frame_bytes) if view is not None
          else A.volume(articles, period=period)) if len(articles) else None
dated = volume is not None and ui.timeline_note(articles[S.DATE])  # none dated: no empty axes, no chart download
volume_chart = ui.spec(charts.volume_chart, volume, "n_articles", f"Articles per {period}, by outlet", period) \
    if dated else None
if volume_chart is not None:
    ui.chart(volume_chart, width="stretch")

if res is None:
    ui.results_or_progress(f, what="the clusters and frames overview")
elif view is None or view.passages.empty or view.counted.empty:
    ui.run_caption(res)
    st.info("No passages under the current filters. Use “Reset filters” in the sidebar to see all.")
else:
    ui.run_caption(res)
    for warning in res.manifest.get("warnings", []):  # e.g. an English-only model on a foreign corpus
        st.warning(ui.plain(warning), icon=":material/translate:")
    langs = res.manifest.get("languages") or {}
    english_only = mix_of_counts(langs.get("passages") or {}, bool(langs.get("multilingual_model"))).warning
    if english_only and MULTILINGUAL_MODEL in filters.installed_models() and st.button(
            "Use the multilingual model", icon=":material/translate:", key="fs_use_multilingual",
            help=f"Analyse the active data again with {MULTILINGUAL_MODEL} (the sidebar's Embedding model); "
                 "this run stays stored."):
        filters.use_model(MULTILINGUAL_MODEL)
        st.rerun()
    clusters = view.table("clusters")
    left, right = st.columns(2)
    clusters_chart = ui.spec(charts.cluster_size_bars, clusters, res.cluster_labels)
    ui.chart(clusters_chart, where=left, width="stretch")
    shares = state.view_memo(view, "frame_shares", lambda: overall_frame_shares(view.counted, res.frame_ids),
                             frame_bytes)
    shares_chart = ui.spec(charts.frame_share_bars, shares, res.frame_labels, res.frame_ids)
    ui.chart(shares_chart, where=right, width="stretch")
    st.subheader("Largest clusters", anchor=False)
    st.caption(f"Sizes under the filter ({len(view.passages):,} passages); “n passages unfiltered” is the cluster's "
               "size in the whole run.")
    top = clusters.head(10)
    ui.table(top[[S.CLUSTER_ID, keys.LABEL, keys.TOP_TERMS, keys.N_PASSAGES, keys.N_PASSAGES_ALL, keys.N_ARTICLES,
                  keys.N_OUTLETS, keys.SHARE]],
             column_config={keys.N_PASSAGES_ALL: st.column_config.NumberColumn("n passages unfiltered")})
    set_aside = excluded_table(view.articles) if RELEVANT in view.articles else view.articles.iloc[:0]
    if f.relevance or len(set_aside):
        with st.expander(f"Set aside by the relevance gate: {len(set_aside):,} article(s)", expanded=False):
            if len(set_aside):
                ui.table(set_aside)
            else:
                st.caption("No article was set aside.")
    languages = language_table(view.articles, view.passages)
    if len(languages) > 1 or (len(languages) and languages[S.LANGUAGE].iloc[0] != "en"):
        st.subheader("Languages", anchor=False)
        st.caption("Detected per passage; an article's language is the one its input states, else its passages' "
                   "majority (und = too short to tell).")
        ui.table(languages)
    tables = {"clusters": clusters, "articles": view.articles, "frame_shares": shares, "excluded": set_aside,
              "languages": languages}
    if volume is not None:
        tables["volume_by_outlet"] = volume
    chart_map = {"volume_by_outlet": volume_chart, "largest_clusters": clusters_chart, "frame_shares": shares_chart}
    downloads("overview", tables, {k: v for k, v in chart_map.items() if v is not None}, state.manifest_for(res, f))
