"""Compare: two groups of passages side by side (outlets vs outlets, or period vs period) — frame
shares with the difference and its interval, clusters over- and under-represented, and the
distinctive words of each side (weighted log-odds, Monroe et al. 2008), each listing its passages."""

from __future__ import annotations

from datetime import date

import pandas as pd
import streamlit as st

from analysis import schema as S
from analysis.compare import cluster_differences, distinctive_words, frame_differences, passages_with_word
from dashboard import charts, filters, state, ui
from dashboard.cache import frame_bytes
from dashboard.downloads import downloads
from dashboard.explore import Selection, filter_rows

K_KIND = "fs_cmp_kind"
K_A, K_B = "fs_cmp_a", "fs_cmp_b"
K_DATES_A, K_DATES_B = "fs_cmp_dates_a", "fs_cmp_dates_b"
K_WORD = "fs_cmp_word"
KINDS = ("Outlets", "Periods")
WORDS_SAMPLE = 5_000  # passages per side the word counts are drawn from (seeded sample above this)


def _dates(key: str, label: str, first: date, last: date, default: tuple[date, date]) -> tuple[date, date]:
    value = st.session_state.get(key)
    if not (isinstance(value, list | tuple) and len(value) == 2 and first <= value[0] <= value[1] <= last):
        st.session_state[key] = default
    got = st.date_input(label, key=key, min_value=first, max_value=last, format="YYYY-MM-DD")
    return (got[0], got[1]) if len(got) == 2 else (got[0], got[0])


def _texts(view: state.View, rows: pd.DataFrame) -> list[str]:
    if len(rows) > WORDS_SAMPLE:
        rows = rows.sample(WORDS_SAMPLE, random_state=0)
    return view.with_text(rows)[S.TEXT].astype(str).tolist()


st.title("Compare", anchor=False)
f = filters.filters()
got = ui.filtered_results(f, what="the comparison")
if got is not None:
    res, view = got
    p = view.counted  # reprints count for every outlet that ran them, as in the Frames and Outlets pages
    kind = st.segmented_control("Compare", KINDS, key=K_KIND, default=KINDS[0]) or KINDS[0]
    left, right = st.columns(2)
    if kind == "Outlets":
        outlets = p[S.OUTLET].value_counts().index.tolist()
        if len(outlets) < 2:
            st.info(f"The passages under the current filters come from {len(outlets)} outlet "
                    f"({', '.join(outlets) or 'none named'}): compare periods, "
                    "or add a data set with other outlets in the sidebar.")
            st.stop()
        for key, default in ((K_A, outlets[:1]), (K_B, outlets[1:2])):
            if not set(st.session_state.get(key) or []) <= set(outlets) or not st.session_state.get(key):
                st.session_state[key] = default
        chosen_a = left.multiselect("Side A: outlet(s)", outlets, key=K_A)
        chosen_b = right.multiselect("Side B: outlet(s)", outlets, key=K_B)
        a, b = p[p[S.OUTLET].isin(chosen_a)], p[p[S.OUTLET].isin(chosen_b)]
        name_a, name_b = " + ".join(chosen_a) or "A", " + ".join(chosen_b) or "B"
    else:
        dated = p[S.DATE].dropna()
        if dated.empty:
            st.info("The passages under the current filters are undated, so there are no periods to compare; "
                    "upload the file again on the Data page with a date column mapped (Fix the column mapping).")
            st.stop()
        first, last = dated.min().date(), dated.max().date()
        mid = dated.quantile(0.5).date()
        with left:
            ra = _dates(K_DATES_A, "Side A: dates", first, last, (first, mid))
        with right:
            rb = _dates(K_DATES_B, "Side B: dates", first, last, (min(mid, last), last))
        a = filter_rows(p, Selection(ra[0], ra[1], (), False))
        b = filter_rows(p, Selection(rb[0], rb[1], (), False))
        name_a, name_b = f"{ra[0]}…{ra[1]}", f"{rb[0]}…{rb[1]}"
    c1, c2 = st.columns(2)
    c1.metric(f"Side A passages ({name_a})", f"{len(a):,}")
    c2.metric(f"Side B passages ({name_b})", f"{len(b):,}")
    if a.empty or b.empty:
        st.info("Each side needs at least one passage under the current filters.")
        st.stop()

    st.subheader("Frames", anchor=False)
    frames = frame_differences(a, b, res.frame_ids, res.frame_labels)
    frame_chart = ui.spec(charts.difference_chart, frames, "Frame share difference (A − B) with 95% interval", "A", "B")
    ui.chart(frame_chart, width="stretch")
    st.caption("Bars: share of A's passages carrying the frame minus B's; black lines: Newcombe 95% interval. "
               "`clear` marks intervals that exclude zero.")
    ui.table(frames.drop(columns=["category"]))

    st.subheader("Clusters over- and under-represented", anchor=False)
    clusters = cluster_differences(a, b, res.cluster_labels)
    ui.table(clusters.drop(columns=["category"]), height=320)

    st.subheader("Distinctive words", anchor=False)
    words = state.memo(("compare_words", res.key, f.selection(), kind, name_a, name_b),
                       lambda: distinctive_words(_texts(view, a), _texts(view, b)))
    st.caption("Weighted log-odds with an informative Dirichlet prior (Monroe, Colaresi & Quinn 2008; prior = "
               "both sides' pooled counts); z above 1.96 is a clear difference."
               + (f" Counts from a seeded sample of {WORDS_SAMPLE:,} passages per side." if
                  max(len(a), len(b)) > WORDS_SAMPLE else ""))
    wa, wb = st.columns(2)
    wa.markdown(f"**More in A** ({name_a})")
    wa.dataframe(words[words["side"] == "a"].drop(columns=["side"]), hide_index=True, width="stretch")
    wb.markdown(f"**More in B** ({name_b})")
    wb.dataframe(words[words["side"] == "b"].drop(columns=["side"]), hide_index=True, width="stretch")
    listing = pd.DataFrame()
    if not words.empty:
        options = words["word"].tolist()
        if st.session_state.get(K_WORD) not in options:
            st.session_state[K_WORD] = options[0]
        word = st.selectbox("Passages using the word", options, key=K_WORD,
                            format_func=lambda w: f"{w} ({'A' if w in set(words.loc[words['side'] == 'a', 'word']) else 'B'})")
        both = state.view_memo(view, ("compare_texts", kind, name_a, name_b), lambda: view.with_text(
            pd.concat([a.assign(side="A"), b.assign(side="B")], ignore_index=True)), frame_bytes)
        listing = passages_with_word(both, word)[["side", S.DATE, S.OUTLET, S.TITLE, S.TEXT]]
        st.caption(f"{len(listing):,} passage(s) shown (at most 200).")
        ui.table(listing, height=360)

    downloads("compare", {"compare_frames": frames, "compare_clusters": clusters, "compare_words": words,
                          "compare_word_passages": listing},
              {"compare_frames": frame_chart}, state.manifest_for(res, f, side_a=name_a, side_b=name_b))
