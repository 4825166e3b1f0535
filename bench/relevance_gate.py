"""Precision and recall of the relevance gate, printed: `python -m bench.relevance_gate`.

Two labelled sets: the borderline sample `tests/fixtures/relevance_sample.csv` (invented
sports tables, country lists, porcelain, Chinatown, passing mentions and genuine
partnership items; `relevant` 1/0) and the demonstration corpus, whose off-topic items are
`kind == offtopic` in `data/demo/gold_articles.csv`. Each set goes through `analyse` with
the gate on, exactly as `framescope run --relevance on` does; "kept" is the positive class.
Figures are given for co-mention alone (the reason says which check set an article aside)
and for co-mention plus the codebook's topic, and the topic threshold is swept.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from analysis import schema as S  # noqa: E402
from analysis.config import DATA_DIR, PACKAGE_ROOT, PipelineConfig  # noqa: E402
from analysis.ingest import ingest  # noqa: E402
from analysis.pipeline import analyse  # noqa: E402
from analysis.relevance import REASON, RELEVANT, TOPIC_SIMILARITY  # noqa: E402

SAMPLE = PACKAGE_ROOT / "tests" / "fixtures" / "relevance_sample.csv"
DEMO_GOLD = DATA_DIR / "demo" / "gold_articles.csv"
SWEEP = (0.30, 0.35, 0.40, 0.45, 0.50, 0.55)


def labelled_sets() -> dict[str, tuple[pd.DataFrame, np.ndarray]]:
    """Set name -> (articles, gold relevance aligned with them)."""
    sample = ingest([SAMPLE], mapping={"article_id": "case_id"}).articles
    gold = pd.read_csv(SAMPLE, dtype=str).set_index("case_id")["relevant"] == "1"
    demo = ingest([DATA_DIR / "demo" / "articles.csv"]).articles
    demo_gold = pd.read_csv(DEMO_GOLD, dtype=str).set_index("article_id")["kind"] != "offtopic"
    return {
        "borderline sample": (sample, sample[S.ARTICLE_ID].map(gold).to_numpy(bool)),
        "demo corpus": (demo, demo[S.ARTICLE_ID].map(demo_gold).fillna(True).to_numpy(bool)),
    }


def scores(kept: np.ndarray, gold: np.ndarray) -> dict[str, float]:
    tp, fp, fn = int((kept & gold).sum()), int((kept & ~gold).sum()), int((~kept & gold).sum())
    tn = int((~kept & ~gold).sum())
    return {"precision": tp / max(tp + fp, 1), "recall": tp / max(tp + fn, 1),
            "off_topic_set_aside": tn / max(tn + fp, 1), "tp": tp, "fp": fp, "fn": fn, "tn": tn}


def gate_outcomes(articles: pd.DataFrame, store=None) -> pd.DataFrame:
    """The articles table of a gated run: relevant, reason and topic similarity per article."""
    cfg = PipelineConfig(relevance=True, k=2)
    return analyse(articles, cfg, cache=store).articles.set_index(S.ARTICLE_ID)


def main() -> int:
    from analysis.store import Store

    from .common import machine_info

    store = Store(os.environ.get("FRAMESCOPE_DB", PACKAGE_ROOT / "data" / "framescope.db"))
    cfg = PipelineConfig()
    print(f"relevance gate, topic threshold {cfg.relevance_min_cosine}; CPU: {machine_info().get('cpu')}")
    for name, (articles, gold) in labelled_sets().items():
        out = gate_outcomes(articles, store).reindex(articles[S.ARTICLE_ID])
        mention = ~out[REASON].str.startswith("mentions ").to_numpy() | (out[REASON] == "mentions China and Russia").to_numpy()
        rows = {"co-mention only": scores(mention, gold), "co-mention + topic": scores(out[RELEVANT].to_numpy(bool), gold)}
        sim = out[TOPIC_SIMILARITY].to_numpy(float)
        for t in SWEEP:
            rows[f"  topic >= {t:.2f}"] = scores(mention & ~(sim < t), gold)
        print(f"\n{name}: {len(articles)} articles, {int(gold.sum())} relevant, {int((~gold).sum())} off-topic")
        print(pd.DataFrame(rows).T.to_string(float_format=lambda v: f"{v:.3f}"))
        missed = out[gold & ~out[RELEVANT].to_numpy(bool)]
        let_in = out[~gold & out[RELEVANT].to_numpy(bool)]
        for label, df in (("relevant but set aside", missed), ("off-topic but kept", let_in)):
            for aid, row in df.iterrows():
                print(f"  {label}: {aid} {str(row[S.TITLE])[:60]!r} ({row[REASON]}; topic {row[TOPIC_SIMILARITY]:.3f})")
    store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
