"""Frames: shares over time, frames by outlet, outlet × period and corrected shares, one tab each;
clicking a mark lists its passages.

The tabs are lazy: only the open tab's tables are made and its charts drawn, so a visit or a
filter change pays for one view of the frames, not four (the others follow in the background,
`state.prefetch_views`)."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from analysis import aggregates as A
from analysis import schema as S
from analysis.config import PipelineConfig
from analysis.reprints import REPRINT
from dashboard import charts, filters, keys, state, ui
from dashboard import validation as V
from dashboard.downloads import Deferred, downloads
from dashboard.events import clean as clean_events
from dashboard.events import events_path, load_events, save_events
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
    n_reprints = int(rows[REPRINT].sum()) if REPRINT in rows else 0
    st.caption(f"{len(rows):,} passage(s), strongest first" + (
        f", {n_reprints:,} of them reprints (counted for the outlet that ran them, at its date)" if n_reprints else "")
        + "; evidence = the codebook example or definition the passage matched best.")
    ui.table(rows.drop(columns=[S.PASSAGE_ID]), height=380,
             column_config={"evidence": st.column_config.TextColumn("frame evidence", width="medium"),
                            "score": st.column_config.NumberColumn("score", format="%.2f"),
                            REPRINT: st.column_config.CheckboxColumn("reprint")})


@st.fragment
def _events_editor(evs, problems: list[str]) -> None:
    """The event markers as a small editable table, saved next to the store; drawn only when
    asked for (like the downloads), so a visit of the page does not pay for the editor."""
    for p in problems:
        st.warning(p)
    if st.toggle("Edit the event markers", key="fs_events_shown"):
        st.caption(f"Dates drawn as dotted lines on the time charts; saved to {events_path().name} beside the store.")
        edited = st.data_editor(evs, num_rows="dynamic", key="fs_events_editor", hide_index=True,
                                column_config={"date": st.column_config.DateColumn("date", format="YYYY-MM-DD"),
                                               "event": st.column_config.TextColumn("event", width="large")})
        if st.button("Save events", key="fs_events_save"):
            cleaned, bad = clean_events(edited.astype({"date": "datetime64[ns]"}), source="edited events")
            save_events(cleaned)
            state.flash(f"Saved {len(cleaned)} event(s)" + (f"; {len(bad)} row(s) without a date or name left out."
                                                            if bad else "."))
            st.rerun(scope="app")  # the time charts draw the saved markers


@dataclass(frozen=True)
class _Page:
    """What every tab reads: the run, its filtered view and the frames' labels."""

    res: state.Results
    view: state.View
    f: filters.Filters
    validation: V.RunValidation | None
    labels: dict[str, str]
    min_n: int

    @property
    def fids(self) -> list[str]:
        return self.res.frame_ids

    def fmt(self, fid: str) -> str:
        return self.labels.get(fid, fid)

    def table(self, name: str):
        """A frame table of the view, with the corrected shares when a validation exists."""
        return V.corrected(self.view.table(name), self.validation)

    def downloads(self, key: str, tables: dict, charts_: dict) -> None:
        downloads(key, tables, charts_, state.manifest_for(self.res, self.f, period_resolved=self.view.period))


def over_time(p: _Page) -> None:
    fot, view = p.table("frames_over_time"), p.view
    st.caption("Share = passages carrying the frame ÷ all passages in the period; a passage can carry several "
               "frames. The band is the 95% interval, clustered by article; the tooltip adds the article share "
               "(articles with the frame ÷ articles). Periods without passages have no share (a gap). Triangles and "
               f"faded points are thin cells (fewer than {p.min_n} articles). Dotted lines mark events.")
    time_chart = None
    if ui.timeline_note(view.articles[S.DATE]):
        evs, ev_problems = load_events()
        rolling = st.selectbox("Rolling mean (periods)", options=[0, 2, 3, 4, 6], key=keys.FRAME_ROLLING,
                               format_func=lambda w: "off" if w == 0 else str(w),
                               help="A pooled mean over this many periods: passages carrying the frame ÷ all passages.")
        time_chart = ui.spec(charts.frames_over_time, fot, p.labels, p.fids, p.min_n, period=view.period, events=evs,
                             rolling=rolling)
        ev = ui.chart(time_chart, width="content", on_select="rerun", key="frames_time")
        _follow(ev, charts.FRAME_SELECT, {A.PERIOD: keys.FRAME_TIME_PERIOD, S.FRAME_ID: keys.FRAME_TIME_FRAME},
                "frames_time")
        _events_editor(evs, ev_problems)
    periods = fot[A.PERIOD].drop_duplicates().tolist()
    if st.session_state.get(keys.FRAME_TIME_PERIOD) not in periods:
        busiest = fot.groupby(A.PERIOD)[A.N_PASSAGES].first().idxmax()
        st.session_state[keys.FRAME_TIME_PERIOD] = busiest
    if st.session_state.get(keys.FRAME_TIME_FRAME) not in p.fids:
        st.session_state[keys.FRAME_TIME_FRAME] = p.fids[0]
    c1, c2 = st.columns(2)
    period_label = c1.selectbox("Period", periods, key=keys.FRAME_TIME_PERIOD)
    frame_id = c2.selectbox("Frame", p.fids, key=keys.FRAME_TIME_FRAME, format_func=p.fmt)
    cell = fot[(fot[A.PERIOD] == period_label) & (fot[S.FRAME_ID] == frame_id)]
    if len(cell):
        r = cell.iloc[0]
        if r[A.N_PASSAGES] == 0:
            st.markdown(f"**{ui.plain(p.fmt(frame_id))} in {ui.plain(period_label)}**: no passages, no share")
        else:
            st.markdown(f"**{ui.plain(p.fmt(frame_id))} in {ui.plain(period_label)}**: {r[A.SHARE]:.1%} of "
                        f"{int(r[A.N_PASSAGES]):,} passages (95% CI {r[A.CI_LOW]:.1%}–{r[A.CI_HIGH]:.1%}); "
                        f"{r[A.ARTICLE_SHARE]:.1%} of {int(r[A.N_ARTICLES]):,} articles"
                        f"{' · thin cell' if r[A.THIN] else ''}")
    _listing(view.with_text(passages_in_cell(view.counted, p.res.frames_of, frame_id, period=view.period,
                                             period_label=period_label)), p.labels)
    p.downloads("frames_time",
                {"frames_over_time": fot,
                 "frames": Deferred(len(view.passages) * len(p.fids),
                                    lambda: p.res.frames_of(view.passages[S.PASSAGE_ID]))},
                {"frames_over_time": time_chart} if time_chart is not None else {})


def by_outlet(p: _Page) -> None:
    fbo = p.table("frames_by_outlet")
    heat = ui.spec(charts.frames_outlet_heatmap, fbo, p.labels, p.fids, p.min_n)
    ev = ui.chart(heat, width="stretch", on_select="rerun", key="frames_heat")
    _follow(ev, charts.HEATMAP_SELECT, {S.OUTLET: keys.HEAT_OUTLET, S.FRAME_ID: keys.HEAT_FRAME}, "frames_heat")
    outlets = sorted(fbo[S.OUTLET].unique())
    if st.session_state.get(keys.HEAT_OUTLET) not in outlets:
        st.session_state[keys.HEAT_OUTLET] = outlets[0]
    if st.session_state.get(keys.HEAT_FRAME) not in p.fids:
        st.session_state[keys.HEAT_FRAME] = p.fids[0]
    c1, c2 = st.columns(2)
    outlet = c1.selectbox("Outlet", outlets, key=keys.HEAT_OUTLET)
    frame_id = c2.selectbox("Frame", p.fids, key=keys.HEAT_FRAME, format_func=p.fmt)
    _listing(p.view.with_text(passages_in_cell(p.view.counted, p.res.frames_of, frame_id, outlet=outlet)), p.labels)
    p.downloads("frames_outlet", {"frames_by_outlet": fbo}, {"frames_by_outlet": heat})


def outlet_period(p: _Page) -> None:
    fop = p.table("frames_by_outlet_period")
    charts_ = {}
    if ui.timeline_note(p.view.articles[S.DATE]):
        frame_id = st.selectbox("Frame", p.fids, key="fs_op_frame", format_func=p.fmt)
        charts_["frames_by_outlet_period"] = ui.spec(charts.outlet_period_multiples, fop, p.labels, frame_id, p.min_n,
                                                     period=p.view.period)
        ui.chart(charts_["frames_by_outlet_period"], width="content")
    p.downloads("frames_outlet_period", {"frames_by_outlet_period": fop}, charts_)


def corrected(p: _Page) -> None:
    V.corrected_section(p.table("frames_over_time"), p.table("frames_by_outlet"), p.res.frame_labels, p.validation,
                        p.view.articles[S.DATE])


TABS = {"Over time": over_time, "By outlet": by_outlet, "Outlet × period": outlet_period,
        "Corrected shares": corrected}

st.title("Frames", anchor=False)
if msg := state.pop_flash():
    st.success(msg, icon=":material/check_circle:")
f = filters.filters()
got = ui.filtered_results(f, what="the frame charts")
if got is not None:
    res, view = got
    validation = V.current(res, f)
    page = _Page(res, view, f, validation, V.marked_labels(res.frame_labels, validation),  # every chart says
                 PipelineConfig().min_cell_n)                                              # which are validated
    st.caption(f"Time bucket: {view.period} (set it in the sidebar).")
    ui.lazy_tabs(TABS, keys.FRAMES_TAB, page)
