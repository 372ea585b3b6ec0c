"""Blocks of lines -> a Document's clean text with its page map.

Readers produce ``Block``s: runs of source lines that form one paragraph, heading or front-matter
block, each line tagged with the page it came from. ``assemble`` joins them into the document
text (one block per paragraph, blocks separated by a blank line) and records where each page
starts, so that any character offset maps back to a page.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from ..types import Page

_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200b\u202f\u205f\u3000]+")
# A hyphen at the end of a line, with or without a stray space before it ("seventy -").
_LINE_END_HYPHEN = re.compile(r"(\w)\s?-$")
_WORD_AFTER = re.compile(r"^([a-z]\w*)")
# "Secretary-" at a line end and "General" on the next: a compound whose second part is capitalised.
_CAPITAL_AFTER_HYPHEN = re.compile(r"\w-$")
_WORD_BEFORE = re.compile(r"(\w+)\s?-$")


@dataclass(slots=True)
class Line:
    page: int  # 0-based index into the reader's page list
    text: str


@dataclass(slots=True)
class Block:
    kind: str  # "front", "lead", "heading", "paragraph", "closing"
    lines: list[Line] = field(default_factory=list)
    # Blocks whose lines keep their line breaks (front matter) join with "\n" instead of " ".
    keep_lines: bool = False


@dataclass(frozen=True, slots=True)
class PageInfo:
    number: int
    label: str


# Session-80 PDFs print non-breaking hyphens ("non‑proliferation"); soft hyphens are invisible.
# Written as a plain hyphen (and dropped), a phrase or a title matches however it was typed.
_CHARACTERS = str.maketrans({"\u2011": "-", "\u00ad": None})


def normalize_spaces(text: str) -> str:
    """Collapse runs of spaces (no-break and thin ones too), write non-breaking hyphens as hyphens."""
    return _SPACES.sub(" ", text.translate(_CHARACTERS)).strip()


def hyphen_vocabulary(lines: Sequence[str]) -> tuple[set[str], set[str]]:
    """Words and hyphenated compounds that occur unbroken in the text, lower-cased.

    Used to decide whether a hyphen at a line end is part of a compound ("capacity-building",
    kept) or a break inside a word (dropped): UN texts hyphenate compounds far more often than
    they break words, so the hyphen is kept unless the text itself writes the word unbroken.
    """
    words: set[str] = set()
    compounds: set[str] = set()
    for line in lines:
        for token in re.findall(r"\w+(?:-\w+)*", line.lower()):
            if "-" in token:
                compounds.add(token)
            else:
                words.add(token)
    return words, compounds


def join_lines(texts: Sequence[str], vocabulary: tuple[set[str], set[str]] | None = None) -> str:
    """Join the lines of one paragraph with single spaces, mending line-end hyphens."""
    words, compounds = vocabulary or (set(), set())
    out = ""
    for raw in texts:
        text = normalize_spaces(raw)
        if not text:
            continue
        if not out:
            out = text
            continue
        if _CAPITAL_AFTER_HYPHEN.search(out) and text[:1].isupper():
            out = f"{out}{text}"
            continue
        hyphen = _LINE_END_HYPHEN.search(out)
        after = _WORD_AFTER.match(text)
        if hyphen and after:
            before = _WORD_BEFORE.search(out)
            head = before.group(1) if before else ""
            tail = after.group(1)
            joined = (head + tail).lower()
            compound = f"{head}-{tail}".lower()
            stem = out[: before.start(1)] if before else out
            if joined in words and compound not in compounds:
                out = f"{stem}{head}{text}"
            else:
                out = f"{stem}{head}-{text}"
            continue
        out = f"{out} {text}"
    return out


def assemble(
    blocks: Sequence[Block],
    pages: Sequence[PageInfo],
    *,
    vocabulary: tuple[set[str], set[str]] | None = None,
) -> tuple[str, tuple[Page, ...], list[tuple[str, int, int]]]:
    """Join blocks into the document text.

    Returns the text, the page map, and for each block its kind and ``(start, end)`` offsets.
    A page starts at the first character that came from it; a page that contributed nothing
    (blank, or all running head) is an empty span at the offset where the next page starts.
    """
    parts: list[str] = []
    spans: list[tuple[str, int, int]] = []
    page_starts: dict[int, int] = {}
    offset = 0
    for block in blocks:
        relative: list[tuple[int, int]] = []  # (page, offset of the line's first char in the block)
        if block.keep_lines:
            pieces = [(line.page, normalize_spaces(line.text)) for line in block.lines]
            pieces = [(page, piece) for page, piece in pieces if piece]
            text = "\n".join(piece for _, piece in pieces)
            position = 0
            for page, piece in pieces:
                relative.append((page, position))
                position += len(piece) + 1
        else:
            text = ""
            for line in block.lines:
                piece = normalize_spaces(line.text)
                if not piece:
                    continue
                text = join_lines([text, piece], vocabulary) if text else piece
                relative.append((line.page, max(0, len(text) - len(piece))))
        if not text:
            continue
        if parts:
            parts.append("\n\n")
            offset += 2
        for page, position in relative:
            page_starts.setdefault(page, offset + position)
        parts.append(text)
        spans.append((block.kind, offset, offset + len(text)))
        offset += len(text)
    full = "".join(parts)
    return full, _page_map(pages, page_starts, len(full)), spans


def _page_map(pages: Sequence[PageInfo], starts: dict[int, int], length: int) -> tuple[Page, ...]:
    result: list[Page] = []
    next_start = length
    resolved: list[int] = [0] * len(pages)
    for index in range(len(pages) - 1, -1, -1):
        if index in starts:
            next_start = starts[index]
        resolved[index] = next_start
    if resolved:
        resolved[0] = 0
    for index, info in enumerate(pages):
        end = resolved[index + 1] if index + 1 < len(pages) else length
        start = min(resolved[index], end)
        result.append(Page(number=info.number, label=info.label, start=start, end=end))
    return tuple(result)
