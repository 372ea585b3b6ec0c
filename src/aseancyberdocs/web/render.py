"""What the pages show, computed in Python: paragraph anchors, marked query words, the timeline SVG.

Everything returned as ``Markup`` is built from escaped pieces, so document and query text can
never become HTML (a paragraph holding ``<script>`` shows as text).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date as Date

from markupsafe import Markup, escape

from ..types import Document, Passage, Precedent

_ABBREVIATION = re.compile(r"\b(para|paras|art|arts|sect|chap|p|pp)\.\s*")
_NOT_SLUG = re.compile(r"[^a-z0-9.]+")
_WORD = re.compile(r"\w+", re.UNICODE)
# Words too common to be worth marking in a result (the query's content words are marked).
_STOPWORDS = frozenset(
    "a an and are as at be by for from has have in into is it its of on or that the their them they this to was "
    "were which with what who whom how when where why should would could can may must not do does did all any".split()
)


def anchor(label: str) -> str:
    """The HTML id of a paragraph label: ``"para. 1.3"`` -> ``"para-1.3"``.

    Example:
        >>> anchor("annex, art. 15, para. 1 (a)")
        'annex-art-15-para-1-a'
    """
    slug = _ABBREVIATION.sub(lambda match: match.group(1) + "-", label.lower())
    return _NOT_SLUG.sub("-", slug).strip("-.") or "para"


@dataclass(frozen=True, slots=True)
class Block:
    """One stretch of a document as shown: a labelled passage, or text between passages (headings)."""

    text: str
    passage: Passage | None = None
    anchor: str | None = None
    page: str | None = None


def document_blocks(document: Document, passages: Sequence[Passage]) -> list[Block]:
    """The whole text of ``document`` cut into blocks: each passage with a unique anchor, and the gaps.

    Example:
        >>> [block.anchor for block in document_blocks(document, passages)]  # doctest: +SKIP
        [None, 'preamble-para-1', 'para-1', 'para-1-part-2']
    """
    blocks: list[Block] = []
    used: set[str] = set()
    position = 0
    text = document.text
    for passage in sorted(passages, key=lambda item: (item.start, item.end)):
        if passage.start > position and text[position : passage.start].strip():
            blocks.append(Block(text=text[position : passage.start].strip()))
        start = max(passage.start, position)
        if start >= passage.end:
            continue
        slug = anchor(passage.label)
        if passage.part and passage.part > 1:
            slug = f"{slug}-part-{passage.part}"
        unique, number = slug, 2
        while unique in used:
            unique, number = f"{slug}-{number}", number + 1
        used.add(unique)
        first, last = passage.page_labels
        page = f"p. {first}" if first == last else f"pp. {first}–{last}"
        blocks.append(Block(text=text[start : passage.end], passage=passage, anchor=unique, page=page))
        position = passage.end
    if text[position:].strip():
        blocks.append(Block(text=text[position:].strip()))
    return blocks


def passage_anchors(document: Document, passages: Sequence[Passage]) -> dict[str, str]:
    """``passage_id`` -> the anchor it gets on the document page."""
    return {block.passage.passage_id: block.anchor for block in document_blocks(document, passages)
            if block.passage is not None and block.anchor is not None}


def query_terms(query: str) -> set[str]:
    """The query's words worth marking: lower-cased, stop words and one-letter words left out."""
    return {word for word in (match.lower() for match in _WORD.findall(query))
            if len(word) > 1 and word not in _STOPWORDS}


def mark(text: str, terms: Iterable[str]) -> Markup:
    """``text`` escaped, with every word in ``terms`` wrapped in ``<mark>``.

    Example:
        >>> str(mark("States <b>should</b> protect", {"protect", "b"}))
        'States &lt;b&gt;should&lt;/b&gt; <mark>protect</mark>'
    """
    wanted = {term.lower() for term in terms}
    out: list[str] = []
    position = 0
    for match in _WORD.finditer(text):
        if match.group().lower() in wanted and not _inside_markup(text, match.start()):
            out.append(str(escape(text[position : match.start()])))
            out.append(f"<mark>{escape(match.group())}</mark>")
            position = match.end()
    out.append(str(escape(text[position:])))
    return Markup("".join(out))


def _inside_markup(text: str, offset: int) -> bool:
    # A word right after "<" or "</" is a tag name in the source text: marking it is noise.
    return text[max(0, offset - 2) : offset].endswith(("<", "</"))


def diff_markup(precedent: Precedent) -> Markup:
    """The word diff of an occurrence as ``<del>``/``<ins>`` runs, or "same words"."""
    if not precedent.diff:
        return Markup('<span class="same">same words</span>')
    parts = []
    for op in precedent.diff:
        removed = f"<del>{escape(op.query)}</del>" if op.query else ""
        added = f"<ins>{escape(op.passage)}</ins>" if op.passage else ""
        parts.append(removed + added)
    return Markup(' <span class="gap">…</span> '.join(parts))


# --------------------------------------------------------------------------------------------
# the timeline


def timeline_svg(precedents: Sequence[Precedent], *, width: int = 900, row: int = 26) -> Markup:
    """A timeline of the occurrences, earliest first: one row each, a dot at its date on a year axis.

    Dated occurrences are placed by date between the earliest and the latest year; undated ones
    are listed last, without a dot on the axis. The first occurrence's dot is filled.

    Example:
        >>> svg = timeline_svg(library.precedents("A/C.1/80/L.20#para. 2"))  # doctest: +SKIP
    """
    label_width = 330
    left, right = label_width + 20, width - 20
    top = 34
    height = top + row * max(1, len(precedents)) + 10
    days = [_day(item.citation.date) for item in precedents]
    dated = [day for day in days if day is not None]
    if dated:
        first_year, last_year = min(dated).year, max(dated).year + 1
    else:
        first_year = last_year = 0
    span = max(1, (Date(last_year, 1, 1) - Date(first_year, 1, 1)).days) if dated else 1

    def x_of(day: Date) -> float:
        return left + (right - left) * (day - Date(first_year, 1, 1)).days / span

    parts = [
        (f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" viewBox="0 0 {width} {height}" '
         f'width="{width}" height="{height}" role="img" aria-labelledby="timeline-title">'),
        (f'<title id="timeline-title">Where this language appeared: {len(precedents)} occurrences, '
         "earliest first</title>"),
    ]
    if dated:
        years = list(range(first_year, last_year + 1))
        step = max(1, len(years) // 12)
        for year in years[::step]:
            x = x_of(Date(year, 1, 1))
            parts.append(f'<line class="tick" x1="{x:.1f}" y1="{top - 12}" x2="{x:.1f}" y2="{height - 6}"/>')
            parts.append(f'<text class="year" x="{x:.1f}" y="{top - 16}" text-anchor="middle">{year}</text>')
    for number, (item, day) in enumerate(zip(precedents, days)):
        y = top + row * number + row / 2
        label = f"{item.citation.date or 'undated'}  {item.citation.formatted}"
        if len(label) > 52:
            label = label[:51] + "…"
        css = "occurrence first" if item.first else "occurrence"
        parts.append(f'<g class="{css}">')
        parts.append(f'<text class="label" x="{label_width}" y="{y + 4:.1f}" text-anchor="end">{escape(label)}</text>')
        parts.append(f'<line class="row" x1="{left}" y1="{y:.1f}" x2="{right}" y2="{y:.1f}"/>')
        if day is not None:
            radius = 4 + 4 * float(item.shared)
            parts.append(
                f'<circle cx="{x_of(day):.1f}" cy="{y:.1f}" r="{radius:.1f}">'
                f"<title>{escape(item.citation.formatted)}, shared {item.shared:.2f}</title></circle>"
            )
        parts.append("</g>")
    parts.append("</svg>")
    return Markup("".join(parts))


def _day(text: str | None) -> Date | None:
    if not text:
        return None
    try:
        return Date.fromisoformat(text[:10])
    except ValueError:
        return None
