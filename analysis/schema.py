"""Column names shared by every stage, so no stage spells a column its own way.

Tables flow between stages as pandas DataFrames with these columns. A stage adds
columns; it never renames the ones it received.
"""

from __future__ import annotations

# articles (output of ingest)
ARTICLE_ID = "article_id"
TITLE = "title"
TEXT = "text"
OUTLET = "outlet"
DATE = "date"  # datetime64[ns, UTC] normalised to midnight, NaT when undated
URL = "url"
LANGUAGE = "language"
SOURCE_FILE = "source_file"
SOURCE_ROW = "source_row"
DUPLICATES = "duplicates"  # number of extra copies collapsed into this article
DUPLICATE_OUTLETS = "duplicate_outlets"  # "; "-joined outlets of those copies
BYLINE = "byline"  # metadata of news-database exports, kept out of the text
SECTION = "section"
WORD_COUNT = "word_count"  # as the source states it, digits only
ARTICLE_KEY = "article_key"  # analysis.ids.article_key(text, outlet): the store's identity of an article

ARTICLE_COLUMNS = (
    ARTICLE_ID, TITLE, TEXT, OUTLET, DATE, URL, LANGUAGE,
    SOURCE_FILE, SOURCE_ROW, DUPLICATES, DUPLICATE_OUTLETS, BYLINE, SECTION, WORD_COUNT,
)

# passages (output of passages.split_passages)
PASSAGE_ID = "passage_id"  # f"{article_id}:{position}"
POSITION = "position"  # 0-based order inside the article
TEXT_HASH = "text_hash"  # sha256 of the passage text, the embedding cache key

PASSAGE_COLUMNS = (PASSAGE_ID, ARTICLE_ID, OUTLET, DATE, POSITION, TEXT, TEXT_HASH)

# clusters
CLUSTER_ID = "cluster_id"
SIMILARITY = "similarity"  # cosine to the cluster centroid

# frames
FRAME_ID = "frame_id"
SCORE = "score"
PRESENT = "present"
EVIDENCE = "evidence"
DOMINANT_FRAME = "dominant_frame"
NO_FRAME = "none"

# rejected rows (ingest report)
REJECT_FILE = "file"
REJECT_ROW = "row"
REJECT_REASON = "reason"
REJECTED_COLUMNS = (REJECT_FILE, REJECT_ROW, REJECT_REASON)

UNDATED = "undated"  # label of the period bucket that holds undated passages
