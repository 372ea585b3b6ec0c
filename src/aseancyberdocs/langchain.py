"""A LangChain retriever over an aseancyberdocs index: paragraphs in, citations in the metadata.

Needs the optional extra ``aseancyberdocs[langchain]`` (``langchain-core`` only). Each returned
``Document`` holds one labelled paragraph (or one part of a long one) as ``page_content``, the
exact source text, and its citation in ``metadata``, so a chain can quote and cite what it got.

Example:
    >>> from aseancyberdocs.langchain import AseanCyberDocsRetriever
    >>> retriever = AseanCyberDocsRetriever(index="indexes/default", k=3, doc_type="resolution")  # doctest: +SKIP
    >>> retriever.invoke("Should States protect critical infrastructure from ICT threats?")[0].metadata["citation"]  # doctest: +SKIP
    'A/RES/73/27, para. 1.7 (p. 4)'
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

try:
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document as LangChainDocument
    from langchain_core.retrievers import BaseRetriever
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "aseancyberdocs.langchain needs langchain-core: pip install 'aseancyberdocs[langchain]'"
    ) from exc
from pydantic import PrivateAttr, field_validator

if TYPE_CHECKING:
    from .library import Library
    from .types import Hit

# The Library.search options a call may override: invoke(query, k=3, doc_type="resolution").
SEARCH_OPTIONS = ("k", "mode", "group", "doc_type", "body", "since", "until", "doc", "where")


class AseanCyberDocsRetriever(BaseRetriever):
    """Search an aseancyberdocs index from LangChain; one ``Document`` per cited paragraph.

    Args:
        index: an index folder, or a ``Library`` already opened with ``open_index``;
            default ``$ASEANCYBERDOCS_INDEX`` or ``indexes/default``. A folder is opened on
            the first query.
        k: documents to return (overridable per call: ``invoke(query, k=3)``).
        mode: ``"hybrid"`` (default), ``"dense"`` or ``"bm25"``.
        group: show repeated (agreed) language once, the other places in ``also_in``.
        doc_type, body, since, until, doc, where: the filters of ``Library.search``.

    ``metadata`` of each Document: ``citation``, ``passage_id``, ``doc_id``, ``symbol``,
    ``title``, ``date``, ``doc_type``, ``label``, ``pages`` ([first, last]), ``start``,
    ``end`` (offsets into the document text), ``source``, ``source_url``, ``score``, ``rank``
    ``also_in`` (the other places of the same language: citation, doc_id, date, label; at most
    ``search.ALSO_IN_LIMIT``, the oldest first) and ``also_in_more`` (how many places beyond
    those), all JSON-serialisable. ``Document.id`` is the passage id.

    Raises (on invoke):
        ValueError: an empty query, ``k < 1``, a bad mode or filter, an unknown option.
        NoMatchError: the filters leave no passage.
        IndexNotFoundError, IndexIntegrityError, ...: the index cannot be opened.

    Example:
        >>> retriever = AseanCyberDocsRetriever(index="indexes/full", k=2)  # doctest: +SKIP
        >>> doc = retriever.invoke("knowingly allow their territory")[0]  # doctest: +SKIP
        >>> doc.metadata["citation"]  # doctest: +SKIP
        'A/RES/73/27, para. 1.3 (p. 3)'
    """

    index: Any = None
    k: int = 4
    mode: str = "hybrid"
    group: bool = True
    doc_type: str | list[str] | None = None
    body: str | None = None
    since: str | None = None
    until: str | None = None
    doc: str | list[str] | None = None
    where: dict[str, Any] | None = None

    _library: Any = PrivateAttr(default=None)

    @field_validator("k")
    @classmethod
    def _check_k(cls, value: int) -> int:
        if value < 1:
            raise ValueError(f"k must be >= 1, got {value}")
        return value

    @field_validator("index")
    @classmethod
    def _check_index(cls, value: Any) -> Any:
        from .library import Library

        if value is None or isinstance(value, (str, Path, Library)):
            return value
        raise ValueError(f"index must be a folder or an opened Library, got {type(value).__name__}")

    @property
    def library(self) -> Library:
        """The opened index (opened on first use when ``index`` is a folder)."""
        if self._library is None:
            from .index import Library, open_index

            self._library = self.index if isinstance(self.index, Library) else open_index(self.index)
        return self._library

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **overrides: Any
    ) -> list[LangChainDocument]:
        unknown = sorted(set(overrides) - set(SEARCH_OPTIONS))
        if unknown:
            raise ValueError(f"unknown search options {unknown}; expected some of {list(SEARCH_OPTIONS)}")
        options = {name: getattr(self, name) for name in SEARCH_OPTIONS}
        options.update(overrides)
        k = options.pop("k")
        library = self.library
        hits = library.search(query, k, **options)
        return [to_document(hit, library) for hit in hits]


def to_document(hit: Hit, library: Library | None = None) -> LangChainDocument:
    """A LangChain Document for a search hit: the paragraph text and its citation as metadata.

    ``library`` supplies the document's ``source_url`` (None without it).

    Example:
        >>> to_document(library.search("knowingly allow their territory", k=1)[0], library).metadata["citation"]  # doctest: +SKIP
        'A/RES/73/27, para. 1.3 (p. 3)'
    """
    citation = hit.citation
    source_url = None
    if library is not None and citation.doc_id in library.documents:
        source_url = library.documents[citation.doc_id].source_url
    metadata = {
        "citation": citation.formatted,
        "passage_id": hit.passage.passage_id,
        "doc_id": citation.doc_id,
        "symbol": citation.symbol,
        "title": citation.title,
        "date": citation.date,
        "doc_type": hit.doc_type,
        "label": citation.label,
        "pages": list(citation.pages),
        "start": hit.passage.start,
        "end": hit.passage.end,
        "source": hit.source,
        "source_url": source_url,
        "score": round(float(hit.score), 6),
        "rank": hit.rank,
        "also_in": [
            {"citation": other.formatted, "doc_id": other.doc_id, "date": other.date, "label": other.label}
            for other in hit.also_in
        ],
        "also_in_more": hit.also_in_more,
    }
    return LangChainDocument(page_content=hit.passage.text, metadata=metadata, id=hit.passage.passage_id)
