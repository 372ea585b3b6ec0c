"""PDF reader: pypdf, page by page, keeping physical page numbers and printed page labels."""

from __future__ import annotations

import logging
from pathlib import Path

from ..errors import DocumentParseError, EmptyDocumentError
from .blocks import PageInfo

logger = logging.getLogger(__name__)


def read_pdf_pages(path: Path) -> tuple[list[PageInfo], list[str]]:
    """The text of each page and its number and printed label.

    Raises:
        DocumentParseError: the file is not a readable PDF, or is encrypted with a password.
        EmptyDocumentError: the PDF has no text layer (a scan).
    """
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(str(path), strict=False)
        if reader.is_encrypted:
            try:
                unlocked = reader.decrypt("")
            except Exception as exc:  # pypdf raises several types for unsupported crypto
                raise DocumentParseError(path, f"encrypted PDF that cannot be opened ({exc})") from exc
            if not unlocked:
                raise DocumentParseError(path, "encrypted PDF: a password is needed to read it")
        count = len(reader.pages)
        try:
            labels = list(reader.page_labels)
        except Exception:  # malformed /PageLabels: fall back to physical numbers
            labels = [str(number) for number in range(1, count + 1)]
        texts = [page.extract_text() or "" for page in reader.pages]
    except DocumentParseError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, OSError, RecursionError, AttributeError) as exc:
        raise DocumentParseError(path, f"not a readable PDF ({type(exc).__name__}: {exc})") from exc
    if count == 0:
        raise EmptyDocumentError(path, "PDF has no pages")
    if not any(text.strip() for text in texts):
        raise EmptyDocumentError(path, "PDF has no text layer (a scanned document?); run OCR on it first")
    infos = [PageInfo(number=index + 1, label=str(labels[index]) if index < len(labels) else str(index + 1)) for index in range(count)]
    return infos, texts
