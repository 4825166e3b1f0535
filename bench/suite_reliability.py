"""Reliability: the dashboard under load, after kill -9, and fed malformed files (issue 11).

* load — N browser sessions switch pages and change the outlet filter for a bounded time while
  one session uploads and saves a data set and a `framescope run` writes to the same store:
  failed sessions, exception boxes, median and p95 filter latency.
* faults — kill -9 the server while an upload is being saved and while an analysis runs, and a
  `framescope run` mid-embedding; after each: `PRAGMA integrity_check`, no half data set, the
  interrupted run taken over (dashboard) or run again (CLI) to the end, vectors kept.
* bad input — every file in tests/fixtures/malformed through `framescope check` and the Data
  page's uploader: no traceback, a message naming the file (and the row where there is one);
  plus user-typed names that look like Markdown/HTML, which must show literally.

Only loopback addresses; every loop is bounded in count and time. Figures, not assertions:
tests/test_reliability.py runs the same functions at small sizes and asserts on them.
"""

from __future__ import annotations

import asyncio
import csv
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .common import CACHE, REPO, SuiteResult, log, median, p95
from .suite_dashboard import (
    ARGS,
    CHROMIUM,
    DONE_JS,
    Server,
    _add_dataset,
    _done,
    _errors,
    add_outlet,
    outlets_of,
    switch_page,
)

SMALL_CSV = REPO / "tests" / "fixtures" / "small_corpus.csv"
DEMO_CSV = REPO / "data" / "demo" / "articles.csv"
MALFORMED = REPO / "tests" / "fixtures" / "malformed"
SESSIONS = {"tiny": 2, "quick": 4, "full": 8}
LOAD_SECONDS = {"tiny": 30, "quick": 90, "full": 300}
MAX_STEPS = 500  # per session, whatever the time budget
MIN_STEPS = 2  # per session, however slow the machine (each step is bounded by the timeouts)
TIMEOUT_MS = {"tiny": 300_000, "quick": 300_000, "full": 900_000}
PAGES = ("Overview", "Clusters", "Frames", "Outlets")
HOSTILE_OUTLET = "![x](http://127.0.0.1:9/beacon)"
HOSTILE_TITLE = "[click](javascript:alert(1))"
HOSTILE_DATASET = "**bold** <b>x</b>"
MARKUP_FROM_USER_JS = """() => [...document.querySelectorAll('img, a')].filter(e =>
    (e.getAttribute('src') || '').includes('127.0.0.1:9') ||
    (e.getAttribute('href') || '').toLowerCase().startsWith('javascript')).length"""


# full mode: a part of the demo corpus (every analysis here starts cold, on 2 shared cores); the
# CLI fault needs more than one 512-passage embedding chunk to be killed mid-embedding
FULL_ARTICLES = {"load": 120, "cli": 150}


# Streamlit's default polling file watcher stats every imported module's file (torch,
# transformers: thousands) several times a second: on 2 busy cores it starves the server
os.environ["STREAMLIT_SERVER_FILE_WATCHER_TYPE"] = "none"


def corpus_for(mode: str, work: Path, purpose: str = "load") -> Path:
    if mode != "full" or purpose not in FULL_ARTICLES:
        return SMALL_CSV
    n = FULL_ARTICLES[purpose]
    path = work / f"demo_{n}.csv"
    if not path.exists():
        _variant_csv(DEMO_CSV, path, n)
    return path


# --- store checks ----------------------------------------------------------------------------


def store_health(db: Path) -> dict[str, Any]:
    """integrity_check, data sets whose article links do not match their count (half saved), runs."""
    con = sqlite3.connect(db, timeout=30)
    try:
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        half = [name for name, n, linked in con.execute(
            "SELECT name, n_articles, (SELECT count(*) FROM dataset_articles a WHERE a.dataset_id = d.dataset_id)"
            " FROM datasets d") if n != linked]
        runs = con.execute("SELECT run_key, status, stage, owner FROM runs").fetchall()
        vectors = con.execute("SELECT count(*) FROM embeddings").fetchone()[0]
    finally:
        con.close()
    return {"integrity": integrity, "half_datasets": half, "runs": runs, "vectors": vectors}


def _copy_store(src: Path, dst: Path) -> None:
    """A consistent copy of a store (SQLite's backup API, WAL included)."""
    with sqlite3.connect(src) as a, sqlite3.connect(dst) as b:
        a.backup(b)


def _cli(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.run([sys.executable, "-m", "analysis.cli", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _cli_popen(*args: str) -> subprocess.Popen:
    env = {**os.environ, "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    return subprocess.Popen([sys.executable, "-m", "analysis.cli", *args], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _variant_csv(src: Path, dst: Path, n: int, *, outlet: str | None = None, title: str | None = None) -> Path:
    """The first n articles of `src` (same texts: their vectors are cached), outlet/title replaced."""
    with src.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))[:n]
    with dst.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        for i, r in enumerate(rows):
            if outlet is not None and i % 2 == 0:
                r["outlet"] = outlet
            if title is not None and i == 0:
                r["title"] = title
            w.writerow(r)
    return dst


def _big_csv(src: Path, dst: Path, n: int) -> Path:
    """n distinct articles from the texts of `src` (a sentence number makes each unique)."""
    with src.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    with dst.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        for i in range(n):
            r = dict(rows[i % len(rows)])
            r["text"] = f"{r['text']}\n\nFile note {i}."
            for key in ("id", "article_id"):
                if key in r:
                    r[key] = f"big-{i}"
            w.writerow(r)
    return dst


async def _open(browser, url: str, timeout_ms: int, n_charts: int = 1):
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await ctx.new_page()
    await page.goto(url, wait_until="domcontentloaded")
    await page.wait_for_function(DONE_JS, arg=n_charts, timeout=timeout_ms, polling=100)
    return ctx, page


async def _choose_file(page, timeout_ms: int, path: str | Path) -> None:
    dropzone = page.locator('[data-testid="stFileUploaderDropzoneInput"]')
    await dropzone.wait_for(state="attached", timeout=timeout_ms)
    await dropzone.set_input_files(str(path))


async def _idle(page, timeout_ms: int) -> None:
    await page.wait_for_timeout(250)
    await page.wait_for_function(DONE_JS, arg=0, timeout=timeout_ms, polling=50)


# --- load ------------------------------------------------------------------------------------


async def _browse(browser, url: str, deadline: float, timeout_ms: int, seed: int) -> dict[str, Any]:
    """Switch pages and add/remove an outlet filter until the deadline (or MAX_STEPS)."""
    out: dict[str, Any] = {"ok": True, "errors": [], "filter_s": [], "page_s": [], "steps": 0}
    ctx = None
    try:
        ctx, page = await _open(browser, url, timeout_ms, 2)
        names = await outlets_of(page)
        step = seed
        while (time.time() < deadline or out["steps"] < MIN_STEPS) and out["steps"] < MAX_STEPS:
            title = PAGES[step % len(PAGES)]
            out["page_s"].append(await switch_page(page, title, timeout_ms))
            # one outlet in view: the Outlets page says it needs two instead of drawing a 1 × 1 heatmap
            one_outlet_charts = 0 if title == "Outlets" else 1
            out["filter_s"].append(await add_outlet(page, names[step % len(names)], timeout_ms, one_outlet_charts))
            box = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"]').filter(has_text="Outlets")
            await box.locator("input").first.click()
            t0 = time.perf_counter()
            await box.locator("input").first.press("Backspace")  # remove it again
            await _done(page, 1, timeout_ms)
            out["filter_s"].append(time.perf_counter() - t0)
            await page.keyboard.press("Escape")
            out["errors"] += await _errors(page)
            out["steps"] += 1
            step += 1
    except Exception as exc:  # a timeout or a lost connection: the session failed
        out["ok"] = False
        out["errors"].append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    finally:
        if ctx is not None:
            await ctx.close()
    out["ok"] = out["ok"] and not out["errors"]
    return out


async def _save_file(page, path: Path, name: str, timeout_ms: int) -> None:
    """On the Data page: choose the file, name the data set and save it (waits for the flash)."""
    await _choose_file(page, timeout_ms, str(path))
    await page.get_by_role("button", name="Save as data set").wait_for(timeout=timeout_ms)
    box = page.get_by_label("Data set name")
    await box.fill(name)
    await box.press("Enter")
    await _idle(page, timeout_ms)
    await page.get_by_role("button", name="Save as data set").click()
    await page.get_by_text("Saved the data set").first.wait_for(timeout=timeout_ms)


async def _upload(browser, url: str, csv_path: Path, name: str, timeout_ms: int) -> dict[str, Any]:
    out: dict[str, Any] = {"ok": False, "errors": []}
    ctx = None
    try:
        ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
        page = await ctx.new_page()
        await page.goto(f"{url}/data", wait_until="domcontentloaded")
        await _idle(page, timeout_ms)
        t0 = time.perf_counter()
        await _save_file(page, csv_path, name, timeout_ms)
        out["save_s"] = time.perf_counter() - t0
        out["errors"] += await _errors(page)
        out["ok"] = not out["errors"]
    except Exception as exc:
        out["errors"].append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
    finally:
        if ctx is not None:
            await ctx.close()
    return out


async def load(work: Path, mode: str, sessions: int | None = None, seconds: float | None = None) -> dict[str, Any]:
    """N browsing sessions + one upload + one CLI run on one store, for a bounded time."""
    from playwright.async_api import async_playwright

    sessions = sessions or SESSIONS[mode]
    seconds = seconds or LOAD_SECONDS[mode]
    timeout_ms = TIMEOUT_MS[mode]
    db = work / "load.db"
    corpus = corpus_for(mode, work)
    if not db.exists():  # (a store left by an earlier call is reused with its finished run)
        _add_dataset(db, corpus, "Load corpus")
    server = Server(db, work / "load-server.log")
    result: dict[str, Any] = {"sessions": sessions, "seconds": seconds, "corpus": corpus.name}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            server.start()
            t0 = time.perf_counter()
            ctx, _ = await _open(browser, server.url, timeout_ms, 2)  # the first run: analyse the corpus
            await ctx.close()
            result["first_analysis_s"] = round(time.perf_counter() - t0, 1)
            log(f"  reliability: load, {sessions} sessions for {seconds:.0f} s + upload + CLI run")
            upload_csv = _variant_csv(corpus, work / "load_upload.csv", 12, outlet="Upload Daily")
            cli_csv = _variant_csv(corpus, work / "load_cli.csv", 15, outlet="CLI Weekly")
            cli = _cli_popen("run", str(cli_csv), "--out", str(work / "load_cli_out"), "--store", str(db), "--quiet")
            deadline = time.time() + seconds
            outs = await asyncio.gather(
                *[_browse(browser, server.url, deadline, timeout_ms, i) for i in range(sessions)],
                _upload(browser, server.url, upload_csv, "Load upload", timeout_ms))
            try:
                _, cli_err = cli.communicate(timeout=900)
            except subprocess.TimeoutExpired:
                cli.kill()
                _, cli_err = cli.communicate()
        finally:
            server.stop()
            await browser.close()
    browse, upload = outs[:-1], outs[-1]
    filt = [x for o in browse for x in o["filter_s"]]
    pages = [x for o in browse for x in o["page_s"]]
    result.update(
        failed_sessions=sum(not o["ok"] for o in browse), upload_ok=upload["ok"], upload=upload,
        exception_boxes=sum(1 for o in outs for e in o["errors"] if "Traceback" in e or "Exception" in e),
        errors=[e for o in outs for e in o["errors"]][:20], steps=sum(o["steps"] for o in browse),
        filter_changes=len(filt), filter_median_s=median(filt), filter_p95_s=p95(filt),
        page_switches=len(pages), page_median_s=median(pages), page_p95_s=p95(pages),
        cli_returncode=cli.returncode, cli_stderr=(cli_err or "")[-500:], peak_rss_mb=round(server.peak_mb),
        store=store_health(db))
    return result


# --- faults ----------------------------------------------------------------------------------


def _wait_for(pred, timeout: float, poll: float = 0.05):
    end = time.time() + timeout
    while time.time() < end:
        got = pred()
        if got:
            return got
        time.sleep(poll)
    return None


def _run_row(db: Path) -> tuple | None:
    try:
        con = sqlite3.connect(db, timeout=5)
        try:
            return con.execute("SELECT status, stage, done, total FROM runs ORDER BY created_at DESC").fetchone()
        finally:
            con.close()
    except sqlite3.Error:
        return None


async def _kill_and_restart(server, ctx, browser, db: Path, log: Path, timeout_ms: int, n_charts: int) -> dict[str, Any]:
    """kill -9 the server, check the store, then start a new server on it and open the page until
    `n_charts` charts are drawn: the store's health after the kill, the seconds to results, page errors."""
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(30)
    await ctx.close()
    out: dict[str, Any] = {"after_kill": store_health(db)}
    restarted = Server(db, log)
    try:
        restarted.start()
        t0 = time.perf_counter()
        ctx, page = await _open(browser, restarted.url, timeout_ms, n_charts)
        out["restart_to_results_s"] = round(time.perf_counter() - t0, 1)
        out["restart_errors"] = await _errors(page)
        await ctx.close()
    finally:
        restarted.stop()
    return out


async def kill_server_during_upload(work: Path, mode: str) -> dict[str, Any]:
    """Save a large upload and kill -9 the server right after the click; restart; check the store."""
    from playwright.async_api import async_playwright

    timeout_ms = TIMEOUT_MS[mode]
    db = work / "fault-upload.db"
    _add_dataset(db, SMALL_CSV, "Existing corpus")
    big = _big_csv(SMALL_CSV, work / "big_upload.csv", 3000 if mode == "full" else 1500)
    server = Server(db, work / "fault-upload.log")
    out: dict[str, Any] = {"upload_rows": sum(1 for _ in big.open(encoding="utf-8")) - 1}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            server.start()
            ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
            page = await ctx.new_page()
            await page.goto(f"{server.url}/data", wait_until="domcontentloaded")
            await _idle(page, timeout_ms)
            await _choose_file(page, timeout_ms, str(big))
            save = page.get_by_role("button", name="Save as data set")
            await save.wait_for(timeout=timeout_ms)
            await save.click()
            await page.wait_for_timeout(150)
            out.update(await _kill_and_restart(server, ctx, browser, db, work / "fault-upload.log", timeout_ms, 1))
            out["killed"] = True
        finally:
            server.stop()
            await browser.close()
    con = sqlite3.connect(db)
    out["upload_saved"] = bool(con.execute("SELECT count(*) FROM datasets WHERE name LIKE 'big_upload%'").fetchone()[0])
    con.close()
    health = out["after_kill"]
    out["ok"] = (health["integrity"] == "ok" and not health["half_datasets"] and not out["restart_errors"])
    return out


async def kill_server_during_analysis(work: Path, mode: str) -> dict[str, Any]:
    """kill -9 the server while its run embeds; restart; the run is taken over and finishes."""
    from playwright.async_api import async_playwright

    timeout_ms = TIMEOUT_MS[mode]
    db = work / "fault-run.db"
    _add_dataset(db, SMALL_CSV, "Corpus")
    server = Server(db, work / "fault-run.log")
    out: dict[str, Any] = {}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            server.start()
            ctx = await browser.new_context()
            page = await ctx.new_page()
            await page.goto(server.url, wait_until="domcontentloaded")
            row = _wait_for(lambda: (r := _run_row(db)) and r[1] == "embed" and r[3] and r, 600, 0.05) or _run_row(db)
            out["killed_at"] = row
            # results need the run to finish: three charts
            out.update(await _kill_and_restart(server, ctx, browser, db, work / "fault-run.log", timeout_ms, 3))
        finally:
            server.stop()
            await browser.close()
    out["final"] = store_health(db)
    statuses = [r[1] for r in out["final"]["runs"]]
    out["ok"] = (out["after_kill"]["integrity"] == "ok" and out["final"]["integrity"] == "ok"
                 and statuses == ["done"] and not out["restart_errors"])
    return out


def kill_cli_during_embedding(work: Path, mode: str) -> dict[str, Any]:
    """kill -9 `framescope run` once its first vectors are stored; run it again to the end."""
    db = work / "fault-cli.db"
    corpus = corpus_for(mode, work, "cli")
    args = ("run", str(corpus), "--out", str(work / "fault_cli_out"), "--store", str(db), "--quiet")
    proc = _cli_popen(*args)

    def vectors() -> int:
        try:
            con = sqlite3.connect(db, timeout=5)
            try:
                return con.execute("SELECT count(*) FROM embeddings").fetchone()[0]
            finally:
                con.close()
        except sqlite3.Error:
            return 0

    _wait_for(lambda: vectors() > 0 or proc.poll() is not None, 900, 0.1)
    out: dict[str, Any] = {"killed_at": _run_row(db), "exited_before_kill": proc.poll() is not None}
    proc.send_signal(signal.SIGKILL)
    proc.wait(30)
    out["after_kill"] = store_health(db)
    # the cache also keeps codebook prototypes and sentences: count the passages' own vectors
    distinct, stored = _passage_vectors(db)
    out["after_kill"]["passages_to_embed"] = distinct - stored
    t0 = time.perf_counter()
    again = _cli(*args)
    out["rerun_s"] = round(time.perf_counter() - t0, 1)
    out["rerun_returncode"] = again.returncode
    out["rerun_stderr"] = again.stderr[-300:]
    manifest = json.loads((work / "fault_cli_out" / "manifest.json").read_text()) if again.returncode == 0 else {}
    counts = manifest.get("counts", {})
    out["passages"] = counts.get("passages")
    out["embedded_on_rerun"] = counts.get("passages_embedded_now")
    out["final"] = store_health(db)
    out["ok"] = (out["after_kill"]["integrity"] == "ok" and again.returncode == 0
                 and out["after_kill"]["vectors"] > 0 and [r[1] for r in out["final"]["runs"]] == ["done"]
                 and out["embedded_on_rerun"] == out["after_kill"]["passages_to_embed"])
    return out


def _passage_vectors(db: Path) -> tuple[int, int]:
    """Distinct passage texts in the store's split cache, and how many of them have a vector."""
    from analysis.passages import text_hash

    con = sqlite3.connect(db, timeout=30)
    try:
        hashes = {text_hash(t) for (blob,) in con.execute("SELECT passages FROM passage_splits")
                  for t in json.loads(blob)}
        stored = {h for (h,) in con.execute("SELECT text_hash FROM embeddings")}
    finally:
        con.close()
    return len(hashes), len(hashes & stored)


# --- bad input -------------------------------------------------------------------------------


def malformed_files() -> list[Path]:
    return sorted(p for p in MALFORMED.iterdir() if p.is_file() and p.name != "README.md")


def bad_input_cli() -> list[dict[str, Any]]:
    rows = []
    for path in malformed_files():
        r = _cli("check", str(path), timeout=300)
        text = r.stdout + r.stderr
        rows.append({"file": path.name, "returncode": r.returncode, "names_file": path.name in text,
                     "traceback": "Traceback" in text, "message": text.strip().splitlines()[-1][:160]})
    return rows


async def bad_input_browser(work: Path, mode: str) -> dict[str, Any]:
    """Every malformed file through the Data page, then hostile names saved and shown."""
    from playwright.async_api import async_playwright

    timeout_ms = TIMEOUT_MS[mode]
    db = work / "bad-input.db"
    seed = work / "load.db"
    if seed.exists() and corpus_for(mode, work) == SMALL_CSV:  # analysed, vectors cached: saves a cold run
        _copy_store(seed, db)
    else:
        _add_dataset(db, SMALL_CSV, "Corpus")
    server = Server(db, work / "bad-input.log")
    out: dict[str, Any] = {"files": []}
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        try:
            server.start()
            ctx = await browser.new_context(viewport={"width": 1400, "height": 1300})
            page = await ctx.new_page()
            await page.goto(server.url, wait_until="domcontentloaded")
            await page.wait_for_function(DONE_JS, arg=2, timeout=timeout_ms, polling=100)  # corpus analysed
            for path in malformed_files():
                await page.goto(f"{server.url}/data", wait_until="domcontentloaded")  # a fresh uploader
                await _idle(page, timeout_ms)
                await _choose_file(page, timeout_ms, str(path))
                await _idle(page, timeout_ms)
                alerts = page.locator('[data-testid="stAlert"]').filter(has_text=path.name)
                try:
                    await alerts.first.wait_for(timeout=60_000)
                    message = (await alerts.first.inner_text())[:200]
                except Exception:
                    message = ""
                body = await page.locator("body").inner_text()
                out["files"].append({"file": path.name, "message": message.replace("\n", " "),
                                     "exception": await page.locator('[data-testid="stException"]').count(),
                                     "traceback": "Traceback" in body})
            # user-typed names that look like markup
            hostile = _variant_csv(SMALL_CSV, work / "hostile.csv", 14, outlet=HOSTILE_OUTLET, title=HOSTILE_TITLE)
            await page.goto(f"{server.url}/data", wait_until="domcontentloaded")
            await _idle(page, timeout_ms)
            await _save_file(page, hostile, HOSTILE_DATASET, timeout_ms)
            texts = {"data": await page.locator('[data-testid="stMain"]').inner_text()}
            markup = {"data": await page.evaluate(MARKUP_FROM_USER_JS)}
            for title in ("Overview", "Outlets", "Article"):
                await page.locator('[data-testid="stSidebarNavLink"]').filter(has_text=title).first.click()
                await page.get_by_role("heading", name=title, exact=True).first.wait_for(timeout=timeout_ms)
                await page.wait_for_function(DONE_JS, arg=1, timeout=timeout_ms, polling=100)
                texts[title] = await page.locator('[data-testid="stMain"]').inner_text()
                markup[title] = await page.evaluate(MARKUP_FROM_USER_JS)
            out["hostile"] = {
                "dataset_name_literal": HOSTILE_DATASET in texts["data"] and HOSTILE_DATASET in texts["Overview"],
                "outlet_literal": HOSTILE_OUTLET in texts["Outlets"],
                "markup_elements": markup,
                "errors": await _errors(page),
            }
            await ctx.close()
        finally:
            server.stop()
            await browser.close()
    return out


# --- the suite -------------------------------------------------------------------------------


def _save_partial(res: SuiteResult, work: Path) -> None:
    """The figures so far, in case a later phase overruns the time it was given."""
    (work / "partial.json").write_text(json.dumps(res.to_json(), indent=2, default=str) + "\n")


def run(mode: str = "full") -> SuiteResult:
    res = SuiteResult("reliability", mode, "Load, kill -9 and malformed input (Chromium, loopback only)")
    res.columns = ["measure", "value", "all"]
    if not CHROMIUM.exists():
        res.skipped = "not available: /usr/bin/chromium missing"
        return res
    work = CACHE / f"reliability-{mode}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    rows = res.rows
    lo = asyncio.run(load(work, mode))
    res.extra["load"] = lo
    rows += [
        {"measure": f"load: sessions × seconds ({lo['corpus']})", "value": lo["sessions"],
         "all": f"{lo['seconds']:.0f} s, {lo['steps']} steps, first analysis {lo['first_analysis_s']} s"},
        {"measure": "load: failed sessions", "value": lo["failed_sessions"], "all": "; ".join(lo["errors"])[:200]},
        {"measure": "load: exception boxes", "value": lo["exception_boxes"], "all": ""},
        {"measure": "load: filter change median (s)", "value": lo["filter_median_s"],
         "all": f"p95 {lo['filter_p95_s']:.2f} s over {lo['filter_changes']} changes"},
        {"measure": "load: page switch median (s)", "value": lo["page_median_s"],
         "all": f"p95 {lo['page_p95_s']:.2f} s over {lo['page_switches']} switches"},
        {"measure": "load: upload saved during load / CLI run exit code", "value": int(lo["upload_ok"]),
         "all": f"CLI exit {lo['cli_returncode']}; integrity {lo['store']['integrity']}"},
        {"measure": "load: server peak RSS (MiB)", "value": lo["peak_rss_mb"], "all": ""},
    ]
    res.target("load: failed sessions", lo["failed_sessions"], "0", lo["failed_sessions"] == 0)
    res.target("load: exception boxes", lo["exception_boxes"], "0", lo["exception_boxes"] == 0)
    _save_partial(res, work)
    log("  reliability: kill -9 during an upload")
    up = asyncio.run(kill_server_during_upload(work, mode))
    log("  reliability: kill -9 during an analysis")
    an = asyncio.run(kill_server_during_analysis(work, mode))
    log("  reliability: kill -9 of a CLI run mid-embedding")
    cl = kill_cli_during_embedding(work, mode)
    res.extra.update(fault_upload=up, fault_analysis=an, fault_cli=cl)
    rows += [
        {"measure": "fault: server killed while saving an upload — integrity / half data sets",
         "value": up["after_kill"]["integrity"],
         "all": f"{len(up['after_kill']['half_datasets'])} half; upload {'saved whole' if up['upload_saved'] else 'absent'}"},
        {"measure": "fault: server killed mid-analysis — restart → results (s)", "value": an.get("restart_to_results_s"),
         "all": f"killed at {an.get('killed_at')}; integrity {an['after_kill']['integrity']}; runs {[r[1] for r in an['final']['runs']]}"},
        {"measure": "fault: CLI killed mid-embedding — vectors kept", "value": cl["after_kill"]["vectors"],
         "all": f"rerun exit {cl['rerun_returncode']}, embedded {cl['embedded_on_rerun']} of {cl['passages']} passages, "
                f"integrity {cl['after_kill']['integrity']}"},
    ]
    for name, r in (("upload", up), ("analysis", an), ("CLI", cl)):
        res.target(f"fault ({name}): integrity ok, nothing half-written, run completes", int(r["ok"]), "1", r["ok"])
    _save_partial(res, work)
    log("  reliability: malformed files through the CLI and the browser")
    cli_rows = bad_input_cli()
    br = asyncio.run(bad_input_browser(work, mode))
    res.extra.update(bad_input_cli=cli_rows, bad_input_browser=br)
    cli_ok = all(r["names_file"] and not r["traceback"] for r in cli_rows)
    br_ok = all(f["message"] and not f["exception"] and not f["traceback"] for f in br["files"])
    rows += [{"measure": f"bad input: {r['file']}", "value": r["returncode"], "all": r["message"]} for r in cli_rows]
    rows.append({"measure": "bad input: browser uploads with a message naming the file, no traceback",
                 "value": sum(bool(f["message"]) and not f["exception"] for f in br["files"]),
                 "all": f"of {len(br['files'])}"})
    h = br["hostile"]
    rows.append({"measure": "hostile names shown literally; img/link elements made from them",
                 "value": sum(h["markup_elements"].values()),
                 "all": f"data set literal {h['dataset_name_literal']}, outlet literal {h['outlet_literal']}"})
    res.target("bad input: CLI names the file, no traceback", int(cli_ok), "1", cli_ok)
    res.target("bad input: browser shows a message naming the file, no traceback", int(br_ok), "1", br_ok)
    markup_ok = not sum(h["markup_elements"].values()) and h["dataset_name_literal"] and h["outlet_literal"]
    res.target("user text never becomes markup", int(markup_ok), "1", markup_ok)
    res.notes.append("Filter latency: keypress in the outlet filter until the rerun has finished and a chart is "
                     "drawn; browser sessions and server share the machine's 2 cores.")
    return res
