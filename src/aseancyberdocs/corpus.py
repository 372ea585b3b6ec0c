"""The bundled reference corpus: where it is, and how long indexing it takes.

A checkout of aseancyberdocs carries the reference corpus in its ``corpus/`` folder (UN
resolutions and drafts as PDFs and text layers, summit and leaders' statements as Markdown).
``aseancyberdocs build`` with no PATH indexes it, and ``search``, ``ask`` and ``precedents``
build it first when the default index does not exist yet.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CORPUS_ENV", "bundled_corpus_dir", "estimated_build_seconds"]

CORPUS_ENV = "ASEANCYBERDOCS_CORPUS"
"""Environment variable naming another corpus folder to use as the default."""

SECONDS_PER_DOCUMENT = 0.6
"""Cold build time per reference document on a 2-core machine (the benchmarks measure it)."""


def bundled_corpus_dir() -> Path | None:
    """The default corpus: ``$ASEANCYBERDOCS_CORPUS`` if set, else the checkout's ``corpus/``.

    Returns None when the variable is unset and the package does not run from a checkout that
    holds its corpus (an installed wheel carries no documents). A folder named by the variable
    is returned as given, whether or not it exists, so that a typo is reported, not skipped.

    Example:
        >>> bundled_corpus_dir()  # doctest: +SKIP
        PosixPath('/home/me/aseancyberdocs/corpus')
    """
    named = os.environ.get(CORPUS_ENV)
    if named:
        return Path(named)
    # src/aseancyberdocs/corpus.py -> the checkout is two folders above the package.
    checkout = Path(__file__).resolve().parents[2]
    folder = checkout / "corpus"
    if (folder / "catalog.csv").is_file() and any((folder / name).is_dir() for name in ("un", "statements")):
        return folder
    return None


def estimated_build_seconds(documents: int) -> float:
    """A rough cold-build time for ``documents`` files, to tell a user what to expect."""
    return documents * SECONDS_PER_DOCUMENT
