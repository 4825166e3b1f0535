"""Article: one article (picked or pasted) passage by passage, its frame mix and its nearest passages."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from analysis import aggregates as A
from analysis import schema as S
from dashboard import charts, filters, keys, runs, state, ui
from dashboard.downloads import downloads
from dashboard.explore import CLUSTER_LABEL, analyse_text, cluster_centroids, frame_mix, nearest_passages, present_frames

MAX_PASTE_CHARS = 60_000


def _styled(rows: pd.DataFrame, fids, labels, colours) -> object:
    """Passages as a table: frames cell tinted by the dominant frame, cluster cell by the cluster's
    page-wide colour (no HTML)."""
    dominant = rows[S.DOMINANT_FRAME].tolist()
    table = pd.DataFrame({
        "#": rows[S.POSITION].astype(int).to_numpy() + 1,
        "dominant frame": [labels.get(d, "no frame") for d in dominant],
        "other frames present": [
            ", ".join(labels.get(x, x) for x in present_frames(r, fids, {}).split(", ") if x not in ("—", r[S.DOMINANT_FRAME]))
            or "—" for r in rows.to_dict("records")
        ],
        "cluster": rows[CLUSTER_LABEL].astype(str).to_numpy() if CLUSTER_LABEL in rows else "",
        "passage": rows[S.TEXT].astype(str).to_numpy(),
    })
    clusters = rows[S.CLUSTER_ID].tolist() if S.CLUSTER_ID in rows else [None] * len(rows)

    def paint(df: pd.DataFrame) -> pd.DataFrame:
        css = pd.DataFrame("", index=df.index, columns=df.columns)
        for i, (fr, cl) in enumerate(zip(dominant, clusters, strict=True)):
            if fr in colours:
                css.iloc[i, 1] = f"background-color: {colours[fr]}40"
                css.iloc[i, 4] = f"background-color: {colours[fr]}14"
            if cl is not None and not pd.isna(cl):
                css.iloc[i, 3] = f"background-color: {charts.cluster_colours([int(cl)])[int(cl)]}55"
        return css

    return table.style.apply(paint, axis=None)


def _show(rows: pd.DataFrame, vectors, res, f, *, outlet: str | None, article_id: str | None, name: str) -> None:
    fids, labels = res.frame_ids, res.frame_labels
    colours = charts.frame_colours(fids)
    mix = frame_mix(rows, fids, labels)
    n_frames = int((mix["passages"] > 0).sum())
    st.markdown(f"**{len(rows)} passage(s)** carrying **{n_frames} frame(s)**.")
    strip = ui.spec(charts.article_strip, rows, labels, fids, res.cluster_labels)
    ui.chart(strip, width="stretch")
    mix_chart = ui.spec(charts.frame_mix_bar, mix, labels, fids)
    ui.chart(mix_chart, width="stretch")
    st.dataframe(_styled(rows, fids, labels, colours), hide_index=True, width="stretch", row_height=ui.WRAP_ROW_HEIGHT,
                 column_config={"passage": st.column_config.TextColumn("passage", width="large")})
    with st.expander("Frame evidence per passage"):
        ev = []
        for r in rows.to_dict("records"):
            for fid in fids:
                if r.get(A.present_column(fid)):
                    ev.append({"#": int(r[S.POSITION]) + 1, "frame": labels.get(fid, fid),
                               "score": r.get(A.score_column(fid)), "evidence": r.get(f"evidence_{fid}", "")})
        if ev:
            ui.table(pd.DataFrame(ev))
        else:
            st.info("No frame passes its threshold in this text.")
    st.subheader("Nearest passages from other outlets", anchor=False)
    view = state.view(res, f)
    within = view.passages  # nearest passages under the same filters as the page
    within_vectors = state.view_vectors(res, within)
    near = pd.DataFrame()
    if vectors is None or within_vectors is None:
        st.info("The run's passage vectors are not in the embedding cache, so nearest passages are unavailable.")
    else:
        near = nearest_passages(vectors, within_vectors, within, exclude_outlet=outlet, exclude_article=article_id)
        near = view.with_text(near).drop(columns=[S.PASSAGE_ID])
        st.caption(f"Searched the {len(within):,} passages under the filter.")
        ui.table(near, height=360, column_config={"query": st.column_config.NumberColumn("passage #")})
    downloads(
        "article",
        {f"{name}_passages": rows, f"{name}_frame_mix": mix, f"{name}_nearest": near},
        {f"{name}_frame_mix": mix_chart, f"{name}_passages": strip},
        state.manifest_for(res, f, article=article_id or "pasted text"),
    )


st.title("Article", anchor=False)
f = filters.filters()
res = ui.results_or_progress(f, what="the article view")
if res is None:
    ui.filter_line(f)
else:
    ui.run_caption(res)
    ui.filter_line(f, res, state.view(res, f))
    if st.session_state.get(keys.ARTICLE_MODE) not in ("Pick an article", "Paste text"):
        st.session_state[keys.ARTICLE_MODE] = "Pick an article"
    mode = st.segmented_control("Source", ["Pick an article", "Paste text"], key=keys.ARTICLE_MODE) or "Pick an article"
    if mode == "Pick an article":
        arts = state.view(res, f).articles
        query = st.text_input("Search titles", key=keys.ARTICLE_SEARCH, placeholder="e.g. pipeline, summit")
        if query:
            arts = arts[arts[S.TITLE].str.contains(query, case=False, regex=False, na=False)]
        arts = arts.sort_values(S.DATE, ascending=False, na_position="last").head(500)
        if arts.empty:
            st.info("No article matches.")
            st.stop()
        ids = arts[S.ARTICLE_ID].tolist()
        info = {r[S.ARTICLE_ID]: r for r in arts.to_dict("records")}
        if st.session_state.get(keys.ARTICLE_PICK) not in ids:
            st.session_state[keys.ARTICLE_PICK] = ids[0]

        def label(aid: str) -> str:
            r = info[aid]
            d = "undated" if pd.isna(r[S.DATE]) else f"{r[S.DATE]:%Y-%m-%d}"
            return f"{d} · {r[S.OUTLET]} · {r[S.TITLE]}"

        aid = st.selectbox(f"Article ({len(ids):,} shown)", ids, key=keys.ARTICLE_PICK, format_func=label)
        rows = res.passages[res.passages[S.ARTICLE_ID] == aid].sort_values(S.POSITION)
        fl = res.frames_of(rows[S.PASSAGE_ID])
        rows = rows.copy()
        for fid in res.frame_ids:
            ev = fl[fl[S.FRAME_ID] == fid].set_index(S.PASSAGE_ID)[S.EVIDENCE]
            rows[f"evidence_{fid}"] = rows[S.PASSAGE_ID].map(ev)
        if rows.empty:
            st.info("This article has no passages in the run (it may have been judged off-topic or too short).")
            st.stop()
        _show(rows, state.view_vectors(res, rows), res, f, outlet=info[aid][S.OUTLET], article_id=aid, name="article")
    else:
        text = st.text_area("Article text", key=keys.ARTICLE_TEXT, height=260, max_chars=MAX_PASTE_CHARS,
                            placeholder="Paste an article: paragraphs separated by blank lines.")
        if not text.strip():
            st.info("Paste any article to see its passages, frames, clusters and nearest passages in the corpus.")
            st.stop()
        cfg = f.config()
        emb = state.embedder(cfg.model, cfg.precision, cfg.batch_size)
        cb = runs.codebook_at(cfg.codebook)
        sc = state.scorer(cfg.codebook, cb.digest(), cfg.model, cfg.precision, cfg.batch_size)
        corpus = state.corpus_vectors(res)
        cents = None
        if corpus is not None and len(corpus):
            cents = cluster_centroids(corpus, res.passages[S.CLUSTER_ID].to_numpy())
        with st.spinner("Scoring the text…"):
            rows, vec = analyse_text(text, emb, sc, min_words=cfg.min_passage_words, max_tokens=cfg.max_passage_tokens,
                                     centroids=cents, cluster_labels=res.cluster_labels)
        if rows.empty:
            st.warning("No passage found in this text.")
            st.stop()
        if emb.model_id != res.manifest.get("model_id"):
            vec = None  # a different model's vectors are not comparable with the run's
        _show(rows, vec, res, f, outlet=None, article_id=None, name="pasted")
