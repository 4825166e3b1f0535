"""Article identity: the content key of an article, and article ids that never collide.

Ingest (within one batch of files) and the store (across saved data sets) both make ids
unique with `unique_ids`, so combining data sets can never give two articles one id. The
result depends on the set of (id, key) pairs, never on their order, so a shuffled file
gives the same ids.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence


def article_key(text: str, outlet: str) -> str:
    """Identity of an article across uploads: its normalised text and outlet."""
    norm = " ".join(str(text).casefold().split())
    return hashlib.sha256(f"{outlet}\x1f{norm}".encode()).hexdigest()[:32]


def unique_ids(ids: Sequence[str], keys: Sequence[str], taken: Iterable[str] = ()) -> list[str]:
    """`ids` made unique among themselves and apart from `taken` (ids already in use).

    Of several articles given one id, the one with the smallest key keeps it and the others
    get "~2", "~3", … in key order, skipping every suffix that is already someone's id.
    """
    ids = [str(i) for i in ids]
    used = set(taken)
    order = sorted(range(len(ids)), key=lambda i: (keys[i], ids[i]))
    out: list[str | None] = [None] * len(ids)
    for i in order:  # first pass: each free id goes to its first holder in key order
        if ids[i] not in used:
            used.add(ids[i])
            out[i] = ids[i]
    for i in order:
        if out[i] is None:
            n = 2
            while f"{ids[i]}~{n}" in used:
                n += 1
            out[i] = f"{ids[i]}~{n}"
            used.add(out[i])
    return out  # type: ignore[return-value]
