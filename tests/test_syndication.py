import numpy as np
import pandas as pd

from analysis.config import PipelineConfig
from analysis.pipeline import summary_tables
from analysis.syndication import GROUP, IS_COPY, ORIGIN, representative_links, syndication

ORIGINAL = ("Energy ministers from both countries agreed on Tuesday to raise gas deliveries through the "
            "eastern pipeline, extending a supply contract that officials said would run into the next decade.")
REPRINT = ORIGINAL.replace("on Tuesday", "this week").replace("officials said", "officials added")
OTHER = "Parliament debated a new budget for schools and hospitals, with the vote expected later in the month."


def frame(rows):
    df = pd.DataFrame(rows, columns=["passage_id", "outlet", "date", "text"])
    df["date"] = pd.to_datetime(df["date"], utc=True)
    df["article_id"] = df["passage_id"].str.split(":").str[0]
    return df


def test_reprints_across_outlets_are_grouped_and_the_earliest_is_the_origin(embedder):
    p = frame([
        ("b:0", "Beta", "2024-05-03", REPRINT),
        ("a:0", "Alpha", "2024-05-02", ORIGINAL),
        ("c:0", "Gamma", "2024-05-02", OTHER),
        ("d:0", "Alpha", "2024-05-04", ORIGINAL),  # same outlet again: joined only through Beta
    ])
    s = syndication(p, embedder.encode(p["text"].tolist()))
    assert s.loc[0, GROUP] == s.loc[1, GROUP] >= 0
    assert s.loc[2, GROUP] == -1 and s.loc[2, ORIGIN] == ""
    assert s.loc[1, ORIGIN] == "a:0" and s.loc[0, ORIGIN] == "a:0"
    assert s[IS_COPY].tolist() == [True, False, False, True]


def test_a_shared_topic_without_shared_wording_is_not_a_copy(embedder):
    p = frame([
        ("a:0", "Alpha", "2024-05-02", ORIGINAL),
        ("b:0", "Beta", "2024-05-02",
         "Both governments will increase the volume of natural gas sent east by pipeline under an extended deal."),
    ])
    s = syndication(p, embedder.encode(p["text"].tolist()))
    assert (s[GROUP] == -1).all()


def test_counting_syndicated_passages_once_shrinks_the_denominator(embedder):
    p = frame([("a:0", "Alpha", "2024-05-02", ORIGINAL), ("b:0", "Beta", "2024-05-03", REPRINT)])
    s = syndication(p, embedder.encode(p["text"].tolist()))
    p = pd.concat([p, s], axis=1).assign(cluster_id=0, present_energy=True)
    per_outlet = summary_tables(p, ["energy"], {0: "gas"}, PipelineConfig(count_syndicated="per-outlet"))
    once = summary_tables(p, ["energy"], {0: "gas"}, PipelineConfig(count_syndicated="once"))
    assert per_outlet["frames_by_outlet"]["n_total"].sum() == 2
    assert once["frames_by_outlet"].set_index("outlet")["n_total"].to_dict() == {"Alpha": 1}


def test_holders_of_a_key_across_partitions_meet_its_representatives_not_each_other():
    """Key 7 is held in partitions 0-2 by outlets 1, 1, 2, 3, 1; key 9 in partition 0 only."""
    keys = np.array([7, 7, 7, 7, 7, 9, 9], np.uint64)
    part = np.array([0, 1, 1, 2, 2, 0, 0])
    row = np.array([3, 0, 4, 1, 2, 5, 6])
    outlet = np.array([1, 1, 2, 3, 1, 1, 2], np.uint64)
    links = {tuple(x) for x in representative_links(keys, part, row, outlet)}
    # the first holder (0, 3) and the first of another outlet (1, 4) are the representatives;
    # (1, 0) meets (1, 4) inside its partition, which finds that pair itself
    assert links == {(0, 3, 1, 4), (1, 4, 0, 3), (2, 1, 0, 3), (2, 2, 1, 4)}


def test_a_story_reprinted_everywhere_gives_one_candidate_per_holder():
    n = 2_000  # 2,000 outlets in 100 partitions: all pairs would be about 2 million
    links = representative_links(np.full(n, 42, np.uint64), np.arange(n) % 100, np.arange(n),
                                 np.arange(n, dtype=np.uint64))
    assert len(links) == n - n // 100  # every holder outside the representative's partition
    assert set(map(tuple, links[:, 2:])) <= {(0, 0), (1, 1)}
