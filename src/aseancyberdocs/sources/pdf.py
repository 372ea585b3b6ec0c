"""PDF reader: pypdf, page by page, keeping physical page numbers and printed page labels."""

from __future__ import annotations

import functools
import inspect
import logging
from pathlib import Path
from typing import Any

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
    _read_hex_strings_whole()
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


# Hex strings ("<0041004E>"), in which these PDFs set most of their text, read in one slice.
_HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
_HEX_SLICE = 512


@functools.cache
def _read_hex_strings_whole() -> bool:
    """Let pypdf's content-stream parser read a hex string up to its ">" in one slice.

    pypdf reads one a byte at a time (``generic/_utils.py``, ``read_hex_string_from_stream``):
    on the reference corpus, a tenth of the CPU time of reading its PDFs. The replacement returns
    the same string object; a string it does not read as plain hex digits and white space (a bad
    digit, no ">" before the end) is handed back to pypdf's own function from its start, so errors
    and recovery stay pypdf's. Installed once a process, and only where pypdf's function has the
    signature this was written against; anything else leaves pypdf as it is. True if installed.
    """
    try:
        from pypdf._utils import WHITESPACES_AS_BYTES
        from pypdf.generic import _data_structures, _utils
    except ImportError:
        return False
    original = getattr(_utils, "read_hex_string_from_stream", None)
    create = getattr(_utils, "create_string_object", None)
    if original is None or create is None or getattr(_data_structures, "read_hex_string_from_stream", None) is not original:
        return False
    if list(inspect.signature(original).parameters) != ["stream", "forced_encoding"]:
        return False

    def read_hex_string(stream: Any, forced_encoding: Any = None) -> Any:
        start = stream.tell()
        stream.read(1)  # "<"
        body = b""
        while True:
            piece = stream.read(_HEX_SLICE)
            end = piece.find(b">")
            if end >= 0:
                body += piece[:end]
                break
            if not piece:
                stream.seek(start)
                return original(stream, forced_encoding)
            body += piece
        digits = body.translate(None, WHITESPACES_AS_BYTES)
        if not _HEX_DIGITS.issuperset(digits):
            stream.seek(start)
            return original(stream, forced_encoding)
        stream.seek(start + len(body) + 2)
        if len(digits) % 2:
            digits += b"0"
        return create(bytes.fromhex(digits.decode("ascii")), forced_encoding)

    _data_structures.read_hex_string_from_stream = read_hex_string
    return True
