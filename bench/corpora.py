"""Benchmark corpora: the research data sets, read from ../shared at run time, and scaled
corpora of 1k / 10k / 50k articles built reproducibly from them.

A scaled article is a *variation*, never a copy: it takes 2–6 paragraphs: those of one source article
in order, completed with paragraphs of a second one (paragraphs from different articles combined), and
varies each one with a seeded RNG: sentences reshuffled, neighbouring words swapped
(~4 % of positions) and sometimes a sentence borrowed from a third article. Every
generated paragraph is checked to be new, so no passage hash of a scaled corpus matches
a source passage or another scaled passage, and the embedding cache cannot cheat.

The pool mixes the demonstration corpus (China–Russia), BBC News and the GVFC leads.
Outlets are 12 invented names, dates uniform over 2022–2025.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from .common import BBC_CSV, CACHE, DEMO_CSV, GVFC_EXTENSION

OUTLETS = (
    "Harbour Ledger", "Northern Courier", "Eastern Dispatch", "Capital Review", "Steppe Times",
    "Pacific Monitor", "Continental Post", "Meridian Daily", "Silk Road Wire", "Baltic Observer",
    "Evening Chronicle", "Global Affairs Desk",
)
DATE_START = pd.Timestamp("2022-01-01", tz="UTC")
DATE_DAYS = 4 * 365


@dataclass(frozen=True)
class Pool:
    titles: list[str]
    paragraphs: list[list[str]]  # per source article, its paragraphs of ≥ 12 words


@lru_cache(maxsize=1)
def source_pool() -> Pool:
    from analysis.passages import paragraphs, word_count

    frames = []
    for path in (DEMO_CSV, BBC_CSV, GVFC_EXTENSION):
        if path.exists():
            df = pd.read_csv(path, dtype=str, keep_default_na=False)
            frames.append(df[["title", "text"]])
    if not frames:
        raise FileNotFoundError(f"no source corpus found ({DEMO_CSV}, {BBC_CSV})")
    src = pd.concat(frames, ignore_index=True)
    titles, paras = [], []
    for title, text in src.itertuples(index=False, name=None):
        ps = [p for p in paragraphs(text) if word_count(p) >= 12]
        if ps:
            titles.append(title)
            paras.append(ps)
    return Pool(titles, paras)


def _vary(par: str, rng: np.random.Generator, pool: Pool, swap_rate: float = 0.04) -> str:
    from analysis.passages import sentences

    sents = sentences(par)
    if len(sents) > 1 and rng.random() < 0.6:
        sents = [sents[i] for i in rng.permutation(len(sents))]
    if rng.random() < 0.25:  # borrow one sentence from another article
        other = pool.paragraphs[int(rng.integers(len(pool.paragraphs)))]
        extra = sentences(other[int(rng.integers(len(other)))])
        if extra:
            sents.insert(int(rng.integers(len(sents) + 1)), extra[int(rng.integers(len(extra)))])
    words = " ".join(sents).split()
    n_swaps = max(1, int(len(words) * swap_rate))
    for i in rng.integers(0, max(len(words) - 1, 1), size=n_swaps):
        if i + 1 < len(words):
            words[i], words[i + 1] = words[i + 1], words[i]
    return " ".join(words)


def scaled_articles(n: int, *, seed: int = 0, prefix: str = "s", min_paras: int = 2,
                    max_paras: int = 6) -> tuple[pd.DataFrame, list[list[str]]]:
    """`n` varied articles (id, title, text, outlet, date) and each article's paragraphs."""
    pool = source_pool()
    rng = np.random.default_rng([seed, n, sum(map(ord, prefix))])
    seen: set[str] = set()
    rows, paras_out = [], []
    n_src = len(pool.paragraphs)
    for i in range(n):
        main = int(rng.integers(n_src))
        second = int(rng.integers(n_src))
        k = int(rng.integers(min_paras, max_paras + 1))
        # the main article's paragraphs in order, then the second article's: two stories combined
        bases = (pool.paragraphs[main] + pool.paragraphs[second] + pool.paragraphs[main])[:k]
        paras = []
        for j, base in enumerate(bases):
            for attempt in range(6):
                p = _vary(base, rng, pool, 0.04 * (attempt + 1))
                if p not in seen:
                    break
            else:
                p = f"{p} (Report {prefix}{i}-{j}.)"
            seen.add(p)
            paras.append(p)
        title = _vary(pool.titles[main], rng, pool, 0.0) if len(pool.titles[main].split()) > 3 else pool.titles[main]
        date = DATE_START + pd.Timedelta(days=int(rng.integers(DATE_DAYS)))
        rows.append((f"{prefix}{i:06d}", title.split(". ")[0][:200], "\n\n".join(paras),
                     OUTLETS[int(rng.integers(len(OUTLETS)))], date.strftime("%Y-%m-%d")))
        paras_out.append(paras)
    df = pd.DataFrame(rows, columns=["id", "title", "text", "outlet", "date"])
    return df, paras_out


def scaled_csv(n: int, *, seed: int = 0, prefix: str = "s") -> Path:
    """Write (once) and return the CSV of a scaled corpus in the benchmark cache."""
    folder = CACHE / "corpora"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{prefix}_{n}_seed{seed}.csv"
    if not path.exists():
        df, _ = scaled_articles(n, seed=seed, prefix=prefix)
        tmp = path.with_suffix(".tmp")
        df.to_csv(tmp, index=False)
        tmp.replace(path)
    return path


def scaled_csvs(n: int, *, per_file: int, seed: int = 0, prefix: str = "s") -> list[Path]:
    """A scaled corpus written (once) as files of at most `per_file` articles: how a large pull
    arrives, the Dask engine's partitions, and each file under the upload size limit."""
    folder = CACHE / "corpora" / f"{prefix}_{n}_seed{seed}_by{per_file}"
    paths = [folder / f"part-{i:05d}.csv" for i in range(-(-n // per_file))]
    if not all(p.exists() for p in paths):
        folder.mkdir(parents=True, exist_ok=True)
        df, _ = scaled_articles(n, seed=seed, prefix=prefix)
        for i, path in enumerate(paths):
            tmp = path.with_suffix(".tmp")
            df.iloc[i * per_file:(i + 1) * per_file].to_csv(tmp, index=False)
            tmp.replace(path)
    return paths


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def bbc_articles() -> tuple[pd.DataFrame, dict[str, str]]:
    """BBC News through Framescope's ingest (duplicates collapsed) and gold label by article id."""
    from analysis.ingest import ingest

    res = ingest([str(BBC_CSV)])
    raw = pd.read_csv(BBC_CSV, dtype=str, keep_default_na=False)
    gold = dict(zip(raw["id"], raw["label"], strict=True))
    return res.articles, gold


def bbc_sample(n: int | None) -> tuple[pd.DataFrame, dict[str, str]]:
    """All ingested BBC articles (n=None) or a seeded random sample of n (every section present)."""
    arts, gold = bbc_articles()
    if n is not None and n < len(arts):
        arts = arts.sample(n, random_state=0).reset_index(drop=True)
    return arts, gold
