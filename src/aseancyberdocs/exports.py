"""Citation exports: CSL-JSON (Zotero, pandoc), RIS (reference managers) and Markdown (a brief).

What search or ask cited becomes one reference per document, holding every cited paragraph
(its label, pages, citation and verified quote). The locator is the paragraph label.

CSL-JSON puts locators on the *cite*, not on the item: a citation processor receives items
(csl-data.json: title, date, number, URL, ...) and citations whose cite-items carry ``locator``
and ``label`` (csl-citation.json). So ``to_csl_json`` writes plain items, one per document,
which any CSL reader imports, and lists the cited paragraphs on each item twice: in ``note``
as text ("para. 1.3 (p. 3); para. 1.6 (p. 4)", kept by Zotero), and in ``custom.locators``
as cite-items ready for a processor (``{"locator": "1.3", "label": "paragraph", "paragraph":
"para. 1.3", "citation": ..., "quote": ...}``).
A label "para. N" becomes locator N with the CSL term ``paragraph`` ("para."); the other
labels ("preamble, para. 4", "annex, art. 15, para. 1", "action 27") have no CSL term of their
own and are given whole, with the term ``section``.

Example:
    >>> from aseancyberdocs import open_index
    >>> from aseancyberdocs.exports import references, to_ris
    >>> library = open_index("indexes/default")  # doctest: +SKIP
    >>> print(to_ris(references(library, library.search("critical infrastructure", k=3))))  # doctest: +SKIP
    TY  - GOVDOC
    ID  - A/RES/73/27
    ...
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from .errors import QuoteVerificationError
from .types import Answer, Hit

if TYPE_CHECKING:
    from .library import Library

FORMATS = ("csl-json", "ris", "markdown")

# CSL item types (CSL 1.0.2): the Convention is a treaty; resolutions, drafts, decisions,
# reports and statements are documents of an issuing body.
_CSL_TYPES = {"convention": "treaty"}
_PARAGRAPH = re.compile(r"para\. (\S.*)")


@dataclass(frozen=True, slots=True)
class CitedPassage:
    """One cited paragraph: its label, pages, formatted citation and the quoted source text.

    Invariant (checked by ``references``): ``document.text[start:end] == quote``.
    """

    citation: str
    label: str
    pages: tuple[int, int]
    quote: str
    start: int
    end: int

    @property
    def locator(self) -> tuple[str, str]:
        """(CSL locator label, locator): ("paragraph", "1.3"), or ("section", "preamble, para. 4")."""
        match = _PARAGRAPH.fullmatch(self.label)
        return ("paragraph", match.group(1)) if match else ("section", self.label)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["pages"] = list(self.pages)
        return data


@dataclass(frozen=True, slots=True)
class Reference:
    """One cited document and the paragraphs cited from it, in the order they were cited."""

    doc_id: str
    symbol: str | None
    title: str
    date: str | None
    doc_type: str
    body: str | None
    source_url: str | None
    cited: tuple[CitedPassage, ...]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["cited"] = [passage.to_dict() for passage in self.cited]
        return data


def references(library: Library, results: Sequence[Hit] | Answer) -> list[Reference]:
    """Group what a search or an answer cites by document, first cited first.

    Args:
        library: the index the results come from (for each document's body and URL).
        results: the hits of ``library.search`` or the Answer of ``library.ask``.

    Returns:
        One Reference per cited document; an unanswered question gives [].

    Raises:
        QuoteVerificationError: a quote differs from the document text at its offsets.

    Example:
        >>> refs = references(library, library.search("knowingly allow their territory", k=3))  # doctest: +SKIP
        >>> [(ref.doc_id, [p.label for p in ref.cited]) for ref in refs]  # doctest: +SKIP
        [('A/RES/73/27', ['para. 1.3']), ('A/RES/75/240', ['preamble, para. 19']), ('A/RES/79/1', ['annex II, para. 16'])]
    """
    grouped: dict[str, list[CitedPassage]] = {}
    for doc_id, passage in _cited(results):
        document = library.documents[doc_id]
        if document.text[passage.start : passage.end] != passage.quote:
            raise QuoteVerificationError(
                f"{passage.citation}: the quote differs from the text of {doc_id} at {passage.start}:{passage.end}"
            )
        seen = grouped.setdefault(doc_id, [])
        if passage not in seen:
            seen.append(passage)
    refs = []
    for doc_id, cited in grouped.items():
        document = library.documents[doc_id]
        refs.append(
            Reference(
                doc_id=doc_id,
                symbol=document.symbol,
                title=document.title,
                date=document.date,
                doc_type=document.doc_type,
                body=document.body,
                source_url=document.source_url,
                cited=tuple(cited),
            )
        )
    return refs


def _cited(results: Sequence[Hit] | Answer) -> Iterable[tuple[str, CitedPassage]]:
    if isinstance(results, Answer):
        for item in results.citations:
            yield item.doc_id, CitedPassage(item.citation, item.label, item.pages, item.quote, item.start, item.end)
        return
    for hit in results:
        if not isinstance(hit, Hit):
            raise TypeError(f"expected search hits or an Answer, got {type(hit).__name__}")
        passage = hit.passage
        yield passage.doc_id, CitedPassage(
            hit.citation.formatted, passage.label, passage.pages, passage.text, passage.start, passage.end
        )


# --------------------------------------------------------------------------------------------
# CSL-JSON


def to_csl_json(refs: Sequence[Reference]) -> list[dict[str, Any]]:
    """CSL-JSON items (csl-data.json), one per document; the cited paragraphs in ``note`` and ``custom``.

    Example:
        >>> to_csl_json(refs)[0]  # doctest: +SKIP
        {'id': 'A/RES/73/27', 'type': 'document', 'title': 'Developments in the field of ...',
         'issued': {'date-parts': [[2018, 12, 5]]}, 'number': 'A/RES/73/27', ...}
    """
    items = []
    for ref in refs:
        item: dict[str, Any] = {"id": ref.doc_id, "type": _CSL_TYPES.get(ref.doc_type, "document"), "title": ref.title}
        if ref.date:
            item["issued"] = {"date-parts": [[int(part) for part in ref.date.split("-")]]}
        if ref.symbol:
            item["number"] = ref.symbol
        if ref.body:
            item["authority"] = ref.body
        item["genre"] = ref.doc_type
        if ref.source_url:
            item["URL"] = ref.source_url
        item["note"] = "Cited: " + "; ".join(_label_and_pages(ref, passage) for passage in ref.cited)
        item["custom"] = {
            "locators": [
                {
                    "locator": passage.locator[1], "label": passage.locator[0], "paragraph": passage.label,
                    "citation": passage.citation, "pages": list(passage.pages), "quote": passage.quote,
                    "start": passage.start, "end": passage.end,
                }
                for passage in ref.cited
            ]
        }
        items.append(item)
    return items


def _label_and_pages(ref: Reference, passage: CitedPassage) -> str:
    """The citation without the document's name: "para. 1.3 (p. 3)"."""
    citation = passage.citation
    for name in (ref.symbol, f"{ref.title} ({ref.date})" if ref.date else None, ref.title):
        if name and citation.startswith(name + ", "):
            return citation[len(name) + 2 :]
    return citation


# --------------------------------------------------------------------------------------------
# RIS


def to_ris(refs: Sequence[Reference]) -> str:
    """RIS records, one per document; each cited paragraph an ``N1`` note with its quote.

    ``ID`` is the doc_id, ``M1`` the symbol, ``PB`` the issuing body, ``M3`` the document type.
    A line break inside a quote is written as a space (an RIS value is one line).

    Example:
        >>> print(to_ris(refs))  # doctest: +SKIP
        TY  - GOVDOC
        ID  - A/RES/73/27
        TI  - Developments in the field of information and telecommunications ...
    """
    lines: list[str] = []
    for ref in refs:
        lines.append(_ris("TY", "GOVDOC"))
        lines.append(_ris("ID", ref.doc_id))
        lines.append(_ris("TI", ref.title))
        if ref.date:
            year, month, day = (ref.date.split("-") + ["", ""])[:3]
            lines.append(_ris("PY", year))
            lines.append(_ris("DA", f"{year}/{month}/{day}/"))
        if ref.symbol:
            lines.append(_ris("M1", ref.symbol))
        if ref.body:
            lines.append(_ris("PB", ref.body))
        lines.append(_ris("M3", ref.doc_type))
        if ref.source_url:
            lines.append(_ris("UR", ref.source_url))
        for passage in ref.cited:
            lines.append(_ris("N1", f"{passage.citation}: “{passage.quote}”"))
        lines.append("ER  - ")
        lines.append("")
    return "\n".join(lines)


def _ris(tag: str, value: str) -> str:
    return f"{tag}  - {' '.join(str(value).splitlines())}"


# --------------------------------------------------------------------------------------------
# Markdown

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>|])")
# What would start a list or a heading: "2. Requests" must not render as item 2 of a list.
_LINE_START = re.compile(r"^(\s*)(\d+)([.)])(?=\s|$)|^(\s*)(#{1,6}|[+-])(?=\s|$)", re.MULTILINE)


def to_markdown(refs: Sequence[Reference]) -> str:
    """A Markdown list of citations, each with its quote, ready to paste into a brief.

    Quotes are escaped so that they render as the source text ("2. Requests" stays "2.", not
    a numbered list).

    Example:
        >>> print(to_markdown(refs))  # doctest: +SKIP
        - **A/RES/73/27, para. 1.3 (p. 3)**. *Developments in the field of ...*, 2018-12-05. <https://docs.un.org/en/A/RES/73/27>
        <BLANKLINE>
          > 1.3\\. States should not knowingly allow their territory to be used ...
    """
    blocks = []
    for ref in refs:
        for passage in ref.cited:
            head = f"- **{passage.citation}**. *{_escape(ref.title)}*"
            if ref.date:
                head += f", {ref.date}"
            head += "."
            if ref.source_url:
                head += f" <{ref.source_url}>"
            quote = "\n".join(f"  > {line}" if line else "  >" for line in _escape(passage.quote).split("\n"))
            blocks.append(f"{head}\n\n{quote}")
    return "\n\n".join(blocks) + "\n" if blocks else ""


def _escape(text: str) -> str:
    text = _MARKDOWN_SPECIAL.sub(r"\\\1", text)
    return _LINE_START.sub(
        lambda m: f"{m.group(1)}{m.group(2)}\\{m.group(3)}" if m.group(2) else f"{m.group(4)}\\{m.group(5)}", text
    )


def export(refs: Sequence[Reference], format: str) -> str:
    """The references in ``format`` ("csl-json", "ris" or "markdown") as text.

    Raises:
        ValueError: an unknown format.

    Example:
        >>> export(references(library, hits), "csl-json")  # doctest: +SKIP
    """
    if format == "csl-json":
        return json.dumps(to_csl_json(refs), ensure_ascii=False, indent=2) + "\n"
    if format == "ris":
        return to_ris(refs)
    if format == "markdown":
        return to_markdown(refs)
    raise ValueError(f"unknown export format {format!r}; expected one of {', '.join(FORMATS)}")
