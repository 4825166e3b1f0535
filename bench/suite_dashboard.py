"""Suite 6 — dashboard: the Streamlit app in Debian's Chromium, driven by Playwright.

A fresh store (FRAMESCOPE_DB in the benchmark cache) and `streamlit run dashboard/app.py`
on a free port; the browser is Debian's /usr/bin/chromium (Playwright never downloads its own).

- first start: time until the first chart is drawn and until the analysis results
  (≥ 2 charts on Overview) are there. Full mode starts on an empty store, so the app imports
  the demonstration corpus and analyses it cold (encoding included); then the server is
  restarted on the same store and the same is measured warm (run read back from the store).
- the floor: a bare Streamlit app with the same page names (a title and one small chart each)
  served and switched the same way, median of 5, before anything else; the seeded targets'
  notes give the dashboard's switch as a multiple of it, a figure comparable across CPUs.
- page switch (sidebar link → new page drawn, no stale element, ≥ 1 chart) and filter
  change (add one outlet in the sidebar → Frames page redrawn): median of 5, each value a
  new one so no cached view is reused. Around every switch and filter change, the CPU seconds
  used by Chromium's renderer, its other processes and the server (psutil), so a figure says
  which side of the two shared cores the action waited for.
- seeded large runs (full mode: 10k and 100k articles; FRAMESCOPE_BENCH_DASH_SIZES="10000,100000"
  sets the sizes in any mode): the scaled corpus is saved as a data set and its run is *seeded*:
  passages are the articles' real paragraphs, and each passage takes the analysis columns
  (cluster, frame scores, map) of a random passage of the run the app computed on first start,
  written with `Store.finish_run` under the key the dashboard computes, so the app reads it
  exactly as a computed run (no encoding, clustering or framing of 350k passages on a shared
  2-core machine). Then the server is restarted (clean memory), the data set opened, and page
  switch, filter change and the server's peak RSS measured.
- concurrency: 4 browser sessions switch pages and change filters while a 5th uploads a
  new CSV on the Data page, saves it and waits for its analysis. Every action of every
  session is timed (p95 reported) and checked for error elements (stException or an error
  alert).
An action is complete when Streamlit reports the script not running, no element is stale
and the expected charts are drawn (canvas or svg inside stVegaLiteChart).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from .common import CACHE, REPO, SuiteResult, check, log, median, p95

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync", "--disable-dev-shm-usage"]
REPEATS = {"tiny": 2, "quick": 3, "full": 5}
SIZES_ENV = "FRAMESCOPE_BENCH_DASH_SIZES"
TIMEOUT_ENV = "FRAMESCOPE_BENCH_DASH_TIMEOUT_S"  # a longer wait per action on a loaded machine
BIG_SIZES = {"full": (10_000, 100_000)}
SESSIONS = {"tiny": 1, "quick": 1, "full": 4}
UPLOAD_ARTICLES = {"tiny": 3, "quick": 5, "full": 15}
TIMEOUT_MS = {"tiny": 240_000, "quick": 240_000, "full": 900_000}

DONE_JS = """(n) => {
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  if (document.querySelector('[data-stale="true"]')) return false;
  const charts = document.querySelectorAll(
    '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg.marks');
  return charts.length >= n;
}"""
ARM_JS = """() => {
  // counts the reruns that start from now on, however short: a MutationObserver sees the
  // script-state attribute change even when the rerun ends before any poll would look
  window.__fsReruns = 0;
  if (window.__fsObserver) window.__fsObserver.disconnect();
  window.__fsObserver = new MutationObserver((records) => {
    for (const r of records) {
      if (r.target.getAttribute('data-test-script-state') !== 'notRunning') window.__fsReruns += 1;
    }
  });
  window.__fsObserver.observe(document.body, {attributes: true, subtree: true,
                                              attributeFilter: ['data-test-script-state']});
}"""
RERAN_JS = "() => (window.__fsReruns || 0) > 0"
ERRORS = '[data-testid="stException"], [data-testid="stAlertContentError"]'
SELECT_ALL = "Select all"  # the first entry of a Streamlit multiselect's list, not an outlet
CHARTS = '[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg.marks'


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`streamlit run` of the dashboard (or of `app`) on a free port; output to a file; peak RSS sampled."""

    def __init__(self, db: Path, log_path: Path, app: Path = REPO / "dashboard" / "app.py") -> None:
        self.db, self.log_path, self.app = db, log_path, app
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None
        self.peak_mb = 0.0
        self._stop = threading.Event()

    def start(self, timeout: float = 120) -> float:
        import os
        import urllib.request

        env = {**os.environ, "FRAMESCOPE_DB": str(self.db), "PYTHONUNBUFFERED": "1"}
        t0 = time.perf_counter()
        self._log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", str(self.app), "--server.headless", "true",
             "--server.port", str(self.port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false"],
            cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        threading.Thread(target=self._sample, daemon=True).start()
        while time.perf_counter() - t0 < timeout:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited with {self.proc.returncode}; see {self.log_path}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as r:
                    if r.read().decode().strip() == "ok":
                        return t0
            except OSError:
                time.sleep(0.2)
        raise TimeoutError("streamlit did not answer /_stcore/health")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _sample(self) -> None:
        try:
            import psutil

            p = psutil.Process(self.proc.pid)
            while not self._stop.is_set() and self.proc.poll() is None:
                rss = p.memory_info().rss + sum(c.memory_info().rss for c in p.children(recursive=True))
                self.peak_mb = max(self.peak_mb, rss / 2**20)
                time.sleep(0.25)
        except Exception:  # sampling is best effort (psutil missing, process gone)
            pass

    def stop(self) -> None:
        self._stop.set()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if getattr(self, "_log", None):
            self._log.close()


def median_row(measure: str, xs: list[float]) -> dict:
    """A table row of repeated timings, named `measure` + "median of n (s)": their median, every value beside it."""
    return {"measure": f"{measure} median of {len(xs)} (s)", "value": median(xs),
            "all": ", ".join(f"{x:.2f}" for x in xs)}


CPU_PARTS = ("Chromium renderer", "Chromium other processes", "server")


def cpu_seconds(server_pid: int) -> dict[str, float]:
    """CPU seconds used so far (user + system) by Chromium's renderer processes, its other
    processes (browser, GPU, utility) and the Streamlit server with its children: the
    difference over one action says which side of the two shared cores the action waited for."""
    import psutil

    out = dict.fromkeys(CPU_PARTS, 0.0)
    try:
        server = psutil.Process(server_pid)
        procs = [(CPU_PARTS[2], p) for p in (server, *server.children(recursive=True))]
    except psutil.Error:
        procs = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if cmd and Path(cmd[0]).name.startswith(("chromium", "chrome")):
            procs.append((CPU_PARTS[0] if "--type=renderer" in cmd else CPU_PARTS[1], p))
    for part, p in procs:
        try:
            t = p.cpu_times()
            out[part] += t.user + t.system
        except psutil.Error:  # ended between the listing and the reading
            pass
    return out


class CpuLog:
    """Per action, the CPU seconds each part of `CPU_PARTS` used (`measure` around the action)."""

    def __init__(self, server_pid: int | None) -> None:
        try:
            import psutil  # noqa: F401  (the bench extra); without it the latencies are still measured
        except ImportError:
            server_pid = None
        self.pid = server_pid
        self.used: dict[str, dict[str, list[float]]] = {}

    async def measure(self, action: str, coro):
        if self.pid is None:
            return await coro
        before = cpu_seconds(self.pid)
        out = await coro
        after = cpu_seconds(self.pid)
        for part in CPU_PARTS:
            self.used.setdefault(action, {}).setdefault(part, []).append(after[part] - before[part])
        return out

    def rows(self, label: str) -> list[dict]:
        return [median_row(f"{action}, {label}: {part} CPU per action,", xs)
                for action, parts in self.used.items() for part, xs in parts.items()]


async def _errors(page) -> list[str]:
    loc = page.locator(ERRORS)
    n = await loc.count()
    return [(await loc.nth(i).inner_text())[:200] for i in range(n)]


async def _arm(page) -> None:
    """Start counting reruns: call before the action whose rerun `_done` waits for."""
    await page.evaluate(ARM_JS)


async def _done(page, n_charts: int, timeout_ms: int, saw_run_ms: int = 3000) -> None:
    """Wait until the rerun the action triggered has started (seen by the observer `_arm`
    installed, so a fast rerun is never missed; an action that reruns nothing waits
    `saw_run_ms`), then until it has finished and the charts are drawn."""
    try:
        await page.wait_for_function(RERAN_JS, timeout=saw_run_ms, polling=20)
    except Exception:  # no rerun at all: the DONE check below still has to hold
        pass
    await page.wait_for_function(DONE_JS, arg=n_charts, timeout=timeout_ms, polling=20)


async def switch_page(page, title: str, timeout_ms: int) -> float:
    await _arm(page)
    t0 = time.perf_counter()
    await page.locator('[data-testid="stSidebarNavLink"]').filter(has_text=title).first.click()
    await page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=timeout_ms)
    await _done(page, 1, timeout_ms)
    return time.perf_counter() - t0


async def add_outlet(page, outlet: str, timeout_ms: int, n_charts: int = 1) -> float:
    box = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').filter(has_text="Outlets").first
    await box.locator("input").first.click()
    await box.locator("input").first.fill(outlet)
    # Enter before the list has filtered to the typed outlet would select nothing
    await page.locator('[role="option"]').filter(has_text=outlet).first.wait_for(timeout=timeout_ms)
    await _arm(page)
    t0 = time.perf_counter()
    await box.locator("input").first.press("Enter")
    await _done(page, n_charts, timeout_ms)
    dt = time.perf_counter() - t0
    await page.keyboard.press("Escape")
    return dt


async def outlets_of(page) -> list[str]:
    box = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').filter(has_text="Outlets").first
    await box.locator("input").first.click()
    opts = page.locator('[role="option"]')
    await opts.first.wait_for(timeout=10_000)
    names = [t.strip() for t in await opts.all_inner_texts()]
    await page.keyboard.press("Escape")
    # the list opens with Streamlit's "Select all": typing that selected nothing, so every first
    # filter change timed the 3 s wait for a rerun that never came
    return [n for n in names if n and n != SELECT_ALL]


async def open_app(ctx, url: str, n_charts: int, timeout_ms: int):
    page = await ctx.new_page()
    t0 = time.perf_counter()
    await page.goto(url, wait_until="domcontentloaded")
    await page.wait_for_function(DONE_JS, arg=1, timeout=timeout_ms, polling=50)
    first = time.perf_counter() - t0
    await page.wait_for_function(DONE_JS, arg=n_charts, timeout=timeout_ms, polling=100)
    return page, first, time.perf_counter() - t0


PAGES = ("Clusters", "Frames", "Outlets", "Overview")
REFERENCE_APP = f'''"""The floor: a bare Streamlit app with Framescope's page names, a title and one small chart each."""
import altair as alt
import pandas as pd
import streamlit as st


def page(title):
    def draw():
        st.title(title, anchor=False)
        data = pd.DataFrame({{"x": list("abcdefgh"), "y": range(8)}})
        st.altair_chart(alt.Chart(data).mark_bar().encode(x="x", y="y"), width="stretch")
    return st.Page(draw, title=title, url_path=title.lower())


st.navigation([page(t) for t in {("Overview", *PAGES[:3])!r}]).run()
'''
REFERENCE_SWITCHES = 5


async def interactions(page, repeats: int, timeout_ms: int, errors: list[str],
                       cpu: CpuLog | None = None) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"page switch": [], "filter change": []}
    cpu = cpu or CpuLog(None)
    for i in range(repeats):
        switch = switch_page(page, PAGES[i % len(PAGES)], timeout_ms)
        out["page switch"].append(await cpu.measure("page switch", switch))
        errors += await _errors(page)
    if (await page.get_by_role("heading", name="Frames", exact=True).count()) == 0:
        await switch_page(page, "Frames", timeout_ms)
    names = await outlets_of(page)
    for i in range(min(repeats, len(names))):
        out["filter change"].append(await cpu.measure("filter change", add_outlet(page, names[i], timeout_ms)))
        errors += await _errors(page)
    return out


async def browse_session(browser, url: str, steps: int, timeout_ms: int) -> dict:
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    lat: list[float] = []
    ok = True
    try:
        page, first, _ = await open_app(ctx, url, 2, timeout_ms)
        lat.append(first)
        for i in range(steps):
            lat.append(await switch_page(page, PAGES[i % len(PAGES)], timeout_ms))
            errors += await _errors(page)
        await switch_page(page, "Frames", timeout_ms)
        names = await outlets_of(page)
        for name in names[:2]:
            lat.append(await add_outlet(page, name, timeout_ms))
            errors += await _errors(page)
    except Exception as exc:
        ok = False
        errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    finally:
        await ctx.close()
    return {"ok": ok and not errors, "latencies": lat, "errors": errors}


async def upload_session(browser, url: str, csv: Path, timeout_ms: int) -> dict:
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    out = {"ok": False, "errors": errors}
    try:
        page, _, _ = await open_app(ctx, url, 2, timeout_ms)
        await switch_page_any(page, "Data", timeout_ms)
        t0 = time.perf_counter()
        await page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(csv))
        save = page.get_by_role("button", name="Save as data set")
        await save.wait_for(timeout=timeout_ms)
        out["check_s"] = time.perf_counter() - t0
        await save.click()
        await page.get_by_text("Saved the data set").first.wait_for(timeout=timeout_ms)
        await switch_page_any(page, "Overview", timeout_ms)
        await page.wait_for_function(DONE_JS, arg=2, timeout=timeout_ms, polling=100)
        out["upload_to_results_s"] = time.perf_counter() - t0
        errors += await _errors(page)
        out["ok"] = not errors
    except Exception as exc:
        errors.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    finally:
        await ctx.close()
    return out


async def switch_page_any(page, title: str, timeout_ms: int) -> None:
    await page.locator('[data-testid="stSidebarNavLink"]').filter(has_text=title).first.click()
    await page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=timeout_ms)
    await page.wait_for_function(DONE_JS, arg=0, timeout=timeout_ms, polling=50)


def _add_dataset(db: Path, csv: Path, name: str) -> int:
    from analysis.ingest import ingest
    from analysis.store import Store

    from .corpora import file_sha256

    res = ingest([str(csv)])
    store = Store(db)
    try:
        info = store.add_dataset(name, res.articles, res.rejected, [(csv.name, file_sha256(csv))],
                                 n_duplicates=res.n_duplicates)
    finally:
        store.close()
    return info.dataset_id


def _seed_run(db: Path, csv: Path, name: str, seed: int = 0) -> dict:
    """Save `csv` as a data set and store a seeded run for it under the dashboard's run key."""
    import numpy as np
    import pandas as pd

    from analysis import schema as S
    from analysis.config import DEFAULT_CODEBOOK, PipelineConfig
    from analysis.passages import paragraphs, text_hash
    from analysis.pipeline import articles_digest, summary_tables
    from analysis.store import Store
    from dashboard import maps, runs

    t0 = time.perf_counter()
    ds = _add_dataset(db, csv, name)
    store = Store(db)
    try:
        articles = store.articles([ds])
        spec = runs.make_spec([ds], articles_digest(articles), PipelineConfig(codebook=str(DEFAULT_CODEBOOK), k=None),
                              len(articles))
        done = [r[0] for r in store.connection().execute(
            "SELECT run_key FROM runs WHERE status='done' ORDER BY created_at LIMIT 1")]
        source, manifest = store.run_tables(done[0])  # the run the app computed on first start
        src = source["passages"]
        rows = [(aid, pos, para) for aid, text in zip(articles[S.ARTICLE_ID], articles[S.TEXT], strict=True)
                for pos, para in enumerate(paragraphs(text))]
        base = articles.set_index(S.ARTICLE_ID)
        aid = [r[0] for r in rows]
        texts = [r[2] for r in rows]
        passages = pd.DataFrame({
            S.PASSAGE_ID: [f"{a}:{p}" for a, p, _ in rows], S.ARTICLE_ID: aid,
            S.OUTLET: base.loc[aid, S.OUTLET].to_numpy(), S.DATE: base.loc[aid, S.DATE].to_numpy(),
            S.POSITION: [r[1] for r in rows], S.TEXT: texts, S.TEXT_HASH: [text_hash(t) for t in texts],
            S.TITLE: base.loc[aid, S.TITLE].to_numpy(),
        })
        pick = np.random.default_rng(seed).integers(0, len(src), len(passages))
        analysis_cols = [c for c in src.columns if c not in passages.columns]
        passages = pd.concat([passages, src[analysis_cols].iloc[pick].reset_index(drop=True)], axis=1)
        fids = [c[len("present_"):] for c in passages.columns if c.startswith("present_")]
        ev = source["frames"].groupby(S.FRAME_ID)[S.EVIDENCE].first()
        frames = pd.concat([pd.DataFrame({S.PASSAGE_ID: passages[S.PASSAGE_ID], S.FRAME_ID: f,
                                          S.SCORE: passages[f"score_{f}"], S.PRESENT: passages[f"present_{f}"],
                                          S.EVIDENCE: ev.get(f, "")}) for f in fids], ignore_index=True)
        clusters = source["clusters"]
        labels = dict(zip(clusters[S.CLUSTER_ID], clusters["label"], strict=True))
        source.pop(maps.MAP_TABLE, None)  # the source run's UMAP sample: other passages
        tables = {**source, "articles": articles, "passages": passages, "frames": frames,
                  **summary_tables(passages, fids, labels, PipelineConfig())}
        counts = {**manifest.get("counts", {}), "articles": len(articles), "passages": len(passages)}
        store.claim_run(spec.key, spec.params(), "bench-seed")
        store.finish_run(spec.key, tables, {**manifest, "run_key": spec.key, "counts": counts,
                                            "seeded_from": done[0]})
    finally:
        store.close()
    return {"dataset": ds, "articles": len(articles), "passages": len(passages),
            "seed_s": round(time.perf_counter() - t0, 1)}


async def _timed_start(browser, server, label: str, rows: list[dict], timeout_ms: int):
    """Start the server, open the app in a new context and record time to first chart and to results."""
    t0 = server.start()
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page, first, results = await open_app(ctx, server.url, 2, timeout_ms)
    started = time.perf_counter() - t0
    rows.append({"measure": f"{label}: server start → first chart (s)", "value": started - results + first})
    rows.append({"measure": f"{label}: server start → analysis results (s)", "value": started})
    return ctx, page

async def _main(res: SuiteResult, mode: str, work: Path) -> None:
    from playwright.async_api import async_playwright

    from .corpora import scaled_csv

    timeout_ms = int(float(os.environ.get(TIMEOUT_ENV) or 0) * 1000) or TIMEOUT_MS[mode]
    reps = REPEATS[mode]
    db = work / "store.db"
    sizes = [int(x) for x in os.environ.get(SIZES_ENV, ",".join(map(str, BIG_SIZES.get(mode, ())))).split(",") if x]
    res.params["seeded_run_sizes"] = sizes
    if mode != "full":
        small = scaled_csv(40 if mode == "quick" else 8, seed=5, prefix="dash")
        _add_dataset(db, small, "bench small corpus")
        corpus_name = f"{small.name} (small scaled corpus instead of the demo, to fit the quick budget)"
    else:
        corpus_name = "demonstration corpus (imported and analysed by the app on first start)"
    res.params["corpus"] = corpus_name
    rows = []
    errors: list[str] = []
    server = Server(db, work / "streamlit.log")
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            log("  dashboard: a bare Streamlit app's page switch (the floor)")
            await _reference_phase(browser, work, timeout_ms, rows, res)
            ctx, page = await _timed_start(browser, server, "first start", rows, timeout_ms)
            errors += await _errors(page)
            if mode == "full":
                await ctx.close()
                server.stop()
                first_peak = server.peak_mb
                log("  dashboard: restart on the same store")
                server = Server(db, work / "streamlit.log")
                ctx, page = await _timed_start(browser, server, "restart", rows, timeout_ms)
            log("  dashboard: page switches and filter changes (small/demo corpus)")
            cpu = CpuLog(server.proc.pid)
            inter = await interactions(page, reps, timeout_ms, errors, cpu)
            await ctx.close()
            small_name = "demo" if mode == "full" else "small corpus"
            rows += [median_row(f"{k}, {small_name}:", v) for k, v in inter.items()]
            rows += cpu.rows(small_name)
            res.extra["interactions_small"] = inter
            log(f"  dashboard: {SESSIONS[mode]} browsing sessions + 1 upload")
            up_csv = scaled_csv(UPLOAD_ARTICLES[mode], seed=9, prefix="upload")
            tasks = [browse_session(browser, server.url, 4, timeout_ms) for _ in range(SESSIONS[mode])]
            tasks.append(upload_session(browser, server.url, up_csv, timeout_ms))
            outs = await asyncio.gather(*tasks)
            browse, upload = outs[:-1], outs[-1]
            lats = [x for o in browse for x in o["latencies"]]
            failed = sum(not o["ok"] for o in outs)
            rows.append({"measure": f"concurrent: {len(browse)} browsing sessions, p95 action latency (s)",
                         "value": p95(lats), "all": f"{len(lats)} actions, median {median(lats):.2f}s"})
            rows.append({"measure": f"concurrent: upload of {UPLOAD_ARTICLES[mode]} articles → results (s)",
                         "value": upload.get("upload_to_results_s"), "all": f"check {upload.get('check_s', 0):.1f}s"})
            rows.append({"measure": "concurrent: sessions failed or showing an error element", "value": failed})
            for o in outs:
                errors += o["errors"]
            res.extra["concurrency"] = {"browse": browse, "upload": upload}
            res.target(f"concurrent sessions ({len(browse)} browsing + 1 upload): failed sessions", failed, "0",
                       failed == 0, "; ".join(errors)[:300])
            peak = max(server.peak_mb, locals().get("first_peak", 0.0))
            rows.append({"measure": "server peak RSS incl. children, demo phases (MiB)", "value": peak})
            for n in sizes:
                server.stop()
                server = await _seeded_phase(browser, db, work, n, reps, timeout_ms, rows, errors, res)
        finally:
            server.stop()
            await browser.close()
    res.rows = rows
    res.extra["errors"] = errors


async def _reference_phase(browser, work: Path, timeout_ms: int, rows: list, res: SuiteResult) -> None:
    """Page switches of a bare Streamlit app in the same browser and run: what this machine and
    Streamlit take before any Framescope work, so the dashboard's figures read as a ratio too."""
    app = work / "reference_app.py"
    app.write_text(REFERENCE_APP, encoding="utf-8")
    server = Server(work / "reference.db", work / "reference.log", app=app)
    server.start()
    try:
        ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
        page, _, _ = await open_app(ctx, server.url, 1, timeout_ms)
        cpu = CpuLog(server.proc.pid)
        lat = [await cpu.measure("page switch", switch_page(page, PAGES[i % len(PAGES)], timeout_ms))
               for i in range(REFERENCE_SWITCHES)]
        await ctx.close()
    finally:
        server.stop()
    res.extra["reference_switch_s"] = median(lat)
    rows.append(median_row("page switch, bare Streamlit app (a title and one chart per page):", lat))
    rows += cpu.rows("bare Streamlit app")


async def _seeded_phase(browser, db: Path, work: Path, n: int, reps: int, timeout_ms: int, rows: list,
                        errors: list, res: SuiteResult) -> Server:
    """Seed an n-article run, restart the server (clean memory), open it, switch pages, change filters."""
    from .corpora import scaled_csv

    label = f"{n // 1000}k"
    timeout_ms = max(timeout_ms, TIMEOUT_MS["full"])
    log(f"  dashboard: seeding the {label} run")
    info = _seed_run(db, scaled_csv(n, seed=0, prefix="s"), f"bench {label} corpus")
    res.params[f"seeded_{label}"] = info
    rows.append({"measure": f"{label}: seeded run ({info['articles']:,} articles, {info['passages']:,} passages), "
                            "build (s)", "value": info["seed_s"]})
    server = Server(db, work / "streamlit.log")
    server.start()
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page, first, results = await open_app(ctx, f"{server.url}/?ds={info['dataset']}", 2, timeout_ms)
    rows.append({"measure": f"{label}: open → analysis results (stored run read back) (s)", "value": results})
    cpu = CpuLog(server.proc.pid)
    inter = await interactions(page, reps, timeout_ms, errors, cpu)
    await ctx.close()
    rows += [median_row(f"{k}, {label} corpus:", v) for k, v in inter.items()]
    rows += cpu.rows(f"{label} corpus")
    rows.append({"measure": f"{label}: server peak RSS incl. children (MiB)", "value": server.peak_mb})
    log(f"  dashboard {label}: " + "; ".join(f"{k} median {median(v):.2f}s" for k, v in inter.items())
        + f"; peak RSS {server.peak_mb:.0f} MiB")
    res.extra[f"interactions_{label}"] = inter
    limit = 0.5 if n <= 10_000 else 1.0
    ref = res.extra.get("reference_switch_s")
    for k, v in inter.items():
        res.target(f"{k}, {label} corpus, median (s)", round(median(v), 3), f"≤ {limit} s",
                   check(median(v), "<=", limit),
                   f"{median(v) / ref:.1f}× the bare Streamlit app's page switch ({ref:.2f} s)" if ref else "")
    res.target(f"server peak RSS, {label} corpus (MiB)", round(server.peak_mb), "≤ 2048",
               check(server.peak_mb, "<=", 2048))
    return server


def run(mode: str = "full") -> SuiteResult:
    res = SuiteResult("dashboard", mode, "Streamlit dashboard in Chromium (Playwright)")
    res.columns = ["measure", "value", "all"]
    if not (REPO / "dashboard" / "app.py").exists():
        res.skipped = "not available: dashboard/app.py does not exist"
        return res
    if not CHROMIUM.exists():
        res.skipped = "not available: /usr/bin/chromium missing (apt-get install -y --no-install-recommends chromium)"
        return res
    try:
        import playwright  # noqa: F401
    except ImportError:
        res.skipped = "not available: the playwright package is not installed (pip install -e '.[dev]')"
        return res
    work = CACHE / f"dashboard-{mode}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    asyncio.run(_main(res, mode, work))
    res.notes.append("Latencies are wall time in the browser from the click/keypress until Streamlit has finished "
                     "the rerun and the charts are drawn; the browser and the server share the machine's 2 cores.")
    res.notes.append("CPU per action: seconds of CPU (user + system) each side used during the action, from psutil: "
                     "Chromium's renderer (Streamlit's page, React and Vega), Chromium's other processes (browser, "
                     "GPU, utility) and the Streamlit server with its children. A filter change's CPU includes "
                     "typing the outlet's name before the timed Enter.")
    return res
