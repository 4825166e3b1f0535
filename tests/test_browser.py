"""The dashboard in a real browser: Debian's Chromium driven by Playwright against a live server.

The server starts on a free port with an empty store, so the first start imports and analyses
the real demonstration corpus (340 articles) exactly as on a fresh machine. The tests run in
order on one page; screenshots and timings go to test-output/browser/. Where Debian's Chromium
is absent they skip with that reason, so the README's test command passes on a fresh machine;
`.ci/run` installs Chromium and sets FRAMESCOPE_REQUIRE_BROWSER=1, under which a missing
browser fails the run instead of skipping.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from analysis.store import Store
from dashboard.charts import RENDERER_ENV

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "test-output" / "browser"
CHROMIUM = "/usr/bin/chromium"
TIMINGS: dict[str, float] = {}

GOOD_CSV = (
    "title,text,outlet,date\n"
    "Pipeline talks resume,\"Gazprom and CNPC resumed talks on the Power of Siberia 2 pipeline, with price still the "
    "sticking point for both sides.\",Browser Test Daily,2025-03-02\n"
    "Leaders meet again,\"Xi Jinping and Vladimir Putin met in Moscow and praised their friendship and strategic "
    "coordination.\",Browser Test Daily,2025-05-09\n"
).encode()
BAD_CSV = (b"title,text,outlet,date\n"
           b"Fine row,\"Moscow and Beijing signed new trade agreements on energy and grain at the forum.\",Bad Test,2025-01-01\n"
           b"No text here,,Bad Test,2025-01-02\n")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_chromium() -> None:
    if not Path(CHROMIUM).exists():
        why = f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)"
        if os.environ.get("FRAMESCOPE_REQUIRE_BROWSER") == "1":
            pytest.fail(why)
        pytest.skip(why)


@contextlib.contextmanager
def live_server(tmp: Path):
    """A Streamlit server on a free port over the store tmp/fs.db; its log is kept in test-output."""
    port = _free_port()
    # charts drawn as SVG, so the label checks can read their text (users get a canvas; Vega
    # places and culls labels before drawing, the same for both)
    env = {**os.environ, "FRAMESCOPE_DB": str(tmp / "fs.db"), "FRAMESCOPE_CODEBOOKS": str(tmp / "codebooks"),
           RENDERER_ENV: "svg"}
    log = open(tmp / "server.log", "w+b")  # a file, not a pipe: a full pipe would block the server
    cmd = [sys.executable, "-m", "streamlit", "run", "dashboard/app.py", "--server.port", str(port),
           "--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 90
    while True:
        if proc.poll() is not None:
            log.seek(0)
            pytest.fail(f"streamlit exited with {proc.returncode}:\n{log.read().decode(errors='replace')[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().decode().strip() == "ok":
                    break
        except OSError:
            pass
        if time.time() > deadline:
            proc.terminate()
            log.seek(0)
            pytest.fail(f"streamlit did not come up in 90 s:\n{log.read().decode(errors='replace')[-3000:]}")
        time.sleep(0.5)
    try:
        yield {"url": url, "db": tmp / "fs.db", "log": tmp / "server.log"}
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
        OUT.mkdir(parents=True, exist_ok=True)
        (OUT / "server.log").write_text((tmp / "server.log").read_text(errors="replace"))
        (OUT / "timings.json").write_text(json.dumps(TIMINGS, indent=2) + "\n")
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def server():
    require_chromium()
    with live_server(Path(tempfile.mkdtemp(prefix="framescope-browser-"))) as srv:
        yield srv


@pytest.fixture(scope="module")
def page(server):
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("Python Playwright is not installed (pip install -e .[dev])")
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, chromium_sandbox=False,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        context = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True)
        pg = context.new_page()
        yield pg
        context.close()
        browser.close()


def idle(pg, timeout: float = 60_000) -> None:
    """Wait until the app is connected and its script is not running."""
    pg.wait_for_timeout(250)
    pg.locator("[data-testid='stApp'][data-test-connection-state='CONNECTED']").wait_for(timeout=timeout, state="attached")
    pg.locator("[data-testid='stApp'][data-test-script-state='notRunning']").wait_for(timeout=timeout, state="attached")
    pg.wait_for_timeout(150)


def no_traceback(pg) -> None:
    assert pg.get_by_test_id("stException").count() == 0
    assert "Traceback" not in pg.locator("body").inner_text()


def charts_rendered(pg, n: int, timeout: float) -> None:
    """Wait until at least n Vega-Lite charts have drawn their canvas or SVG."""
    pg.wait_for_function(
        """n => [...document.querySelectorAll("[data-testid='stVegaLiteChart']")]
                .filter(c => c.querySelector('canvas, svg.marks')).length >= n""",
        arg=n, timeout=timeout,
    )


LABELS_JS = """() => {
  // every category axis (Vega's aria-label: "... discrete scale with N values ...") of every
  // chart drawn as SVG: N labels drawn with text, none hidden, unrotated ones not overlapping
  const problems = [];
  let axes = 0;
  document.querySelectorAll("[data-testid='stVegaLiteChart'] svg").forEach((svg, ci) => {
    const title = (svg.querySelector("g.role-title text") || {}).textContent || `chart ${ci}`;
    svg.querySelectorAll("g.role-axis").forEach(axis => {
      const m = (axis.getAttribute("aria-label") || "").match(/discrete scale with (\\d+) value/);
      if (!m) return;
      axes++;
      const n = +m[1];
      const labels = [...axis.querySelectorAll("g.role-axis-label text")];
      const shown = labels.filter(t => t.getAttribute("opacity") !== "0" && t.textContent.trim());
      if (shown.length !== n) problems.push(`${title}: ${shown.length} of ${n} labels drawn`);
      const flat = shown.filter(t => !/rotate\\((?!0\\))/.test(t.getAttribute("transform") || ""));
      const boxes = flat.map(t => t.getBoundingClientRect());
      for (let i = 0; i < boxes.length; i++) for (let j = i + 1; j < boxes.length; j++) {
        const a = boxes[i], b = boxes[j];
        if (Math.min(a.right, b.right) - Math.max(a.left, b.left) > 1 &&
            Math.min(a.bottom, b.bottom) - Math.max(a.top, b.top) > 1)
          problems.push(`${title}: "${flat[i].textContent}" overlaps "${flat[j].textContent}"`);
      }
    });
  });
  // titles and small-multiples headers: none cut with an ellipsis at its limit
  document.querySelectorAll("[data-testid='stVegaLiteChart'] svg g.role-title-text text").forEach(t => {
    if (t.textContent.includes("\u2026")) problems.push(`title or panel header cut: "${t.textContent}"`);
  });
  const canvases = document.querySelectorAll("[data-testid='stVegaLiteChart'] canvas").length;
  return {axes, problems, canvases};
}"""


def labels_readable(pg) -> int:
    """Assert on the rendered SVG text that no category label is missing or overlaps another and
    no title or panel header is cut; the number of category axes checked."""
    got = pg.evaluate(LABELS_JS)
    assert not got["problems"], got["problems"]
    return got["axes"]


def page_line(pg, pattern: str) -> str:
    """The first line of the page's main text matching `pattern` (a regex); whole elements, not
    the bold part get_by_text finds."""
    for line in pg.get_by_test_id("stMain").inner_text().splitlines():
        if re.search(pattern, line):
            return line
    raise AssertionError(f"no line matching {pattern!r} on the page")


def filter_line(pg) -> str:
    return page_line(pg, r"^\s*Filter:")


def clear_uploads(pg) -> None:
    """Remove every uploaded file from the uploader (test id changed in 1.6x: file chips)."""
    for _ in range(10):
        buttons = pg.locator("[data-testid='stFileChipDeleteBtn'], [data-testid='stFileUploaderDeleteBtn']")
        if buttons.count() == 0:
            return
        buttons.first.locator("button").first.click()
        idle(pg)
    raise AssertionError("could not clear the uploader")


def shot(pg, name: str) -> None:
    pg.screenshot(path=str(OUT / f"{name}.png"), full_page=True)


def open_tab(pg, label: str) -> None:
    """Open a tab of the page (the tabs are lazy: the click reruns the page with that tab's content)."""
    pg.get_by_role("tab", name=label, exact=True).click()
    idle(pg)


def nav(pg, title: str) -> float:
    t0 = time.perf_counter()
    pg.get_by_test_id("stSidebarNavLink").filter(has_text=title).click()
    idle(pg)
    return time.perf_counter() - t0


def test_first_start_draws_a_chart_then_finishes_the_analysis(server, page):
    t0 = time.perf_counter()
    page.goto(server["url"])
    page.wait_for_selector("[data-testid='stAppViewContainer']", timeout=60_000)
    charts_rendered(page, 1, timeout=60_000)
    TIMINGS["first_chart_s"] = round(time.perf_counter() - t0, 2)  # a figure for the bench, not a test
    assert page.get_by_test_id("stMetric").filter(has_text="Articles").first.inner_text().endswith("340")
    no_traceback(page)
    shot(page, "00_first_start")
    # the analysis of the demo corpus runs in the background with progress, then the overview fills
    # in; the bugs: the line froze for over a minute and counted distinct texts, not passages
    totals, runnings, frozen = set(), [], []
    deadline = time.time() + 900  # a shared 2-core machine can be slow
    while page.get_by_text("Largest clusters", exact=False).count() == 0:
        assert time.time() < deadline, "the analysis did not finish in 900 s"
        body = page.locator("body").inner_text()
        if m := re.search(r"Embedding passages: [\d,]+/([\d,]+) passages", body):
            totals.add(int(m.group(1).replace(",", "")))
        if m := re.search(r"\(running (\d+) s\)|\(running (\d+) min (\d+) s\)", body):
            runnings.append(int(m.group(1)) if m.group(1) else 60 * int(m.group(2)) + int(m.group(3)))
        if "no progress for" in body:
            frozen.append(body[body.index("no progress for"):][:40])
        page.wait_for_timeout(2000)
    idle(page)
    store = Store(server["db"])
    key = next(r[0] for r in store.connection().execute("SELECT run_key FROM runs WHERE status='done'"))
    n_passages = len(store.run_tables(key)[0]["passages"])
    assert totals <= {n_passages}, (totals, n_passages)
    assert not frozen, frozen
    assert len(runnings) < 3 or runnings[-1] > runnings[0], runnings  # the running time advances
    charts_rendered(page, 3, timeout=60_000)
    TIMINGS["analysis_done_s"] = round(time.perf_counter() - t0, 2)
    no_traceback(page)
    shot(page, "01_overview")


@pytest.mark.parametrize("title,tabs", [  # (tab, its charts): "" is the tab a visit opens
    ("Clusters", (("", 1), ("One cluster", 3))), ("Frames", (("", 1), ("By outlet", 1), ("Outlet × period", 1))),
    ("Outlets", (("", 2),)), ("Article", (("", 2),)), ("Overview", (("", 3),))])
def test_each_page_renders_its_charts(page, title, tabs):
    """Every page and tab at 1400×900: its charts drawn, every category label of every chart
    shown and none overlapping (Altair dropped every other label; an unlabelled bar sat under
    the next label on the Article page), and the filter in force stated."""
    TIMINGS[f"switch_to_{title.lower()}_s"] = round(nav(page, title), 2)
    axes = 0
    for label, n_charts in tabs:
        if label:
            open_tab(page, label)
        charts_rendered(page, n_charts, timeout=60_000)
        page.wait_for_timeout(500)  # let vega finish laying out every chart
        axes += labels_readable(page)  # none missing or overlapping
        assert "keeps" in filter_line(page)
        no_traceback(page)
        shot(page, f"page_{title.lower()}" + (f"_{label.lower().replace(' × ', '_').replace(' ', '_')}" if label else ""))
    assert axes >= 1  # the page has category axes, and they were checked


def test_a_filter_change_updates_the_view_and_the_link(page):
    nav(page, "Overview")
    before = page.get_by_test_id("stMetric").filter(has_text="Articles").first.inner_text()
    t0 = time.perf_counter()
    box = page.get_by_test_id("stSidebar").get_by_test_id("stMultiSelect").nth(1)  # Outlets
    box.click()
    page.get_by_role("option").filter(has_not_text="Select all").first.click()
    page.keyboard.press("Escape")
    idle(page)
    charts_rendered(page, 3, timeout=60_000)
    TIMINGS["filter_change_s"] = round(time.perf_counter() - t0, 2)
    after = page.get_by_test_id("stMetric").filter(has_text="Articles").first.inner_text()
    assert after != before
    assert "outlet=" in page.url
    no_traceback(page)
    shot(page, "filter_outlet")
    # the link reproduces the view in a new session
    url = page.url
    page.goto(url)
    idle(page)
    assert page.get_by_test_id("stMetric").filter(has_text="Articles").first.inner_text() == after
    page.goto(url.split("?")[0])  # a fresh session without the filter
    idle(page)


def test_uploads_show_the_report_and_persist(server, page):
    # a shared link narrowed to a quarter the upload below does not cover
    page.goto(server["url"] + "/data?from=2023-01-01&to=2023-03-31&codebook=partnership")
    idle(page)
    uploader = page.get_by_test_id("stFileUploaderDropzoneInput")
    uploader.set_input_files([{"name": "bad_rows.csv", "mimeType": "text/csv", "buffer": BAD_CSV}])
    idle(page)
    alert = page.get_by_test_id("stAlert").filter(has_text="bad_rows.csv, line 3: empty text")
    alert.first.wait_for(timeout=30_000)
    no_traceback(page)
    shot(page, "upload_bad")
    # a file that is not CSV at all: a clear error naming it, no traceback
    clear_uploads(page)
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        [{"name": "garbage.csv", "mimeType": "text/csv", "buffer": b"%PDF-1.4 not a table"}])
    idle(page)
    page.get_by_test_id("stAlert").filter(has_text="garbage.csv").first.wait_for(timeout=30_000)
    no_traceback(page)
    clear_uploads(page)
    # a good file: accepted, saved as a named data set
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        [{"name": "good.csv", "mimeType": "text/csv", "buffer": GOOD_CSV}])
    idle(page)
    page.get_by_text("Every row was accepted").wait_for(timeout=30_000)
    name = page.get_by_label("Data set name")
    name.fill("Browser upload")
    name.press("Enter")
    idle(page)
    page.get_by_role("button", name="Save as data set").click()
    idle(page)
    page.get_by_text("Saved the data set").first.wait_for(timeout=30_000)
    shot(page, "upload_saved")
    saved = next(d for d in Store(server["db"]).datasets() if d.name == "Browser upload")
    # the bugs: the old range was squeezed into one day of the new set, silently; the link's
    # codebook changed; the Active data sets box named the old set; a new tab opened on the demo
    assert f"ds={saved.dataset_id}" in page.url and "from=" not in page.url and "to=" not in page.url
    assert "codebook=partnership" in page.url
    page.get_by_text("reset to all dates").first.wait_for(timeout=10_000)
    boxes = page.evaluate("""() => [...document.querySelectorAll("[data-testid='stMultiSelect']")]
        .filter(e => e.innerText.includes("Active data sets") && !e.closest("[data-stale='true']"))
        .map(e => e.innerText)""")
    assert boxes and all("Browser upload" in b and "Demonstration" not in b for b in boxes), boxes
    tab = page.context.new_page()
    tab.goto(server["url"])
    idle(tab)
    assert f"ds={saved.dataset_id}" in tab.url
    assert tab.get_by_test_id("stMetric").filter(has_text="Articles").first.inner_text().endswith("2")
    tab.close()
    # reload: the data set is still listed
    page.reload()
    idle(page)
    nav(page, "Data")
    page.get_by_text("Browser upload").first.wait_for(timeout=30_000)
    no_traceback(page)


def test_upload_a_nexis_batch_shows_its_format_and_missing_document(server, page):
    nav(page, "Data")
    clear_uploads(page)
    batch = (ROOT / "tests" / "fixtures" / "exports" / "nexis_academic.txt").read_bytes()
    page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(
        [{"name": "nexis_academic.txt", "mimeType": "text/plain", "buffer": batch}])
    idle(page)
    alert = page.get_by_test_id("stAlert").filter(
        has_text="nexis_academic.txt, document 3 of 4: not in the file")
    alert.first.wait_for(timeout=30_000)
    page.get_by_text("nexis_academic.txt: nexis-txt; 4 documents announced, 3 read, 1 not read").first.wait_for(
        timeout=30_000)
    assert page.get_by_test_id("stMetric").filter(has_text="Accepted articles").first.inner_text().endswith("3")
    no_traceback(page)
    shot(page, "upload_nexis")
    clear_uploads(page)


def test_download_the_cluster_table(server, page):
    """Under an outlet filter the cluster table counts that outlet's passages (the bug: 248
    passages beside "Passages (filtered) 28"), with the run's size beside."""
    store = Store(server["db"])
    key = next(r[0] for r in store.connection().execute("SELECT run_key FROM runs WHERE status='done'"))
    passages = store.run_tables(key)[0]["passages"]
    outlet = sorted(passages["outlet"].unique())[0]
    page.goto(server["url"] + f"/clusters?ds=1&outlet={urllib.parse.quote(outlet)}")  # back to the demo corpus
    idle(page)
    charts_rendered(page, 1, timeout=400_000)
    # a click on a dot of the map opens its cluster in the "One cluster" tab
    page.locator("[data-testid='stVegaLiteChart'] svg.marks g.mark-symbol.role-mark path").last.click(force=True)
    idle(page)
    assert page.get_by_role("tab", name="One cluster", exact=True).get_attribute("aria-selected") == "true"
    page.get_by_test_id("stMetric").filter(has_text="Passages (filtered)").first.wait_for(timeout=60_000)
    charts_rendered(page, 3, timeout=60_000)
    assert labels_readable(page) >= 1
    open_tab(page, "Cluster table")
    page.get_by_text("Downloads: tables").first.click()
    row = page.get_by_test_id("stHorizontalBlock").filter(has_text="clusters ·").first
    with page.expect_download(timeout=60_000) as info:
        row.get_by_test_id("stDownloadButton").filter(has_text="CSV").locator("button").click()
    download = info.value
    assert download.suggested_filename.startswith("framescope_clusters_") and download.suggested_filename.endswith(".csv")
    rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8-sig"))))
    store = Store(server["db"])
    keys = [r[0] for r in store.connection().execute("SELECT run_key FROM runs WHERE status='done'")]
    sizes = {len(store.run_tables(k)[0]["clusters"]) for k in keys}
    assert len(rows) in sizes and {"cluster_id", "label", "top_terms", "n_passages", "n_passages_unfiltered"} <= set(rows[0])
    assert sum(int(r["n_passages"]) for r in rows) == int((passages["outlet"] == outlet).sum())
    assert sum(int(r["n_passages_unfiltered"]) for r in rows) == len(passages)
    assert f"outlets: {outlet}" in filter_line(page)
    no_traceback(page)
    shot(page, "download_clusters")


def test_search_and_compare_on_the_demo_corpus(server, page):
    page.goto(server["url"] + "/search")  # the demonstration corpus (default data set)
    idle(page)
    page.get_by_text("Type a sentence or keywords").first.wait_for(timeout=400_000)
    box = page.get_by_label("Search the passages")
    box.fill("gas pipeline to China")
    box.press("Enter")
    idle(page, timeout=120_000)
    page.get_by_text("passage(s)").first.wait_for(timeout=120_000)
    assert "by meaning" in page_line(page, r"\d passage\(s\)")
    assert page.get_by_test_id("stDataFrame").count() >= 1
    no_traceback(page)
    shot(page, "search")
    TIMINGS["switch_to_compare_s"] = round(nav(page, "Compare"), 2)
    charts_rendered(page, 1, timeout=120_000)
    page.get_by_text("More in A").first.wait_for(timeout=60_000)
    assert page.get_by_test_id("stMetric").filter(has_text="Side A passages").count() == 1
    no_traceback(page)
    shot(page, "compare")
