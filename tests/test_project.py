"""Project-level promises: a pure library, documented options, no secrets in the tree."""

import re
import subprocess
import sys
from pathlib import Path

from analysis.config import field_help

ROOT = Path(__file__).resolve().parents[1]


def test_analysis_never_imports_streamlit():
    code = ("import sys, pkgutil, importlib, analysis\n"
            "for m in pkgutil.iter_modules(analysis.__path__): importlib.import_module('analysis.' + m.name)\n"
            "print('streamlit' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"


def test_readme_documents_every_cli_option():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    missing = [f for f in field_help() if f"--{f.replace('_', '-')}" not in readme]
    assert missing == []


def test_readme_has_the_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "streamlit run dashboard/app.py" in readme
    test_cmd = re.search(r"^(.*python -m pytest.*)$", readme, re.M)
    assert test_cmd, "README must give the test command"
    assert test_cmd.group(1).strip().strip("`") in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_torch_stays_pinned():
    assert '"torch==2.13.0"' in (ROOT / "pyproject.toml").read_text(encoding="utf-8")
