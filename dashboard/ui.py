"""Render helpers shared by the pages: the error guard, the run progress panel, safe tables.

User text (titles, passages, outlet, file, column, data set and codebook names, raw dates,
and error messages that quote them) reaches the browser as dataframe cells, chart data,
widget options or `st.text` — or, inside Markdown elements (markdown, caption, info,
warning, error, success), only through `plain()`, so it can never become a link, an image,
HTML or formatting.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from analysis import schema as S
from analysis.errors import FramescopeError

from . import access, runs, state
from .markup import plain
from .explore import filter_rows
from .filters import Filters, filters

log = logging.getLogger("dashboard")

P = TypeVar("P")

GENERIC_ERROR = "Something went wrong on this page. The details are in the server log; try another filter or page."


def guarded(fn: Callable[[], Any]) -> None:
    """Run a page; an expected failure shows its message, anything else a short generic one."""
    try:
        fn()
    except ScriptControlException:  # st.rerun / st.stop / page switches must pass through
        raise
    except FramescopeError as exc:
        st.error(plain(exc), icon=":material/error:")
    except Exception as exc:
        log.exception("page failed")
        st.error(f"{GENERIC_ERROR} ({type(exc).__name__})", icon=":material/error:")


def run_for(f: Filters, *, retry: bool = False, start: bool = True) -> tuple[runs.RunSpec | None, runs.Progress]:
    """Queue (if needed, and unless not `start`) the run for these filters for this session; its
    spec and progress.

    A pinned run is shown as stored: an opened folder is never recomputed; an extension whose
    worker died is queued again (its base run is in the store)."""
    store = state.store()
    if f.pinned is not None:
        if f.pinned.kind == runs.EXTENSION and start:
            return f.pinned.spec, runs.ensure_run(store, f.pinned.spec, retry=retry, session=state.session_id())
        return f.pinned.spec, runs.progress_of(store, f.pinned.key)
    c = state.corpus(f.datasets)
    if not start:
        spec = runs.make_spec(f.datasets, c.digest, f.config(), len(c.articles)) if len(c.articles) else None
        return spec, runs.progress_of(store, spec.key) if spec else runs.Progress("none", "", 0.0, "No articles")
    return runs.start_for(store, f.datasets, c.digest, len(c.articles), f.config(), retry=retry,
                          session=state.session_id())


def results_or_progress(f: Filters, *, what: str = "its results") -> state.Results | None:
    """The finished run for these filters, or None after showing its progress (and starting it)."""
    if not f.datasets:
        st.info("Choose a data set in the sidebar, or upload one on the Data page.", icon=":material/info:")
        return None
    spec, prog = run_for(f)
    if spec is None:
        st.warning("The active data sets hold no articles.")
        return None
    if prog.status == "done":
        res = state.results(spec.key)
        if res is not None:
            return res
    progress_panel(spec.key, what)
    return None


@st.fragment(run_every=1.0)
def progress_panel(key: str, what: str = "its results") -> None:
    """Polls the run once a second (stage, passages/s, time left, place in the queue); reruns
    the whole page when it is done; the run can be cancelled here."""
    prog = runs.progress_of(state.store(), key)
    if prog.status == "done":
        st.rerun(scope="app")
    if prog.status == "failed":
        st.error(f"The analysis failed: {plain(prog.message)}", icon=":material/error:")
        if st.button("Try again", key=f"retry_{key[:12]}"):
            run_for(filters(), retry=True)
            st.rerun(scope="app")
        return
    with st.container(border=True):
        st.markdown(f"**Analysing the active data sets** — this page shows {what} when the run is done. "
                    "You can switch pages meanwhile; the run continues.")
        st.progress(prog.fraction, text=prog.text)
        c1, c2 = st.columns([4, 1])
        c1.caption(f"run {key[:12]}")
        if (prog.status in ("queued", "running") and access.can_write()
                and c2.button("Cancel", key=f"cancel_{key[:12]}")):
            spec, _ = run_for(filters())
            if spec is None or spec.key != key or not runs.cancel(state.store(), spec):
                st.warning("This run is computed by another process (a CLI or another server); "
                           "it cannot be cancelled from here.")
            else:
                st.rerun(scope="app")


def timeline_note(dates: pd.Series, what: str = "articles") -> bool:
    """Whether a timeline can be drawn from these dates; says how many are left off it for want
    of a date. An undated upload drew empty axes ("0.000000") with nothing saying why."""
    n, undated = len(dates), int(dates.isna().sum())
    if n and undated == n:
        st.info(f"None of the {n:,} {what} in view has a date, so there is no timeline; the tables and "
                f"downloads count them under “{S.UNDATED}”. To get one, upload the file again on the Data page with "
                "a date column mapped (Fix the column mapping).", icon=":material/event_busy:")
        return False
    if undated:
        st.caption(f"{undated:,} of {n:,} {what} are undated: not on the timeline, counted under “{S.UNDATED}” "
                   "in the tables.")
    return True


LONG_TEXT = ("text", "snippet", "passage", "evidence", "description", "top_terms")
WRAP_ROW_HEIGHT = 90  # px; Streamlit wraps cell text only in rows taller than 4rem


def table(df: pd.DataFrame, *, height: int | str = "auto", key: str | None = None, **kw: Any) -> Any:
    """A dataframe with readable defaults: long text wraps in tall rows, dates read "undated"
    when missing (never "None"), shares as percentages."""
    config = {
        "text": st.column_config.TextColumn("text", width="large"),
        "snippet": st.column_config.TextColumn("passage", width="large"),
        "passage": st.column_config.TextColumn("passage", width="large"),
        "share": st.column_config.NumberColumn("share", format="percent"),
        "ci_low": st.column_config.NumberColumn("95% CI low", format="percent"),
        "ci_high": st.column_config.NumberColumn("95% CI high", format="percent"),
    }
    config.update(kw.pop("column_config", {}))
    if any(c in df.columns for c in LONG_TEXT):
        kw.setdefault("row_height", WRAP_ROW_HEIGHT)
    return st.dataframe(shown(df), hide_index=True, width="stretch", height=height, column_config=config, key=key,
                        **kw)


def shown(df: pd.DataFrame) -> pd.DataFrame:
    """Dates as YYYY-MM-DD text with "undated" for missing ones (for display only)."""
    out = df
    for col in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[col]):
            if out is df:
                out = df.copy()
            out[col] = df[col].dt.strftime("%Y-%m-%d").fillna(S.UNDATED)
    return out


def filtered_results(f: Filters, *, what: str) -> tuple[state.Results, state.View] | None:
    """The finished run and its view under the filters, after the run caption and the filter
    line; None (with a message) while the run is computing or when the filters leave no passages."""
    res = results_or_progress(f, what=what)
    if res is None:
        filter_line(f)
        return None
    run_caption(res)
    view = state.view(res, f)
    filter_line(f, res, view)
    if view.counted.empty:
        st.info("No passages under the current filters. Use “Reset filters” in the sidebar to see all.")
        return None
    return res, view


def filter_line(f: Filters, res: state.Results | None = None, view: state.View | None = None) -> None:
    """The filter in force and how much of the active data it keeps (every page says this)."""
    if view is not None and res is not None:
        kept = (f"keeps {len(view.articles):,} of {res.n_articles:,} articles and "
                f"{len(view.passages):,} of {res.n_passages:,} passages")
        if len(view.counted) != len(view.passages):
            kept += (f"; the charts count {len(view.counted):,} passage rows, a reprinted passage once for "
                     "every outlet that ran it")
    else:
        c = state.corpus(f.datasets)
        kept = f"keeps {len(articles_in(f)):,} of {len(c.articles):,} articles"
        if f.languages:
            kept += " (the languages apply once the analysis has detected them)"
    st.caption(f"**Filter:** {plain(f.describe())} → {kept}.")


def articles_in(f: Filters):
    """The active data's articles under the date and outlet filters (before any run, so without the
    language filter: languages are detected per passage by the run)."""
    return filter_rows(state.corpus(f.datasets).articles, dataclasses.replace(f.selection(), languages=()))


def run_caption(res: state.Results) -> None:
    m = res.manifest
    cl = m.get("clustering", {})
    cb = m.get("codebook", {})
    c = m.get("counts", {})
    st.caption(
        f"Run {res.key[:12]} · {c.get('articles', '?'):,} articles, {c.get('passages', '?'):,} passages · "
        f"k = {cl.get('k', '?')} · codebook {plain(cb.get('name', '?'))} v{plain(cb.get('version', '?'))} · "
        f"model {plain(m.get('model_id', '?'))}"
    )


def spec(builder: Callable[..., Any], *args: Any, **kwargs: Any) -> dict[str, Any]:
    """The Vega-Lite spec of `builder(*args, **kwargs)` (a dashboard.charts builder), built once
    per content of its inputs and kept in the shared byte-bounded cache, so a rerun or page
    switch over an unchanged view does not convert its rows again."""
    return state.chart_spec(builder, args, kwargs)


def chart(chart: dict[str, Any], *, where: Any = None, width: str = "stretch", **kw: Any) -> Any:
    """Draw a chart spec (`spec`). Streamlit moves a spec's data out of its top level, so it
    gets a shallow copy of a cached one."""
    return (where or st).vega_lite_chart(dict(chart), width=width, **kw)


def selection_values(event: Any, param: str) -> list[dict[str, Any]]:
    """The selected points of an Altair chart event (`on_select="rerun"`), as a list of field dicts."""
    try:
        sel = event.selection  # type: ignore[union-attr]
    except AttributeError:
        sel = (event or {}).get("selection", {}) if isinstance(event, dict) else {}
    got = sel.get(param) if hasattr(sel, "get") else None
    if isinstance(got, list):
        return [dict(x) for x in got if isinstance(x, dict)]
    return []


def lazy_tabs(tabs: Mapping[str, Callable[[P], None]], key: str, page: P) -> None:
    """Tabs of which only the open one runs, is sent and is drawn (Streamlit's stateful tabs):
    `tabs` maps each label to the function that draws it from `page`; `key` holds the open label."""
    for tab, draw in zip(st.tabs(list(tabs), key=key, on_change="rerun"), tabs.values(), strict=True):
        if tab.open:
            with tab:
                draw(page)
