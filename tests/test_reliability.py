"""The `reliability` bench suite at small sizes, with assertions (issue 11, item 7).

Two browser sessions for about 30 s plus an upload and a CLI run; kill -9 of the server while
saving an upload and while analysing, and of a CLI run mid-embedding; every malformed file
through the CLI and the browser; user-typed names that look like Markdown/HTML. Loopback only.
`python -m bench reliability` runs the full version (8 sessions for 5 minutes) and prints figures.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from bench import suite_reliability as R

pytestmark = [pytest.mark.browser, pytest.mark.timeout(2400)]  # minutes on a busy 2-core machine


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    if not R.CHROMIUM.exists():
        why = f"{R.CHROMIUM} is missing: install Debian's chromium"
        if os.environ.get("FRAMESCOPE_REQUIRE_BROWSER") == "1":
            pytest.fail(why)
        pytest.skip(why)
    return tmp_path_factory.mktemp("reliability")


def test_two_sessions_an_upload_and_a_cli_run_share_one_server(work):
    r = asyncio.run(R.load(work, "tiny", sessions=2, seconds=30))
    assert r["failed_sessions"] == 0 and r["exception_boxes"] == 0, r["errors"]
    assert r["upload_ok"], r["upload"]
    assert r["cli_returncode"] == 0, r["cli_stderr"]
    assert r["filter_changes"] >= 2 * 2 * R.MIN_STEPS and r["filter_p95_s"] > 0
    assert r["store"]["integrity"] == "ok" and not r["store"]["half_datasets"]
    assert {run[1] for run in r["store"]["runs"]} == {"done"}


def test_server_killed_while_saving_an_upload_leaves_no_half_data_set(work):
    r = asyncio.run(R.kill_server_during_upload(work, "tiny"))
    assert r["after_kill"]["integrity"] == "ok"
    assert r["after_kill"]["half_datasets"] == []
    assert r["restart_errors"] == []


def test_server_killed_mid_analysis_is_taken_over_after_restart(work):
    r = asyncio.run(R.kill_server_during_analysis(work, "tiny"))
    assert r["killed_at"][0] == "running", r["killed_at"]
    assert r["after_kill"]["integrity"] == "ok"
    assert [run[1] for run in r["final"]["runs"]] == ["done"], r["final"]
    assert r["restart_errors"] == []


def test_cli_killed_mid_embedding_keeps_vectors_and_runs_again(work):
    r = R.kill_cli_during_embedding(work, "tiny")
    assert r["after_kill"]["integrity"] == "ok" and r["after_kill"]["vectors"] > 0
    assert r["rerun_returncode"] == 0, r["rerun_stderr"]
    assert r["embedded_on_rerun"] == r["after_kill"]["passages_to_embed"] < r["passages"]  # stored ones kept
    assert [run[1] for run in r["final"]["runs"]] == ["done"]


def test_malformed_files_through_the_cli_name_the_file_and_row():
    rows = R.bad_input_cli()
    assert len(rows) >= 10
    for row in rows:
        assert row["names_file"] and not row["traceback"], row
        assert row["returncode"] in (0, 2), row
    by_file = {r["file"]: r["message"] for r in rows}
    assert "row 4" in by_file["ragged_rows.csv"] and "line 2" in by_file["bad_encoding.csv"]


def test_malformed_files_and_hostile_names_in_the_browser(work):
    r = asyncio.run(R.bad_input_browser(work, "tiny"))
    assert len(r["files"]) == len(R.malformed_files())
    for f in r["files"]:
        assert f["message"] and not f["exception"] and not f["traceback"], f
    h = r["hostile"]
    assert h["dataset_name_literal"] and h["outlet_literal"], h
    assert sum(h["markup_elements"].values()) == 0, h
    assert h["errors"] == []
