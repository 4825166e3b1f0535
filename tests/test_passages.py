import pandas as pd

from analysis import schema as S
from analysis.passages import article_passages, is_boilerplate, split_passages, word_count


def test_boilerplate_lines_are_dropped_but_prose_is_kept():
    assert is_boilerplate("Advertisement")
    assert is_boilerplate("By Jane Smith")
    assert not is_boilerplate("By the end of 2024 trade had doubled between the two economies.")
    text = "Advertisement\n\n" + "Trade between the two countries rose sharply last year, officials said. " * 3
    assert all("Advertisement" not in p for p in article_passages(text))


def test_short_fragments_merge_into_a_neighbour():
    long_para = " ".join(["word"] * 40)
    text = f"{long_para}\n\nToo short.\n\n{long_para}"
    parts = article_passages(text, min_words=25)
    assert len(parts) == 2
    assert any("Too short." in p for p in parts)
    assert sum(word_count(p) for p in parts) == 82


def test_long_paragraphs_split_at_sentences_under_the_token_window(embedder):
    sentence = "The pipeline carried record volumes of gas to northern China during the winter months. "
    text = sentence * 60  # one paragraph far over 256 word pieces
    parts = article_passages(text, max_tokens=256, count=embedder.count_tokens)
    assert len(parts) > 1
    assert max(embedder.count_tokens(parts)) <= 256
    assert all(p.rstrip().endswith(".") for p in parts)  # cut at sentence ends
    assert " ".join(parts).split() == text.split()  # nothing lost


def test_cjk_words_are_counted_per_character():
    assert word_count("中俄关系稳定发展") == 8


def test_split_passages_keeps_ids_positions_and_hashes(demo_sample):
    p = split_passages(demo_sample)
    assert list(p.columns) == list(S.PASSAGE_COLUMNS)
    assert set(p[S.ARTICLE_ID]) <= set(demo_sample[S.ARTICLE_ID])
    first = p.groupby(S.ARTICLE_ID)[S.POSITION].agg(["min", "max", "size"])
    assert (first["min"] == 0).all() and (first["max"] == first["size"] - 1).all()
    assert p[S.PASSAGE_ID].is_unique
    assert p[S.TEXT_HASH].str.len().eq(64).all()


def test_cached_splits_are_not_tokenised_again(demo_sample, store):
    calls = []

    def counting(texts):
        calls.append(len(texts))
        return [len(t.split()) * 2 for t in texts]

    first = split_passages(demo_sample, count=counting, cache=store, cache_key="k")
    n_first = sum(calls)
    again = split_passages(demo_sample, count=counting, cache=store, cache_key="k")
    assert sum(calls) == n_first  # nothing counted the second time
    pd.testing.assert_frame_equal(first, again)
    split_passages(demo_sample.head(3), count=counting, cache=store, cache_key="other-tokenizer")
    assert sum(calls) > n_first  # another key is another split
