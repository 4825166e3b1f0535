"""The few errors Framescope raises on purpose.

Everything a user can cause (a bad file, a bad codebook, a missing model) is a
`FramescopeError` whose message names the file, row or setting and the problem.
The CLI and the dashboard catch only this class and show its message; anything
else is a bug and keeps its traceback for the developer's console.
"""

from __future__ import annotations


class FramescopeError(Exception):
    """Base class: an expected failure with a message fit for a user."""


class IngestError(FramescopeError, ValueError):
    """A whole input file cannot be read (format, size, encoding, no text column)."""


class CodebookError(FramescopeError, ValueError):
    """A codebook file is malformed; the message names the file and the frame."""


class ModelUnavailableError(FramescopeError):
    """The embedding model cannot be loaded offline from the given name or path."""


class StoreError(FramescopeError):
    """The embedded store cannot be opened or written."""
