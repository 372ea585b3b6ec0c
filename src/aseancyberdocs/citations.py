"""Citations as the UN writes them: "A/RES/73/27, para. 1.3 (p. 3)".

A passage is cited by its document's symbol (or, for a statement without one, its title and
date), its paragraph label and the page or pages it stands on. Pages are the printed page labels
where the source has them, else physical page numbers. A document of a single page (statements
read from Markdown or HTML) is cited without pages.
"""

from __future__ import annotations

from .types import Citation, Document, Passage


def format_citation(
    name: str,
    label: str,
    page_labels: tuple[str, str] | None = None,
    *,
    single_page: bool = False,
) -> str:
    """The citation string.

    Example:
        >>> format_citation("A/RES/73/27", "para. 1.3", ("3", "3"))
        'A/RES/73/27, para. 1.3 (p. 3)'
        >>> format_citation("A/RES/79/243", "annex, art. 15, para. 1", ("15", "16"))
        'A/RES/79/243, annex, art. 15, para. 1 (pp. 15–16)'
    """
    citation = f"{name}, {label}" if label else name
    if page_labels and not single_page:
        first, last = page_labels
        citation += f" (p. {first})" if first == last else f" (pp. {first}–{last})"
    return citation


def document_name(document: Document) -> str:
    """How a document is named in a citation: its symbol, else its title and date."""
    if document.symbol:
        return document.symbol
    if document.date:
        return f"{document.title} ({document.date})"
    return document.title


def cite(document: Document, passage: Passage) -> Citation:
    """The citation of a passage of ``document``.

    Example:
        >>> cite(doc, passage).formatted  # doctest: +SKIP
        'A/RES/80/16, para. 2 (pp. 1–2)'
    """
    if passage.doc_id != document.doc_id:
        raise ValueError(f"passage {passage.passage_id!r} is not from document {document.doc_id!r}")
    formatted = format_citation(
        document_name(document),
        passage.label,
        passage.page_labels,
        single_page=len(document.pages) <= 1,
    )
    return Citation(
        doc_id=document.doc_id,
        symbol=document.symbol,
        title=document.title,
        date=document.date,
        label=passage.label,
        pages=passage.pages,
        page_labels=passage.page_labels,
        formatted=formatted,
    )
