"""Frames: shares over time, frames by outlet, outlet × period; clicking a mark lists its passages."""

from __future__ import annotations

import streamlit as st

from analysis import aggregates as A
from analysis import schema as S
from analysis.config import PipelineConfig
from dashboard import charts, state, ui
from dashboard.downloads import downloads
from dashboard.explore import passages_in_cell


def _follow(event, param: str, fields: dict[str, str], name: str) -> None:
    """Copy a clicked mark's fields into the drill-down selectboxes (only when the click is new)."""
    picked = ui.selection_values(event, param)
    if not picked:
        return
    point = picked[0]
    sig = tuple(sorted((k, str(v)) for k, v in point.items()))
    if sig != state.last_event(name):
        for field, key in fields.items():
            if field in point:
                st.session_state[key] = point[field]
    state.remember_event(name, sig)


def _listing(rows, labels) -> None:
    if rows.empty:
        st.info("No passage carries this frame in this cell.")
        return
    st.caption(f"{len(rows):,} passage(s), strongest first; evidence = the codebook example or definition "
               "the passage matched best.")
    ui.table(rows.drop(columns=[S.PASSAGE_ID]), height=380,
             column_config={"evidence": st.column_config.TextColumn("frame evidence", width="medium"),
                            "score": st.column_config.NumberColumn("score", format="%.2f")})


st.title("Frames", anchor=False)
f = state.filters()
got = ui.filtered_results(f, what="the frame charts")
if got is not None:
    res, view = got
    labels, fids = res.frame_labels, res.frame_ids
    min_n = PipelineConfig().min_cell_n
    fot = view.tables["frames_over_time"]
    fbo = view.tables["frames_by_outlet"]
    fop = view.tables["frames_by_outlet_period"]
    fmt = lambda fid: labels.get(fid, fid)  # noqa: E731

    st.subheader(f"Frame shares over time (by {view.period})", anchor=False)
    st.caption("Share = passages carrying the frame ÷ all passages in the period; a passage can carry several "
               f"frames. Empty periods count as zero. Triangles and faded points are thin cells (n < {min_n}). "
               "Change the time bucket in the sidebar.")
    time_chart = charts.frames_over_time(fot, labels, fids, min_n)
    ev = st.altair_chart(time_chart, width="stretch", on_select="rerun", key="frames_time")
    _follow(ev, charts.FRAME_SELECT, {A.PERIOD: state.K_FRAME_TIME_PERIOD, S.FRAME_ID: state.K_FRAME_TIME_FRAME},
            "frames_time")
    periods = fot[A.PERIOD].drop_duplicates().tolist()
    if st.session_state.get(state.K_FRAME_TIME_PERIOD) not in periods:
        busiest = fot.groupby(A.PERIOD)[A.N_PASSAGES].first().idxmax()
        st.session_state[state.K_FRAME_TIME_PERIOD] = busiest
    if st.session_state.get(state.K_FRAME_TIME_FRAME) not in fids:
        st.session_state[state.K_FRAME_TIME_FRAME] = fids[0]
    c1, c2 = st.columns(2)
    period_label = c1.selectbox("Period", periods, key=state.K_FRAME_TIME_PERIOD)
    frame_id = c2.selectbox("Frame", fids, key=state.K_FRAME_TIME_FRAME, format_func=fmt)
    cell = fot[(fot[A.PERIOD] == period_label) & (fot[S.FRAME_ID] == frame_id)]
    if len(cell):
        r = cell.iloc[0]
        st.markdown(f"**{ui.plain(fmt(frame_id))} in {ui.plain(period_label)}**: {r[A.SHARE]:.1%} of {int(r[A.N_PASSAGES]):,} passages "
                    f"(95% CI {r[A.CI_LOW]:.1%}–{r[A.CI_HIGH]:.1%}){' · thin cell' if r[A.THIN] else ''}")
    _listing(passages_in_cell(view.passages, res.frames_long, frame_id, period=view.period, period_label=period_label),
             labels)

    st.divider()
    st.subheader("Frames by outlet", anchor=False)
    heat = charts.frames_outlet_heatmap(fbo, labels, fids, min_n)
    ev2 = st.altair_chart(heat, width="stretch", on_select="rerun", key="frames_heat")
    _follow(ev2, charts.HEATMAP_SELECT, {S.OUTLET: state.K_HEAT_OUTLET, S.FRAME_ID: state.K_HEAT_FRAME}, "frames_heat")
    outlets = sorted(fbo[S.OUTLET].unique())
    if st.session_state.get(state.K_HEAT_OUTLET) not in outlets:
        st.session_state[state.K_HEAT_OUTLET] = outlets[0]
    if st.session_state.get(state.K_HEAT_FRAME) not in fids:
        st.session_state[state.K_HEAT_FRAME] = fids[0]
    c1, c2 = st.columns(2)
    outlet = c1.selectbox("Outlet", outlets, key=state.K_HEAT_OUTLET)
    frame2 = c2.selectbox("Frame", fids, key=state.K_HEAT_FRAME, format_func=fmt)
    _listing(passages_in_cell(view.passages, res.frames_long, frame2, outlet=outlet), labels)

    st.divider()
    st.subheader(f"Outlet × {view.period}", anchor=False)
    multiples = charts.outlet_period_multiples(fop, labels, fids, min_n)
    st.altair_chart(multiples)

    downloads(
        "frames",
        {"frames_over_time": fot, "frames_by_outlet": fbo, "frames_by_outlet_period": fop,
         "frames": res.frames_long[res.frames_long[S.PASSAGE_ID].isin(view.passages[S.PASSAGE_ID])]},
        {"frames_over_time": time_chart, "frames_by_outlet": heat, "frames_by_outlet_period": multiples},
        state.manifest_for(res, f, period_resolved=view.period),
    )
