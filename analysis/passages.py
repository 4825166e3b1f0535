"""Articles → passages: the unit that is embedded, clustered and framed.

A passage is a paragraph, because framing shifts from paragraph to paragraph (the
seed article moves from trade to ideology to personal ties in eight paragraphs).
Fragments too short to carry meaning are merged into a neighbour, and paragraphs
longer than the encoder's window are split at sentence boundaries so nothing is
silently truncated.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Protocol

import pandas as pd

from . import schema as S

TokenCounter = Callable[[list[str]], list[int]]

_BOILERPLATE = re.compile(
    r"""^\s*(?:
        advertisement|advertisements?\s*[:\-]?|sponsored(?:\s+content)?|
        (?:photo|image|picture|video|graphic)s?\s*(?:credit)?\s*[:|©].*|
        .*\b(?:getty\s+images|shutterstock|afp\s+via\s+getty|reuters/[a-z ]+)\s*\)?\s*|
        (?:read|see)\s+(?:more|also)\s*[:\-].*|
        (?:subscribe|sign\s+up)\b.{0,80}|
        follow\s+us\b.{0,80}|share\s+(?:this|on)\b.{0,60}|
        (?:copyright\s*(?:©|\(c\))?\s*(?:19|20)\d{2}|©|\(c\)\s*(?:19|20)\d{2}).{0,120}|
        all\s+rights\s+reserved\.?|
        updated?\s*:?\s*\d{1,2}[:.]\d{2}.{0,40}
    )\s*$""",
    re.IGNORECASE | re.VERBOSE,
)
# A byline: "By" and a name-shaped run of capitalised words (several authors joined by
# "and", "&", "," or "|", an outlet or role after a comma or bar); never a sentence.
_NAME = r"[A-ZА-ЯЁ][\w'’.-]*"
_NAME_RUN = rf"{_NAME}(?:\s+(?:(?:de|van|von|der|al|bin|da|du|le|la)\s+)?{_NAME}){{0,3}}"
_BYLINE = re.compile(
    rf"^\s*(?i:by)\s+{_NAME_RUN}(?:\s*(?:,|&|\||\band\b|—|–|-)\s*{_NAME_RUN})*\s*$"
)
_NOT_A_NAME = frozenset(
    """monday tuesday wednesday thursday friday saturday sunday january february march april
    may june july august september october november december then now today tomorrow
    yesterday tonight the this that these those its his her their our contrast comparison
    far law land sea air all some most early late mid""".split()
)
_MAX_CREDIT_WORDS = 20
_SENTENCE_END = re.compile(r"(?<=[.!?…])[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-ZА-ЯЁ0-9])|(?<=[。！？；])")
_WORD = re.compile(r"\w+", re.UNICODE)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def word_count(text: str) -> int:
    """Words, counting each CJK character as a word (Chinese has no spaces)."""
    return len(_WORD.findall(_CJK.sub(" ", text))) + len(_CJK.findall(text))


def approx_tokens(texts: list[str]) -> list[int]:
    """Word-piece estimate (≈1.35 per word plus punctuation) for when no tokenizer is given."""
    return [int(word_count(t) * 1.35 + len(re.findall(r"[^\w\s]", t))) + 2 for t in texts]


def text_hash(text: str) -> str:
    """The key of a passage's embedding: same text, same vector, whatever article it came from."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def is_boilerplate(line: str) -> bool:
    """Bylines, photo credits, copyright notices, 'Advertisement' and share prompts.

    Only short, credit-shaped lines count: "By Tuesday, Moscow had agreed." and a
    sentence that starts with "Copyright" are prose and are kept.
    """
    if word_count(line) > _MAX_CREDIT_WORDS:
        return False
    if line.strip().lower().startswith("by "):
        return is_byline(line)
    return bool(_BOILERPLATE.match(line))


def is_byline(line: str) -> bool:
    """'By Jane Smith', 'By Jane Smith and Li Wei, Reuters'; not 'By Tuesday, Moscow had agreed.'"""
    words = line.split()
    if len(words) < 2 or word_count(line) > 12 or line.rstrip().endswith(("?", "!", ":")):
        return False
    if words[1].strip(",.").lower() in _NOT_A_NAME:
        return False
    if line.rstrip().endswith(".") and not re.search(r"\b[A-Z]\.$", line.rstrip()):
        return False  # a sentence, unless it ends on an initial ("By John Q.")
    return bool(_BYLINE.match(line))


def dropped_lines(text: str) -> int:
    """How many lines of `text` `paragraphs` drops as bylines and credits (reported per run)."""
    return sum(1 for ln in text.replace("\r", "\n").split("\n") if ln.strip() and is_boilerplate(ln.strip()))


def paragraphs(text: str) -> list[str]:
    """Blank-line-separated blocks; if the text has no blank lines, each line is a paragraph."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks = re.split(r"\n[ \t]*\n", text) if re.search(r"\n[ \t]*\n", text) else text.split("\n")
    out = []
    for block in blocks:
        lines = [ln.strip() for ln in block.split("\n")]
        kept = " ".join(ln for ln in lines if ln and not is_boilerplate(ln))
        kept = re.sub(r"\s+", " ", kept).strip()
        if kept:
            out.append(kept)
    return out


def merge_fragments(paras: list[str], min_words: int) -> list[str]:
    """Merge paragraphs under `min_words` into the next one (the last into the previous)."""
    merged: list[str] = []
    carry = ""
    for p in paras:
        p = f"{carry} {p}".strip() if carry else p
        carry = ""
        if word_count(p) < min_words:
            carry = p
        else:
            merged.append(p)
    if carry:
        if merged:
            merged[-1] = f"{merged[-1]} {carry}"
        else:
            merged.append(carry)
    return merged


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def split_long(
    paras: list[str], max_tokens: int, count: TokenCounter, sizes: list[int] | None = None
) -> list[str]:
    """Split paragraphs over the encoder window into runs of whole sentences that fit.

    A single sentence over the window is split by tokens (`split_by_tokens`), so the
    encoder never truncates. `sizes` are the paragraphs' token counts when known.
    """
    sizes = count(paras) if sizes is None else sizes
    out: list[str] = []
    for para, size in zip(paras, sizes, strict=True):
        if size <= max_tokens:
            out.append(para)
            continue
        sents = sentences(para)
        sent_sizes = count(sents)
        chunk: list[str] = []
        chunk_size = 0
        for sent, n in zip(sents, sent_sizes, strict=True):
            if chunk and chunk_size + n > max_tokens:
                out.append(" ".join(chunk))
                chunk, chunk_size = [], 0
            if n > max_tokens:
                out.extend(split_by_tokens(sent, max_tokens, count))
                continue
            chunk.append(sent)
            chunk_size += n
        if chunk:
            out.append(" ".join(chunk))
    return out


def split_by_tokens(text: str, max_tokens: int, count: TokenCounter) -> list[str]:
    """Consecutive pieces of `text`, each within `max_tokens`, that together hold every word.

    Halves at a word boundary (at a character for unspaced text such as Chinese) until
    each piece fits; only a single character over the window is left as it is.
    """
    if count([text])[0] <= max_tokens:
        return [text]
    words = text.split()
    if len(words) > 1:
        mid = len(words) // 2
        halves = [" ".join(words[:mid]), " ".join(words[mid:])]
    elif len(text) > 1:
        halves = [text[: len(text) // 2], text[len(text) // 2:]]
    else:
        return [text]
    return [piece for half in halves for piece in split_by_tokens(half, max_tokens, count)]


def article_passages(
    text: str, *, min_words: int = 25, max_tokens: int = 256, count: TokenCounter = approx_tokens
) -> list[str]:
    """One article's text → its passages, in reading order."""
    return split_long(merge_fragments(paragraphs(text), min_words), max_tokens, count)


class SplitCache(Protocol):
    def get_splits(self, split_key: str, hashes: Sequence[str]) -> dict[str, list[str]]: ...
    def put_splits(self, split_key: str, splits: dict[str, list[str]]) -> None: ...


def split_key(tokenizer_id: str, min_words: int, max_tokens: int) -> str:
    """Identifies a way of splitting: tokenizer, parameters and this module's code."""
    code = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]
    return f"{tokenizer_id}|{min_words}|{max_tokens}|{code}"


def split_passages(
    articles: pd.DataFrame,
    *,
    min_words: int = 25,
    max_tokens: int = 256,
    count: TokenCounter = approx_tokens,
    cache: SplitCache | None = None,
    cache_key: str = "",
) -> pd.DataFrame:
    """Articles (schema.ARTICLE_COLUMNS) → passages (schema.PASSAGE_COLUMNS), one row each.

    A batch function: it maps over any partition of the articles independently. With a
    cache, an article text already split under `cache_key` is not tokenised again, which
    makes re-runs and runs that add a few articles to a large corpus cheap.
    """
    texts = articles[S.TEXT].tolist()
    hashes = [text_hash(t) for t in texts]
    known = cache.get_splits(cache_key, hashes) if cache is not None else {}
    todo = {h: t for h, t in zip(hashes, texts, strict=True) if h not in known}
    merged = {h: merge_fragments(paragraphs(t), min_words) for h, t in todo.items()}
    sizes = iter(count([p for paras in merged.values() for p in paras]))  # one batched tokenizer call
    fresh = {h: split_long(paras, max_tokens, count, [next(sizes) for _ in paras]) for h, paras in merged.items()}
    if cache is not None and fresh:
        cache.put_splits(cache_key, fresh)
    known.update(fresh)
    rows: list[tuple] = []
    for (art_id, outlet, date, _), h in zip(_iter(articles), hashes, strict=True):
        for pos, passage in enumerate(known[h]):
            rows.append((f"{art_id}:{pos}", art_id, outlet, date, pos, passage, text_hash(passage)))
    out = pd.DataFrame(rows, columns=list(S.PASSAGE_COLUMNS))
    out[S.DATE] = pd.to_datetime(out[S.DATE], utc=True)
    out[S.POSITION] = out[S.POSITION].astype("int64")
    return out


def _iter(articles: pd.DataFrame) -> Iterable[tuple]:
    return zip(
        articles[S.ARTICLE_ID], articles[S.OUTLET], articles[S.DATE], articles[S.TEXT], strict=True
    )
