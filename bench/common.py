"""Shared plumbing of the benchmark suites: paths, machine facts, timers, memory, results.

Every suite returns a `SuiteResult`: table rows, targets with pass/miss, notes (what was
reduced and why) and the load average around it, since these machines are shared and
timings drift with whatever else runs. Speed claims are ratios measured side by side.
"""

from __future__ import annotations

import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
BENCH = REPO / "bench"
SHARED_DATA = Path(os.environ.get("FRAMESCOPE_SHARED_DATA", REPO.parent / "shared" / "data"))
BBC_CSV = SHARED_DATA / "bbc_news" / "bbc_news.csv"
GVFC_EXTENSION = SHARED_DATA / "gvfc" / "gvfc_extension.csv"
DEMO_CSV = REPO / "data" / "demo" / "articles.csv"
GVFC_CODEBOOK = REPO / "data" / "codebooks" / "gvfc.yaml"
CACHE = Path(os.environ.get("FRAMESCOPE_BENCH_CACHE", BENCH / ".cache"))
RESULTS = Path(os.environ.get("FRAMESCOPE_BENCH_RESULTS", BENCH / "results"))

MODES = ("tiny", "quick", "full")


# --- results ------------------------------------------------------------------------------
@dataclass
class Target:
    name: str  # what is measured
    value: float | None  # measured figure (None: not measured)
    goal: str  # the target, as text ("≥ 2.5×")
    passed: bool | None  # None: not measured / projected only
    note: str = ""

    @property
    def verdict(self) -> str:
        return {True: "pass", False: "MISS", None: "n/a"}[self.passed]


@dataclass
class SuiteResult:
    suite: str
    mode: str
    title: str = ""
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    skipped: str = ""  # reason, when the suite could not run
    seconds: float = 0.0
    started_utc: str = ""
    load_before: list[float] = field(default_factory=list)
    load_after: list[float] = field(default_factory=list)

    def target(self, name: str, value: float | None, goal: str, ok: bool | None, note: str = "") -> None:
        v = None if value is None else float(value)
        self.targets.append(Target(name, v, goal, ok, note))

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["targets"] = [{**asdict(t), "verdict": t.verdict} for t in self.targets]
        return d


SUITES = ("embed", "pipeline", "scale", "quality-clusters", "quality-frames", "dashboard", "multilingual",
          "reliability", "scale-out")  # in the order they run and appear in BENCHMARKS.md

def check(value: float | None, op: str, bound: float) -> bool | None:
    if value is None or value != value:  # None or NaN
        return None
    return value >= bound if op == ">=" else value <= bound


# --- timing and memory -----------------------------------------------------------------------
class Stopwatch:
    def __init__(self) -> None:
        self.t0 = time.perf_counter()

    def __call__(self) -> float:
        return time.perf_counter() - self.t0


def median(xs: Sequence[float]) -> float:
    return float(statistics.median(xs)) if xs else float("nan")


def p95(xs: Sequence[float]) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    k = max(0, min(len(s) - 1, round(0.95 * (len(s) - 1))))
    return float(s[k])


def reset_peak_rss() -> bool:
    """Reset this process's peak-RSS high-water mark (Linux ≥ 4.0: write 5 to clear_refs)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _status_kb(key: str, pid: str = "self") -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return float(line.split()[1])
    except OSError:
        pass
    return float("nan")


def peak_rss_mb() -> float:
    """Peak resident memory of this process since start or the last `reset_peak_rss`, MiB."""
    hwm = _status_kb("VmHWM")
    if hwm == hwm:
        return hwm / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_mb() -> float:
    return _status_kb("VmRSS") / 1024


def loadavg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


# --- machine and versions --------------------------------------------------------------------
def bf16_on(machine: dict[str, Any]) -> str:
    """What bf16 does on this CPU, in one sentence, from its detected flags (every report of the
    embed ratio says it: the target assumed AMX)."""
    if machine.get("amx_bf16") or machine.get("amx_tile"):
        return "This CPU has AMX tiles: bf16 matrix products run on them, about 3× fp32 (../shared/STACK.md)."
    if machine.get("avx512_bf16"):
        return ("This CPU has AVX512-BF16 but no AMX: bf16 matrix products run on AVX512 dot-product "
                "instructions, roughly 2× fp32, not ~3× as on AMX machines.")
    return ("This CPU has neither AMX nor AVX512-BF16 (AVX2 only): the encoder runs in fp32, as plain "
            "SentenceTransformer does, so the ratio is about 1× and measures only Framescope's own overhead.")


def machine_info() -> dict[str, Any]:
    cpu = platform.processor()
    flags: set[str] = set()
    try:
        text = Path("/proc/cpuinfo").read_text()
        m = re.search(r"^model name\s*:\s*(.+)$", text, re.M)
        cpu = m.group(1).strip() if m else cpu
        f = re.search(r"^flags\s*:\s*(.+)$", text, re.M)
        flags = set(f.group(1).split()) if f else set()
    except OSError:
        pass
    mem_gib = float("nan")
    try:
        kb = int(re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text()).group(1))
        mem_gib = round(kb / 2**20, 1)
    except (OSError, AttributeError):
        pass
    info: dict[str, Any] = {
        "cpu": cpu, "cores": os.cpu_count(), "ram_gib": mem_gib,
        "avx512_bf16": "avx512_bf16" in flags, "amx_bf16": "amx_bf16" in flags, "amx_tile": "amx_tile" in flags,
        "avx512f": "avx512f" in flags, "os": platform.platform(), "python": platform.python_version(),
    }
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        info["torch_avx512_bf16"] = bool(getattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)())
        info["torch_amx"] = bool(getattr(torch.cpu, "_is_amx_tile_supported", lambda: False)())
    except Exception:  # torch missing is reported, not fatal
        pass
    return info


def versions() -> dict[str, str]:
    from importlib import metadata

    out: dict[str, str] = {}
    for name in ("framescope", "torch", "sentence-transformers", "transformers", "numpy", "scipy", "pandas",
                 "scikit-learn", "bertopic", "umap-learn", "hdbscan", "streamlit", "playwright", "psutil"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "-"
    try:
        out["git"] = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                                    text=True, timeout=10).stdout.strip() or "-"
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "analysis", "dashboard"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        if dirty:
            out["git"] += " (+ uncommitted changes in analysis/ or dashboard/)"
    except (OSError, subprocess.SubprocessError):
        out["git"] = "-"
    return out


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


# --- embedder and vector cache ---------------------------------------------------------------
def embedder():
    """Framescope's embedder with the defaults (auto precision), loaded once per process."""
    from analysis.embeddings import load_embedder

    return load_embedder()


def vector_store():
    """The benchmark's own embedding cache for the research corpora (never the user's store)."""
    from analysis.store import Store

    CACHE.mkdir(parents=True, exist_ok=True)
    return Store(CACHE / "vectors.db")


def embed_cached(texts: Sequence[str], model=None):
    """Vectors of `texts` through Framescope's embed_texts and the benchmark cache (default model unless given)."""
    from analysis.embeddings import embed_texts
    from analysis.passages import text_hash

    store = vector_store()
    try:
        return embed_texts(list(texts), [text_hash(t) for t in texts], model or embedder(), store)
    finally:
        store.close()


def demo_labels(tmp: Path, codebook):
    """The demonstration corpus's gold paragraph frames as `validate` labels (written to `tmp`)."""
    import pandas as pd

    from analysis.validation import load_labels

    articles = pd.read_csv(DEMO_CSV, keep_default_na=False)
    gold = pd.read_csv(DEMO_CSV.parent / "gold_frames.csv")
    labels_of = gold.groupby(["article_id", "paragraph_index"])["frame_id"].agg(";".join).to_dict()
    rows = [{"text": p, "frame_id": labels_of.get((a, i), "")}
            for a, text in zip(articles["id"], articles["text"], strict=True) for i, p in enumerate(text.split("\n\n"))]
    path = tmp / "demo_labels.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return load_labels(path, codebook)


# --- subprocess workers ----------------------------------------------------------------------
def run_worker(kind: str, spec: dict[str, Any], *, timeout: float = 1800) -> dict[str, Any]:
    """Run `python -m bench.worker KIND` in a fresh process (clean memory, cold imports)."""
    CACHE.mkdir(parents=True, exist_ok=True)
    out = CACHE / f"worker-{kind}-{os.getpid()}-{time.monotonic_ns()}.json"
    spec_path = out.with_suffix(".spec.json")
    spec_path.write_text(json.dumps(spec, default=str))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    t = Stopwatch()
    proc = subprocess.run([sys.executable, "-m", "bench.worker", kind, str(spec_path), str(out)], cwd=REPO,
                          env=env, capture_output=True, text=True, timeout=timeout)
    wall = t()
    spec_path.unlink(missing_ok=True)
    if proc.returncode != 0 or not out.exists():
        tail = "\n".join((proc.stderr or "").strip().splitlines()[-25:])
        raise RuntimeError(f"worker {kind} failed (exit {proc.returncode}):\n{tail}")
    res = json.loads(out.read_text())
    out.unlink(missing_ok=True)
    res["process_wall_s"] = round(wall, 3)
    return res


# --- printing -------------------------------------------------------------------------------
def fmt(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v != v:
            return "-"
        a = abs(v)
        if 0.99 <= a < 1:  # cosines and other near-one figures need their digits
            return f"{v:.5f}"
        if a >= 1000:
            return f"{v:,.0f}"
        if a >= 100:
            return f"{v:.1f}"
        if a >= 1:
            return f"{v:.2f}"
        return f"{v:.3f}" if a >= 0.01 or v == 0 else f"{v:.2g}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def table(columns: Sequence[str], rows: Iterable[dict[str, Any]], md: bool = False) -> str:
    rows = list(rows)
    cells = [[fmt(r.get(c)) for c in columns] for r in rows]
    if md:
        esc = [[c.replace("|", "\\|") for c in row] for row in cells]
        head = "| " + " | ".join(columns) + " |\n| " + " | ".join("---" for _ in columns) + " |\n"
        return head + "".join("| " + " | ".join(r) + " |\n" for r in esc)
    widths = [max(len(c), *(len(r[i]) for r in cells)) if cells else len(c) for i, c in enumerate(columns)]
    line = "  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))
    out = [line, "  ".join("-" * w for w in widths)]
    out += ["  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    return "\n".join(out)


def targets_table(targets: Sequence[Target], md: bool = False) -> str:
    rows = [{"target": t.name, "measured": t.value, "goal": t.goal, "verdict": t.verdict, "note": t.note}
            for t in targets]
    return table(["target", "measured", "goal", "verdict", "note"], rows, md=md)


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)
