"""Framescope dashboard: `streamlit run dashboard/app.py`.

The router: page config, first-start demo import, the sidebar filters (mirrored in the URL)
and the pages. Every page runs inside `ui.guarded`, so a failure shows a short message,
never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # `streamlit run dashboard/app.py` puts only dashboard/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from dashboard import filters, state, ui  # noqa: E402

# What the pages import, imported by the server's first run instead of by each page's first visit
# (the Frames page's validation modules cost that visit 0.01-0.05 s at 10k articles; Search's and
# Compare's 0.07 s each). Once per server process, not per session.
import analysis.compare  # noqa: E402, F401
import analysis.search  # noqa: E402, F401
import analysis.similarity  # noqa: E402, F401
import dashboard.events  # noqa: E402, F401
import dashboard.validation  # noqa: E402, F401

HERE = Path(__file__).resolve().parent

PAGES = [
    ("views/overview.py", "Overview", ":material/dashboard:", "overview"),
    ("views/clusters.py", "Clusters", ":material/bubble_chart:", "clusters"),
    ("views/frames.py", "Frames", ":material/stacked_line_chart:", "frames"),
    ("views/outlets.py", "Outlets", ":material/grid_on:", "outlets"),
    ("views/search.py", "Search", ":material/search:", "search"),
    ("views/compare.py", "Compare", ":material/compare_arrows:", "compare"),
    ("views/article.py", "Article", ":material/article:", "article"),
    ("views/validate.py", "Validate", ":material/fact_check:", "validate"),
    ("views/data.py", "Data", ":material/database:", "data"),
]


def main() -> None:
    st.set_page_config(page_title="Framescope", page_icon=":material/travel_explore:", layout="wide")
    pages = [st.Page(HERE / path, title=title, icon=icon, url_path=url, default=(i == 0))
             for i, (path, title, icon, url) in enumerate(PAGES)]
    nav = st.navigation(pages)
    if nav.url_path != "data":
        state.release_upload()
    ready: list[bool] = []

    def setup() -> None:
        if not state.store().datasets():
            with st.spinner("First start: importing the demonstration corpus…"):
                state.ensure_demo()
        filters.set_filters(filters.sidebar())
        ready.append(True)

    with state.page_run():
        ui.guarded(setup)
        with st.sidebar:
            st.caption("Framescope · how news outlets frame the China–Russia partnership")
        if ready:
            ui.guarded(nav.run)
    state.prefetch_views()

main()
