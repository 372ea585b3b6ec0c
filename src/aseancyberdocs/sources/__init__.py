"""Readers: source files (PDF, plain text, Markdown, HTML) -> ``Document``.

``load_document`` reads one file; ``find_sources`` walks files and folders. Metadata comes from
what the document prints (the front page of a UN document, the YAML front matter of a
statement) and is then completed or corrected by the corpus catalog.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DocumentParseError, EmptyDocumentError
from ..types import Document
from . import un
from .blocks import Block, Line, PageInfo, assemble, hyphen_vocabulary, normalize_spaces
from .html import read_html
from .markdown import front_matter_date, split_front_matter, strip_markup
from .pdf import read_pdf_pages
from .text import read_text_file, split_paragraphs

if TYPE_CHECKING:
    from ..catalog import Catalog

__all__ = ["SUPPORTED_SUFFIXES", "find_sources", "load_document", "document_from_text"]

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".pdf", ".txt", ".md", ".markdown", ".html", ".htm")
MAX_FILE_BYTES = 200 * 1024 * 1024
"""Larger files are skipped unread: no cyber-diplomacy text is this big, a file that is is a mistake."""


def find_sources(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The readable files under ``paths`` (files, or folders searched recursively), sorted.

    Hidden files and folders are skipped, and so is a ``README`` file met in a folder (it describes
    the folder; it is not one of its documents; named as a file, it is read). A folder reached
    twice through symbolic links is read once (no loops). A path that does not exist raises
    ``FileNotFoundError``.

    Example:
        >>> find_sources(["corpus/statements"])[:1]  # doctest: +SKIP
        [PosixPath('corpus/statements/2018-11-12-paris-call-for-trust-and-security-in-cyberspace.md')]
    """
    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise FileNotFoundError(f"no such file or folder: {path}")
        if path.is_file():
            found[path] = None
            continue
        seen: set[tuple[int, int]] = set()
        for folder, dirnames, filenames in os.walk(path, followlinks=True):
            stat = os.stat(folder)
            if (stat.st_dev, stat.st_ino) in seen:
                dirnames[:] = []
                continue
            seen.add((stat.st_dev, stat.st_ino))
            dirnames[:] = sorted(name for name in dirnames if not name.startswith("."))
            for name in sorted(filenames):
                if _is_source(name):
                    found[Path(folder) / name] = None
    return sorted(found, key=lambda item: str(item))


def _is_source(name: str) -> bool:
    lower = name.lower()
    return not name.startswith(".") and lower.endswith(SUPPORTED_SUFFIXES) and not lower.startswith("readme.")


def load_document(path: str | os.PathLike[str], catalog: Catalog | None = None) -> Document:
    """Read one source file into a ``Document``.

    Args:
        path: a ``.pdf``, ``.txt``, ``.md`` or ``.html`` file.
        catalog: metadata that completes or overrides what the file prints; by default the
            catalog of the reference corpus shipped with the library (matched by sha256).

    Raises:
        DocumentParseError: corrupt, encrypted, undecodable or unsupported file.
        EmptyDocumentError: no text (empty file, scanned PDF).

    Example:
        >>> doc = load_document("corpus/un/pdf/A_RES_80_16.pdf")  # doctest: +SKIP
        >>> doc.symbol, doc.date
        ('A/RES/80/16', '2025-12-01')
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise DocumentParseError(path, f"file is too large: {_size(size)}, over the {_size(MAX_FILE_BYTES)} limit")
        if size == 0:
            raise EmptyDocumentError(path, "file is empty (0 bytes)")
        data = path.read_bytes()
    except FileNotFoundError as exc:
        raise DocumentParseError(path, "file not found (moved or deleted?)") from exc
    except IsADirectoryError as exc:
        raise DocumentParseError(path, "is a folder, not a file") from exc
    except PermissionError as exc:
        raise DocumentParseError(path, "permission denied") from exc
    except OSError as exc:  # a symbolic link loop, an I/O error
        raise DocumentParseError(path, f"cannot read the file: {exc.strerror or exc}") from exc
    digest = hashlib.sha256(data).hexdigest()
    suffix = path.suffix.lower()
    if suffix == ".pdf":
        if not data.lstrip()[:5].startswith(b"%PDF"):
            raise DocumentParseError(path, "not a PDF file (no %PDF header)")
        fields = _read_pdf(path)
    elif suffix == ".txt":
        fields = _read_txt(path)
    elif suffix in (".md", ".markdown"):
        fields = _read_markdown(path)
    elif suffix in (".html", ".htm"):
        fields = _read_html(path, data)
    else:
        raise DocumentParseError(path, f"unsupported file type {suffix or '(none)'}; expected one of {', '.join(SUPPORTED_SUFFIXES)}")
    if not fields["text"].strip():
        raise EmptyDocumentError(path, "no text found")
    entry = _catalog_entry(path, digest, catalog)
    if entry:
        for key, value in entry.items():
            if value not in (None, ""):
                fields[key] = value
    fields.setdefault("doc_id", path.stem)
    fields["doc_id"] = fields.get("doc_id") or fields.get("symbol") or path.stem
    fields["title"] = fields.get("title") or fields["doc_id"]
    fields["doc_type"] = fields.get("doc_type") or "document"
    return Document(source=str(path), sha256=digest, **fields)


def document_from_text(text: str, *, doc_id: str, title: str | None = None, source: str = "<text>", **metadata: Any) -> Document:
    """A ``Document`` from a string, read as a plain-text file is (for tests and notebooks)."""
    blocks = _plain_blocks(text)
    body, pages, _ = assemble(blocks, [PageInfo(1, "1")], vocabulary=hyphen_vocabulary(text.split("\n")))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    known = {"symbol", "date", "body", "source_url", "doc_type"}
    fields = {key: value for key, value in metadata.items() if key in known}
    extra = {key: value for key, value in metadata.items() if key not in known}
    fields.setdefault("doc_type", "document")
    return Document(doc_id=doc_id, title=title or doc_id, text=body, pages=pages, source=source, sha256=digest, metadata=extra, **fields)


def _read_pdf(path: Path) -> dict[str, Any]:
    infos, texts = read_pdf_pages(path)
    pages = [text.split("\n") for text in texts]
    if un.looks_like_un_document(texts[0]):
        front = un.front_text(texts[0].split("\n"))
        cleaned = [un.strip_pdf_page(lines, index, front) for index, lines in enumerate(pages)]
        return _un_fields(path, infos, cleaned, indent_starts=True)
    pages = _strip_page_furniture(pages)
    blocks = _generic_pdf_blocks(pages)
    fields = _fields_from_blocks(blocks, infos, [line for page in pages for line in page])
    # A statement's title is its first line when that line stands alone ("CHAIRMAN'S STATEMENT
    # OF THE 32ND ASEAN SUMMIT"); the catalog's title, where there is one, replaces it.
    first = blocks[0].lines if blocks else []
    if len(first) == 1 and not _SENTENCE_END.search(first[0].text) and len(first[0].text.strip()) <= 150:
        fields["title"] = normalize_spaces(first[0].text)
        fields["doc_type"] = _statement_type(fields["title"])
    return fields


def _read_txt(path: Path) -> dict[str, Any]:
    text = read_text_file(path)
    lines = text.split("\n")
    if un.looks_like_un_document(text):
        split = un.split_text_pages(lines)
        infos = [PageInfo(number=index + 1, label=label) for index, (label, _) in enumerate(split)]
        return _un_fields(path, infos, [page for _, page in split], indent_starts=False)
    fields = _fields_from_blocks(_plain_blocks(text), [PageInfo(1, "1")], lines)
    fields["title"] = normalize_spaces(lines[0])[:200] if lines else path.stem
    return fields


def _read_markdown(path: Path) -> dict[str, Any]:
    raw = read_text_file(path)
    meta, body = split_front_matter(raw, path)
    if not body.strip():
        raise EmptyDocumentError(path, "Markdown file has front matter but no body text")
    lines = [strip_markup(line) for line in body.split("\n")]
    blocks = _plain_blocks("\n".join(lines), list_items=True)
    fields = _fields_from_blocks(blocks, [PageInfo(1, "1")], lines)
    title = meta.pop("title", None)
    fields["title"] = normalize_spaces(str(title)) if title else None
    fields["date"] = front_matter_date(meta.pop("date", None))
    fields["source_url"] = meta.pop("source_url", None)
    fields["doc_type"] = _statement_type(fields["title"] or "")
    fields["metadata"].update({key: value for key, value in meta.items() if isinstance(value, (str, int, float, bool))})
    return fields


def _read_html(path: Path, data: bytes) -> dict[str, Any]:
    page = read_html(path, data)
    fields = _fields_from_blocks(_plain_blocks(page["text"]), [PageInfo(1, "1")], page["text"].split("\n"))
    fields.update(title=page["title"], date=page["date"], source_url=page["source_url"])
    fields["doc_type"] = _statement_type(page["title"] or "")
    return fields


def _size(count: int) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} bytes"


def _un_fields(path: Path, infos: list[PageInfo], pages: list[list[str]], *, indent_starts: bool) -> dict[str, Any]:
    blocks = un.segment(pages, indent_starts=indent_starts)
    layout = "resolution"
    if len(blocks) <= 1 and _is_report(path, pages):
        # No "The General Assembly," lead-in, and the symbol of a report: no preamble, section
        # headings over paragraphs numbered through the whole document.
        blocks = un.segment_report(pages, indent_starts=indent_starts)
        layout = "report"
    if len(blocks) <= 1:
        # No "The General Assembly," lead-in: read the whole text as paragraphs.
        blocks = _plain_blocks("\n".join(line for page in pages for line in page))
        front_lines = pages[0][:40] if pages else []
    else:
        front_lines = [line.text for line in blocks[0].lines] if blocks[0].kind == "front" else []
    fallback = path.stem.replace("_", "/") if un.SYMBOL.fullmatch(path.stem.replace("_", "/")) else None
    front = un.read_front_matter(front_lines, fallback)
    fields = _fields_from_blocks(blocks, infos, [line for page in pages for line in page])
    title = front.title
    if layout == "report":
        fields["metadata"]["layout"] = "report"
        title = _report_title(blocks, front_lines) or title
    fields.update(
        doc_id=front.symbol or path.stem,
        symbol=front.symbol,
        title=title,
        date=front.date,
        body=front.body,
        doc_type=front.doc_type,
        source_url=None,
    )
    return fields


def _is_report(path: Path, pages: list[list[str]]) -> bool:
    """Whether a UN document without a lead-in carries the symbol of a report ("A/70/174")."""
    head = normalize_spaces(" ".join(pages[0][:12])) if pages else ""
    found = un.SYMBOL.search(head)
    symbol = found.group(0) if found else path.stem.replace("_", "/")
    return un.REPORT_SYMBOL.fullmatch(symbol) is not None


def _report_title(blocks: Sequence[Block], front_lines: Sequence[str]) -> str | None:
    """A report's title: its "Report of the ..." heading, else the front page's lines after the agenda item."""
    from .blocks import join_lines

    for block in blocks:
        if block.kind == "heading" and block.lines and block.lines[0].text.strip().startswith("Report of the"):
            return join_lines([line.text for line in block.lines]) or None
    lines = [normalize_spaces(line) for line in front_lines]
    for index, line in enumerate(lines):
        if re.match(r"^(?:Item \d+ of the (?:provisional )?agenda|Agenda item \d+)", line):
            return join_lines([rest for rest in lines[index + 1 :] if rest]) or None
    return None


def _fields_from_blocks(blocks: Sequence[Block], infos: Sequence[PageInfo], lines: Sequence[str]) -> dict[str, Any]:
    text, pages, spans = assemble(blocks, infos, vocabulary=hyphen_vocabulary(lines))
    return {"text": text, "pages": pages, "metadata": {"blocks": [[kind, start, end] for kind, start, end in spans]}}


def _plain_blocks(text: str, *, list_items: bool = False) -> list[Block]:
    paragraphs = split_paragraphs(text, list_items=list_items)
    return [Block("paragraph", [Line(0, line) for line in paragraph]) for paragraph in paragraphs]


_SENTENCE_END = re.compile(r"[.!?:;][\"”’)]*\s*$")
_ITEM_END = re.compile(r"(?:[.!?:;,]|;\s+and|;\s+or)[\"”’)]*\s*$")
# "3", "Page 3", "3/10", "Page 3 of 10", "- 3 -": a page counter alone on its line.
_PAGE_COUNTER = re.compile(r"^\s*(?:-\s*)?(?:Page\s+)?\d{1,3}(?:\s*(?:/|of)\s*\d{1,3})?(?:\s*-)?\s*$", re.I)
_STATEMENT_NUMBER = re.compile(r"^\s*(\d{1,3})\.\s+\S")
_STATEMENT_ITEM = re.compile(r"^\s*(?:\([a-z]{1,2}\)|[a-z]\.)\s+\S")


def _strip_page_furniture(pages: Sequence[list[str]]) -> list[list[str]]:
    """Drop page counters and running heads from the edges of the pages of a PDF of no known layout.

    A running head is a line that opens or closes at least two pages, and half of them, with the
    same words (a statement's short title on every page); a counter is a number alone ("Page 2
    of 5"). Only the first and last two lines of a page are looked at: the text between is kept.
    """
    def edges(lines: list[str]) -> list[int]:
        filled = [index for index, line in enumerate(lines) if line.strip()]
        return sorted(set(filled[:2] + filled[-2:]))

    counts: dict[str, int] = {}
    for lines in pages:
        for key in {normalize_spaces(lines[index]) for index in edges(lines)}:
            counts[key] = counts.get(key, 0) + 1
    repeated = {key for key, count in counts.items() if count >= 2 and count * 2 >= len(pages)}
    result = []
    for lines in pages:
        drop = {
            index
            for index in edges(lines)
            if _PAGE_COUNTER.match(lines[index]) or normalize_spaces(lines[index]) in repeated
        }
        result.append([line for index, line in enumerate(lines) if index not in drop])
    return result


def _generic_pdf_blocks(pages: Sequence[list[str]]) -> list[Block]:
    """Paragraphs of a PDF of no known layout (statements).

    A paragraph starts after a blank line or a finished sentence followed by an indent, at the
    next number of a numbered sequence ("4." after "3.") or a lettered item ("a.", "(b)") after a
    finished line, and a short line without closing punctuation between finished paragraphs (a
    themed heading such as "Cybersecurity") stands alone, so that text extractors that print no
    blank lines still separate them.
    """
    blocks: list[Block] = []
    current: Block | None = None
    previous_blank = True
    in_heading = False
    last_number = 0
    lines = [(page_index, raw) for page_index, page_lines in enumerate(pages) for raw in page_lines]
    width = max((len(raw.strip()) for _, raw in lines), default=0)
    for index, (page_index, raw) in enumerate(lines):
        if not raw.strip():
            previous_blank = True
            continue
        last = current.lines[-1].text if current is not None else ""
        ended = current is None or in_heading or _SENTENCE_END.search(last) is not None
        number = _STATEMENT_NUMBER.match(raw)
        heading = ended and _heading_line(raw, width, lines[index + 1 :])
        starts = (
            current is None
            or (previous_blank and ended)
            or (ended and raw[:1].isspace())
            or (ended and number is not None and int(number.group(1)) in (last_number + 1, 1))
            or (_ITEM_END.search(last) is not None and _STATEMENT_ITEM.match(raw) is not None)
            or heading
            or (in_heading and not raw.strip()[:1].islower())
        )
        if starts:
            if number is not None:
                last_number = int(number.group(1))
            current = Block("paragraph", [])
            blocks.append(current)
            in_heading = heading
        current.lines.append(Line(page_index, raw))  # type: ignore[union-attr]
        previous_blank = False
    return blocks


def _heading_line(text: str, width: int, following: Sequence[tuple[int, str]]) -> bool:
    """A short line without closing punctuation, starting with a capital, before the start of a paragraph."""
    stripped = text.strip()
    if not stripped or _SENTENCE_END.search(stripped) or stripped.endswith((",", "-")) or not stripped[:1].isupper():
        return False
    if len(stripped) > 90 or (width and len(stripped) > 0.7 * width) or _STATEMENT_NUMBER.match(stripped):
        return False
    after = next((line for _, line in following if line.strip()), "")
    return not after or bool(_STATEMENT_NUMBER.match(after)) or after.strip()[:1].isupper()


def _statement_type(title: str) -> str:
    lowered = title.lower().replace("’", "'")
    if "chairman's statement" in lowered or "chair's statement" in lowered:
        return "chairman's statement"
    if "leaders' statement" in lowered and "joint" not in lowered:
        return "leaders' statement"
    if "joint" in lowered:
        return "joint statement"
    return "statement"


def _catalog_entry(path: Path, digest: str, catalog: Catalog | None) -> dict[str, Any] | None:
    if catalog is None:
        catalog = _default_catalog()
        if catalog is None:
            return None
    entry = catalog.lookup(path, digest)
    if entry is None:
        return None
    keys = ("doc_id", "symbol", "title", "date", "doc_type", "body", "source_url")
    return {key: getattr(entry, key, None) for key in keys}


@functools.lru_cache(maxsize=1)
def _default_catalog() -> Catalog | None:
    try:
        from ..catalog import Catalog
    except ImportError:
        return None
    try:
        return Catalog.load()
    except Exception as exc:  # a broken shipped catalog must not stop reading documents
        logger.warning("corpus catalog not used: %s", exc)
        return None

