"""Download buttons: every table as CSV and XLSX (with the manifest), every chart as PNG and SVG.

The payloads come from pure functions (`table_payload`, `chart_payload`) over the library's
exporters, so tests check the bytes; the buttons generate them only when clicked
(`data=` a callable) and do not rerun the page (`on_click="ignore"`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

import pandas as pd
import streamlit as st

from analysis.export import export_filename, to_csv_bytes, to_xlsx_bytes

log = logging.getLogger(__name__)

MIME = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "png": "image/png",
    "svg": "image/svg+xml",
}
EXPORT_WIDTH = 820
XLSX_MAX_ROWS = 1_048_575  # rows per sheet after the header


def table_payload(name: str, df: pd.DataFrame, fmt: str, manifest: Mapping[str, Any] | None = None) -> bytes:
    """CSV (formula-safe, UTF-8 with BOM) or XLSX with a manifest sheet."""
    if fmt == "csv":
        return to_csv_bytes(df)
    if fmt == "xlsx":
        return to_xlsx_bytes({name: df}, public_manifest(dict(manifest or {})))
    raise ValueError(f"unknown table format {fmt!r}")


def public_manifest(value: Any) -> Any:
    """The manifest as a download may show it: an absolute path of this server (codebook file,
    local model folder) becomes its last component; everything else is kept."""
    if isinstance(value, Mapping):
        return {k: public_manifest(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [public_manifest(v) for v in value]
    if isinstance(value, str) and (PurePosixPath(value).is_absolute() or PureWindowsPath(value).is_absolute()):
        return PurePosixPath(value.replace("\\", "/")).name
    return value


def export_spec(chart: dict[str, Any]) -> dict[str, Any]:
    """A chart's Vega-Lite spec with a fixed width (the page's charts stretch to the container)."""
    spec = dict(chart)
    if not any(k in spec for k in ("facet", "vconcat", "hconcat", "concat", "repeat")) and "width" not in spec:
        spec["width"] = EXPORT_WIDTH
    return spec


def chart_payload(chart: dict[str, Any], fmt: str) -> bytes:
    """PNG (2× scale) or SVG of a chart, rendered by vl-convert without a browser."""
    import vl_convert as vlc

    spec = json.dumps(export_spec(chart))
    if fmt == "png":
        return vlc.vegalite_to_png(spec, scale=2)
    if fmt == "svg":
        return vlc.vegalite_to_svg(spec).encode("utf-8")
    raise ValueError(f"unknown chart format {fmt!r}")


@dataclass(frozen=True)
class Deferred:
    """A table read or computed only when its download is clicked (e.g. every frames row of a
    filtered view, passages × frames rows), with its row count for the caption when it is known
    beforehand."""

    n_rows: int | None
    make: Callable[[], pd.DataFrame]


def table_buttons(name: str, df: pd.DataFrame | Deferred, manifest: Mapping[str, Any] | None, key: str) -> None:
    """Two buttons: the table as CSV and as XLSX with the manifest."""
    n = df.n_rows if isinstance(df, Deferred) else len(df)
    cols = st.columns([3, 1, 1], vertical_alignment="center")
    cols[0].caption(f"{name.replace('_', ' ')} · " + ("made when downloaded" if n is None else f"{n:,} rows"))
    for col, fmt in zip(cols[1:], ("csv", "xlsx"), strict=True):
        too_big = fmt == "xlsx" and n is not None and n >= XLSX_MAX_ROWS
        col.download_button(
            fmt.upper(), data=_lazy_table(name, df, fmt, manifest), file_name=export_filename(name, fmt),
            mime=MIME[fmt], key=f"dl_{key}_{name}_{fmt}", on_click="ignore", icon=":material/download:",
            disabled=too_big, help="Too many rows for one Excel sheet; download the CSV." if too_big else None,
        )


def chart_buttons(name: str, chart: dict[str, Any], key: str) -> None:
    cols = st.columns([3, 1, 1], vertical_alignment="center")
    cols[0].caption(f"chart: {name.replace('_', ' ')}")
    for col, fmt in zip(cols[1:], ("png", "svg"), strict=True):
        col.download_button(
            fmt.upper(), data=_lazy_chart(chart, fmt), file_name=export_filename(name, fmt), mime=MIME[fmt],
            key=f"dl_{key}_{name}_{fmt}", on_click="ignore", icon=":material/image:",
        )


@st.fragment
def downloads(
    key: str,
    tables: Mapping[str, pd.DataFrame | Deferred],
    charts: Mapping[str, dict[str, Any]] | None = None,
    manifest: Mapping[str, Any] | None = None,
) -> None:
    """Every table and chart behind a page, behind a switch: the buttons are drawn only when
    asked for, and switching reruns only this fragment. Two buttons per table and chart, drawn
    on every visit of a page, cost its browser a third of a second on two cores."""
    with st.container(border=True):
        if st.toggle("Downloads: tables (CSV, XLSX) and charts (PNG, SVG)", key=f"dl_{key}_shown"):
            for name, df in tables.items():
                table_buttons(name, df, manifest, key)
            for name, chart in (charts or {}).items():
                chart_buttons(name, chart, key)


def _lazy_table(name: str, df: pd.DataFrame | Deferred, fmt: str, manifest: Mapping[str, Any] | None):
    def build() -> bytes:
        try:
            return table_payload(name, df.make() if isinstance(df, Deferred) else df, fmt, manifest)
        except Exception:  # never a traceback in the browser; the log keeps the details
            log.exception("table export failed")
            return b""

    return build


def _lazy_chart(chart: dict[str, Any], fmt: str):
    def build() -> bytes:
        try:
            return chart_payload(chart, fmt)
        except Exception:  # the button must not crash the page; the log keeps the details
            log.exception("chart export failed")
            return b""

    return build
