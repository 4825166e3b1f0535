"""A least-recently-used cache bounded by bytes, shared by every session of the server.

`st.cache_resource(max_entries=…)` bounds the number of entries, not their size: sixteen
filtered views of a 350k-passage run would hold gigabytes. Views and run tables go here
instead; each entry is sized once (`size_of`) and the oldest are dropped until the total
fits `max_bytes`. An entry larger than the whole budget is returned but not kept.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import numpy as np
import pandas as pd


def frame_bytes(*frames: pd.DataFrame) -> int:
    """Memory of DataFrames including their strings (exact and cheap for Arrow-backed strings)."""
    return int(sum(df.memory_usage(index=True, deep=True).sum() for df in frames))


def spec_bytes(spec: dict[str, Any]) -> int:
    """Approximate memory of a chart spec: its inline data rows dominate (~300 bytes each)."""
    rows = sum(len(v) for v in (spec.get("datasets") or {}).values() if isinstance(v, list))
    return 20_000 + 300 * rows


class Unhashable(Exception):
    """A value `fingerprint` cannot reduce to a hashable key (the caller does not cache it)."""


def fingerprint(value: Any) -> Hashable:
    """A hashable key of a value's content: a DataFrame or Series by its columns, dtypes and the
    sha1 of its row hashes (order-sensitive, milliseconds for a chart's few thousand rows),
    containers element by element, scalars as they are."""
    if isinstance(value, pd.DataFrame | pd.Series):
        try:
            rows = pd.util.hash_pandas_object(value, index=True).to_numpy()
        except TypeError as exc:  # unhashable cells (lists, dicts)
            raise Unhashable(str(exc)) from exc
        shape = tuple(map(str, value.columns)) if isinstance(value, pd.DataFrame) else (str(value.name),)
        dtypes = tuple(map(str, value.dtypes)) if isinstance(value, pd.DataFrame) else (str(value.dtype),)
        return ("frame", shape, dtypes, len(value), hashlib.sha1(rows.tobytes()).hexdigest())
    if isinstance(value, Mapping):
        return ("map", tuple((fingerprint(k), fingerprint(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return ("seq", tuple(fingerprint(v) for v in value))
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise Unhashable(type(value).__name__)


_MISSING = object()  # no cached value (a cached value may be None)


class ByteLRU:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self._making: dict[Hashable, threading.Lock] = {}

    @property
    def nbytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)

    def keys(self) -> list[Hashable]:
        """The keys held now, oldest first."""
        with self._lock:
            return list(self._items)

    def _hit(self, key: Hashable) -> Any:
        """The cached value of `key` (now the most recent), or _MISSING; call holding the lock."""
        if key not in self._items:
            return _MISSING
        self._items.move_to_end(key)
        return self._items[key][0]

    def get(self, key: Hashable) -> Any | None:
        """The cached value of `key`, or None: for a caller with a cheaper way than `make` when
        the value is not there yet."""
        with self._lock:
            value = self._hit(key)
        return None if value is _MISSING else value

    def get_or_make(self, key: Hashable, make: Callable[[], Any], size_of: Callable[[Any], int]) -> Any:
        """The cached value of `key`, else `make()` (once, even when sessions ask at the same time)."""
        with self._lock:
            value = self._hit(key)
            if value is not _MISSING:
                return value
            key_lock = self._making.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                value = self._hit(key)
            if value is not _MISSING:
                return value
            value = make()
            size = size_of(value)
            with self._lock:
                self._making.pop(key, None)
                if size <= self.max_bytes:
                    self._items[key] = (value, size)
                    self._bytes += size
                    while self._bytes > self.max_bytes:
                        _, (_, old) = self._items.popitem(last=False)
                        self._bytes -= old
            return value

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = 0
