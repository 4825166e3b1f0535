"""The benchmark suites run end to end on tiny inputs (real code paths, no speed assertions).

One `python -m bench --tiny` process runs the non-browser suites against a temporary cache
and results folder; each suite must produce rows and targets, not a failure. The dashboard
suite needs Chromium and dashboard/app.py, so it is marked `browser` and skips without them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared" / "data"
SUITES = ["embed", "pipeline", "scale", "quality-clusters", "quality-frames", "multilingual"]

pytestmark = [
    pytest.mark.skipif(
        not (SHARED / "bbc_news" / "bbc_news.csv").exists() or not (SHARED / "gvfc" / "gvfc_extension.csv").exists(),
        reason="research data in ../shared/data is not available",
    ),
    pytest.mark.timeout(1800),  # a few minutes on an idle machine; shared machines can be much slower
]


def _run(tmp: Path, suites: list[str]) -> Path:
    env = {**os.environ, "FRAMESCOPE_BENCH_CACHE": str(tmp / "cache"), "FRAMESCOPE_BENCH_RESULTS": str(tmp / "results"),
           "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run([sys.executable, "-m", "bench", "--tiny", *suites], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=1700)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return tmp / "results" / "tiny"


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    return _run(tmp_path_factory.mktemp("bench"), SUITES)


@pytest.mark.parametrize("suite", SUITES)
def test_suite_runs_on_tiny_inputs(results: Path, suite: str) -> None:
    d = json.loads((results / f"{suite}.json").read_text())
    assert d["suite"] == suite and d["mode"] == "tiny"
    assert not d["skipped"], d["skipped"]
    assert d["rows"], "a suite prints at least one table row"
    assert d["targets"], "a suite states its targets"
    for t in d["targets"]:
        assert t["verdict"] in ("pass", "MISS", "n/a")


def test_run_record_and_no_markdown(results: Path) -> None:
    run = json.loads((results / "run.json").read_text())
    assert run["mode"] == "tiny" and run["machine"]["cores"] >= 1
    assert not (results / "BENCHMARKS.md").exists()


def test_markdown_report_renders(results: Path, tmp_path: Path) -> None:
    from bench.report import write_markdown

    run = json.loads((results / "run.json").read_text())
    out = write_markdown(results, run, path=tmp_path / "B.md")
    text = out.read_text()
    assert "## Summary" in text and "| embed |" in text and "AVX512-BF16" in text


@pytest.mark.browser
def test_dashboard_suite_on_tiny_inputs(tmp_path: Path) -> None:
    if not (REPO / "dashboard" / "app.py").exists() or not Path("/usr/bin/chromium").exists():
        pytest.skip("dashboard/app.py or /usr/bin/chromium not available")
    d = json.loads((_run(tmp_path, ["dashboard"]) / "dashboard.json").read_text())
    assert not d["skipped"], d["skipped"]
    assert any("page switch" in r["measure"] for r in d["rows"])
    floor = [r["value"] for r in d["rows"] if "bare Streamlit app" in r["measure"] and "CPU" not in r["measure"]]
    assert len(floor) == 1 and 0 < floor[0] < 30  # the ratio's reference
    # the CPU meter finds Chromium's renderer and the server: drawing a page and running its
    # script both take CPU, so a zero would mean a process was missed
    cpu = {r["measure"]: r["value"] for r in d["rows"] if "CPU per action" in r["measure"]}
    for who in ("Chromium renderer", "server"):
        used = [v for m, v in cpu.items() if m.startswith("page switch, small corpus") and f": {who} CPU" in m]
        assert len(used) == 1 and 0 < used[0] < 30, (who, cpu)


def test_unknown_suite_is_a_usage_error() -> None:
    proc = subprocess.run([sys.executable, "-m", "bench", "nope"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unknown suite" in proc.stderr
