"""Search: a sentence or keywords → the nearest passages by meaning plus every exact keyword hit,
under the sidebar filters, with outlet, date, cluster and frames; downloadable."""

from __future__ import annotations

import streamlit as st

from analysis.search import MATCH, QUERY_SIMILARITY, SearchConfig, search_passages
from dashboard import filters, state, ui
from dashboard.cache import frame_bytes
from dashboard.downloads import downloads

K_QUERY = "fs_search_query"
K_NEAREST = "fs_search_nearest"

st.title("Search", anchor=False)
f = filters.filters()
got = ui.filtered_results(f, what="the search")
if got is not None:
    res, view = got
    query = st.text_input("Search the passages", key=K_QUERY,
                          placeholder='a sentence, or keywords; "quoted words" must appear together')
    n_near = st.select_slider("Nearest passages by meaning", [10, 25, 50, 100, 200], value=50, key=K_NEAREST)
    st.caption(f"Searching {len(view.passages):,} passages under the current filters. Nearest by meaning: cosine "
               "of the sentence embeddings (the run's model); by words: passages containing every word, any case.")
    if not query.strip():
        st.info("Type a sentence or keywords to search.", icon=":material/search:")
        st.stop()
    cfg = f.config()
    vectors = state.view_vectors(res, view.passages)
    emb = state.embedder(cfg.model, cfg.precision, cfg.batch_size) if vectors is not None else None
    qv = None
    if emb is not None and emb.model_id == res.manifest.get("model_id"):
        qv = emb.encode([query])[0]
    else:
        st.info("The run's vectors are not in the embedding cache: showing keyword hits only.")
    # keyword hits need every kept passage's text: read once per view, only when a search is made
    searched = state.view_memo(view, "with_text", lambda: view.with_text(view.passages), frame_bytes)
    hits = search_passages(query, qv, searched, vectors if qv is not None else None, res.frame_ids,
                           res.frame_labels, res.cluster_labels, SearchConfig(n_nearest=int(n_near)))
    counts = hits[MATCH].value_counts()
    st.markdown(f"**{len(hits):,} passage(s)**: " + (", ".join(f"{n:,} by {m}" for m, n in counts.items()) or "none"))
    ui.table(hits, height=520, column_config={
        QUERY_SIMILARITY: st.column_config.NumberColumn("similarity to query", format="%.3f")})
    downloads("search", {"search_results": hits}, {}, state.manifest_for(res, f, query=query))
