"""Citations as the UN writes them: "A/RES/73/27, para. 1.3 (p. 3)".

A passage is cited by its document's symbol (or, for a statement without one, its title and
date), its paragraph label and the page or pages it stands on. Pages are the printed page labels
where the source has them, else physical page numbers. A document of a single page (statements
read from Markdown or HTML) is cited without pages.
"""

from __future__ import annotations

import re

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


_ARTICLE = re.compile(r"^(?:annex, )?art\. (\d+)(?:, para\. (\d+))?((?: \([^)]+\))*)$")
_HEADING = re.compile(r"^Article\s+\d+\.?\s+(.+)$")
_KINDS = {"resolution": "resolution", "draft resolution": "draft resolution", "draft decision": "draft decision"}


def describe(document: Document, passage: Passage) -> str:
    """Where a passage stands, in words a note can carry as it is.

    Articles are named with their heading, resolutions by number and year, statements by title
    and date.

    Example:
        >>> describe(convention, passage)  # doctest: +SKIP
        'Article 11 (Misuse of devices), paragraph 1 (a) (i) of the United Nations Convention against Cybercrime (A/RES/79/243, annex)'
        >>> describe(resolution, passage)  # doctest: +SKIP
        'Paragraph 1.3 of General Assembly resolution 73/27 (2018)'
    """
    label = passage.label
    article = _ARTICLE.match(label)
    if article is not None and document.doc_type == "convention":
        number, paragraph, letters = article.groups()
        heading = next(
            (m.group(1).strip() for line in passage.context.splitlines() if (m := _HEADING.match(line.strip()))), ""
        )
        place = f"Article {number}" + (f" ({heading})" if heading else "")
        if paragraph:
            place += f", paragraph {paragraph}{letters}"
        elif letters:
            place += f", subparagraph{letters}"
        name = document.title.split(";")[0].strip()
        return f"{place} of the {name} ({document.symbol}, annex)" if document.symbol else f"{place} of the {name}"
    return f"{_paragraph_words(label)} of {_document_words(document)}"


def _paragraph_words(label: str) -> str:
    """"preamble, para. 4" -> "Preambular paragraph 4"; "annex, art. 3 (a)" -> "Annex, article 3 (a)"."""
    words = label
    for short, long in (("preamble, para. ", "preambular paragraph "), ("para. ", "paragraph "), ("art. ", "article ")):
        words = words.replace(short, long)
    return words[:1].upper() + words[1:]


def _document_words(document: Document) -> str:
    year = (document.date or "")[:4]
    symbol = document.symbol or ""
    if symbol.startswith("A/RES/") and document.doc_type == "resolution":
        return f"General Assembly resolution {symbol[len('A/RES/'):]}" + (f" ({year})" if year else "")
    if symbol and document.doc_type in _KINDS:
        return f"{_KINDS[document.doc_type]} {symbol}" + (f" ({year})" if year else "")
    if symbol:
        return f"{symbol}" + (f" ({year})" if year else "")
    return f"the {document.title}" + (f" ({document.date})" if document.date else "")
