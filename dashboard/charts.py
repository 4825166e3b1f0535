"""Every chart of the dashboard, as pure functions returning Altair charts (no Streamlit).

Colours are stable: a frame or a cluster keeps its colour on every chart. Shares carry their
denominator and interval in the tooltip; thin cells (fewer passages than the configured
minimum) are drawn faded with a hollow marker, never hidden.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence

import altair as alt
import pandas as pd

from analysis import aggregates as A
from analysis import schema as S

alt.data_transformers.disable_max_rows()  # the pages cap their data (e.g. map points) themselves
# Altair validates every object against the schema as it is built (~0.35 s a page here); the
# builders' specs are validated whole in the tests (`to_dict()`), so the pages skip it.
alt.utils.schemapi.disable_debug_mode()

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
LEGEND = alt.Legend(labelLimit=260)
ROW_PX = 24  # height per category row: every label fits, so none is dropped
THIN_OUTLET_N = 30  # outlets with fewer passages get distances and profiles flagged as thin
RENDERER_ENV = "FRAMESCOPE_CHART_RENDERER"  # "canvas" (default) or "svg"


def category_axis(limit: int = 300, **kw) -> alt.Axis:
    """An axis for categories: every label drawn (no overlap culling), long ones cut with …."""
    return alt.Axis(labelOverlap=False, labelLimit=limit, labelFontSize=11, **kw)


def rows_height(n: int, minimum: int = 120) -> int:
    """Chart height for n category rows, so the chart grows instead of dropping labels."""
    return max(minimum, ROW_PX * n)


def renderer() -> str:
    """How the browser draws the charts: on a canvas by default (a page of faceted charts drew
    0.2–0.3 s faster than as SVG on two cores), or as SVG (`$FRAMESCOPE_CHART_RENDERER=svg`),
    whose labels are text in the page: the browser tests read them. Vega places and culls the
    labels before either renderer draws, so both show the same labels."""
    return "svg" if os.environ.get(RENDERER_ENV, "").strip().lower() == "svg" else "canvas"


def laid_out(chart: alt.TopLevelMixin) -> alt.TopLevelMixin:
    """Drawn by `renderer()`, stretched to the page's width but never squeezed in height:
    Streamlit's default autosize "fit" shrank the plot to fit the given height after long axis
    labels took their room, so band rows got 2 px apart and Vega dropped every other label."""
    meta = {"embedOptions": {"renderer": renderer()}}
    if isinstance(chart, alt.FacetChart):
        return chart.properties(usermeta=meta)  # facets are laid out at their natural size
    return chart.properties(usermeta=meta, autosize=alt.AutoSizeParams(type="fit-x", contains="padding"))


def frame_colours(frame_ids: Sequence[str]) -> dict[str, str]:
    return {f: FRAME_PALETTE[i % len(FRAME_PALETTE)] for i, f in enumerate(frame_ids)}


def _frame_scale(labels: Mapping[str, str], frame_ids: Sequence[str]) -> alt.Scale:
    cols = frame_colours(frame_ids)
    return alt.Scale(domain=[labels.get(f, f) for f in frame_ids], range=[cols[f] for f in frame_ids])


def cluster_name(cluster_id: int, label: str) -> str:
    return f"{int(cluster_id)} · {label}"


def cluster_colours(cluster_ids: Sequence[int]) -> dict[int, str]:
    """A cluster's colour depends on its id only: the same on every page and chart."""
    return {int(c): CLUSTER_PALETTE[int(c) % len(CLUSTER_PALETTE)] for c in cluster_ids}


def cluster_scale(cluster_labels: Mapping[int, str], only: Sequence[int] | None = None) -> alt.Scale:
    """The colour scale of "id · label" names, the one every cluster chart uses (`only`: the
    clusters a chart shows, so its legend lists no others)."""
    ids = sorted(int(c) for c in (cluster_labels if only is None else set(only)))
    cols = cluster_colours(ids)
    return alt.Scale(domain=[cluster_name(c, cluster_labels[c]) for c in ids], range=[cols[c] for c in ids])


def time_x(period: str, field: str = A.PERIOD_START) -> alt.X:
    """The period axis: dates by week, months by month, "2024 Q1" by quarter."""
    if period == "quarter":
        axis = alt.Axis(labelExpr="timeFormat(datum.value, '%Y') + ' Q' + (floor(month(datum.value) / 3) + 1)",
                        tickCount={"interval": "month", "step": 3})
    elif period == "month":
        axis = alt.Axis(format="%b %Y")
    else:
        axis = alt.Axis(format="%d %b %Y")
    return alt.X(f"{field}:T", title=None, axis=axis)


def _pct(field: str, title: str) -> alt.Tooltip:
    return alt.Tooltip(f"{field}:Q", title=title, format=".1%")


def _share_tooltips() -> list[alt.Tooltip]:
    return [
        _pct(A.SHARE, "share"),
        alt.Tooltip(f"{A.COUNT}:Q", title="passages with frame"),
        alt.Tooltip(f"{A.N_PASSAGES}:Q", title="n (passages)"),
        _pct(A.CI_LOW, "95% CI low"),
        _pct(A.CI_HIGH, "95% CI high"),
        _pct(A.ARTICLE_SHARE, "article share"),
        alt.Tooltip(f"{A.ARTICLES_WITH}:Q", title="articles with frame"),
        alt.Tooltip(f"{A.N_ARTICLES}:Q", title="n (articles)"),
        alt.Tooltip("cell:N", title="cell"),
    ]


def thin_label(min_n: int) -> str:
    return f"thin (< {min_n} articles)"


def _with_labels(df: pd.DataFrame, labels: Mapping[str, str], min_n: int) -> pd.DataFrame:
    out = df.copy()
    out["frame"] = out[S.FRAME_ID].map(lambda f: labels.get(f, f))
    out["cell"] = out[A.THIN].map({True: thin_label(min_n), False: "ok"})
    return out


# --- overview ------------------------------------------------------------------------------


def volume_chart(volume: pd.DataFrame, measure: str = "n_articles", title: str = "Articles per period",
                 period: str = "month") -> alt.Chart:
    """Stacked bars of articles (or passages) per period, coloured by outlet."""
    df = volume[volume[A.PERIOD] != S.UNDATED]
    return laid_out(
        alt.Chart(df, title=title)
        .mark_bar()
        .encode(
            x=time_x(period),
            y=alt.Y(f"sum({measure}):Q", title=measure.replace("n_", "").replace("_", " ")),
            color=alt.Color(f"{S.OUTLET}:N", title="Outlet", scale=alt.Scale(scheme="tableau10"), legend=LEGEND),
            tooltip=[alt.Tooltip(f"{A.PERIOD}:N", title="period"), alt.Tooltip(f"{S.OUTLET}:N"),
                     alt.Tooltip(f"{measure}:Q", title=measure.replace("_", " "))],
        )
        .properties(height=280)
    )


def frame_share_bars(shares: pd.DataFrame, labels: Mapping[str, str], frame_ids: Sequence[str], min_n: int = 5) -> alt.Chart:
    """Share of passages carrying each frame, with its 95 % interval."""
    df = _with_labels(shares, labels, min_n)
    order = df.sort_values(A.SHARE, ascending=False)["frame"].tolist()
    base = alt.Chart(df)
    y = alt.Y("frame:N", sort=order, title=None, axis=category_axis())
    bars = base.mark_bar().encode(
        x=alt.X(f"{A.SHARE}:Q", title="share of passages", axis=alt.Axis(format="%")),
        y=y,
        color=alt.Color("frame:N", scale=_frame_scale(labels, frame_ids), legend=None),
        tooltip=[alt.Tooltip("frame:N"), *_share_tooltips()],
    )
    err = base.mark_rule(color="#333").encode(x=f"{A.CI_LOW}:Q", x2=f"{A.CI_HIGH}:Q", y=y)
    return laid_out((bars + err).properties(title="Frame shares (passages carrying each frame)", height=rows_height(len(order))))


def cluster_size_bars(clusters: pd.DataFrame, cluster_labels: Mapping[int, str], top: int = 10) -> alt.Chart:
    """The largest clusters under the filters (the table's n_passages), in their page-wide colours."""
    df = clusters.sort_values("n_passages", ascending=False).head(top).copy()
    df["cluster"] = [cluster_name(c, lab) for c, lab in zip(df[S.CLUSTER_ID], df["label"], strict=True)]
    tips = ["cluster:N", alt.Tooltip("n_passages:Q", title="passages (filtered)")]
    if "n_passages_unfiltered" in df:
        tips.append(alt.Tooltip("n_passages_unfiltered:Q", title="passages (whole run)"))
    tips += ["n_articles:Q", "n_outlets:Q", alt.Tooltip("share:Q", format=".1%"),
             alt.Tooltip("top_terms:N", title="top terms")]
    return laid_out(
        alt.Chart(df, title=f"Largest clusters (top {min(top, len(df))}, under the filter)")
        .mark_bar()
        .encode(
            x=alt.X("n_passages:Q", title="passages"),
            y=alt.Y("cluster:N", sort="-x", title=None, axis=category_axis()),
            color=alt.Color("cluster:N", scale=cluster_scale(cluster_labels), legend=None),
            tooltip=tips,
        )
        .properties(height=rows_height(len(df)))
    )


# --- clusters ------------------------------------------------------------------------------


def cluster_map(points: pd.DataFrame, cluster_labels: Mapping[int, str], method: str = "PCA") -> alt.Chart:
    """The 2-D passage map (PCA or UMAP), coloured by cluster; clicking a point selects its cluster."""
    df = points.copy()
    df["cluster"] = df[S.CLUSTER_ID].astype(str) + " · " + df["cluster_label"].astype(str)
    df["day"] = pd.to_datetime(df[S.DATE]).dt.strftime("%Y-%m-%d").fillna(S.UNDATED)
    pick = alt.selection_point(name=CLUSTER_SELECT, fields=[S.CLUSTER_ID], on="click")
    return (
        alt.Chart(df, title=f"Passage map ({method} of the embeddings)")
        .mark_circle(size=28)
        .encode(
            x=alt.X("map_x:Q", title=None, axis=alt.Axis(labels=False, ticks=False)),
            y=alt.Y("map_y:Q", title=None, axis=alt.Axis(labels=False, ticks=False)),
            color=alt.Color("cluster:N", title="Cluster", scale=cluster_scale(cluster_labels), legend=LEGEND),
            opacity=alt.condition(pick, alt.value(0.85), alt.value(0.12)),
            tooltip=[alt.Tooltip("cluster:N"), alt.Tooltip(f"{S.OUTLET}:N", title="outlet"),
                     alt.Tooltip("day:N", title="date"), alt.Tooltip(f"{S.TITLE}:N", title="title"),
                     alt.Tooltip("snippet:N", title="passage")],
        )
        .add_params(pick)
        .properties(height=460)
    )


def cluster_timeline(over_time: pd.DataFrame, cluster_id: int, colour: str, period: str = "month") -> alt.Chart:
    df = over_time[(over_time[S.CLUSTER_ID] == cluster_id) & (over_time[A.PERIOD] != S.UNDATED)]
    return laid_out(
        alt.Chart(df, title=f"Volume of this cluster per {period}")
        .mark_bar(color=colour)
        .encode(
            x=time_x(period),
            y=alt.Y(f"{A.COUNT}:Q", title="passages"),
            opacity=alt.condition(alt.datum[A.THIN], alt.value(0.4), alt.value(1.0)),
            tooltip=[alt.Tooltip(f"{A.PERIOD}:N", title="period"), alt.Tooltip(f"{A.COUNT}:Q", title="passages"),
                     alt.Tooltip(f"{A.N_PASSAGES}:Q", title="all passages in period"), _pct(A.SHARE, "share"),
                     _pct(A.CI_LOW, "95% CI low"), _pct(A.CI_HIGH, "95% CI high")],
        )
        .properties(height=220)
    )


def bar_counts(df: pd.DataFrame, category: str, value: str, title: str, colour: str = "#4c78a8") -> alt.Chart:
    return laid_out(
        alt.Chart(df, title=title)
        .mark_bar(color=colour)
        .encode(x=alt.X(f"{value}:Q", title=value.replace("_", " ")),
                y=alt.Y(f"{category}:N", sort="-x", title=None, axis=category_axis()),
                tooltip=[f"{category}:N", f"{value}:Q"])
        .properties(height=rows_height(len(df)))
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
) -> alt.FacetChart:
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
    data = pd.concat(parts, ignore_index=True)
    colour = alt.Color("frame:N", title="Frame", scale=_frame_scale(labels, frame_ids), legend=None)
    pick = alt.selection_point(name=FRAME_SELECT, fields=[A.PERIOD, S.FRAME_ID], on="click")
    cells = alt.Chart().transform_filter("datum.kind == 'cell'").encode(x=time_x(period), color=colour)
    y = alt.Y(f"{A.SHARE}:Q", title="share of passages", axis=alt.Axis(format="%", tickCount=4))
    band = cells.mark_area(opacity=0.18).encode(y=alt.Y(f"{A.CI_LOW}:Q"), y2=f"{A.CI_HIGH}:Q")
    line = cells.mark_line(strokeWidth=1.5, invalid=None).encode(y=y)  # invalid=null: an empty period breaks the line
    points = cells.mark_point(size=30, filled=True).encode(
        y=y,
        shape=alt.Shape("cell:N", title="Cell", scale=alt.Scale(domain=["ok", thin_label(min_n)],
                                                                  range=["circle", "triangle-up"])),
        opacity=alt.condition(alt.datum[A.THIN], alt.value(0.35), alt.value(1.0)),
        tooltip=[alt.Tooltip(f"{A.PERIOD}:N", title="period"), alt.Tooltip("frame:N"), *_share_tooltips()],
    ).add_params(pick)
    layers = [band, line, points]
    if rolling > 1:
        layers.append(cells.mark_line(strokeDash=[5, 3], strokeWidth=1.5, color="#222").encode(
            y=alt.Y("rolling:Q"), tooltip=[alt.Tooltip(f"{A.PERIOD}:N", title="period"),
                                           _pct("rolling", f"rolling mean ({rolling} periods)")]))
    if len(parts) > 1:
        layers.append(alt.Chart().transform_filter("datum.kind == 'event'").mark_rule(
            color="#666", strokeDash=[2, 2], strokeWidth=1).encode(
            x=alt.X("event_date:T"), tooltip=[alt.Tooltip("event:N"), alt.Tooltip("event_date:T", title="date")]))
    title = "Frame shares over time, one panel per frame (band: 95% interval; click a point to list its passages)"
    return laid_out(
        alt.layer(*layers, data=data)
        .properties(width=250, height=120)
        .facet(facet=alt.Facet("frame:N", sort=order, title=None,
                               header=alt.Header(labelFontSize=12, labelLimit=300, labelFontWeight="bold")),
               columns=3)
        .resolve_scale(y="shared")
        .properties(title=title)
    )


def outlet_label(outlet: str, n: int, min_n: int = THIN_OUTLET_N) -> str:
    """An outlet with its passage count, flagged when too few passages stand behind it."""
    return f"{outlet} (n={n:,}{', thin' if n < min_n else ''})"


def frames_outlet_heatmap(table: pd.DataFrame, labels: Mapping[str, str], frame_ids: Sequence[str], min_n: int = 5) -> alt.Chart:
    df = _with_labels(table, labels, min_n)
    df["text"] = df.apply(lambda r: "" if pd.isna(r[A.SHARE]) else f"{r[A.SHARE]:.0%}" + ("*" if r[A.THIN] else ""), axis=1)
    n_of = df.groupby(S.OUTLET)[A.N_PASSAGES].first()
    df["outlet_n"] = df[S.OUTLET].map(lambda o: outlet_label(o, int(n_of[o])))
    pick = alt.selection_point(name=HEATMAP_SELECT, fields=[S.OUTLET, S.FRAME_ID], on="click")
    order = [labels.get(f, f) for f in frame_ids]
    base = alt.Chart(df).encode(
        x=alt.X("frame:N", sort=order, title=None, axis=category_axis(170, labelAngle=-30)),
        y=alt.Y("outlet_n:N", title=None, axis=category_axis(), sort=sorted(df["outlet_n"].unique())),
    )
    rect = base.mark_rect().encode(
        color=alt.Color(f"{A.SHARE}:Q", title="share", scale=alt.Scale(scheme="blues"), legend=alt.Legend(format="%")),
        opacity=alt.condition(alt.datum[A.THIN], alt.value(0.35), alt.value(1.0)),
        tooltip=[alt.Tooltip(f"{S.OUTLET}:N", title="outlet"), alt.Tooltip("frame:N"), *_share_tooltips()],
    ).add_params(pick)
    text = base.mark_text(fontSize=10).encode(
        text="text:N",
        color=alt.condition(alt.datum[A.SHARE] > 0.45, alt.value("white"), alt.value("#222")),
    )
    n_outlets = df[S.OUTLET].nunique()
    return laid_out((rect + text).properties(title="Frames by outlet (* = thin cell)", height=rows_height(n_outlets, 200)))


def outlet_period_multiples(table: pd.DataFrame, labels: Mapping[str, str], frame_id: str, min_n: int = 5, *,
                            period: str = "month") -> alt.FacetChart:
    """One frame's share per period in one panel per outlet, with its 95 % band (one line per
    panel, not nine: readable)."""
    df = table[(table[A.PERIOD] != S.UNDATED) & (table[S.FRAME_ID] == frame_id)]
    df = _with_labels(df, labels, min_n)
    n_of = df.groupby(S.OUTLET)[A.N_PASSAGES].sum()
    df["outlet_n"] = df[S.OUTLET].map(lambda o: outlet_label(o, int(n_of[o])))
    base = alt.Chart().encode(x=time_x(period))
    band = base.mark_area(opacity=0.2, color="#4c78a8").encode(y=alt.Y(f"{A.CI_LOW}:Q"), y2=f"{A.CI_HIGH}:Q")
    line = base.mark_line(strokeWidth=1.4, color="#4c78a8", point=alt.OverlayMarkDef(size=14)).encode(
        y=alt.Y(f"{A.SHARE}:Q", title="share", axis=alt.Axis(format="%", tickCount=4)),
        opacity=alt.condition(alt.datum[A.THIN], alt.value(0.3), alt.value(1.0)),
        tooltip=[alt.Tooltip(f"{S.OUTLET}:N", title="outlet"), alt.Tooltip(f"{A.PERIOD}:N", title="period"),
                 alt.Tooltip("frame:N"), *_share_tooltips()],
    )
    return laid_out(
        alt.layer(band, line, data=df)
        .properties(width=250, height=110)
        .facet(facet=alt.Facet("outlet_n:N", title=None, header=alt.Header(labelLimit=300, labelFontSize=12)),
               columns=3)
        .properties(title=f"{labels.get(frame_id, frame_id)}: share per {period} by outlet (faded: thin cells)")
    )


# --- outlets -------------------------------------------------------------------------------


def similarity_heatmap(table: pd.DataFrame, by: str = S.OUTLET, what: str = "frames") -> alt.Chart:
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
    base = alt.Chart(long).encode(
        x=alt.X("col:N", sort=order, title=None, axis=category_axis(200, labelAngle=-35)),
        y=alt.Y("row:N", sort=order, title=None, axis=category_axis()),
    )
    rect = base.mark_rect().encode(
        color=alt.Color("distance:Q", scale=alt.Scale(scheme="viridis", reverse=True, domain=[0, 1]), title="distance"),
        tooltip=[alt.Tooltip(f"{a}:N", title="outlet"), alt.Tooltip(f"{b}:N", title="compared with"),
                 alt.Tooltip("distance:Q", format=".3f"), alt.Tooltip("n_a:Q", title="passages (outlet)"),
                 alt.Tooltip("n_b:Q", title="passages (compared)")],
    )
    text = base.mark_text(fontSize=9).encode(
        text="text:N", color=alt.condition(alt.datum.distance < 0.5, alt.value("white"), alt.value("#222")))
    return laid_out((rect + text).properties(title=f"Jensen–Shannon distance between outlets ({what}); 0 = identical",
                                        height=rows_height(len(order), 220)))


def profile_chart(profile: pd.DataFrame, outlet: str) -> alt.Chart:
    """One outlet's distribution next to the rest of the corpus."""
    df = profile.melt(id_vars=["category", "name"], value_vars=["outlet", "rest_of_corpus"], var_name="who", value_name="share")
    df["who"] = df["who"].map({"outlet": outlet, "rest_of_corpus": "rest of corpus"})
    return laid_out(
        alt.Chart(df, title=f"{outlet} against the rest of the corpus")
        .mark_bar()
        .encode(
            x=alt.X("share:Q", axis=alt.Axis(format="%"), title="share"),
            y=alt.Y("name:N", title=None, sort=alt.SortField("category"), axis=category_axis()),
            yOffset="who:N",
            color=alt.Color("who:N", title=None, scale=alt.Scale(range=["#e45756", "#bab0ac"])),
            tooltip=["name:N", "who:N", alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(height=rows_height(2 * profile.shape[0], 200))
    )


# --- article -------------------------------------------------------------------------------


def frame_mix_bar(mix: pd.DataFrame, labels: Mapping[str, str], frame_ids: Sequence[str]) -> alt.Chart:
    return laid_out(
        alt.Chart(mix, title="Frame mix: share of this article's passages carrying each frame")
        .mark_bar()
        .encode(
            x=alt.X("share:Q", axis=alt.Axis(format="%"), title="share of passages", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("frame:N", sort=[labels.get(f, f) for f in frame_ids], title=None, axis=category_axis()),
            color=alt.Color("frame:N", scale=_frame_scale(labels, frame_ids), legend=None),
            tooltip=["frame:N", "passages:Q", alt.Tooltip("share:Q", format=".0%"), alt.Tooltip("mean_score:Q", format=".2f")],
        )
        .properties(height=rows_height(len(mix)))
    )


def article_strip(passages: pd.DataFrame, labels: Mapping[str, str], frame_ids: Sequence[str],
                  cluster_labels: Mapping[int, str] | None = None) -> alt.Chart:
    """One block per passage, in reading order: top row by dominant frame, bottom row by cluster
    (in the clusters' page-wide colours)."""
    df = passages.copy()
    df["passage"] = df[S.POSITION].astype(int) + 1
    df["frame"] = df[S.DOMINANT_FRAME].map(lambda f: labels.get(f, "no frame" if f == S.NO_FRAME else f))
    df["snippet"] = df[S.TEXT].map(lambda t: " ".join(str(t).split())[:160])
    cols = {labels.get(f, f): c for f, c in frame_colours(frame_ids).items()} | {"no frame": "#dddddd"}
    dom = [lab for lab in cols if lab in set(df["frame"])]
    rng = [cols[lab] for lab in dom]
    frames = alt.Chart(df, title="Passages by dominant frame").mark_rect(stroke="white").encode(
        x=alt.X("passage:O", title="passage"),
        color=alt.Color("frame:N", scale=alt.Scale(domain=dom, range=rng), title="Dominant frame", legend=LEGEND),
        tooltip=["passage:O", "frame:N", "snippet:N"],
    ).properties(height=40)
    if "cluster_label" not in df:
        return laid_out(frames)
    df["cluster"] = [cluster_name(c, lab) for c, lab in zip(df[S.CLUSTER_ID], df["cluster_label"], strict=True)]
    labels_of = dict(cluster_labels or {}) or dict(zip(df[S.CLUSTER_ID].astype(int), df["cluster_label"], strict=False))
    clusters = alt.Chart(df, title="Passages by cluster").mark_rect(stroke="white").encode(
        x=alt.X("passage:O", title="passage"),
        color=alt.Color("cluster:N", scale=cluster_scale(labels_of, df[S.CLUSTER_ID].astype(int).unique()),
                        title="Cluster", legend=LEGEND),
        tooltip=["passage:O", "cluster:N", "snippet:N"],
    ).properties(height=40)
    return laid_out(alt.vconcat(frames, clusters).resolve_scale(color="independent"))


# --- compare -------------------------------------------------------------------------------


def difference_chart(diff: pd.DataFrame, title: str, side_a: str, side_b: str) -> alt.Chart:
    """Share difference (a − b) per category with its 95 % interval; a rule at zero."""
    df = diff.assign(side=diff["difference"].ge(0).map({True: side_a, False: side_b}))
    base = alt.Chart(df)
    y = alt.Y("name:N", sort=df["name"].tolist(), title=None, axis=alt.Axis(labelLimit=260, labelOverlap=False))
    bars = base.mark_bar().encode(
        x=alt.X("difference:Q", axis=alt.Axis(format="+%"), title=f"share in {side_a} − share in {side_b}"),
        y=y, color=alt.Color("side:N", title="more in", legend=LEGEND),
        tooltip=["name:N", alt.Tooltip("share_a:Q", format=".1%", title=side_a),
                 alt.Tooltip("share_b:Q", format=".1%", title=side_b), alt.Tooltip("difference:Q", format="+.1%"),
                 alt.Tooltip("ci_low:Q", format="+.1%", title="95% CI low"),
                 alt.Tooltip("ci_high:Q", format="+.1%", title="95% CI high")],
    )
    ci = base.mark_rule(color="#333").encode(x="ci_low:Q", x2="ci_high:Q", y=y)
    zero = alt.Chart(pd.DataFrame({"x": [0]})).mark_rule(color="#999").encode(x="x:Q")
    return laid_out(alt.layer(bars, ci, zero).properties(title=title, height=max(160, 26 * len(df))))
