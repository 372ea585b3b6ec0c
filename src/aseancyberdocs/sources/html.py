"""HTML reader: a saved web page (a statement as published) -> main text, title and date.

The main text is found by trafilatura, which drops navigation, footers and sharing widgets and
works offline on the bytes given. Title and date come from the page's own metadata, in the order
publishers fill it reliably: Open Graph / article tags, then ``<title>`` and ``<time>``.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

from ..errors import DocumentParseError, EmptyDocumentError

_SPACES = re.compile(r"\s+")
_TITLE_TAIL = re.compile(r"\s+[|\u2013\u2014-]\s+[^|\u2013\u2014-]{1,60}$")  # "Title | The White House"


def read_html(path: Path, data: bytes) -> dict[str, Any]:
    """The page's main text as paragraphs (one per line, separated by blank lines) and its metadata.

    Returns:
        A dict with ``text``, ``title``, ``date`` (ISO or None) and ``source_url`` (or None).

    Raises:
        DocumentParseError: the bytes are not an HTML page.
        EmptyDocumentError: the page holds no main text.
    """
    import lxml.etree
    import lxml.html
    import trafilatura

    try:
        tree = lxml.html.document_fromstring(data)
    except (lxml.etree.ParserError, ValueError) as exc:
        raise DocumentParseError(path, f"not an HTML page ({exc})") from exc
    meta = _page_metadata(tree)
    try:
        extracted = trafilatura.extract(data, include_comments=False, include_tables=True, favor_precision=True)
    except Exception as exc:  # trafilatura wraps lxml and raises what it meets
        raise DocumentParseError(path, f"HTML page could not be read ({type(exc).__name__}: {exc})") from exc
    lines = [_clean(line) for line in (extracted or "").split("\n")]
    # On a page with no article, trafilatura falls back to whatever text there is: menus.
    chrome = {_clean(str(text)) for text in tree.xpath("//nav//text() | //header//text() | //footer//text()")}
    lines = [line for line in lines if line and line not in chrome]
    # trafilatura keeps the headline; the title is metadata, not a paragraph to cite.
    if lines and meta["title"] and _same_title(lines[0], meta["title"]):
        lines = lines[1:]
    if not lines:
        raise EmptyDocumentError(path, "HTML page has no main text (a page of links or scripts only?)")
    return {"text": "\n\n".join(lines), **meta}


def _page_metadata(tree: Any) -> dict[str, str | None]:
    def first(*xpaths: str) -> str | None:
        for xpath in xpaths:
            for value in tree.xpath(xpath):
                text = _clean(str(value))
                if text:
                    return text
        return None

    title = first(
        '//meta[@property="og:title"]/@content',
        '//meta[@name="twitter:title"]/@content',
        "//title/text()",
        "//h1//text()",
    )
    if title and not tree.xpath('//meta[@property="og:title"]/@content'):
        title = _TITLE_TAIL.sub("", title)  # <title> often carries the site's name
    date = first(
        '//meta[@property="article:published_time"]/@content',
        '//meta[@name="date"]/@content',
        '//meta[@name="dcterms.date"]/@content',
        "//time/@datetime",
        "//time/text()",
    )
    url = first('//meta[@property="og:url"]/@content', '//link[@rel="canonical"]/@href')
    return {"title": title, "date": _iso_date(date), "source_url": url}


def _iso_date(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value.strip()[:10]).isoformat()
    except ValueError:
        pass
    for pattern in ("%B %d, %Y", "%d %B %Y", "%b %d, %Y", "%d %b %Y"):
        try:
            return dt.datetime.strptime(value.strip(), pattern).date().isoformat()
        except ValueError:
            continue
    return None


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text.replace("\u00a0", " ")).strip()


def _same_title(line: str, title: str) -> bool:
    return line.casefold().rstrip(".") == title.casefold().rstrip(".")
