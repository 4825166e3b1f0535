"""The validation workflow in a real browser: two coders code the same 50 passages on the
Validate page (one with the mouse, one with the keyboard shortcuts), then the agreement and
machine-vs-human tables appear and the report downloads as CSV and Markdown.

The server is test_browser's, over a store seeded with the 25-article test corpus (about 100
passages, analysed with the real model in a minute or two even on a busy machine).
"""

from __future__ import annotations

import csv
import io
import tempfile
import time
from pathlib import Path

import pytest

from analysis.codebook import load_codebook
from analysis.coding import LabelBook
from analysis.config import DEFAULT_CODEBOOK
from analysis.store import Store
from test_browser import (  # noqa: F401
    TIMINGS, charts_rendered, idle, live_server, nav, no_traceback, open_tab, page, require_chromium, shot)

pytestmark = pytest.mark.browser
N = 50
SMALL = Path(__file__).resolve().parent / "fixtures" / "small_corpus.csv"


@pytest.fixture(scope="module")
def server():
    """A live server whose store already holds the small corpus (so no demo import)."""
    from analysis.ingest import ingest

    require_chromium()
    tmp = Path(tempfile.mkdtemp(prefix="framescope-browser-validate-"))
    result = ingest([SMALL])
    store = Store(tmp / "fs.db")
    info = store.add_dataset("Small corpus", result.articles, result.rejected, [(f.name, f.sha256) for f in result.files])
    # the run the dashboard asks for, computed here first: a browser polling a running analysis
    # starves it of the GIL on a loaded machine
    from analysis.config import PipelineConfig
    from analysis.pipeline import articles_digest
    from dashboard import runs

    articles = store.articles([info.dataset_id])
    spec = runs.make_spec([info.dataset_id], articles_digest(articles), PipelineConfig(codebook=str(DEFAULT_CODEBOOK)),
                          len(articles))
    runs.ensure_run(store, spec)
    assert runs.wait(store, spec.key, timeout=1200).status == "done"
    store.close()
    with live_server(tmp) as srv:
        yield srv


def _passage(pg) -> str:
    return pg.get_by_test_id("stText").all_inner_texts()[-1]


def _code(pg, coder: str, keyboard: bool) -> list[str]:
    box = pg.get_by_label("Coder name")
    box.fill(coder)
    box.press("Enter")
    idle(pg)
    pg.get_by_text(f"Passage 1 of {N}").wait_for(timeout=60_000)
    seen = []
    for i in range(N):
        seen.append(_passage(pg))
        frames = [i % 9] if i % 4 else [i % 9, (i + 4) % 9]
        if coder == "bob" and i % 5 == 0:
            frames = [(i + 1) % 9]  # bob disagrees now and then
        if keyboard:
            pg.get_by_test_id("stMain").get_by_role("heading").first.click()  # focus off the name box
            for j in frames:
                pg.keyboard.press(str(j + 1))
                idle(pg)
            pg.keyboard.press("Enter")
        else:
            checks = pg.get_by_test_id("stMain").get_by_test_id("stCheckbox")  # not the sidebar's toggles
            for j in frames:
                checks.nth(j).click()
                idle(pg)
            pg.get_by_role("button", name="Save and next").click()
        idle(pg)
        if i + 1 < N:
            pg.get_by_text(f"Passage {i + 2} of {N}").wait_for(timeout=30_000)
    pg.get_by_text("End of the sample").wait_for(timeout=30_000)
    return seen


@pytest.mark.timeout(2700)  # setup analyses the corpus; 100 codings on a shared 2-core machine
def test_two_coders_code_the_same_50_passages_and_download_the_report(server, page):
    page.goto(server["url"])
    page.get_by_text("Largest clusters", exact=False).first.wait_for(timeout=900_000)  # the run is done
    idle(page)
    nav(page, "Validate")
    t0 = time.perf_counter()
    ann = _code(page, "ann", keyboard=False)
    TIMINGS["validate_code_50_mouse_s"] = round(time.perf_counter() - t0, 2)
    no_traceback(page)
    shot(page, "validate_end_of_sample")
    t0 = time.perf_counter()
    bob = _code(page, "bob", keyboard=True)
    TIMINGS["validate_code_50_keyboard_s"] = round(time.perf_counter() - t0, 2)
    assert ann == bob and len(set(ann)) == N  # the same 50 passages in the same order
    book = LabelBook(Store(server["db"]), load_codebook(DEFAULT_CODEBOOK))
    labels = book.table()
    assert len(labels) == 2 * N and labels.groupby("coder")["text_hash"].nunique().to_dict() == {"ann": N, "bob": N}
    mine = book.of("ann")
    assert sum(len(v) for v in mine.values()) == sum(1 if i % 4 == 0 else 0 for i in range(N)) + N

    page.get_by_test_id("stButtonGroup").get_by_text("Agreement").click()
    idle(page)
    page.get_by_text("Agreement between coders").wait_for(timeout=120_000)
    page.get_by_text("Machine vs human").wait_for(timeout=60_000)
    assert page.get_by_test_id("stDataFrame").count() >= 2
    no_traceback(page)
    shot(page, "validate_agreement")
    with page.expect_download(timeout=60_000) as info:
        page.get_by_test_id("stDownloadButton").filter(has_text="report (CSV)").locator("button").click()
    rows = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text(encoding="utf-8-sig"))))
    assert len(rows) == 18 and {"frame_id", "setting", "precision", "precision_low", "alpha", "alpha_coders"} <= set(rows[0])
    assert all(r["n"] == str(N) for r in rows)
    alphas = [float(r["alpha_coders"]) for r in rows if r["alpha_coders"]]
    assert alphas and all(0.3 < a <= 1 for a in alphas)  # the coders agree on 4 passages of 5
    with page.expect_download(timeout=60_000) as info:
        page.get_by_test_id("stDownloadButton").filter(has_text="report (Markdown)").locator("button").click()
    md = Path(info.value.path()).read_text(encoding="utf-8")
    assert f"2 coder(s) (ann, bob) coded {N} passages" in md and "Krippendorff" in md and "| F1 |" in md
    nav(page, "Frames")
    charts_rendered(page, 1, timeout=120_000)
    assert page.get_by_text("validated: α", exact=False).count() + page.get_by_text("not yet validated").count() > 0
    open_tab(page, "Corrected shares")
    page.get_by_text("Shares corrected for the classifier").wait_for(timeout=120_000)
    no_traceback(page)
    shot(page, "validate_frames_corrected")
