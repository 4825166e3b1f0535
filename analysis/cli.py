"""`framescope`: the whole analysis headless.

    framescope run [INPUT ...] --out DIR          # ingest → … → tables + manifest.json
    framescope validate --labels L [--fit OUT]    # frame quality against hand labels
    framescope codebook FILE                      # check a codebook and list its frames
    framescope check INPUT ...                    # read files, report rejected rows, no analysis
    framescope store info|gc [--store DB]         # what the store holds; drop what no data set uses

Errors are one line naming the file, row or option at fault, with a non-zero exit
status; `--debug` shows the traceback instead.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
import time
import typing
from pathlib import Path

from . import __version__
from .config import COMMAND_LINE_LIMITS, DEFAULT_CODEBOOK, DEMO_CORPUS, PipelineConfig, default_store_path, field_help
from .errors import FramescopeError

EXIT_USAGE = 2
EXIT_FAILED = 1


def _k(value: str) -> int | None:
    if value.lower() == "auto":
        return None
    try:
        k = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of clusters or 'auto', got {value!r}") from None
    if k < 1:
        raise argparse.ArgumentTypeError(f"k must be at least 1, got {k}")
    return k


def _on_off(value: str) -> bool:
    if value.lower() in ("on", "yes", "true", "1"):
        return True
    if value.lower() in ("off", "no", "false", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected on or off, got {value!r}")


def _add_config_options(p: argparse.ArgumentParser) -> None:
    """One option per PipelineConfig field, help text from the config itself."""
    hints = typing.get_type_hints(PipelineConfig)
    g = p.add_argument_group("analysis options (defaults in brackets)")
    for f in dataclasses.fields(PipelineConfig):
        flag = "--" + f.name.replace("_", "-")
        hint, help_text = hints[f.name], f.metadata["help"]
        shown = Path(f.default).name if f.name == "codebook" else f.default
        kw: dict = {"dest": f.name, "default": None, "help": f"{help_text} [{shown}]"}
        if f.name == "k":
            kw.update(type=_k, metavar="auto|N", help=f"{help_text} [auto]")
        elif hint is bool:
            kw.update(type=_on_off, nargs="?", const=True, metavar="on|off",
                      help=f"{help_text} [{'on' if f.default else 'off'}]")
        elif typing.get_origin(hint) is typing.Literal:
            kw.update(choices=typing.get_args(hint))
        elif hint in (int, float):
            kw.update(type=hint)
        elif typing.get_origin(hint) in (typing.Union, getattr(__import__("types"), "UnionType")):
            kw.update(type=str)
        g.add_argument(flag, **kw)


def _config_from(args: argparse.Namespace) -> PipelineConfig:
    changes = {f.name: getattr(args, f.name) for f in dataclasses.fields(PipelineConfig)
               if getattr(args, f.name) is not None}
    if getattr(args, "k", None) is None and "k" in changes:
        changes.pop("k")
    return PipelineConfig().replace(**changes)


def _mapping(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        field, sep, column = pair.partition("=")
        if not sep or not field or not column:
            raise FramescopeError(f"--map expects field=column, got {pair!r}")
        out[field.strip()] = column.strip()
    return out


def _stage_printer(quiet: bool):
    from .embeddings import TerminalProgress

    bar: dict[str, TerminalProgress] = {}
    started: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if quiet:
            return
        if stage == "embed" and total > 1:
            bar.setdefault("embed", TerminalProgress("  embed"))(done, total)
            return
        if done == 0:
            started[stage] = time.perf_counter()
        elif done >= total and stage != "embed":
            print(f"  {stage:<12} {time.perf_counter() - started.get(stage, time.perf_counter()):7.2f}s",
                  file=sys.stderr)

    return progress


def cmd_run(args: argparse.Namespace) -> int:
    from .ingest import ingest
    from .pipeline import run, sources_of, write_outputs
    from .store import Store, run_owner_id

    config = _config_from(args)
    if args.base or args.engine == "dask":
        from .incremental import cmd_run_scaled

        return cmd_run_scaled(args, config)
    inputs = args.inputs or [str(DEMO_CORPUS)]
    t0 = time.perf_counter()
    result = ingest(inputs, mapping=_mapping(args.map), dayfirst=args.dayfirst, limits=COMMAND_LINE_LIMITS)
    ingest_seconds = round(time.perf_counter() - t0, 4)
    if not args.quiet:
        print(f"framescope: read {result.n_rows_read} rows from {len(result.files)} file(s): "
              f"{len(result.articles)} articles, {len(result.rejected)} rejected, "
              f"{result.n_duplicates} duplicate copies collapsed", file=sys.stderr)
        for w in result.warnings[:20]:
            print(f"  warning: {w}", file=sys.stderr)
    store = None if args.no_store else Store(args.store or default_store_path())
    try:
        out = run(result.articles, config, store=store, owner=run_owner_id("cli"),
                  progress=_stage_printer(args.quiet), rejected=result.rejected, sources=sources_of(result))
        tables, validation = _corrected(args, config, out.tables, store)
    finally:
        if store is not None:
            store.close()
    manifest = {**out.manifest, "timings_s": {**out.manifest.get("timings_s", {}), "ingest": ingest_seconds},
                **({"validation": validation} if validation else {})}
    written = write_outputs(tables, manifest, args.out, xlsx=args.xlsx)
    from .incremental import save_run_model

    written.append(save_run_model(out, config, args.out, store_path=None if args.no_store else
                                  (args.store or default_store_path())))
    if not args.quiet:
        c, cl = manifest["counts"], manifest["clustering"]
        how = "reused from the store" if manifest.get("reused_run") else f"{c['passages_embedded_now']} embedded now"
        print(f"framescope: {c['articles']} articles, {c['passages']} passages ({how}; "
              f"{c.get('lines_dropped', 0)} byline/credit lines dropped), {cl['k']} clusters "
              f"({cl['criterion']}); {len(written)} files in {args.out} in {time.perf_counter() - t0:.1f}s",
              file=sys.stderr)
    for warning in manifest.get("warnings", []):
        print(f"framescope: warning: {warning}", file=sys.stderr)
    return 0


def _corrected(args: argparse.Namespace, config: PipelineConfig, tables: dict, store) -> tuple[dict, dict | None]:
    """Frame-share tables with Rogan–Gladen corrected columns, when a validation exists:
    `--validation LABELS.csv`, else the labels coded in the store for this codebook."""
    from .agreement import majority
    from .codebook import load_codebook
    from .coding import LabelBook
    from .prevalence import correct_tables, measured_rates
    from .validation import load_labels

    codebook = load_codebook(config.codebook)
    if args.validation:
        labels = load_labels(args.validation, codebook)
        texts, gold, source = labels.texts, labels.y, str(args.validation)
    else:
        coded = LabelBook(store, codebook).coded() if store is not None else None
        if coded is None or coded.empty:
            return tables, None
        gold_table = majority(coded, codebook.ids)
        texts, gold, source = gold_table["text"].tolist(), gold_table[codebook.ids].to_numpy(), f"store {store.path}"
    rates = measured_rates(texts, gold, config, store)
    validation = {"source": source, "n_passages": len(texts), "estimator": "Rogan-Gladen, parametric bootstrap",
                  "rates": rates.round(4).to_dict("records")}
    if not args.quiet:
        print(f"framescope: corrected frame shares for the error rates measured on {len(texts)} coded passages "
              f"({source})", file=sys.stderr)
    return correct_tables(tables, rates, seed=config.seed), validation
def cmd_check(args: argparse.Namespace) -> int:
    """Read the inputs as `run` would and report every rejected row, without analysing."""
    from .ingest import ingest

    result = ingest(args.inputs, mapping=_mapping(args.map), dayfirst=args.dayfirst, limits=COMMAND_LINE_LIMITS)
    print(f"framescope: read {result.n_rows_read} rows from {len(result.files)} file(s): "
          f"{len(result.articles)} articles, {len(result.rejected)} rejected, "
          f"{result.n_duplicates} duplicate copies collapsed")
    for f, row, reason in result.rejected.itertuples(index=False, name=None):
        print(f"  rejected: {f}{', row ' + row if row else ''}: {reason}")
    for w in result.warnings:
        print(f"  warning: {w}")
    return 0 if len(result.articles) else EXIT_USAGE


def cmd_validate(args: argparse.Namespace) -> int:
    import numpy as np

    from .codebook import load_codebook
    from .embeddings import embed_texts, load_embedder
    from .export import write_table
    from .agreement import coded_from_rows, intercoder_alpha
    from .framing import CodebookScorer
    from .learning import fit_model
    from .passages import text_hash
    from .store import Store
    from .validation import (
        cross_validated_probabilities, frame_metrics, load_labels, read_label_rows, summary, top1_metrics,
    )

    codebook = load_codebook(args.codebook)
    labels = load_labels(args.labels, codebook, text_column=args.text_column, label_columns=args.label_column)
    if labels.skipped:
        print(f"framescope: left out {len(labels.skipped)} row(s) of {labels.source}: "
              + "; ".join(labels.skipped[:5]) + (" …" if len(labels.skipped) > 5 else ""), file=sys.stderr)
    embedder = load_embedder(args.model, args.precision)
    store = None if args.no_store else Store(args.store or default_store_path())
    try:  # the codebook's prototypes go through the same cache as the labelled texts
        x = embed_texts(labels.texts, [text_hash(t) for t in labels.texts], embedder, store).vectors
        scorer = CodebookScorer(codebook, embedder, cache=store)
        t0 = time.perf_counter()
        zs = scorer.score(x, labels.texts)  # sentence vectors go through the cache too
        seconds = time.perf_counter() - t0
    finally:
        if store is not None:
            store.close()
    metrics = frame_metrics(labels, zs.scores, zs.thresholds)
    report = {"labels": labels.source, "n_passages": len(labels.texts), "codebook": codebook.source,
              "zero_shot": {**summary(metrics), **top1_metrics(labels, zs.scores), "seconds_scoring": round(seconds, 3)}}
    rows, _ = read_label_rows(args.labels, codebook, text_column=args.text_column, label_columns=args.label_column)
    if rows["coder"].nunique() > 1:  # several coders: their agreement first, then the machine against their majority
        coders = intercoder_alpha(coded_from_rows(rows, codebook.ids), codebook.ids)
        report["intercoder_alpha"] = dict(zip(coders["frame_id"], coders["alpha_coders"], strict=True))
        print(f"Krippendorff's alpha between {coders['n_coders'].iloc[0]} coders on "
              f"{coders['n_passages_2plus'].iloc[0]} passages coded by two or more:")
        print(coders[["frame_id", "alpha_coders"]].to_string(index=False))
        print()
    print(f"Zero-shot scores of {codebook.name} on {len(labels.texts)} labelled passages ({labels.source}); "
          "alpha = Krippendorff's alpha between the machine's `present` and the labels:")
    print(metrics.to_string(index=False))
    print(json.dumps(report["zero_shot"]))
    if args.out:
        write_table(metrics, Path(args.out))
    if args.fit:
        oof = cross_validated_probabilities(x, labels, zs.scores, folds=args.folds, seed=args.seed)
        cv = frame_metrics(labels, oof, np.full(len(labels.frame_ids), 0.5))
        report["fitted_cv"] = {**summary(cv), **top1_metrics(labels, oof), "folds": args.folds}
        print(f"\nFew-shot model (a regression blended with the zero-shot scores), {args.folds}-fold cross-validated:")
        print(cv.to_string(index=False))
        print(json.dumps(report["fitted_cv"]))
        path = fit_model(x, labels, zs.scores, embedder.model_id, codebook.digest(), oof=oof).save(args.fit)
        print(f"\nSaved the fitted frame model to {path}; use it with: framescope run --frame-model {path}")
    if args.report:
        Path(args.report).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


def cmd_codebook(args: argparse.Namespace) -> int:
    from .codebook import load_codebook

    cb = load_codebook(args.file)
    print(f"{cb.name} (version {cb.version}): {len(cb.frames)} frames, digest {cb.digest()[:12]}")
    for f in cb.frames:
        print(f"  {f.id:<26} {len(f.examples):3d} examples  {f.label}")
    return 0


def cmd_store(args: argparse.Namespace) -> int:
    from .housekeeping import collect_garbage, format_info, store_info
    from .store import Store

    path = Path(args.store or default_store_path())
    if not path.exists():
        raise FramescopeError(f"{path}: no store there")
    store = Store(path)
    try:
        if args.action == "info":
            print(format_info(store_info(store)))
        else:
            r = collect_garbage(store)
            mb = 2**20
            print(f"framescope: dropped {r.runs_dropped} run(s), {r.splits_dropped} passage split(s) and "
                  f"{r.vectors_dropped} vector(s) no data set uses; {r.bytes_before / mb:.1f} MB → "
                  f"{r.bytes_after / mb:.1f} MB"
                  + (f"; {r.live_runs} run(s) in progress were left alone and vectors kept" if r.live_runs else ""))
    finally:
        store.close()
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="framescope", description="How news outlets frame the China–Russia partnership.")
    p.add_argument("--version", action="version", version=f"framescope {__version__}")
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    sub = p.add_subparsers(dest="command", required=True)

    run = sub.add_parser("run", help="analyse article files and write every table",
                         description="Analyse article files (CSV, TSV, JSON, JSONL, Parquet, XLSX, ZIP of .txt).")
    run.add_argument("inputs", nargs="*", metavar="INPUT", help=f"article files [the demo corpus, {DEMO_CORPUS.name}]")
    run.add_argument("--out", required=True, help="folder for the CSV tables and manifest.json")
    run.add_argument("--xlsx", action="store_true", help="also write framescope.xlsx with every table")
    run.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN",
                     help="use COLUMN for FIELD (title, text, outlet, date, url, id, language); repeatable")
    run.add_argument("--dayfirst", action="store_true", help="read 05/03/2024 as 5 March")
    run.add_argument("--store", help=f"SQLite store caching embeddings [$FRAMESCOPE_DB or {default_store_path().name}]")
    run.add_argument("--no-store", action="store_true", help="cache nothing on disk")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    run.add_argument("--validation", metavar="LABELS.csv",
                     help="hand-coded passages (validate --labels format): add shares corrected for the measured "
                          "errors [the labels coded in the store, if any]")
    scale = run.add_argument_group("growing and scaling out (see README: Incremental runs, Beyond one machine)")
    scale.add_argument("--base", metavar="RUN",
                       help="add INPUT to the analysis RUN (an earlier --out folder, or a run key in the store): only "
                            "new passages are embedded and assigned to its clusters")
    scale.add_argument("--recluster", action="store_true",
                       help="with --base: cluster old + new passages again, keeping the ids of clusters that persist")
    scale.add_argument("--drift-warn", type=float, default=0.15, metavar="SHARE",
                       help="with --base: warn and suggest --recluster above this share of low-fit new passages [0.15]")
    scale.add_argument("--engine", choices=("local", "dask"), default="local",
                       help="local: this process [default]; dask: map the stages over input partitions")
    scale.add_argument("--scheduler", metavar="ADDRESS", help="with --engine dask: a running Dask scheduler")
    scale.add_argument("--workers", type=int, default=2, metavar="N",
                       help="with --engine dask and no --scheduler: local worker processes, one thread each [2]")
    scale.add_argument("--partition-rows", type=int, default=20_000, metavar="N",
                       help="with --engine dask: articles per partition of a large input file [20000]")
    scale.add_argument("--sample", type=int, default=100_000, metavar="N",
                       help="with --engine dask: passages sampled to fit k-means [100000]")
    _add_config_options(run)
    run.set_defaults(func=cmd_run)

    chk = sub.add_parser("check", help="read article files and report rejected rows, without analysing them")
    chk.add_argument("inputs", nargs="+", metavar="INPUT", help="article files")
    chk.add_argument("--map", action="append", default=[], metavar="FIELD=COLUMN", help="as for run")
    chk.add_argument("--dayfirst", action="store_true", help="read 05/03/2024 as 5 March")
    chk.set_defaults(func=cmd_check)

    val = sub.add_parser("validate", help="measure frame scores against labelled passages; --fit learns from them")
    val.add_argument("--labels", required=True, help="CSV with a text column and frame id/code label column(s)")
    val.add_argument("--codebook", default=str(DEFAULT_CODEBOOK), help="codebook YAML [partnership.yaml]")
    val.add_argument("--text-column", help="column holding the passage text [text, passage, headline, title]")
    val.add_argument("--label-column", action="append", help="label column(s) [frame_id, frames, frame, label]")
    val.add_argument("--fit", metavar="OUT.json", help="fit a few-shot model on the labels and save it here")
    val.add_argument("--folds", type=int, default=5, help="cross-validation folds for --fit [5]")
    val.add_argument("--seed", type=int, default=0, help="fold assignment seed [0]")
    val.add_argument("--out", help="write the per-frame metrics table (CSV) here")
    val.add_argument("--report", help="write the summary figures (JSON) here")
    val.add_argument("--model", default=PipelineConfig.model, help=field_help()["model"])
    val.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"))
    val.add_argument("--store", help="SQLite store caching embeddings")
    val.add_argument("--no-store", action="store_true", help="cache nothing on disk")
    val.set_defaults(func=cmd_validate)

    sto = sub.add_parser("store", help="what the SQLite store holds (info), or drop what no data set uses (gc)")
    sto.add_argument("action", choices=("info", "gc"),
                     help="info: sizes by table, runs, vectors, data sets; gc: drop unused runs and vectors, VACUUM")
    sto.add_argument("--store", help=f"the store [$FRAMESCOPE_DB or {default_store_path().name}]")
    sto.set_defaults(func=cmd_store)

    cb = sub.add_parser("codebook", help="check a codebook file and list its frames")
    cb.add_argument("file")
    cb.set_defaults(func=cmd_codebook)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, format="%(levelname)s %(message)s")
    if args.command == "validate" and args.folds < 2:
        parser.error("--folds must be at least 2")
    try:
        return args.func(args)
    except KeyboardInterrupt:
        print("framescope: interrupted", file=sys.stderr)
        return 130
    except (FramescopeError, ValueError, OSError) as exc:
        if args.debug:
            raise
        print(f"framescope: error: {exc}", file=sys.stderr)
        return EXIT_USAGE if isinstance(exc, ValueError) else EXIT_FAILED
    except Exception as exc:  # an unexpected failure still gets one readable line
        if args.debug:
            raise
        print(f"framescope: internal error: {type(exc).__name__}: {exc} (rerun with --debug for details)",
              file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
