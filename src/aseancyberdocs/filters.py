"""Search filters on document metadata: type, body, dates, documents and free metadata keys.

Filters select the passages a search may return before any ranking is cut, so a matching
passage ranked 500th overall still comes back when the filters leave it among the first k.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date as Date
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import NoMatchError

if TYPE_CHECKING:
    from .types import Document


@dataclass(frozen=True, slots=True)
class Filters:
    """Checked filters; empty fields do not filter."""

    doc_type: tuple[str, ...] = ()
    body: str | None = None
    since: str | None = None
    until: str | None = None
    doc: tuple[str, ...] = ()
    where: tuple[tuple[str, str], ...] = ()

    def __bool__(self) -> bool:
        return bool(self.doc_type or self.body or self.since or self.until or self.doc or self.where)

    def describe(self) -> str:
        """The filters as the CLI spells them: "type=resolution, since=2020-01-01"."""
        parts = [f"type={value}" for value in self.doc_type]
        if self.body:
            parts.append(f"body={self.body}")
        if self.since:
            parts.append(f"since={self.since}")
        if self.until:
            parts.append(f"until={self.until}")
        parts += [f"doc={value}" for value in self.doc]
        parts += [f"where {key}={value}" for key, value in self.where]
        return ", ".join(parts)


def _strings(value: str | Iterable[str] | None, name: str) -> tuple[str, ...]:
    if value is None:
        return ()
    values = (value,) if isinstance(value, str) else tuple(value)
    for item in values:
        if not isinstance(item, str) or not item.strip():
            raise ValueError(f"{name} must be a non-empty string, got {item!r}")
    return tuple(item.strip() for item in values)


def _iso_day(value: str | Date | None, name: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, Date):
        return value.isoformat()
    try:
        return Date.fromisoformat(str(value).strip()).isoformat()
    except ValueError:
        raise ValueError(f"{name} must be an ISO date (YYYY-MM-DD), got {value!r}") from None


def make_filters(
    documents: Mapping[str, Document],
    *,
    doc_type: str | Iterable[str] | None = None,
    body: str | None = None,
    since: str | Date | None = None,
    until: str | Date | None = None,
    doc: str | Iterable[str] | None = None,
    where: Mapping[str, Any] | None = None,
) -> Filters:
    """Check filter values against ``documents`` (an index's, by doc_id) and return them as Filters.

    Raises:
        ValueError: an unknown doc_type, a malformed date, ``since`` after ``until``, an empty value,
            or a ``where`` key no document has.

    Example:
        >>> make_filters(library.documents, doc_type="resolution", since="2020-01-01")  # doctest: +SKIP
        Filters(doc_type=('resolution',), body=None, since='2020-01-01', ...)
    """
    from .catalog import DOC_TYPES

    types = _strings(doc_type, "doc_type")
    # Only a doc_type filter needs every document's type: a search without one reads no metadata.
    known = set(DOC_TYPES) | {document.doc_type for document in documents.values()} if types else set()
    for value in types:
        if value not in known:
            raise ValueError(f"unknown doc_type {value!r}; expected one of {', '.join(sorted(known))}")
    bodies = _strings(body, "body")
    start, end = _iso_day(since, "since"), _iso_day(until, "until")
    if start and end and start > end:
        raise ValueError(f"since ({start}) is after until ({end})")
    pairs: list[tuple[str, str]] = []
    for key, value in (where or {}).items():
        if not isinstance(key, str) or not key:
            raise ValueError(f"where keys must be non-empty strings, got {key!r}")
        if not any(_field(document, key) is not _MISSING for document in documents.values()):
            raise ValueError(f"unknown metadata key {key!r}: no document has it")
        pairs.append((key, str(value)))
    return Filters(types, bodies[0] if bodies else None, start, end, _strings(doc, "doc"), tuple(pairs))


_MISSING = object()


def _field(document: Document, key: str) -> Any:
    if key in document.metadata:
        return document.metadata[key]
    if key in ("text", "pages", "metadata"):
        return _MISSING
    return getattr(document, key, _MISSING)


def _matches(value: Any, wanted: str) -> bool:
    """A metadata value equals ``wanted`` (case-insensitive); a list matches if one element does."""
    if value is _MISSING or value is None:
        return False
    if isinstance(value, (list, tuple, set)):
        return any(_matches(item, wanted) for item in value)
    return str(value).casefold() == wanted.casefold()


def document_ok(document: Document, filters: Filters) -> bool:
    """Whether ``document`` passes ``filters``."""
    if filters.doc_type and document.doc_type not in filters.doc_type:
        return False
    if filters.body and filters.body.casefold() not in (document.body or "").casefold():
        return False
    if filters.since or filters.until:
        if not document.date:
            return False  # an undated document cannot be said to fall in the range
        day = document.date[:10]
        if (filters.since and day < filters.since) or (filters.until and day > filters.until):
            return False
    if filters.doc:
        names = {document.doc_id.casefold(), (document.symbol or "").casefold()}
        if not any(value.casefold() in names for value in filters.doc):
            return False
    return all(_matches(_field(document, key), value) for key, value in filters.where)


def allowed(documents: Mapping[str, Document], document_rows: np.ndarray, filters: Filters) -> np.ndarray | None:
    """A boolean mask over the passages of those the filters keep; None without filters.

    ``documents`` are an index's documents in row order, ``document_rows`` the document row of
    each passage (``Library.document_rows``).

    Raises:
        NoMatchError: the filters keep no passage.
    """
    if not filters:
        return None
    ok = np.fromiter((document_ok(document, filters) for document in documents.values()), dtype=bool, count=len(documents))
    mask = ok[document_rows]
    if not mask.any():
        raise NoMatchError(f"no passage matches the filters: {filters.describe()}")
    return mask
