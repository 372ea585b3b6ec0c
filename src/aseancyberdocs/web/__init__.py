"""The local web app and JSON API: ``aseancyberdocs serve``.

Needs the ``web`` extra (FastAPI, Jinja2, uvicorn); nothing else in the package imports it.

Example:
    >>> from aseancyberdocs import open_index
    >>> from aseancyberdocs.web import create_app
    >>> app = create_app(open_index("indexes/default"))  # doctest: +SKIP
"""

from __future__ import annotations

from .app import MAX_K, MAX_QUERY_CHARS, MAX_TEXT_CHARS, create_app, run

__all__ = ["MAX_K", "MAX_QUERY_CHARS", "MAX_TEXT_CHARS", "create_app", "run"]
