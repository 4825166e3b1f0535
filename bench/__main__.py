"""`python -m bench [suite ...] [--quick]`: run the benchmark suites, print a table per
suite, write bench/results/<suite>.json and regenerate BENCHMARKS.md (full runs only).

Suites: embed, pipeline, scale, quality-clusters, quality-frames, dashboard, multilingual, reliability,
scale-out (default: all).
`--quick` runs every suite on small inputs (about 3 minutes) and writes its JSON to
bench/results/quick/ without touching BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

from .common import RESULTS, SUITES, Stopwatch, loadavg, log, now_utc, table, targets_table  # noqa: E402



def suite_runner(name: str):
    from . import (suite_clusters, suite_dashboard, suite_embed, suite_frames, suite_multilingual, suite_pipeline,
                   suite_reliability, suite_scale, suite_scale_out)

    return {"embed": suite_embed.run, "pipeline": suite_pipeline.run, "scale": suite_scale.run,
            "quality-clusters": suite_clusters.run, "quality-frames": suite_frames.run,
            "dashboard": suite_dashboard.run, "multilingual": suite_multilingual.run,
            "reliability": suite_reliability.run, "scale-out": suite_scale_out.run}[name]


def run_suite(name: str, mode: str):
    from .common import SuiteResult

    started, load0 = now_utc(), loadavg()
    t = Stopwatch()
    try:
        res = suite_runner(name)(mode)
    except Exception as exc:  # one failing suite must not hide the others' results
        traceback.print_exc()
        res = SuiteResult(name, mode, skipped=f"failed: {type(exc).__name__}: {exc}".splitlines()[0][:400])
    res.seconds, res.started_utc, res.load_before, res.load_after = round(t(), 2), started, load0, loadavg()
    return res


def print_result(res) -> None:
    print(f"\n== {res.suite}: {res.title} ({res.mode}, {res.seconds:.0f}s, load {res.load_before} → {res.load_after})")
    if res.skipped:
        print(f"   not available / skipped: {res.skipped}")
        return
    if res.rows:
        print(table(res.columns, res.rows))
    if res.targets:
        print()
        print(targets_table(res.targets))
    for note in res.notes:
        print(f"  note: {note}")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    p.add_argument("suites", nargs="*", metavar="SUITE",
                   help=f"suites to run [{' '.join(SUITES)}]")
    p.add_argument("--quick", action="store_true", help="small inputs, about 3 minutes; no BENCHMARKS.md")
    p.add_argument("--tiny", action="store_true", help=argparse.SUPPRESS)  # the smoke test's sizes
    p.add_argument("--no-md", action="store_true", help="do not regenerate BENCHMARKS.md")
    args = p.parse_args(argv)
    unknown = [s for s in args.suites if s not in SUITES]
    if unknown:
        p.error(f"unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}")
    suites = args.suites or list(SUITES)
    mode = "tiny" if args.tiny else "quick" if args.quick else "full"
    out_dir = RESULTS if mode == "full" else RESULTS / mode
    out_dir.mkdir(parents=True, exist_ok=True)
    from .common import machine_info, versions

    wall = Stopwatch()
    meta = {"mode": mode, "suites": suites, "started_utc": now_utc(), "machine": machine_info(),
            "versions": versions(), "load_start": loadavg()}
    log(f"bench: {mode} run of {', '.join(suites)} on {meta['machine']['cpu']} ({meta['machine']['cores']} cores)")
    results = []
    for name in suites:
        log(f"bench: suite {name} …")
        res = run_suite(name, mode)
        results.append(res)
        (out_dir / f"{name}.json").write_text(json.dumps(res.to_json(), indent=2, default=str) + "\n")
        print_result(res)
    meta.update(wall_s=round(wall(), 1), finished_utc=now_utc(), load_end=loadavg())
    # a run of some suites keeps the other suites' last results in the run record
    run_path = out_dir / "run.json"
    previous = json.loads(run_path.read_text()) if run_path.exists() else {}
    if set(suites) != set(SUITES) and previous:
        meta["partial_of"] = previous.get("started_utc")
    run_path.write_text(json.dumps(meta, indent=2, default=str) + "\n")
    print(f"\nbench: {mode} run finished in {meta['wall_s']:.0f}s ({meta['wall_s'] / 60:.1f} min); results in {out_dir}")
    if mode == "full" and not args.no_md:
        from .report import write_markdown

        path = write_markdown(out_dir, meta)
        print(f"bench: wrote {path}")
    failed = [r.suite for r in results if r.skipped.startswith("failed")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
