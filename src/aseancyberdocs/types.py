"""The data types of aseancyberdocs: documents, passages, citations and hits.

All are frozen dataclasses. ``to_dict()`` gives the JSON form used by the CLI's ``--json``
output and by the index files.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a document, as a span of ``Document.text``.

    ``number`` is the 1-based physical page; ``label`` is the page number printed on the
    page where the source says (PDF page labels, or the "2/5" counters of UN documents).
    """

    number: int
    label: str
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Document:
    """A source document: its clean full text, its pages and its metadata.

    ``text`` is the document's text after cleaning (running heads, job numbers and barcodes
    removed, line breaks inside paragraphs joined, paragraphs separated by a blank line).
    Every passage and citation points into this text by character offsets.
    """

    doc_id: str
    title: str
    text: str
    pages: tuple[Page, ...]
    doc_type: str
    source: str
    sha256: str
    symbol: str | None = None
    date: str | None = None
    body: str | None = None
    source_url: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)

    def page_at(self, offset: int) -> Page:
        """The page holding character ``offset`` (the last page for the end offset)."""
        for page in self.pages:
            if page.start <= offset < page.end:
                return page
        if not self.pages:
            raise ValueError(f"document {self.doc_id!r} has no pages")
        if offset < self.pages[0].start:
            return self.pages[0]
        return self.pages[-1]

    def to_dict(self, *, with_text: bool = True) -> dict[str, Any]:
        data = asdict(self)
        if not with_text:
            data.pop("text")
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Document:
        data = dict(data)
        data["pages"] = tuple(Page(**page) for page in data.get("pages", ()))
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Passage:
    """The unit of search and citation: one labelled paragraph, or one part of a long one.

    Invariant: ``document.text[start:end] == text``. ``label`` is the paragraph's own label
    ("para. 1 (f)", "preamble, para. 3", "annex, art. 15, para. 1"); a paragraph split to fit
    the embedding model keeps its label and gets ``part`` (1-based) and ``parts``.
    ``context`` is the text that introduces the paragraph (the chapeau of a sub-paragraph,
    the heading of an article); it is embedded with the passage but is not part of the quote.
    """

    passage_id: str
    doc_id: str
    label: str
    kind: str
    text: str
    start: int
    end: int
    pages: tuple[int, int]
    page_labels: tuple[str, str]
    context: str = ""
    part: int | None = None
    parts: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Passage:
        data = dict(data)
        data["pages"] = tuple(data["pages"])
        data["page_labels"] = tuple(data["page_labels"])
        return cls(**data)


@dataclass(frozen=True, slots=True)
class Citation:
    """Where a passage stands: document, paragraph label and pages, formatted as the UN cites.

    ``str(citation)`` is the formatted form, e.g. ``"A/RES/73/27, para. 1.3 (p. 3)"``.
    """

    doc_id: str
    symbol: str | None
    title: str
    date: str | None
    label: str
    pages: tuple[int, int]
    page_labels: tuple[str, str]
    formatted: str

    def __str__(self) -> str:
        return self.formatted

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Hit:
    """One search result: a passage, its citation, its score and rank (1-based)."""

    rank: int
    score: float
    passage: Passage
    citation: Citation
    doc_type: str
    source: str
    scores: dict[str, float] = field(default_factory=dict, compare=False)
    also_in: tuple[Citation, ...] = ()
    # Occurrences beyond ``also_in``, which lists at most search.ALSO_IN_LIMIT (the oldest first).
    also_in_more: int = 0

    @property
    def text(self) -> str:
        return self.passage.text

    def to_dict(self) -> dict[str, Any]:
        """The flat JSON form printed by ``aseancyberdocs search --json``."""
        citation = self.citation
        data: dict[str, Any] = {
            "rank": self.rank,
            "score": round(float(self.score), 6),
            "passage_id": self.passage.passage_id,
            "doc_id": citation.doc_id,
            "symbol": citation.symbol,
            "title": citation.title,
            "date": citation.date,
            "doc_type": self.doc_type,
            "label": citation.label,
            "pages": list(citation.pages),
            "page_labels": list(citation.page_labels),
            "citation": citation.formatted,
            "text": self.passage.text,
            "start": self.passage.start,
            "end": self.passage.end,
            "source": self.source,
        }
        if self.scores:
            data["scores"] = {name: round(float(value), 6) for name, value in self.scores.items()}
        if self.also_in:
            data["also_in"] = [
                {"citation": other.formatted, "doc_id": other.doc_id, "date": other.date, "label": other.label}
                for other in self.also_in
            ]
        if self.also_in_more:
            data["also_in_more"] = self.also_in_more
        return data


@dataclass(frozen=True, slots=True)
class AnswerCitation:
    """One numbered source of an answer: the quoted sentence, where it stands and its citation.

    Invariant (checked before an Answer is returned): ``document.text[start:end] == quote``.
    """

    n: int
    citation: str
    doc_id: str
    symbol: str | None
    title: str
    date: str | None
    label: str
    pages: tuple[int, int]
    quote: str
    start: int
    end: int

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["pages"] = list(self.pages)
        return data


@dataclass(frozen=True, slots=True)
class Answer:
    """A cited answer to a question: ``text`` carries [n] markers into ``citations``.

    ``answered`` is False when nothing retrieved was relevant enough; ``text`` then says so and
    ``citations`` is empty.
    """

    question: str
    answered: bool
    text: str
    citations: tuple[AnswerCitation, ...] = ()

    @property
    def paragraphs(self) -> list[str]:
        """``text`` in its paragraphs (one for each place quoted), stripped."""
        return [part.strip() for part in self.text.split("\n\n") if part.strip()]

    def to_dict(self) -> dict[str, Any]:
        """The JSON form printed by ``aseancyberdocs ask --json``."""
        return {
            "question": self.question,
            "answered": self.answered,
            "answer": self.text,
            "citations": [citation.to_dict() for citation in self.citations],
        }


@dataclass(frozen=True, slots=True)
class DiffOp:
    """One difference between a query and a passage, word level: "insert", "delete" or "replace".

    ``query`` holds the query's words of the change (empty for an insert), ``passage`` the
    passage's (empty for a delete).
    """

    op: str
    query: str
    passage: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Precedent:
    """One occurrence of a piece of language: the passage, how much of the query it shares, the changes.

    ``shared`` is the fraction of the query's words lying in word sequences the passage also has;
    ``first`` marks the earliest occurrence; ``diff`` lists what the passage added, dropped or
    changed against the query (equal stretches left out).
    """

    passage: Passage
    citation: Citation
    source: str
    shared: float
    first: bool
    diff: tuple[DiffOp, ...] = ()

    @property
    def text(self) -> str:
        return self.passage.text

    def to_dict(self) -> dict[str, Any]:
        """The flat JSON form printed by ``aseancyberdocs precedents --json``."""
        citation = self.citation
        return {
            "doc_id": citation.doc_id,
            "symbol": citation.symbol,
            "title": citation.title,
            "date": citation.date,
            "label": citation.label,
            "pages": list(citation.pages),
            "citation": citation.formatted,
            "source": self.source,
            "passage_id": self.passage.passage_id,
            "text": self.passage.text,
            "shared": round(float(self.shared), 4),
            "first": self.first,
            "diff": [op.to_dict() for op in self.diff],
        }
