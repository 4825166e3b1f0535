"""Every chart of the dashboard, as pure functions returning Altair charts (no Streamlit).

Colours are stable: a frame or a cluster keeps its colour on every chart. Shares carry their
denominator and interval in the tooltip; thin cells (fewer passages than the configured
minimum) are drawn faded with a hollow marker, never hidden.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import altair as alt
import pandas as pd

from analysis import aggregates as A
from analysis import schema as S

FRAME_PALETTE = [
    "#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#b279a2", "#eeca3b", "#9d755d",
    "#ff9da6", "#bab0ac", "#1f77b4", "#8c564b",
]
CLUSTER_SCHEME = "tableau20"
FRAME_SELECT = "frame_cell"
HEATMAP_SELECT = "outlet_cell"
CLUSTER_SELECT = "cluster_pick"
LEGEND = alt.Legend(labelLimit=260)
AXIS = alt.Axis(labelLimit=230)


def frame_colours(frame_ids: Sequence[str]) -> dict[str, str]:
    return {f: FRAME_PALETTE[i % len(FRAME_PALETTE)] for i, f in enumerate(frame_ids)}


def _frame_scale(labels: Mapping[str, str], frame_ids: Sequence[str]) -> alt.Scale:
    cols = frame_colours(frame_ids)
    return alt.Scale(domain=[labels.get(f, f) for f in frame_ids], range=[cols[f] for f in frame_ids])


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


def volume_chart(volume: pd.DataFrame, measure: str = "n_articles", title: str = "Articles per period") -> alt.Chart:
    """Stacked bars of articles (or passages) per period, coloured by outlet."""
    df = volume[volume[A.PERIOD] != S.UNDATED]
    return (
        alt.Chart(df, title=title)
        .mark_bar()
        .encode(
            x=alt.X(f"{A.PERIOD_START}:T", title=None),
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
    bars = base.mark_bar().encode(
        x=alt.X(f"{A.SHARE}:Q", title="share of passages", axis=alt.Axis(format="%")),
        y=alt.Y("frame:N", sort=order, title=None, axis=AXIS),
        color=alt.Color("frame:N", scale=_frame_scale(labels, frame_ids), legend=None),
        tooltip=[alt.Tooltip("frame:N"), *_share_tooltips()],
    )
    err = base.mark_rule(color="#333").encode(x=f"{A.CI_LOW}:Q", x2=f"{A.CI_HIGH}:Q", y=alt.Y("frame:N", sort=order))
    return (bars + err).properties(title="Frame shares (passages carrying each frame)", height=max(160, 32 * len(order)))


def cluster_size_bars(clusters: pd.DataFrame, top: int = 10) -> alt.Chart:
    df = clusters.sort_values("n_passages", ascending=False).head(top).copy()
    df["cluster"] = df[S.CLUSTER_ID].astype(str) + " · " + df["label"].astype(str)
    return (
        alt.Chart(df, title=f"Largest clusters (top {min(top, len(df))})")
        .mark_bar()
        .encode(
            x=alt.X("n_passages:Q", title="passages"),
            y=alt.Y("cluster:N", sort="-x", title=None, axis=AXIS),
            color=alt.Color(f"{S.CLUSTER_ID}:N", scale=alt.Scale(scheme=CLUSTER_SCHEME), legend=None),
            tooltip=["cluster:N", "n_passages:Q", "n_articles:Q", "n_outlets:Q", alt.Tooltip("share:Q", format=".1%"),
                     alt.Tooltip("top_terms:N", title="top terms")],
        )
        .properties(height=max(160, 32 * len(df)))
    )


# --- clusters ------------------------------------------------------------------------------


def cluster_map(points: pd.DataFrame) -> alt.Chart:
    """The 2-D passage map, coloured by cluster; clicking a point selects its cluster."""
    df = points.copy()
    df["cluster"] = df[S.CLUSTER_ID].astype(str) + " · " + df["cluster_label"].astype(str)
    df["day"] = pd.to_datetime(df[S.DATE]).dt.strftime("%Y-%m-%d").fillna(S.UNDATED)
    pick = alt.selection_point(name=CLUSTER_SELECT, fields=[S.CLUSTER_ID], on="click")
    return (
        alt.Chart(df, title="Passage map (PCA of the embeddings)")
        .mark_circle(size=28)
        .encode(
            x=alt.X("map_x:Q", title=None, axis=alt.Axis(labels=False, ticks=False)),
            y=alt.Y("map_y:Q", title=None, axis=alt.Axis(labels=False, ticks=False)),
            color=alt.Color("cluster:N", title="Cluster", scale=alt.Scale(scheme=CLUSTER_SCHEME), legend=LEGEND),
            opacity=alt.condition(pick, alt.value(0.85), alt.value(0.12)),
            tooltip=[alt.Tooltip("cluster:N"), alt.Tooltip(f"{S.OUTLET}:N", title="outlet"),
                     alt.Tooltip("day:N", title="date"), alt.Tooltip(f"{S.TITLE}:N", title="title"),
                     alt.Tooltip("snippet:N", title="passage")],
        )
        .add_params(pick)
        .properties(height=460)
    )


def cluster_timeline(over_time: pd.DataFrame, cluster_id: int) -> alt.Chart:
    df = over_time[(over_time[S.CLUSTER_ID] == cluster_id) & (over_time[A.PERIOD] != S.UNDATED)]
    return (
        alt.Chart(df, title="Volume of this cluster over time")
        .mark_bar(color="#4c78a8")
        .encode(
            x=alt.X(f"{A.PERIOD_START}:T", title=None),
            y=alt.Y(f"{A.COUNT}:Q", title="passages"),
            opacity=alt.condition(alt.datum[A.THIN], alt.value(0.4), alt.value(1.0)),
            tooltip=[alt.Tooltip(f"{A.PERIOD}:N", title="period"), alt.Tooltip(f"{A.COUNT}:Q", title="passages"),
                     alt.Tooltip(f"{A.N_PASSAGES}:Q", title="all passages in period"), _pct(A.SHARE, "share"),
                     _pct(A.CI_LOW, "95% CI low"), _pct(A.CI_HIGH, "95% CI high")],
        )
        .properties(height=220)
    )


def bar_counts(df: pd.DataFrame, category: str, value: str, title: str, colour: str = "#4c78a8") -> alt.Chart:
    return (
        alt.Chart(df, title=title)
        .mark_bar(color=colour)
        .encode(x=alt.X(f"{value}:Q", title=value.replace("_", " ")), y=alt.Y(f"{category}:N", sort="-x", title=None),
                tooltip=[f"{category}:N", f"{value}:Q"])
        .properties(height=max(140, 24 * len(df)))
    )


# --- frames --------------------------------------------------------------------------------


def frames_over_time(table: pd.DataFrame, labels: Mapping[str, str], frame_ids: Sequence[str], min_n: int = 5) -> alt.Chart:
    """Share of passages carrying each frame per period; a period without passages is a gap; thin cells faded."""
    df = _with_labels(table[table[A.PERIOD] != S.UNDATED], labels, min_n)
    colour = alt.Color("frame:N", title="Frame", scale=_frame_scale(labels, frame_ids), legend=LEGEND)
    pick = alt.selection_point(name=FRAME_SELECT, fields=[A.PERIOD, S.FRAME_ID], on="click")
    base = alt.Chart(df).encode(
        x=alt.X(f"{A.PERIOD_START}:T", title=None),
        y=alt.Y(f"{A.SHARE}:Q", title="share of passages", axis=alt.Axis(format="%")),
        color=colour,
    )
    line = base.mark_line(strokeWidth=1.6, opacity=0.8)
    points = base.mark_point(size=46, filled=True).encode(
        shape=alt.Shape("cell:N", title="Cell", scale=alt.Scale(domain=["ok", thin_label(min_n)],
                                                                  range=["circle", "triangle-up"])),
        opacity=alt.condition(alt.datum[A.THIN], alt.value(0.35), alt.value(1.0)),
        tooltip=[alt.Tooltip(f"{A.PERIOD}:N", title="period"), alt.Tooltip("frame:N"), *_share_tooltips()],
    ).add_params(pick)
    return (line + points).properties(title="Frame shares over time (click a point to list its passages)", height=360)


def frames_outlet_heatmap(table: pd.DataFrame, labels: Mapping[str, str], frame_ids: Sequence[str], min_n: int = 5) -> alt.Chart:
    df = _with_labels(table, labels, min_n)
    df["text"] = df.apply(lambda r: "" if pd.isna(r[A.SHARE]) else f"{r[A.SHARE]:.0%}" + ("*" if r[A.THIN] else ""), axis=1)
    pick = alt.selection_point(name=HEATMAP_SELECT, fields=[S.OUTLET, S.FRAME_ID], on="click")
    order = [labels.get(f, f) for f in frame_ids]
    base = alt.Chart(df).encode(
        x=alt.X("frame:N", sort=order, title=None, axis=alt.Axis(labelAngle=-30, labelLimit=160)),
        y=alt.Y(f"{S.OUTLET}:N", title=None, axis=AXIS),
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
    return (rect + text).properties(title="Frames by outlet (* = thin cell)", height=max(200, 28 * n_outlets))


def outlet_period_multiples(table: pd.DataFrame, labels: Mapping[str, str], frame_ids: Sequence[str], min_n: int = 5) -> alt.Chart:
    df = _with_labels(table[table[A.PERIOD] != S.UNDATED], labels, min_n)
    return (
        alt.Chart(df)
        .mark_line(strokeWidth=1.2, point=alt.OverlayMarkDef(size=10))
        .encode(
            x=alt.X(f"{A.PERIOD_START}:T", title=None),
            y=alt.Y(f"{A.SHARE}:Q", title="share", axis=alt.Axis(format="%")),
            color=alt.Color("frame:N", title="Frame", scale=_frame_scale(labels, frame_ids), legend=LEGEND),
            opacity=alt.condition(alt.datum[A.THIN], alt.value(0.3), alt.value(1.0)),
            tooltip=[alt.Tooltip(f"{S.OUTLET}:N", title="outlet"), alt.Tooltip(f"{A.PERIOD}:N", title="period"),
                     alt.Tooltip("frame:N"), *_share_tooltips()],
        )
        .properties(width=250, height=120)
        .facet(facet=alt.Facet(f"{S.OUTLET}:N", title=None), columns=3)
        .properties(title="Outlet × period (faded points: thin cells)")
    )


# --- outlets -------------------------------------------------------------------------------


def similarity_heatmap(table: pd.DataFrame, by: str = S.OUTLET, what: str = "frames") -> alt.Chart:
    """Heatmap of the outlet_similarity table's frame or cluster distances, in its hierarchical order."""
    a, b = f"{by}_a", f"{by}_b"
    prefix = "frame" if what == "frames" else "cluster"
    long = table.rename(columns={f"{prefix}_jsd": "distance", f"{prefix}_order_a": "order_a"})
    order = long.drop_duplicates(a).sort_values("order_a")[a].tolist()
    return (
        alt.Chart(long[[a, b, "distance", "order_a", "n_a", "n_b"]],
                  title=f"Jensen–Shannon distance between outlets ({what}); 0 = identical")
        .mark_rect()
        .encode(
            x=alt.X(f"{b}:N", sort=order, title=None, axis=alt.Axis(labelAngle=-35, labelLimit=200)),
            y=alt.Y(f"{a}:N", sort=order, title=None, axis=AXIS),
            color=alt.Color("distance:Q", scale=alt.Scale(scheme="viridis", reverse=True, domain=[0, 1]), title="distance"),
            tooltip=[alt.Tooltip(f"{a}:N", title="outlet"), alt.Tooltip(f"{b}:N", title="compared with"),
                     alt.Tooltip("distance:Q", format=".3f"), alt.Tooltip("n_a:Q", title="passages (outlet)"),
                     alt.Tooltip("n_b:Q", title="passages (compared)")],
        )
        .properties(height=max(220, 30 * len(order)))
    )


def profile_chart(profile: pd.DataFrame, outlet: str) -> alt.Chart:
    """One outlet's distribution next to the rest of the corpus."""
    df = profile.melt(id_vars=["category", "name"], value_vars=["outlet", "rest_of_corpus"], var_name="who", value_name="share")
    df["who"] = df["who"].map({"outlet": outlet, "rest_of_corpus": "rest of corpus"})
    return (
        alt.Chart(df, title=f"{outlet} against the rest of the corpus")
        .mark_bar()
        .encode(
            x=alt.X("share:Q", axis=alt.Axis(format="%"), title="share"),
            y=alt.Y("name:N", title=None, sort=alt.SortField("category"), axis=AXIS),
            yOffset="who:N",
            color=alt.Color("who:N", title=None, scale=alt.Scale(range=["#e45756", "#bab0ac"])),
            tooltip=["name:N", "who:N", alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(height=max(200, 40 * profile.shape[0]))
    )


# --- article -------------------------------------------------------------------------------


def frame_mix_bar(mix: pd.DataFrame, labels: Mapping[str, str], frame_ids: Sequence[str]) -> alt.Chart:
    return (
        alt.Chart(mix, title="Frame mix: share of this article's passages carrying each frame")
        .mark_bar()
        .encode(
            x=alt.X("share:Q", axis=alt.Axis(format="%"), title="share of passages", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("frame:N", sort=[labels.get(f, f) for f in frame_ids], title=None, axis=AXIS),
            color=alt.Color("frame:N", scale=_frame_scale(labels, frame_ids), legend=None),
            tooltip=["frame:N", "passages:Q", alt.Tooltip("share:Q", format=".0%"), alt.Tooltip("mean_score:Q", format=".2f")],
        )
        .properties(height=max(160, 30 * len(mix)))
    )


def article_strip(passages: pd.DataFrame, labels: Mapping[str, str], frame_ids: Sequence[str]) -> alt.Chart:
    """One block per passage, in reading order: top row by dominant frame, bottom row by cluster."""
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
        return frames
    df["cluster"] = df[S.CLUSTER_ID].astype(str) + " · " + df["cluster_label"].astype(str)
    clusters = alt.Chart(df, title="Passages by cluster").mark_rect(stroke="white").encode(
        x=alt.X("passage:O", title="passage"),
        color=alt.Color("cluster:N", scale=alt.Scale(scheme=CLUSTER_SCHEME), title="Cluster", legend=LEGEND),
        tooltip=["passage:O", "cluster:N", "snippet:N"],
    ).properties(height=40)
    return alt.vconcat(frames, clusters).resolve_scale(color="independent")
