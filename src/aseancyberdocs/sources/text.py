"""Plain-text reader: strict UTF-8 (a BOM is allowed), with a clear error for anything else."""

from __future__ import annotations

import re
from pathlib import Path

from ..errors import DocumentParseError, EmptyDocumentError


def read_text_file(path: Path) -> str:
    """The file's text, decoded as UTF-8.

    Raises:
        DocumentParseError: the bytes are not UTF-8 text (a binary file, or another encoding).
        EmptyDocumentError: the file is empty or only white space.
    """
    data = path.read_bytes()
    if b"\x00" in data[:8192]:
        raise DocumentParseError(path, "binary data, not a text file")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DocumentParseError(
            path, f"not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}); convert it to UTF-8 first"
        ) from exc
    if not text.strip():
        raise EmptyDocumentError(path, "file is empty")
    return text.replace("\r\n", "\n").replace("\r", "\n")


_LIST_ITEM = re.compile(r"^ {0,3}(?:\d{1,3}\.|[-*+])\s+\S")


def split_paragraphs(text: str, *, list_items: bool = False) -> list[list[str]]:
    """Paragraphs separated by blank lines, each a list of its lines.

    With ``list_items``, a Markdown list item ("1.  Support ...", "- ...") also starts a paragraph
    even when no blank line comes before it.
    """
    paragraphs: list[list[str]] = []
    current: list[str] = []
    for line in text.split("\n"):
        if line.strip():
            if list_items and current and _LIST_ITEM.match(line):
                paragraphs.append(current)
                current = []
            current.append(line)
        elif current:
            paragraphs.append(current)
            current = []
    if current:
        paragraphs.append(current)
    return paragraphs
