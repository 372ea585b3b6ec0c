"""A Model Context Protocol server: AI assistants search, ask and quote with real citations.

``aseancyberdocs mcp [--index DIR]`` serves four tools over stdio with the official ``mcp``
SDK (the optional extra ``aseancyberdocs[mcp]``):

- ``search``: the passages closest to a query, each with its citation and exact text;
- ``ask``: an extractive answer made of quoted sentences, each cited [n];
- ``precedents``: where a piece of language first appeared and where it recurs;
- ``get_passage``: one passage by its id (``"A/RES/73/27#para. 1.3"``), with its context.

Every tool returns structured content: each passage or quote carries ``citation`` (the string
to cite, e.g. "A/RES/73/27, para. 1.3 (p. 3)"), ``quote`` (the source text, checked against the
document at its character offsets before it is sent) and where it stands (document, label,
pages, offsets, the official URL). The tool descriptions tell the assistant to quote and cite
exactly what it gets.

Example:
    >>> from aseancyberdocs.mcp_server import create_server
    >>> server = create_server("indexes/default")  # doctest: +SKIP
    >>> server.run("stdio")  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

try:
    from mcp.server import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from mcp_types import ToolAnnotations
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("`aseancyberdocs mcp` needs the MCP SDK: pip install 'aseancyberdocs[mcp]'") from exc
from pydantic import BaseModel, Field

from .errors import AseanCyberDocsError, QuoteVerificationError

if TYPE_CHECKING:
    from .library import Library
    from .types import Hit, Passage

logger = logging.getLogger(__name__)

SERVER_NAME = "aseancyberdocs"

INSTRUCTIONS = """\
Searches cyber-diplomacy texts (UN General Assembly resolutions and drafts, OEWG and GGE texts, the UN
Convention against Cybercrime, ASEAN and leaders' statements) and returns paragraphs with their citations.
When you use a result: quote the `quote` field word for word inside quotation marks, and cite it with
its `citation` field exactly as given (e.g. "A/RES/73/27, para. 1.3 (p. 3)"). Never paraphrase inside
quotation marks, never change a symbol, paragraph number or page, and never cite a paragraph these
tools did not return. If nothing relevant is returned, say so instead of citing from memory."""

_QUOTE_RULE = (
    " Quote the `quote` fields word for word and cite each with its `citation` field exactly as given;"
    " never cite a paragraph or page these tools did not return."
)
_READ_ONLY = ToolAnnotations(readOnlyHint=True, destructiveHint=False, idempotentHint=True, openWorldHint=False)


class CitedPassage(BaseModel):
    """A paragraph (or one part of a long one) with its citation and exact text."""

    citation: str = Field(description='The citation to give, exactly: e.g. "A/RES/73/27, para. 1.3 (p. 3)"')
    quote: str = Field(description="The paragraph's text, exactly as in the source document (verified)")
    passage_id: str = Field(description="Pass it to get_passage or precedents")
    doc_id: str
    symbol: str | None = Field(description="UN document symbol, when the document has one")
    title: str
    date: str | None = Field(description="Date of the document (YYYY-MM-DD)")
    doc_type: str
    label: str = Field(description='Paragraph label: "para. 1.3", "preamble, para. 4", "annex, art. 15, para. 1"')
    pages: list[int] = Field(description="First and last page")
    start: int = Field(description="Character offset of the quote in the document text")
    end: int
    source_url: str | None = Field(description="Official URL of the document")
    context: str = Field(default="", description="Text introducing the paragraph (a chapeau, an article heading); not part of the quote")
    score: float | None = Field(default=None, description="Search score, 1.0 for the best match")
    also_in: list[str] = Field(default_factory=list, description="Citations of the same language elsewhere (drafts, later years)")
    also_in_more: int = Field(default=0, description="Further places of the same language, beyond those listed in also_in")
    verified: bool = Field(description="The quote equals the document text at start:end")


class SearchResult(BaseModel):
    query: str
    mode: str
    passages: list[CitedPassage]


class AnswerSource(BaseModel):
    """One numbered source [n] of an answer: a quoted sentence and its citation."""

    n: int
    citation: str = Field(description="The citation to give, exactly")
    quote: str = Field(description="The sentence, exactly as in the source document (verified)")
    doc_id: str
    title: str
    date: str | None
    label: str
    pages: list[int]
    start: int
    end: int
    source_url: str | None
    verified: bool


class AskResult(BaseModel):
    question: str
    answered: bool = Field(description="False when nothing in the index answers closely enough: then cite nothing")
    answer: str = Field(description="Quoted sentences, each followed by [n], the number of its source")
    sources: list[AnswerSource]


class Occurrence(BaseModel):
    """One place where the language occurs."""

    citation: str = Field(description="The citation to give, exactly")
    quote: str = Field(description="The paragraph's text, exactly as in the source document (verified)")
    passage_id: str
    doc_id: str
    date: str | None
    label: str
    shared: float = Field(description="Share of the given text's words found in this paragraph's word sequences")
    first: bool = Field(description="The earliest occurrence")
    changes: str = Field(description="Word-level differences against the given text: [-dropped-] {+added+}")
    source_url: str | None
    verified: bool


class PrecedentsResult(BaseModel):
    text: str
    occurrences: list[Occurrence] = Field(description="Earliest first")


def create_server(index: str | Path | Library | None = None) -> MCPServer:
    """The MCP server over an index (a folder, opened now, or an opened Library).

    Raises:
        IndexNotFoundError, IndexIntegrityError, ...: the index cannot be opened.

    Example:
        >>> create_server("indexes/full").run("stdio")  # doctest: +SKIP
    """
    from .index import Library, open_index

    library = index if isinstance(index, Library) else open_index(index)
    tools = _Tools(library)
    server = MCPServer(SERVER_NAME, instructions=INSTRUCTIONS, version=_version())
    server.add_tool(
        tools.search,
        name="search",
        title="Search cyber-diplomacy texts",
        description="Find the paragraphs of UN resolutions, the Cybercrime Convention and cyber statements that "
        "best match a query (meaning and words), with their citations. Filters: doc_type ('resolution', "
        "'draft resolution', 'convention', 'joint statement', ...), body (e.g. 'First Committee'), since/until "
        "(YYYY-MM-DD), doc (a symbol such as 'A/RES/73/27')." + _QUOTE_RULE,
        annotations=_READ_ONLY,
    )
    server.add_tool(
        tools.ask,
        name="ask",
        title="Answer with quoted, cited sentences",
        description="Answer a question with sentences quoted from the documents, each followed by [n] and cited "
        "in `sources`. When `answered` is false nothing is close enough: say so, cite nothing." + _QUOTE_RULE,
        annotations=_READ_ONLY,
    )
    server.add_tool(
        tools.precedents,
        name="precedents",
        title="Trace agreed language",
        description="Given a phrase, a paragraph or a passage_id, list every paragraph holding the same words "
        "(exactly or nearly), earliest first: where the language first appeared and where it recurs. "
        "as_of (YYYY-MM-DD) keeps documents dated on or before that day." + _QUOTE_RULE,
        annotations=_READ_ONLY,
    )
    server.add_tool(
        tools.get_passage,
        name="get_passage",
        title="Get a passage by id",
        description="Return one paragraph by its passage_id (from search or precedents results, e.g. "
        "'A/RES/73/27#para. 1.3'), with its citation, exact text and introducing context." + _QUOTE_RULE,
        annotations=_READ_ONLY,
    )
    return server


def serve(index: str | Path | None = None) -> None:
    """Serve the tools over stdio until the client closes the connection.

    Example:
        >>> serve("indexes/full")  # doctest: +SKIP
    """
    create_server(index).run("stdio")


def _version() -> str:
    from . import __version__

    return __version__


class _Tools:
    """The tool functions, bound to one opened Library."""

    def __init__(self, library: Library) -> None:
        self.library = library

    def search(
        self,
        query: Annotated[str, Field(description="What to look for: a question, a phrase in double quotes, or a symbol")],
        k: Annotated[int, Field(ge=1, le=50, description="Number of passages")] = 5,
        mode: Annotated[
            Literal["hybrid", "dense", "bm25"], Field(description="hybrid: meaning and words; dense: meaning; bm25: words")
        ] = "hybrid",
        doc_type: Annotated[str | None, Field(description="e.g. 'resolution', 'draft resolution', 'convention'")] = None,
        body: Annotated[str | None, Field(description="Issuing body contains this, e.g. 'First Committee'")] = None,
        since: Annotated[str | None, Field(description="Documents dated on or after (YYYY-MM-DD)")] = None,
        until: Annotated[str | None, Field(description="Documents dated on or before (YYYY-MM-DD)")] = None,
        doc: Annotated[str | None, Field(description="Only this document, by symbol, e.g. 'A/RES/73/27'")] = None,
    ) -> SearchResult:
        """Search the index."""
        hits = _call(
            self.library.search, query, k=k, mode=mode, doc_type=doc_type, body=body, since=since, until=until, doc=doc
        )
        return SearchResult(query=query, mode=mode, passages=[self._from_hit(hit) for hit in hits])

    def ask(
        self,
        question: str,
        k: Annotated[int, Field(ge=1, le=50, description="Passages to draw sentences from")] = 8,
    ) -> AskResult:
        """Answer a question with quoted sentences."""
        answer = _call(self.library.ask, question, k=k)
        sources = []
        for item in answer.citations:
            self._verify(item.doc_id, item.start, item.end, item.quote, item.citation)
            sources.append(
                AnswerSource(
                    n=item.n, citation=item.citation, quote=item.quote, doc_id=item.doc_id, title=item.title,
                    date=item.date, label=item.label, pages=list(item.pages), start=item.start, end=item.end,
                    source_url=self._url(item.doc_id), verified=True,
                )
            )
        return AskResult(question=question, answered=answer.answered, answer=answer.text, sources=sources)

    def precedents(
        self,
        text: Annotated[str, Field(description="A phrase, a whole paragraph, or a passage_id")],
        as_of: Annotated[str | None, Field(description="Only documents dated on or before (YYYY-MM-DD)")] = None,
    ) -> PrecedentsResult:
        """Trace a piece of language."""
        from .lineage import render_diff

        found = _call(self.library.precedents, text, as_of=as_of)
        occurrences = []
        for item in found:
            passage = item.passage
            self._verify(passage.doc_id, passage.start, passage.end, passage.text, item.citation.formatted)
            occurrences.append(
                Occurrence(
                    citation=item.citation.formatted, quote=passage.text, passage_id=passage.passage_id,
                    doc_id=passage.doc_id, date=item.citation.date, label=passage.label,
                    shared=round(float(item.shared), 4), first=item.first,
                    changes=render_diff(item.diff) or "(same words)", source_url=self._url(passage.doc_id),
                    verified=True,
                )
            )
        return PrecedentsResult(text=text, occurrences=occurrences)

    def get_passage(
        self, passage_id: Annotated[str, Field(description="e.g. 'A/RES/73/27#para. 1.3'")]
    ) -> CitedPassage:
        """One passage by id."""
        row = self.library.passage_row(passage_id.strip())
        if row is None:
            raise ToolError(
                f"no passage {passage_id!r} in the index; passage ids come from the passage_id field of "
                "search or precedents results, e.g. 'A/RES/73/27#para. 1.3'"
            )
        passage = self.library.passages[row]
        document = self.library.documents[passage.doc_id]
        return self._cited(passage, self.library.citation(row), document.doc_type)

    # -- helpers -----------------------------------------------------------------------------

    def _from_hit(self, hit: Hit) -> CitedPassage:
        return self._cited(
            hit.passage, hit.citation, hit.doc_type, score=round(float(hit.score), 6),
            also_in=[other.formatted for other in hit.also_in], also_in_more=hit.also_in_more,
        )

    def _cited(self, passage: Passage, citation: Any, doc_type: str, **extra: Any) -> CitedPassage:
        self._verify(passage.doc_id, passage.start, passage.end, passage.text, citation.formatted)
        return CitedPassage(
            citation=citation.formatted, quote=passage.text, passage_id=passage.passage_id, doc_id=passage.doc_id,
            symbol=citation.symbol, title=citation.title, date=citation.date, doc_type=doc_type,
            label=passage.label, pages=list(passage.pages), start=passage.start, end=passage.end,
            source_url=self._url(passage.doc_id), context=passage.context, verified=True, **extra,
        )

    def _verify(self, doc_id: str, start: int, end: int, quote: str, citation: str) -> None:
        """Refuse to send a quote that is not the document's text at its offsets."""
        if self.library.documents[doc_id].text[start:end] != quote:
            raise QuoteVerificationError(f"{citation}: the quote differs from the text of {doc_id} at {start}:{end}")

    def _url(self, doc_id: str) -> str | None:
        return self.library.documents[doc_id].source_url


def _call(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a Library call; bad input and library errors become tool errors the assistant can read."""
    try:
        return function(*args, **kwargs)
    except (AseanCyberDocsError, ValueError) as exc:
        raise ToolError(" ".join(str(exc).split())) from exc
