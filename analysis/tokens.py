"""Words for cluster labels in the script they are written in.

English is split on word boundaries; Russian (and other Cyrillic text) is split the same
way and reduced to Snowball stems, so "газопровод" and "газопроводу" count as one term,
shown in its most frequent written form; Chinese has no spaces, so it is segmented into
words with jieba (loaded only when Chinese text appears). Stop words: scikit-learn's
English list and the `stop-words` package's Russian and Chinese lists, plus news words
that name nothing.
"""

from __future__ import annotations

import functools
import re
import threading
from collections import Counter, defaultdict
from collections.abc import Iterable

_WORD = re.compile(r"[^\W\d_][\w'’-]*[^\W_]", re.UNICODE)  # 2+ characters, not a number
_HAN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_HAN_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")

# Words that are everywhere in news and name nothing: reporting verbs, time words.
NEWS_STOP_WORDS = frozenset(
    """said says say told according year years month months week weeks day days time new
    also would could one two three first last mr mrs ms percent per cent including like
    just make made many much may might well still even since yet however whether
    заявил заявила сообщил сообщила говорится также году года время
    表示 指出 认为 称 年 月 日 今年 目前 已经 进行
    """.split()
)


@functools.cache
def stop_words(language: str) -> frozenset[str]:
    """scikit-learn's English list, or the `stop-words` package's list for Russian and Chinese."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    if language == "en":
        return frozenset(ENGLISH_STOP_WORDS | NEWS_STOP_WORDS)
    from stop_words import get_stop_words

    return frozenset(set(get_stop_words({"ru": "russian", "zh": "chinese"}[language])) | NEWS_STOP_WORDS)


_PER_THREAD = threading.local()


def _russian_stemmer():
    """One Snowball stemmer per thread: a stemmer keeps its word in its own state, so threads
    sharing one (a threaded Dask worker, the dashboard's run and page threads) corrupt each other."""
    stemmer = getattr(_PER_THREAD, "russian", None)
    if stemmer is None:
        import snowballstemmer

        stemmer = _PER_THREAD.russian = snowballstemmer.stemmer("russian")
    return stemmer


@functools.cache
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def prepare(languages: Iterable[str]) -> None:
    """Load what tokenising these languages (ISO 639-1 codes) needs before the first text does:
    jieba's dictionary takes 1-3 s on first use, which a background thread can pay for instead
    of the first page that counts Chinese words."""
    wanted = {"en"} | (set(languages) & {"ru", "zh"})
    for language in wanted:
        stop_words(language)
    if "zh" in wanted:
        _jieba().initialize()


class ScriptTokenizer:
    """A callable for CountVectorizer(tokenizer=...): script-aware terms, stop words removed.

    It remembers the written forms behind each Russian stem, so `display` shows a word.
    """

    def __init__(self) -> None:
        self._forms: dict[str, Counter] = defaultdict(Counter)

    def __call__(self, text: str) -> list[str]:
        text = text.lower()
        tokens: list[str] = []
        if _HAN.search(text):
            for run in _HAN_RUN.finditer(text):
                tokens += [w for w in _jieba().lcut(run.group(), HMM=True)
                           if len(w) > 1 and w not in stop_words("zh")]
            text = _HAN_RUN.sub(" ", text)
        english = stop_words("en")
        if not _CYRILLIC.search(text):  # most texts: one test for the text, not one per word
            return tokens + [w for w in _WORD.findall(text) if w not in english]
        for word in _WORD.findall(text):
            if _CYRILLIC.search(word):
                if word in stop_words("ru"):
                    continue
                stem = _russian_stemmer().stemWord(word)
                self._forms[stem][word] += 1
                tokens.append(stem)
            elif word not in english:
                tokens.append(word)
        return tokens

    def display(self, term: str) -> str:
        """A term (one word or a bigram) with each Russian stem shown as its most frequent form."""
        return " ".join(self._forms[w].most_common(1)[0][0] if w in self._forms else w for w in term.split())


def display_terms(tokenizer: ScriptTokenizer, terms: Iterable[str]) -> list[str]:
    return [tokenizer.display(t) for t in terms]
