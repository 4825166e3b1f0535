"""Assemble the Framescope demonstration corpus from its hand-written parts.

Every article in ``parts/*.jsonl`` is invented (see README.md). Each JSON line is one
article::

    {"id", "title", "outlet", "date" (YYYY-MM-DD, "" or null), "url", "language",
     "story", "dominant_frame", "syndicated_from" (id or null), "kind",
     "paragraphs": [{"text": ..., "frames": [frame ids]}]}

The script validates every record, then writes, sorted by date then id (undated last):

* ``articles.csv``       id,title,text,outlet,date,url,language
                         (text = paragraphs joined by one blank line)
* ``gold_frames.csv``    article_id,paragraph_index,frame_id
                         (one row per paragraph x frame; index is 0-based)
* ``gold_articles.csv``  article_id,dominant_frame,story,kind,syndicated_from

and regenerates the counts section of README.md between the markers
``<!-- counts:start -->`` and ``<!-- counts:end -->``.

Usage::

    python data/demo/build_corpus.py                 # writes next to this file
    python data/demo/build_corpus.py --out /tmp/x    # CSVs elsewhere, README untouched

Any problem (duplicate id, unknown frame, empty or multi-block paragraph, bad date,
non-``.example`` url, ...) aborts the build with one line per problem, naming the part
file and line number. Output is byte-for-byte deterministic for the same parts.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from urllib.parse import urlsplit

import pandas as pd
import yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PARTS_DIR = HERE / "parts"
CODEBOOK = REPO / "data" / "codebooks" / "partnership.yaml"
README = HERE / "README.md"

ARTICLE_COLUMNS = ["id", "title", "text", "outlet", "date", "url", "language"]
FRAME_COLUMNS = ["article_id", "paragraph_index", "frame_id"]
GOLD_ARTICLE_COLUMNS = ["article_id", "dominant_frame", "story", "kind", "syndicated_from"]
REQUIRED_FIELDS = (
    "id", "title", "outlet", "date", "url", "language", "story",
    "dominant_frame", "syndicated_from", "kind", "paragraphs",
)
NO_FRAME = "none"  # dominant_frame of off-topic items
PARAGRAPH_SEP = "\n\n"
FIRST_DAY, LAST_DAY = date(2022, 1, 1), date(2025, 12, 31)
WORD_RANGE = (150, 600)  # regular articles; wire briefs may be shorter
COUNTS_START, COUNTS_END = "<!-- counts:start -->", "<!-- counts:end -->"

_BLANK_LINE = re.compile(r"\n[ \t\r]*\n")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


class CorpusError(ValueError):
    """Raised with one ``file:line: problem`` entry per problem found."""


@dataclass
class Corpus:
    articles: pd.DataFrame
    gold_frames: pd.DataFrame
    gold_articles: pd.DataFrame
    records: list[dict]  # validated records, in output order
    frame_labels: dict[str, str]


def word_count(text: str) -> int:
    """Whitespace-separated words; each Chinese character counts as one word."""
    cjk = len(_CJK.findall(text))
    rest = _CJK.sub(" ", text)
    return cjk + sum(1 for token in rest.split() if re.search(r"\w", token))


def load_frame_labels(codebook: Path = CODEBOOK) -> dict[str, str]:
    """Frame id -> label, in codebook order."""
    data = yaml.safe_load(codebook.read_text(encoding="utf-8"))
    return {f["id"]: f.get("label", f["id"]) for f in data["frames"]}


def _check_record(rec: dict, frame_ids: set[str]) -> list[str]:
    """Problems with one record (cross-record checks are done by the caller)."""
    missing = [f for f in REQUIRED_FIELDS if f not in rec]
    if missing:
        return [f"missing field(s) {', '.join(missing)}"]
    problems = []
    for field in ("id", "title", "outlet", "url", "language", "story", "kind"):
        if not isinstance(rec[field], str) or not rec[field].strip():
            problems.append(f"{field} must be a non-empty string")

    raw_date = rec["date"]
    if raw_date not in (None, ""):
        try:
            if not isinstance(raw_date, str) or not _ISO_DATE.fullmatch(raw_date):
                raise ValueError
            day = date.fromisoformat(raw_date)
        except ValueError:
            problems.append(f"bad date {raw_date!r} (want YYYY-MM-DD, empty or null)")
        else:
            if not FIRST_DAY <= day <= LAST_DAY:
                problems.append(f"date {raw_date} outside {FIRST_DAY}..{LAST_DAY}")

    if isinstance(rec["url"], str):
        parts = urlsplit(rec["url"])
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("http", "https") or not host.endswith(".example"):
            problems.append(f"url {rec['url']!r} is not on a .example domain")

    if rec["dominant_frame"] != NO_FRAME and rec["dominant_frame"] not in frame_ids:
        problems.append(f"unknown dominant_frame {rec['dominant_frame']!r}")

    paragraphs = rec["paragraphs"]
    if not isinstance(paragraphs, list) or not paragraphs:
        return [*problems, "paragraphs must be a non-empty list"]
    for i, par in enumerate(paragraphs):
        text = par.get("text") if isinstance(par, dict) else None
        frames = par.get("frames") if isinstance(par, dict) else None
        if not isinstance(text, str) or not text.strip():
            problems.append(f"paragraph {i} is empty")
            continue
        if _BLANK_LINE.search(text):
            problems.append(f"paragraph {i} contains a blank line")
        if text != text.strip():
            problems.append(f"paragraph {i} has leading/trailing whitespace")
        if not isinstance(frames, list):
            problems.append(f"paragraph {i}: frames must be a list")
            continue
        for frame in frames:
            if frame not in frame_ids:
                problems.append(f"paragraph {i}: unknown frame id {frame!r}")
        if len(set(frames)) != len(frames):
            problems.append(f"paragraph {i}: repeated frame id")
    return problems


def read_parts(parts_dir: Path, frame_ids: set[str]) -> list[dict]:
    """Read and validate every ``*.jsonl`` in parts_dir; raise CorpusError on any problem."""
    files = sorted(Path(parts_dir).glob("*.jsonl"))
    if not files:
        raise CorpusError(f"no *.jsonl part files in {parts_dir}")
    records, errors, seen = [], [], {}
    for path in files:
        for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            where = f"{path.name}:{lineno}"
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as exc:
                errors.append(f"{where}: invalid JSON ({exc.msg})")
                continue
            if not isinstance(rec, dict):
                errors.append(f"{where}: not a JSON object")
                continue
            errors += [f"{where}: {p}" for p in _check_record(rec, frame_ids)]
            rid = rec.get("id")
            if rid in seen:
                errors.append(f"{where}: duplicate id {rid!r} (first at {seen[rid]})")
            elif isinstance(rid, str):
                seen[rid] = where
            rec["_where"] = where
            records.append(rec)
    for rec in records:
        source = rec.get("syndicated_from")
        if source is not None and (source not in seen or source == rec.get("id")):
            errors.append(f"{rec['_where']}: syndicated_from {source!r} is not another article")
    if errors:
        raise CorpusError("invalid demo corpus parts:\n  " + "\n  ".join(errors))
    return records


def _sort_key(rec: dict) -> tuple:
    return (not rec["date"], rec["date"] or "", rec["id"])


def assemble(records: list[dict], frame_labels: dict[str, str]) -> Corpus:
    """Turn validated records into the three output tables."""
    records = sorted(records, key=_sort_key)
    articles, frames, gold = [], [], []
    for rec in records:
        texts = [p["text"] for p in rec["paragraphs"]]
        articles.append({
            "id": rec["id"], "title": rec["title"], "text": PARAGRAPH_SEP.join(texts),
            "outlet": rec["outlet"], "date": rec["date"] or "", "url": rec["url"],
            "language": rec["language"],
        })
        for index, par in enumerate(rec["paragraphs"]):
            frames += [{"article_id": rec["id"], "paragraph_index": index, "frame_id": f}
                       for f in par["frames"]]
        gold.append({
            "article_id": rec["id"], "dominant_frame": rec["dominant_frame"],
            "story": rec["story"], "kind": rec["kind"],
            "syndicated_from": rec["syndicated_from"] or "",
        })
    return Corpus(
        articles=pd.DataFrame(articles, columns=ARTICLE_COLUMNS),
        gold_frames=pd.DataFrame(frames, columns=FRAME_COLUMNS),
        gold_articles=pd.DataFrame(gold, columns=GOLD_ARTICLE_COLUMNS),
        records=records,
        frame_labels=frame_labels,
    )


def _write_csv(df: pd.DataFrame, path: Path) -> None:
    df.to_csv(path, index=False, encoding="utf-8", lineterminator="\n")


def _table(header: list[str], rows: list[list]) -> str:
    """A Markdown table; columns holding only numbers are right-aligned."""
    def numeric(col: int) -> bool:
        return all(isinstance(row[col], int) or re.fullmatch(r"[\d,.]+", str(row[col]))
                   for row in rows)
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---:" if numeric(i) else "---" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _months(first: str, last: str) -> list[str]:
    y, m = int(first[:4]), int(first[5:7])
    out = []
    while f"{y:04d}-{m:02d}" <= last:
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def counts_markdown(corpus: Corpus, articles_csv_bytes: int) -> str:
    """The generated counts section of the data card (between the markers)."""
    recs = corpus.records
    words = {r["id"]: word_count(PARAGRAPH_SEP.join(p["text"] for p in r["paragraphs"]))
             for r in recs}
    n_pars = sum(len(r["paragraphs"]) for r in recs)
    outlets = sorted({r["outlet"] for r in recs})
    out = [
        "_Generated by `python data/demo/build_corpus.py`; do not edit by hand._",
        "",
        f"**{len(recs)} articles, {n_pars} paragraphs, {sum(words.values()):,} words, "
        f"{len(outlets)} outlets; `articles.csv` is {articles_csv_bytes:,} bytes.** "
        "Words are whitespace-separated tokens, with each Chinese character counted as one.",
    ]

    rows = []
    for outlet in outlets:
        rs = [r for r in recs if r["outlet"] == outlet]
        mean = sum(words[r["id"]] for r in rs) / len(rs)
        labels: dict[str, int] = {}
        for r in rs:
            for p in r["paragraphs"]:
                for f in p["frames"]:
                    labels[f] = labels.get(f, 0) + 1
        total = sum(labels.values()) or 1
        top = sorted(labels.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        rows.append([outlet, len(rs), sum(len(r["paragraphs"]) for r in rs), f"{mean:.0f}",
                     sum(bool(r["syndicated_from"]) for r in rs),
                     ", ".join(f"`{f}` {n / total:.0%}" for f, n in top)])
    out += ["", "### Per outlet", "",
            "Top frames: share of the outlet's paragraph-level frame labels.", "",
            _table(["Outlet", "Articles", "Paragraphs", "Mean words", "Reprints", "Top frames"],
                   rows)]

    dated = sorted(r["date"][:7] for r in recs if r["date"])
    per_month = {m: 0 for m in _months(dated[0], dated[-1])}
    for m in dated:
        per_month[m] += 1
    rows = [[m, n] for m, n in per_month.items()]
    rows.append(["undated", sum(1 for r in recs if not r["date"])])
    out += ["", "### Per month", "",
            "Every month from the first to the last dated article, including empty ones.", "",
            _table(["Month", "Articles"], rows)]

    rows = []
    for fid, label in corpus.frame_labels.items():
        pars = sum(fid in p["frames"] for r in recs for p in r["paragraphs"])
        arts = sum(any(fid in p["frames"] for p in r["paragraphs"]) for r in recs)
        dom = sum(r["dominant_frame"] == fid for r in recs)
        rows.append([f"`{fid}` ({label})", pars, arts, dom])
    rows.append(["no frame",
                 sum(not p["frames"] for r in recs for p in r["paragraphs"]),
                 sum(not any(p["frames"] for p in r["paragraphs"]) for r in recs),
                 sum(r["dominant_frame"] == NO_FRAME for r in recs)])
    per_article = {}
    for r in recs:
        k = len({f for p in r["paragraphs"] for f in p["frames"]})
        per_article[k] = per_article.get(k, 0) + 1
    mix = ", ".join(f"{k}: {per_article[k]}" for k in sorted(per_article))
    out += ["", "### Per frame", "",
            "Paragraphs carrying the frame, articles with at least one such paragraph, and "
            "articles whose dominant frame it is (no-frame rows: paragraphs and articles "
            "without any frame, and off-topic items with dominant frame `none`).", "",
            _table(["Frame", "Paragraphs", "Articles", "Dominant in"], rows), "",
            f"Distinct frames per article (frames: articles): {mix}."]

    rows = []
    for story in sorted({r["story"] for r in recs}):
        rs = [r for r in recs if r["story"] == story]
        ds = sorted(r["date"] for r in rs if r["date"])
        rows.append([f"`{story}`", len(rs), len({r["outlet"] for r in rs}),
                     ds[0] if ds else "", ds[-1] if ds else ""])
    out += ["", "### Per story", "",
            _table(["Story", "Articles", "Outlets", "First dated", "Last dated"], rows)]

    rows = []
    for lang in sorted({r["language"] for r in recs}):
        rows.append([f"`{lang}`", sum(r["language"] == lang for r in recs)])
    out += ["", "### Per language", "", _table(["Language", "Articles"], rows)]

    lo, hi = WORD_RANGE
    rows = []
    for kind in sorted({r["kind"] for r in recs}):
        rs = [r for r in recs if r["kind"] == kind]
        ws = [words[r["id"]] for r in rs]
        outside = sum(not lo <= w <= hi for w in ws)
        rows.append([f"`{kind}`", len(rs), min(ws), max(ws), outside])
    out += ["", "### Per kind", "",
            _table(["Kind", "Articles", "Min words", "Max words", f"Outside {lo}–{hi} words"],
                   rows)]

    by_id = {r["id"]: r for r in recs}
    rows = []
    for r in recs:
        if r["syndicated_from"]:
            o = by_id[r["syndicated_from"]]
            rows.append([f"`{o['id']}` {o['outlet']}", o["date"] or "undated",
                         f"`{r['id']}` {r['outlet']}", r["date"] or "undated"])
    rows.sort(key=lambda row: (row[1], row[0]))
    out += ["", "### Syndicated pairs", "",
            f"{len(rows)} reprints, each of a different original "
            "(`syndicated_from` in `gold_articles.csv`).", "",
            _table(["Original", "Date", "Reprint", "Reprint date"], rows)]
    return "\n".join(out)


def update_readme(readme: Path, counts: str) -> None:
    """Replace the text between the count markers in readme."""
    text = readme.read_text(encoding="utf-8")
    start, end = text.find(COUNTS_START), text.find(COUNTS_END)
    if start < 0 or end < start:
        raise CorpusError(f"{readme}: missing {COUNTS_START} ... {COUNTS_END} markers")
    new = text[: start + len(COUNTS_START)] + "\n" + counts + "\n" + text[end:]
    if new != text:
        readme.write_text(new, encoding="utf-8")


def build(parts_dir: Path = PARTS_DIR, out_dir: Path = HERE,
          codebook: Path = CODEBOOK) -> tuple[Corpus, str]:
    """Validate the parts, write the three CSVs to out_dir; return the corpus and counts."""
    frame_labels = load_frame_labels(codebook)
    corpus = assemble(read_parts(Path(parts_dir), set(frame_labels)), frame_labels)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_csv(corpus.articles, out_dir / "articles.csv")
    _write_csv(corpus.gold_frames, out_dir / "gold_frames.csv")
    _write_csv(corpus.gold_articles, out_dir / "gold_articles.csv")
    size = (out_dir / "articles.csv").stat().st_size
    return corpus, counts_markdown(corpus, size)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--parts", type=Path, default=PARTS_DIR, help="directory of *.jsonl parts")
    parser.add_argument("--out", type=Path, default=HERE, help="where to write the CSVs")
    parser.add_argument("--readme", type=Path, default=None,
                        help="data card whose counts to regenerate "
                             "(default: README.md when --out is the default)")
    args = parser.parse_args(argv)
    try:
        corpus, counts = build(args.parts, args.out)
        readme = args.readme or (README if args.out.resolve() == HERE else None)
        if readme is not None:
            update_readme(readme, counts)
    except CorpusError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"{len(corpus.articles)} articles, {len(corpus.gold_frames)} gold frame rows "
          f"-> {args.out}" + (f"; counts updated in {readme}" if readme else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
