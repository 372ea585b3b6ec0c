"""aseancyberdocs: search cyber-diplomacy texts and cite them to the paragraph.

Example:
    >>> from aseancyberdocs import open_index
    >>> library = open_index("indexes/default")  # doctest: +SKIP
    >>> for hit in library.search("norms of responsible State behaviour", k=3):  # doctest: +SKIP
    ...     print(hit.rank, hit.citation)

Nothing heavy is imported here: torch, sentence-transformers and FAISS load on first use.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("aseancyberdocs")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

from .errors import (  # noqa: E402
    AseanCyberDocsError,
    CatalogError,
    DocumentError,
    DocumentParseError,
    EmptyDocumentError,
    EmptyIndexError,
    IndexIntegrityError,
    IndexNotFoundError,
    IndexVersionError,
    ModelLoadError,
    ModelMismatchError,
    NoMatchError,
    QuoteVerificationError,
    SkippedFilesError,
)
from .index import (  # noqa: E402
    BuildReport,
    Library,
    SkippedFile,
    build_index,
    build_index_from_documents,
    open_index,
)
from .types import Answer, AnswerCitation, Citation, DiffOp, Document, Hit, Page, Passage, Precedent  # noqa: E402

__all__ = [
    "Answer",
    "AnswerCitation",
    "AseanCyberDocsError",
    "BuildReport",
    "CatalogError",
    "Citation",
    "DiffOp",
    "Document",
    "DocumentError",
    "DocumentParseError",
    "EmptyDocumentError",
    "EmptyIndexError",
    "Hit",
    "IndexIntegrityError",
    "IndexNotFoundError",
    "IndexVersionError",
    "Library",
    "ModelLoadError",
    "ModelMismatchError",
    "NoMatchError",
    "Page",
    "Passage",
    "Precedent",
    "QuoteVerificationError",
    "SkippedFilesError",
    "SkippedFile",
    "__version__",
    "build_index",
    "build_index_from_documents",
    "open_index",
]
