"""User text inside Markdown elements, as literal text (one place, used by every page)."""

from __future__ import annotations

import re
from typing import Any

# every character CommonMark, GFM and Streamlit's Markdown give a meaning to
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~:$&=\"'^])")


def plain(value: Any) -> str:
    """`value` as literal text for a Markdown element: specials backslash-escaped, line breaks
    and runs of white space folded to one space (no headings, lists or code blocks)."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", " ".join(str(value).split()))
