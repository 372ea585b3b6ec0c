"""One exception hierarchy: every error the library raises on purpose is an AseanCyberDocsError."""

from __future__ import annotations


class AseanCyberDocsError(Exception):
    """Base class of the library's errors."""


class DocumentError(AseanCyberDocsError):
    """A source file could not be turned into a document. ``path`` names the file."""

    def __init__(self, path: object, message: str) -> None:
        self.path = str(path)
        self.reason = " ".join(message.split())  # one line: parser messages (YAML, pypdf) span several
        super().__init__(f"{self.path}: {self.reason}")


class DocumentParseError(DocumentError):
    """The file is corrupt, encrypted, of an unknown format or undecodable."""


class EmptyDocumentError(DocumentError):
    """The file holds no text (an empty file, or a PDF with no text layer: scanned?)."""


class SkippedFilesError(AseanCyberDocsError):
    """A strict build met files it could not read; ``skipped`` lists them. The index was not written."""

    def __init__(self, message: str, skipped: tuple = ()) -> None:
        self.skipped = tuple(skipped)
        super().__init__(message)


class CatalogError(AseanCyberDocsError):
    """The corpus catalog is malformed."""


class IndexNotFoundError(AseanCyberDocsError):
    """No index at the given folder."""


class IndexVersionError(AseanCyberDocsError):
    """The index was written in a format this version cannot read."""


class IndexIntegrityError(AseanCyberDocsError):
    """The index files disagree with the manifest (hashes, counts, paths)."""


class ModelMismatchError(AseanCyberDocsError):
    """The index was built with another embedding model than the one asked for."""


class ModelLoadError(AseanCyberDocsError):
    """The embedding model could not be loaded (offline, so it must be on disk)."""


class EmptyIndexError(AseanCyberDocsError):
    """A build found no document to index."""


class QuoteVerificationError(AseanCyberDocsError):
    """A quoted sentence differs from the document text at its offsets: the answer is not returned."""


class NoMatchError(AseanCyberDocsError, ValueError):
    """The search filters leave no passage to search."""
