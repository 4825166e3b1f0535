"""Every chart of the dashboard, as pure functions returning Vega-Lite specs (plain dicts, no
Streamlit).

The specs are written as dicts, not built with Altair: on every filter change the pages build
their charts anew, and Altair's objects (validation of each channel, deep copies on every
`.properties`, `layer` and `facet`) took 0.1–0.2 s a chart there, two thirds of the server's
time for a filter change on the Frames page. The tests validate every spec a page draws
against the Vega-Lite schema instead.

Colours are stable: a frame or a cluster keeps its colour on every chart. Shares carry their
denominator and interval in the tooltip; thin cells (fewer passages than the configured
minimum) are drawn faded with a hollow marker, never hidden.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
from altair import SCHEMA_URL
from altair.utils.core import sanitize_pandas_dataframe

from analysis import aggregates as A
from analysis import schema as S
from analysis.prevalence import CI_HIGH_CORRECTED, CI_LOW_CORRECTED, SHARE_CORRECTED

Spec = dict[str, Any]

FRAME_PALETTE = [
    "#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d",
    "#ff9da6", "#bab0ac", "#1f77b4", "#8c564b",
]
CLUSTER_PALETTE = [  # Vega's tableau20, fixed here so a cluster's colour is the same everywhere
    "#4c78a8", "#9ecae9", "#f58518", "#ffbf79", "#54a24b", "#88d27a", "#b79a20", "#f2cf5b", "#439894", "#83bcb6",
    "#e45756", "#ff9d98", "#79706e", "#bab0ac", "#d67195", "#fcbfd2", "#b279a2", "#d6a5c9", "#9e765f", "#d8b5a5",
]
FRAME_SELECT = "frame_cell"
HEATMAP_SELECT = "outlet_cell"
CLUSTER_SELECT = "cluster_pick"
LEGEND = {"labelLimit": 260}
ROW_PX = 24  # height per category row: every label fits, so none is dropped
# Numbers on heatmap cells: white from where a scheme turns dark, black below it. The fractions
# of each scale are where both reach a WCAG contrast of 4.5 (measured on Vega's colours).
CELL_TEXT = ("white", "black")
BLUES_DARK_FROM, VIRIDIS_REVERSED_DARK_FROM = 0.72, 0.575
OUTLET_COLOURS = 10  # the tableau10 scheme of the volume chart: more outlets would repeat colours
PANEL_WIDTH = 250  # px of one small-multiples panel; three sit side by side on a 1400 px page
THIN_OUTLET_N = 30  # outlets with fewer passages get distances and profiles flagged as thin
RENDERER_ENV = "FRAMESCOPE_CHART_RENDERER"  # "canvas" (default) or "svg"
# Streamlit draws a spec that names no renderer on a canvas above this many point marks
STREAMLIT_CANVAS_MARKS = 2_000
DATA = "rows"  # the name of a spec's data set

_TYPES = {"Q": "quantitative", "N": "nominal", "O": "ordinal", "T": "temporal"}
_AGGREGATE = re.compile(r"(\w+)\((.+)\)")


# --- spec pieces ---------------------------------------------------------------------------


def ch(shorthand: str, **props: Any) -> Spec:
    """An encoding channel from Altair's shorthand: "share:Q", "sum(n_articles):Q"."""
    name, _, kind = shorthand.rpartition(":")
    out: Spec = {}
    if m := _AGGREGATE.fullmatch(name):
        out["aggregate"], name = m.groups()
    return {"field": name, "type": _TYPES[kind], **out, **props}


def tip(shorthand: str, title: str | None = None, fmt: str | None = None) -> Spec:
    return ch(shorthand, **({"title": title} if title else {}), **({"format": fmt} if fmt else {}))


def when(test: str, value: Any, otherwise: Any) -> Spec:
    """A conditional value: `value` where the Vega expression `test` holds."""
    return {"condition": {"test": test, "value": value}, "value": otherwise}


def rows(df: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame as the spec's data rows (dates as ISO text, missing values as null), the way
    Altair writes them."""
    return sanitize_pandas_dataframe(df).to_dict(orient="records")


def pick(name: str, fields: Sequence[str]) -> Spec:
    """A click selection of the marked points' `fields` (the page reads it back by `name`)."""
    return {"name": name, "select": {"type": "point", "fields": list(fields), "on": "click"}}


def category_axis(limit: int = 300, **kw: Any) -> Spec:
    """An axis for categories: every label drawn (no overlap culling), long ones cut with …."""
    return {"labelOverlap": False, "labelLimit": limit, "labelFontSize": 11, **kw}


# A label's trailing "(…)" (a frame's validation mark, an outlet's n) on a second line.
_LAST_PAREN = "lastindexof(datum.value, ' (')"
_SPLIT_LAST_PAREN = (f"{_LAST_PAREN} > 0 ? [substring(datum.value, 0, {_LAST_PAREN}), "
                     f"substring(datum.value, {_LAST_PAREN} + 1)] : datum.value")


def panel_header(**kw: Any) -> Spec:
    """A small-multiples header that is never cut at the panel's width: "Personal diplomacy
    between the leaders (not yet validated)" was drawn as "… (not yet valid…"."""
    return {"labelExpr": _SPLIT_LAST_PAREN, "labelLimit": PANEL_WIDTH, "labelFontSize": 12, **kw}


def rows_height(n: int, minimum: int = 120) -> int:
    """Chart height for n category rows, so the chart grows instead of dropping labels."""
    return max(minimum, ROW_PX * n)


# A mark's ARIA description is a string Vega builds for every drawn item (every encoded field,
# formatted) through Streamlit's CSP-safe expression interpreter, and only an SVG has a node to put
# it on. On a canvas it was pure cost: the interpreter took 0.28 s of the browser's main thread on a
# Clusters visit at 10k articles (3,000 map points; Streamlit itself drops them only above 5,000
# rows). Axes keep their ARIA labels.
CANVAS_CONFIG: Spec = {"mark": {"aria": False}}


def renderer() -> str:
    """How the browser draws the charts: on a canvas by default (a page of faceted charts drew
    0.2–0.3 s faster than as SVG on two cores), or as SVG (`$FRAMESCOPE_CHART_RENDERER=svg`),
    whose labels are text in the page: the browser tests read them. Vega places and culls the
    labels before either renderer draws, so both show the same labels."""
    return "svg" if os.environ.get(RENDERER_ENV, "").strip().lower() == "svg" else "canvas"


def chart(data: pd.DataFrame | None, *, streamlit_draws: bool = False, **spec: Any) -> Spec:
    """A top-level spec over `data`, drawn by `renderer()`, stretched to the page's width but
    never squeezed in height: Streamlit's default autosize "fit" shrank the plot to fit the
    given height after long axis labels took their room, so band rows got 2 px apart and Vega
    dropped every other label. Facets are laid out at their natural size.

    `streamlit_draws`: leave the renderer and the fit to Streamlit (a chart with no category
    labels to lose); it draws more than STREAMLIT_CANVAS_MARKS point marks on a canvas."""
    out: Spec = {"$schema": SCHEMA_URL, **spec}
    if streamlit_draws:
        on_canvas = data is not None and len(data) > STREAMLIT_CANVAS_MARKS
    else:
        drawn_by = renderer()
        out["usermeta"] = {"embedOptions": {"renderer": drawn_by}}
        on_canvas = drawn_by == "canvas"
        if "facet" not in spec:
            out["autosize"] = {"type": "fit-x", "contains": "padding"}
    if on_canvas:
        out["config"] = CANVAS_CONFIG
    if data is not None:
        out["data"], out["datasets"] = {"name": DATA}, {DATA: rows(data)}
    return out


def frame_colours(frame_ids: Sequence[str]) -> dict[str, str]:
    return {f: FRAME_PALETTE[i % len(FRAME_PALETTE)] for i, f in enumerate(frame_ids)}


def _frame_scale(labels: Mapping[str, str], frame_ids: Sequence[str]) -> Spec:
    cols = frame_colours(frame_ids)
    return {"domain": [labels.get(f, f) for f in frame_ids], "range": [cols[f] for f in frame_ids]}


def cluster_name(cluster_id: int, label: str) -> str:
    return f"{int(cluster_id)} · {label}"


def cluster_colours(cluster_ids: Sequence[int]) -> dict[int, str]:
    """A cluster's colour depends on its id only: the same on every page and chart."""
    return {int(c): CLUSTER_PALETTE[int(c) % len(CLUSTER_PALETTE)] for c in cluster_ids}


def cluster_scale(cluster_labels: Mapping[int, str], only: Sequence[int] | None = None) -> Spec:
    """The colour scale of "id · label" names, the one every cluster chart uses (`only`: the
    clusters a chart shows, so its legend lists no others)."""
    ids = sorted(int(c) for c in (cluster_labels if only is None else set(only)))
    cols = cluster_colours(ids)
    return {"domain": [cluster_name(c, cluster_labels[c]) for c in ids], "range": [cols[c] for c in ids]}


def time_x(period: str, field: str = A.PERIOD_START) -> Spec:
    """The period axis: dates by week, months by month, "2024 Q1" by quarter."""
    if period == "quarter":
        axis = {"labelExpr": "timeFormat(datum.value, '%Y') + ' Q' + (floor(month(datum.value) / 3) + 1)",
                "tickCount": {"interval": "month", "step": 3}}
    elif period == "month":
        axis = {"format": "%b %Y"}
    else:
        axis = {"format": "%d %b %Y"}
    return ch(f"{field}:T", title=None, axis=axis)


def _pct(field: str, title: str) -> Spec:
    return tip(f"{field}:Q", title, ".1%")


def _share_tooltips() -> list[Spec]:
    return [
        _pct(A.SHARE, "share"),
        tip(f"{A.COUNT}:Q", "passages with frame"),
        tip(f"{A.N_PASSAGES}:Q", "n (passages)"),
        _pct(A.CI_LOW, "95% CI low"),
        _pct(A.CI_HIGH, "95% CI high"),
        _pct(A.ARTICLE_SHARE, "article share"),
        tip(f"{A.ARTICLES_WITH}:Q", "articles with frame"),
        tip(f"{A.N_ARTICLES}:Q", "n (articles)"),
        tip("cell:N", "cell"),
    ]


def thin_label(min_n: int) -> str:
    return f"thin (< {min_n} articles)"


def _with_labels(df: pd.DataFrame, labels: Mapping[str, str], min_n: int) -> pd.DataFrame:
    out = df.copy()
    out["frame"] = out[S.FRAME_ID].map(lambda f: labels.get(f, f))
    out["cell"] = out[A.THIN].map({True: thin_label(min_n), False: "ok"})
    return out


_FADED_IF_THIN = when(f"datum.{A.THIN}", 0.35, 1.0)


# --- overview ------------------------------------------------------------------------------


def volume_chart(volume: pd.DataFrame, measure: str = "n_articles", title: str = "Articles per period",
                 period: str = "month") -> Spec:
    """Stacked bars of articles (or passages) per period, coloured by outlet: the largest nine
    outlets and the rest as one, so no two outlets share a colour of the ten."""
    df = volume[volume[A.PERIOD] != S.UNDATED]
    totals = df.groupby(S.OUTLET)[measure].sum()
    order = sorted(totals.index)  # by name, as before: an outlet keeps its colour when others grow
    if len(order) > OUTLET_COLOURS:
        kept = totals.nlargest(OUTLET_COLOURS - 1, keep="first").index
        order = sorted(kept) + [f"other outlets ({len(order) - len(kept)})"]
        df = (df.assign(**{S.OUTLET: df[S.OUTLET].where(df[S.OUTLET].isin(order), order[-1])})
              .groupby([A.PERIOD, A.PERIOD_START, S.OUTLET], as_index=False, sort=False)[measure].sum())
    return chart(
        df, title=title, height=280, mark={"type": "bar"},
        encoding={
            "x": time_x(period),
            "y": ch(f"sum({measure}):Q", title=measure.replace("n_", "").replace("_", " ")),
            "color": ch(f"{S.OUTLET}:N", title="Outlet", scale={"scheme": "tableau10", "domain": order}, legend=LEGEND),
            "tooltip": [tip(f"{A.PERIOD}:N", "period"), tip(f"{S.OUTLET}:N"), tip(f"{measure}:Q", measure.replace("_", " "))],
        },
    )


def frame_share_bars(shares: pd.DataFrame, labels: Mapping[str, str], frame_ids: Sequence[str], min_n: int = 5) -> Spec:
    """Share of passages carrying each frame, with its 95 % interval."""
    df = _with_labels(shares, labels, min_n)
    order = df.sort_values(A.SHARE, ascending=False)["frame"].tolist()
    y = ch("frame:N", sort=order, title=None, axis=category_axis())
    bars = {"mark": {"type": "bar"}, "encoding": {
        "x": ch(f"{A.SHARE}:Q", title="share of passages", axis={"format": "%"}), "y": y,
        "color": ch("frame:N", scale=_frame_scale(labels, frame_ids), legend=None),
        "tooltip": [tip("frame:N"), *_share_tooltips()]}}
    err = {"mark": {"type": "rule", "color": "#333"},
           "encoding": {"x": ch(f"{A.CI_LOW}:Q"), "x2": {"field": A.CI_HIGH}, "y": y}}
    return chart(df, layer=[bars, err], title="Frame shares (passages carrying each frame)", height=rows_height(len(order)))


def cluster_size_bars(clusters: pd.DataFrame, cluster_labels: Mapping[int, str], top: int = 10) -> Spec:
    """The largest clusters under the filters (the table's n_passages), in their page-wide colours."""
    df = clusters.sort_values("n_passages", ascending=False).head(top).copy()
    df["cluster"] = [cluster_name(c, lab) for c, lab in zip(df[S.CLUSTER_ID], df["label"], strict=True)]
    tips = [tip("cluster:N"), tip("n_passages:Q", "passages (filtered)")]
    if "n_passages_unfiltered" in df:
        tips.append(tip("n_passages_unfiltered:Q", "passages (whole run)"))
    tips += [tip("n_articles:Q"), tip("n_outlets:Q"), tip("share:Q", fmt=".1%"), tip("top_terms:N", "top terms")]
    return chart(
        df, title=f"Largest clusters (top {min(top, len(df))}, under the filter)", height=rows_height(len(df)),
        mark={"type": "bar"},
        encoding={"x": ch("n_passages:Q", title="passages"),
                  "y": ch("cluster:N", sort="-x", title=None, axis=category_axis()),
                  "color": ch("cluster:N", scale=cluster_scale(cluster_labels), legend=None),
                  "tooltip": tips},
    )


# --- clusters ------------------------------------------------------------------------------


def cluster_map(points: pd.DataFrame, cluster_labels: Mapping[int, str], method: str = "PCA") -> Spec:
    """The 2-D passage map (PCA or UMAP), coloured by cluster; clicking a point selects its cluster.

    Its rows carry only what the chart draws or shows (and the passage id): the browser converts
    every cell of thousands of points. A click opens the cluster's own tab, so the map never
    shows a selection and its points need no per-point selection test."""
    df = pd.DataFrame({
        S.PASSAGE_ID: points[S.PASSAGE_ID], S.CLUSTER_ID: points[S.CLUSTER_ID],
        "map_x": points["map_x"], "map_y": points["map_y"],
        "cluster": points[S.CLUSTER_ID].astype(str) + " · " + points["cluster_label"].astype(str),
        S.OUTLET: points[S.OUTLET], "day": pd.to_datetime(points[S.DATE]).dt.strftime("%Y-%m-%d").fillna(S.UNDATED),
        S.TITLE: points[S.TITLE], "snippet": points["snippet"]})
    bare = {"labels": False, "ticks": False}
    return chart(  # up to explore.MAP_MAX_POINTS points: Streamlit picks the renderer and the fit
        df, streamlit_draws=True, title=f"Passage map ({method} of the embeddings)", height=460,
        mark={"type": "circle", "size": 28},
        params=[pick(CLUSTER_SELECT, [S.CLUSTER_ID])],
        encoding={
            "x": ch("map_x:Q", title=None, axis=bare), "y": ch("map_y:Q", title=None, axis=bare),
            "color": ch("cluster:N", title="Cluster", scale=cluster_scale(cluster_labels), legend=LEGEND),
            "opacity": {"value": 0.85},
            "tooltip": [tip("cluster:N"), tip(f"{S.OUTLET}:N", "outlet"), tip("day:N", "date"),
                        tip(f"{S.TITLE}:N", "title"), tip("snippet:N", "passage")],
        },
    )


def cluster_timeline(over_time: pd.DataFrame, cluster_id: int, colour: str, period: str = "month") -> Spec:
    df = over_time[(over_time[S.CLUSTER_ID] == cluster_id) & (over_time[A.PERIOD] != S.UNDATED)]
    return chart(
        df, title=f"Volume of this cluster per {period}", height=220, mark={"type": "bar", "color": colour},
        encoding={
            "x": time_x(period), "y": ch(f"{A.COUNT}:Q", title="passages"),
            "opacity": when(f"datum.{A.THIN}", 0.4, 1.0),
            "tooltip": [tip(f"{A.PERIOD}:N", "period"), tip(f"{A.COUNT}:Q", "passages"),
                        tip(f"{A.N_PASSAGES}:Q", "all passages in period"), _pct(A.SHARE, "share"),
                        _pct(A.CI_LOW, "95% CI low"), _pct(A.CI_HIGH, "95% CI high")],
        },
    )


def bar_counts(df: pd.DataFrame, category: str, value: str, title: str, colour: str = "#4c78a8") -> Spec:
    return chart(
        df, title=title, height=rows_height(len(df)), mark={"type": "bar", "color": colour},
        encoding={"x": ch(f"{value}:Q", title=value.replace("_", " ")),
                  "y": ch(f"{category}:N", sort="-x", title=None, axis=category_axis()),
                  "tooltip": [tip(f"{category}:N"), tip(f"{value}:Q")]},
    )


# --- frames --------------------------------------------------------------------------------


def rolling_share(table: pd.DataFrame, window: int, by: Sequence[str] = (S.FRAME_ID,)) -> pd.Series:
    """Pooled rolling share over `window` periods (sum of counts ÷ sum of n), per frame;
    undated rows are left out of the window."""
    df = table.sort_values(A.PERIOD_START)
    g = df.groupby(list(by), sort=False)
    count = g[A.COUNT].transform(lambda x: x.rolling(window, min_periods=1).sum())
    n = g[A.N_PASSAGES].transform(lambda x: x.rolling(window, min_periods=1).sum())
    return (count / n.where(n > 0)).reindex(table.index)


def frames_over_time(
    table: pd.DataFrame, labels: Mapping[str, str], frame_ids: Sequence[str], min_n: int = 5, *,
    period: str = "month", events: pd.DataFrame | None = None, rolling: int = 0,
) -> Spec:
    """Small multiples, one panel per frame: the share per period with its 95 % band, thin cells
    hollow and faded, an optional pooled rolling mean and the event markers."""
    df = _with_labels(table[table[A.PERIOD] != S.UNDATED], labels, min_n)
    df["kind"] = "cell"
    if rolling > 1:
        df["rolling"] = rolling_share(df, rolling)
    order = [labels.get(f, f) for f in frame_ids]
    parts = [df]
    if events is not None and len(events) and len(df):
        lo, hi = df[A.PERIOD_START].min(), df[A.PERIOD_START].max() + pd.Timedelta(days=92)
        ev = events[(events["date"] >= lo) & (events["date"] <= hi)]
        if len(ev):
            parts.append(pd.DataFrame({"frame": [f for f in order for _ in range(len(ev))],
                                       "event_date": list(ev["date"]) * len(order),
                                       "event": list(ev["event"]) * len(order), "kind": "event"}))
    cells = [{"filter": "datum.kind == 'cell'"}]
    x, colour = time_x(period), ch("frame:N", title="Frame", scale=_frame_scale(labels, frame_ids), legend=None)
    y = ch(f"{A.SHARE}:Q", title="share of passages", axis={"format": "%", "tickCount": 4})
    layers = [
        {"transform": cells, "mark": {"type": "area", "opacity": 0.18},
         "encoding": {"x": x, "color": colour, "y": ch(f"{A.CI_LOW}:Q"), "y2": {"field": A.CI_HIGH}}},
        {"transform": cells, "mark": {"type": "line", "strokeWidth": 1.5, "invalid": None},  # null: a gap breaks the line
         "encoding": {"x": x, "color": colour, "y": y}},
        {"transform": cells, "name": "points", "mark": {"type": "point", "size": 30, "filled": True},
         "encoding": {
             "x": x, "color": colour, "y": y,
             "shape": ch("cell:N", title="Cell", scale={"domain": ["ok", thin_label(min_n)],
                                                         "range": ["circle", "triangle-up"]},
                         legend={"orient": "bottom"}),  # beside three panels it ran off a 1400 px page
             "opacity": _FADED_IF_THIN,
             "tooltip": [tip(f"{A.PERIOD}:N", "period"), tip("frame:N"), *_share_tooltips()]}},
    ]
    if rolling > 1:
        layers.append({"transform": cells, "mark": {"type": "line", "strokeDash": [5, 3], "strokeWidth": 1.5,
                                                     "color": "#222"},
                       "encoding": {"x": x, "color": colour, "y": ch("rolling:Q"),
                                    "tooltip": [tip(f"{A.PERIOD}:N", "period"),
                                                _pct("rolling", f"rolling mean ({rolling} periods)")]}})
    if len(parts) > 1:
        layers.append({"transform": [{"filter": "datum.kind == 'event'"}],
                       "mark": {"type": "rule", "color": "#666", "strokeDash": [2, 2], "strokeWidth": 1},
                       "encoding": {"x": ch("event_date:T"),
                                    "tooltip": [tip("event:N"), tip("event_date:T", "date")]}})
    return chart(
        pd.concat(parts, ignore_index=True),
        title="Frame shares over time, one panel per frame (band: 95% interval; click a point to list its passages)",
        facet=ch("frame:N", sort=order, title=None, header=panel_header(labelFontWeight="bold")),
        columns=3, resolve={"scale": {"y": "shared"}},
        params=[{**pick(FRAME_SELECT, [A.PERIOD, S.FRAME_ID]), "views": ["points"]}],
        spec={"width": PANEL_WIDTH, "height": 120, "layer": layers},
    )


def outlet_label(outlet: str, n: int, min_n: int = THIN_OUTLET_N) -> str:
    """An outlet with its passage count, flagged when too few passages stand behind it."""
    return f"{outlet} (n={n:,}{', thin' if n < min_n else ''})"


def frames_outlet_heatmap(table: pd.DataFrame, labels: Mapping[str, str], frame_ids: Sequence[str], min_n: int = 5) -> Spec:
    df = _with_labels(table, labels, min_n)
    df["text"] = [("" if pd.isna(s) else f"{s:.0%}" + ("*" if thin else "")) for s, thin in zip(df[A.SHARE], df[A.THIN],
                                                                                              strict=True)]
    n_of = df.groupby(S.OUTLET)[A.N_PASSAGES].first()
    df["outlet_n"] = df[S.OUTLET].map(lambda o: outlet_label(o, int(n_of[o])))
    xy = {"x": ch("frame:N", sort=[labels.get(f, f) for f in frame_ids], title=None,
                  axis=category_axis(170, labelAngle=-30)),
          "y": ch("outlet_n:N", title=None, axis=category_axis(), sort=sorted(df["outlet_n"].unique()))}
    top = float(df[A.SHARE].max()) if (df[A.SHARE] > 0).any() else 1.0  # the scale's end (an empty view: 1)
    rect = {"name": "cells", "mark": {"type": "rect"}, "encoding": {
        **xy, "color": ch(f"{A.SHARE}:Q", title="share", scale={"scheme": "blues", "domain": [0, top]},
                          legend={"format": "%"}),
        "opacity": _FADED_IF_THIN,
        "tooltip": [tip(f"{S.OUTLET}:N", "outlet"), tip("frame:N"), *_share_tooltips()]}}
    # the scale ends at the largest share, so a fixed 45 % left dark text on the darkest cells of
    # a corpus whose shares stay below it; faded thin cells are light
    text = {"mark": {"type": "text", "fontSize": 10}, "encoding": {
        **xy, "text": ch("text:N"),
        "color": when(f"datum.{A.SHARE} > {BLUES_DARK_FROM * top:.6f} && !datum.{A.THIN}", *CELL_TEXT)}}
    return chart(df, layer=[rect, text], title="Frames by outlet (* = thin cell)",
                 height=rows_height(df[S.OUTLET].nunique(), 200),
                 params=[{**pick(HEATMAP_SELECT, [S.OUTLET, S.FRAME_ID]), "views": ["cells"]}])


def outlet_period_multiples(table: pd.DataFrame, labels: Mapping[str, str], frame_id: str, min_n: int = 5, *,
                            period: str = "month") -> Spec:
    """One frame's share per period in one panel per outlet, with its 95 % band (one line per
    panel, not nine: readable)."""
    df = table[(table[A.PERIOD] != S.UNDATED) & (table[S.FRAME_ID] == frame_id)]
    df = _with_labels(df, labels, min_n)
    n_of = df.groupby(S.OUTLET)[A.N_PASSAGES].sum()
    df["outlet_n"] = df[S.OUTLET].map(lambda o: outlet_label(o, int(n_of[o])))
    x = time_x(period)
    band = {"mark": {"type": "area", "opacity": 0.2, "color": "#4c78a8"},
            "encoding": {"x": x, "y": ch(f"{A.CI_LOW}:Q"), "y2": {"field": A.CI_HIGH}}}
    line = {"mark": {"type": "line", "strokeWidth": 1.4, "color": "#4c78a8", "point": {"size": 14}}, "encoding": {
        "x": x, "y": ch(f"{A.SHARE}:Q", title="share", axis={"format": "%", "tickCount": 4}),
        "opacity": when(f"datum.{A.THIN}", 0.3, 1.0),
        "tooltip": [tip(f"{S.OUTLET}:N", "outlet"), tip(f"{A.PERIOD}:N", "period"), tip("frame:N"),
                    *_share_tooltips()]}}
    return chart(df, title=f"{labels.get(frame_id, frame_id)}: share per {period} by outlet (faded: thin cells)",
                 facet=ch("outlet_n:N", title=None, header=panel_header()), columns=3,
                 spec={"width": PANEL_WIDTH, "height": 110, "layer": [band, line]})


def corrected_chart(table: pd.DataFrame, labels: Mapping[str, str]) -> Spec:
    """Corrected share per period (line, 95 % bootstrap band) beside the raw share (dotted)."""
    df = table[table[A.PERIOD] != S.UNDATED].dropna(subset=[SHARE_CORRECTED]).copy()
    df["frame"] = df[S.FRAME_ID].map(lambda x: labels.get(x, x))
    base = {"x": ch(f"{A.PERIOD_START}:T", title=None), "color": ch("frame:N", title="Frame", legend=LEGEND)}
    tips = [tip(f"{A.PERIOD}:N", "period"), tip("frame:N"), _pct(A.SHARE, "raw share"),
            _pct(SHARE_CORRECTED, "corrected share"), _pct(CI_LOW_CORRECTED, "corrected 95% low"),
            _pct(CI_HIGH_CORRECTED, "corrected 95% high"), tip(f"{A.N_PASSAGES}:Q", "n (passages)")]
    band = {"mark": {"type": "area", "opacity": 0.15}, "encoding": {
        **base, "y": ch(f"{CI_LOW_CORRECTED}:Q", title="share", axis={"format": "%"}),
        "y2": {"field": CI_HIGH_CORRECTED}}}
    raw = {"mark": {"type": "line", "strokeDash": [2, 3], "opacity": 0.6},
           "encoding": {**base, "y": ch(f"{A.SHARE}:Q"), "tooltip": tips}}
    line = {"mark": {"type": "line", "point": True}, "encoding": {**base, "y": ch(f"{SHARE_CORRECTED}:Q"), "tooltip": tips}}
    return chart(df, layer=[band, raw, line], height=320)


# --- outlets -------------------------------------------------------------------------------


def similarity_heatmap(table: pd.DataFrame, by: str = S.OUTLET, what: str = "frames") -> Spec:
    """Heatmap of the outlet_similarity table's frame or cluster distances, in its hierarchical
    order; each outlet labelled with its passage count and flagged when thin."""
    a, b = f"{by}_a", f"{by}_b"
    prefix = "frame" if what == "frames" else "cluster"
    long = table.rename(columns={f"{prefix}_jsd": "distance", f"{prefix}_order_a": "order_a"})
    long = long[[a, b, "distance", "order_a", "n_a", "n_b"]].copy()
    n_of = dict(zip(long[a], long["n_a"], strict=False)) | dict(zip(long[b], long["n_b"], strict=False))
    long["row"] = long[a].map(lambda o: outlet_label(o, int(n_of[o])))
    long["col"] = long[b].map(lambda o: outlet_label(o, int(n_of[o])))
    order = long.drop_duplicates(a).sort_values("order_a")["row"].tolist()
    long["text"] = long["distance"].map(lambda d: f"{d:.2f}")
    xy = {"x": ch("col:N", sort=order, title=None, axis=category_axis(200, labelAngle=-35)),
          "y": ch("row:N", sort=order, title=None, axis=category_axis())}
    rect = {"mark": {"type": "rect"}, "encoding": {
        **xy, "color": ch("distance:Q", title="distance", scale={"scheme": "viridis", "reverse": True, "domain": [0, 1]}),
        "tooltip": [tip(f"{a}:N", "outlet"), tip(f"{b}:N", "compared with"), tip("distance:Q", fmt=".3f"),
                    tip("n_a:Q", "passages (outlet)"), tip("n_b:Q", "passages (compared)")]}}
    text = {"mark": {"type": "text", "fontSize": 9}, "encoding": {
        **xy, "text": ch("text:N"), "color": when(f"datum.distance > {VIRIDIS_REVERSED_DARK_FROM}", *CELL_TEXT)}}
    return chart(long, layer=[rect, text], title=f"Jensen–Shannon distance between outlets ({what}); 0 = identical",
                 height=rows_height(len(order), 220))


def profile_chart(profile: pd.DataFrame, outlet: str) -> Spec:
    """One outlet's distribution next to the rest of the corpus."""
    df = profile.melt(id_vars=["category", "name"], value_vars=["outlet", "rest_of_corpus"], var_name="who", value_name="share")
    df["who"] = df["who"].map({"outlet": outlet, "rest_of_corpus": "rest of corpus"})
    return chart(
        df, title=f"{outlet} against the rest of the corpus", height=rows_height(2 * profile.shape[0], 200),
        mark={"type": "bar"},
        encoding={"x": ch("share:Q", axis={"format": "%"}, title="share"),
                  "y": ch("name:N", title=None, sort={"field": "category"}, axis=category_axis()),
                  "yOffset": ch("who:N"),
                  "color": ch("who:N", title=None, scale={"range": ["#e45756", "#bab0ac"]}),
                  "tooltip": [tip("name:N"), tip("who:N"), tip("share:Q", fmt=".1%")]},
    )


# --- article -------------------------------------------------------------------------------


def frame_mix_bar(mix: pd.DataFrame, labels: Mapping[str, str], frame_ids: Sequence[str]) -> Spec:
    return chart(
        mix, title="Frame mix: share of this article's passages carrying each frame", height=rows_height(len(mix)),
        mark={"type": "bar"},
        encoding={"x": ch("share:Q", axis={"format": "%"}, title="share of passages", scale={"domain": [0, 1]}),
                  "y": ch("frame:N", sort=[labels.get(f, f) for f in frame_ids], title=None, axis=category_axis()),
                  "color": ch("frame:N", scale=_frame_scale(labels, frame_ids), legend=None),
                  "tooltip": [tip("frame:N"), tip("passages:Q"), tip("share:Q", fmt=".0%"),
                              tip("mean_score:Q", fmt=".2f")]},
    )


def article_strip(passages: pd.DataFrame, labels: Mapping[str, str], frame_ids: Sequence[str],
                  cluster_labels: Mapping[int, str] | None = None) -> Spec:
    """One block per passage, in reading order: top row by dominant frame, bottom row by cluster
    (in the clusters' page-wide colours)."""
    df = passages.copy()
    df["passage"] = df[S.POSITION].astype(int) + 1
    df["frame"] = df[S.DOMINANT_FRAME].map(lambda f: labels.get(f, "no frame" if f == S.NO_FRAME else f))
    df["snippet"] = df[S.TEXT].map(lambda t: " ".join(str(t).split())[:160])
    cols = {labels.get(f, f): c for f, c in frame_colours(frame_ids).items()} | {"no frame": "#dddddd"}
    dom = [lab for lab in cols if lab in set(df["frame"])]

    def strip(title: str, field: str, legend_title: str, scale: Spec) -> Spec:
        return {"title": title, "height": 40, "mark": {"type": "rect", "stroke": "white"}, "encoding": {
            "x": ch("passage:O", title="passage"),
            "color": ch(f"{field}:N", scale=scale, title=legend_title, legend=LEGEND),
            "tooltip": [tip("passage:O"), tip(f"{field}:N"), tip("snippet:N")]}}

    frames = strip("Passages by dominant frame", "frame", "Dominant frame", {"domain": dom, "range": [cols[d] for d in dom]})
    if "cluster_label" not in df:
        return chart(df.drop(columns=[S.TEXT]), **frames)
    df["cluster"] = [cluster_name(c, lab) for c, lab in zip(df[S.CLUSTER_ID], df["cluster_label"], strict=True)]
    labels_of = dict(cluster_labels or {}) or dict(zip(df[S.CLUSTER_ID].astype(int), df["cluster_label"], strict=False))
    clusters = strip("Passages by cluster", "cluster", "Cluster",
                     cluster_scale(labels_of, df[S.CLUSTER_ID].astype(int).unique()))
    return chart(df.drop(columns=[S.TEXT]), vconcat=[frames, clusters], resolve={"scale": {"color": "independent"}})


# --- compare -------------------------------------------------------------------------------


def difference_chart(diff: pd.DataFrame, title: str, side_a: str, side_b: str) -> Spec:
    """Share difference (a − b) per category with its 95 % interval; a rule at zero."""
    df = diff.assign(side=diff["difference"].ge(0).map({True: side_a, False: side_b}))
    y = ch("name:N", sort=df["name"].tolist(), title=None, axis={"labelLimit": 260, "labelOverlap": False})
    bars = {"mark": {"type": "bar"}, "encoding": {
        "x": ch("difference:Q", axis={"format": "+%"}, title=f"share in {side_a} − share in {side_b}"),
        "y": y, "color": ch("side:N", title="more in", legend=LEGEND),
        "tooltip": [tip("name:N"), tip("share_a:Q", side_a, ".1%"), tip("share_b:Q", side_b, ".1%"),
                    tip("difference:Q", fmt="+.1%"), tip("ci_low:Q", "95% CI low", "+.1%"),
                    tip("ci_high:Q", "95% CI high", "+.1%")]}}
    ci = {"mark": {"type": "rule", "color": "#333"},
          "encoding": {"x": ch("ci_low:Q"), "x2": {"field": "ci_high"}, "y": y}}
    zero = {"data": {"values": [{"x": 0}]}, "mark": {"type": "rule", "color": "#999"}, "encoding": {"x": ch("x:Q")}}
    return chart(df, layer=[bars, ci, zero], title=title, height=max(160, 26 * len(df)))
