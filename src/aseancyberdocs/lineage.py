"""precedents(): where a piece of agreed language first appeared, and everywhere it recurs.

Matching is by shared word sequences, not by meaning: resolutions re-use paragraphs word for
word, and a diplomat asking "where does this language come from?" wants the same words, with
what was added, dropped or changed. Each passage is cut into word shingles (``SHINGLE`` words,
lower-cased, punctuation dropped, so "non‑proliferation" with U+2011 equals "non-proliferation");
an inverted index from shingle to passages is built in memory at the first call (about a second
for the ~9,300 passages of the reference corpus) and kept for the library's lifetime.

A passage is an occurrence when the query's words lying in shingles it shares make up at least
``min_shared`` of the query. A query shorter than a shingle is matched as a whole word sequence.
"""

from __future__ import annotations

import difflib
import re
import weakref
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date as Date
from typing import TYPE_CHECKING, Any

from .types import DiffOp, Passage, Precedent

if TYPE_CHECKING:
    from .index import Library

SHINGLE = 6
# Measured on evaluation/precedents.jsonl over the full reference corpus (evaluation/README.md,
# "Precedents"): hand-checked near copies of a paragraph share 0.64-1.0 of its words ("ICTs" for
# "information and communications technologies", "Reaffirming" for "Underlining", a clause
# dropped); passages that merely hold a stock phrase of a short paragraph ("the exploration and
# use of outer space for peaceful purposes", 10 of 16 words) share 0.50-0.61. At 0.62 every
# expected document is found and none other; at 0.5 doc-level precision falls to 0.94.
DEFAULT_MIN_SHARED = 0.62
# UN paragraphs end with "," (preamble), ";" or "." (operative), ":" (a chapeau). A query
# ending otherwise is a phrase cut out of a paragraph: the passage's words before and after the
# match are context, not additions, and are left out of the diff.
_PARAGRAPH_END = (",", ";", ".", ":")

_TOKEN = re.compile(r"\S+")
_NON_WORD = re.compile(r"\W+")


@dataclass(frozen=True, slots=True)
class _Words:
    """The normalised words of a text and each word's span in the text."""

    norms: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]


def words(text: str) -> _Words:
    """The words of ``text``, lower-cased without punctuation, with their character spans."""
    norms, spans = [], []
    for match in _TOKEN.finditer(text):
        norm = _NON_WORD.sub("", match.group().lower())
        if norm:
            norms.append(norm)
            spans.append(match.span())
    return _Words(tuple(norms), tuple(spans))


def _shingles(norms: tuple[str, ...], size: int) -> list[int]:
    return [hash(norms[i : i + size]) for i in range(len(norms) - size + 1)]


class ShingleIndex:
    """An inverted index from word shingles to passages of a library.

    Example:
        >>> index = ShingleIndex(library.passages)  # doctest: +SKIP
    """

    def __init__(self, passages: list[Passage], size: int = SHINGLE) -> None:
        self.size = size
        self.words = [words(passage.text) for passage in passages]
        self.postings: dict[int, list[int]] = {}
        for row, passage_words in enumerate(self.words):
            for key in set(_shingles(passage_words.norms, size)):
                self.postings.setdefault(key, []).append(row)
        self._joined: list[str] | None = None

    def coverage(self, query: tuple[str, ...]) -> dict[int, int]:
        """For each passage sharing a shingle with ``query``: a bit mask of the query words shared."""
        masks: dict[int, int] = {}
        window = (1 << self.size) - 1
        for position, key in enumerate(_shingles(query, self.size)):
            bits = window << position
            for row in self.postings.get(key, ()):
                masks[row] = masks.get(row, 0) | bits
        return masks

    def containing(self, query: tuple[str, ...]) -> list[int]:
        """Passages holding ``query`` as a contiguous word sequence (for queries shorter than a shingle)."""
        if self._joined is None:
            self._joined = [" " + " ".join(item.norms) + " " for item in self.words]
        needle = " " + " ".join(query) + " "
        return [row for row, joined in enumerate(self._joined) if needle in joined]


_INDEXES: weakref.WeakKeyDictionary[Any, ShingleIndex] = weakref.WeakKeyDictionary()


def shingle_index(library: Library) -> ShingleIndex:
    """The library's shingle index, built at first use and kept while the library lives."""
    index = _INDEXES.get(library)
    if index is None or len(index.words) != len(library.passages):
        index = ShingleIndex(library.passages)
        _INDEXES[library] = index
    return index


def precedents(
    library: Library,
    text_or_passage_id: str,
    *,
    as_of: str | Date | None = None,
    min_shared: float = DEFAULT_MIN_SHARED,
) -> list[Precedent]:
    """Every passage holding the same language as a phrase, a paragraph or a passage, earliest first.

    Args:
        library: an opened index.
        text_or_passage_id: the language to trace, or the ``passage_id`` of a search hit
            (``"A/RES/73/27#preamble, para. 2"``).
        as_of: only documents dated on or before this day ("YYYY-MM-DD"); undated documents
            are then left out.
        min_shared: the fraction of the query's words a passage must share, in sequences of
            ``SHINGLE`` words or more, to count as an occurrence (0 < min_shared <= 1).

    Returns:
        Precedents ordered by document date, then symbol, then position; the first has
        ``first=True``. Undated documents come last.

    Raises:
        ValueError: empty text, a ``min_shared`` outside (0, 1], or a malformed ``as_of``.

    Example:
        >>> found = precedents(open_index(), "Noting that considerable progress has been achieved")  # doctest: +SKIP
        >>> found[0].citation.formatted, found[0].first  # doctest: +SKIP
        ('A/RES/73/27, preamble, para. 2 (p. 1)', True)
    """
    if not isinstance(min_shared, (int, float)) or not 0 < min_shared <= 1:
        raise ValueError(f"min_shared must be in (0, 1], got {min_shared!r}")
    cutoff = _day(as_of)
    if not isinstance(text_or_passage_id, str) or not text_or_passage_id.strip():
        raise ValueError(f"the text is empty: {text_or_passage_id!r}")
    text = _resolve(library, text_or_passage_id)
    query = words(text)
    if not query.norms:
        raise ValueError(f"the text has no words: {text_or_passage_id!r}")

    index = shingle_index(library)
    if len(query.norms) < index.size:
        shared = {row: 1.0 for row in index.containing(query.norms)}
    else:
        total = len(query.norms)
        shared = {row: mask.bit_count() / total for row, mask in index.coverage(query.norms).items()}

    found = []
    for row, fraction in shared.items():
        if fraction < min_shared:
            continue
        passage = library.passages[row]
        document = library.documents[passage.doc_id]
        if cutoff is not None and (document.date is None or document.date > cutoff):
            continue
        found.append((row, fraction, passage, document))
    found.sort(key=lambda item: (item[3].date or "9999-99-99", item[3].symbol or item[3].doc_id, item[2].start))

    result = []
    for position, (row, fraction, passage, document) in enumerate(found):
        result.append(
            Precedent(
                passage=passage,
                citation=library.citation(row),
                source=document.source,
                shared=fraction,
                first=position == 0,
                diff=word_diff(text, query, passage.text, index.words[row]),
            )
        )
    return result


def _day(as_of: str | Date | None) -> str | None:
    if as_of is None:
        return None
    if isinstance(as_of, Date):
        return as_of.isoformat()
    try:
        return Date.fromisoformat(str(as_of).strip()).isoformat()
    except ValueError:
        raise ValueError(f"as_of must be a date YYYY-MM-DD, got {as_of!r}") from None


def _resolve(library: Library, text_or_passage_id: str) -> str:
    """The passage's text when given a passage id of the library, else the text itself."""
    ids = _PASSAGE_IDS.get(library)
    if ids is None or len(ids) != len(library.passages):
        ids = {passage.passage_id: row for row, passage in enumerate(library.passages)}
        _PASSAGE_IDS[library] = ids
    row = ids.get(text_or_passage_id.strip())
    return library.passages[row].text if row is not None else text_or_passage_id


_PASSAGE_IDS: weakref.WeakKeyDictionary[Any, dict[str, int]] = weakref.WeakKeyDictionary()


def word_diff(query_text: str, query: _Words, passage_text: str, passage: _Words) -> tuple[DiffOp, ...]:
    """The word-level changes from the query to the passage, equal stretches left out.

    Words are compared lower-cased without punctuation; the changes show the words as written.
    When the query is a phrase (it does not end as a paragraph does, with , ; . or :), the
    passage's words before and after the match are context and are not reported as inserts.

    Example:
        >>> q, p = "States should cooperate.", "States must cooperate fully."
        >>> [op.to_dict() for op in word_diff(q, words(q), p, words(p))]
        [{'op': 'replace', 'query': 'should', 'passage': 'must'}, {'op': 'insert', 'query': '', 'passage': 'fully.'}]
    """
    matcher = difflib.SequenceMatcher(None, query.norms, passage.norms, autojunk=False)
    opcodes = list(matcher.get_opcodes())
    if not is_paragraph(query_text):
        if opcodes and opcodes[0][0] == "insert":
            opcodes = opcodes[1:]
        if opcodes and opcodes[-1][0] == "insert":
            opcodes = opcodes[:-1]
    opcodes = [code for code in opcodes if code[0] != "equal"]
    return tuple(
        DiffOp(
            op=tag,
            query=_span_text(query_text, query.spans, i1, i2),
            passage=_span_text(passage_text, passage.spans, j1, j2),
        )
        for tag, i1, i2, j1, j2 in opcodes
    )


def is_paragraph(text: str) -> bool:
    """True when ``text`` ends as a UN paragraph does; False for a phrase cut out of one."""
    return text.rstrip().endswith(_PARAGRAPH_END)


def _span_text(text: str, spans: tuple[tuple[int, int], ...], first: int, last: int) -> str:
    if first >= last:
        return ""
    return " ".join(text[spans[first][0] : spans[last - 1][1]].split())


def render_diff(diff: Iterable[DiffOp]) -> str:
    """The changes as one line: ``[-dropped-]``, ``{+added+}``, a change as both, joined by " … ".

    Example:
        >>> render_diff([DiffOp("replace", "should", "must"), DiffOp("insert", "", "fully")])
        '[-should-]{+must+} … {+fully+}'
    """
    parts = []
    for op in diff:
        dropped = f"[-{op.query}-]" if op.query else ""
        added = f"{{+{op.passage}+}}" if op.passage else ""
        parts.append(dropped + added)
    return " … ".join(parts)


def evaluate(library: Library, records: Iterable[dict[str, Any]], **options: Any) -> dict[str, Any]:
    """Score precedents() on labelled cases: {"qid", "text", "expected_first", "expected_occurrences"}.

    Returns:
        A dict: ``first_correct_rate`` (the earliest occurrence is ``expected_first``),
        ``occurrence_recall`` (mean share of expected documents found), ``occurrence_precision``
        (mean share of documents found that were expected), ``cases`` and ``per_case`` rows.
    """
    rows = []
    for record in records:
        found = precedents(library, record["text"], **options)
        documents = list(dict.fromkeys(item.citation.doc_id for item in found))
        expected = list(record.get("expected_occurrences", []))
        hit = [doc_id for doc_id in expected if doc_id in documents]
        rows.append(
            {
                "qid": record.get("qid"),
                "first": documents[0] if documents else None,
                "first_correct": bool(documents) and documents[0] == record.get("expected_first"),
                "recall": len(hit) / len(expected) if expected else 1.0,
                "precision": sum(doc_id in expected for doc_id in documents) / len(documents) if documents else 1.0,
                "missed": [doc_id for doc_id in expected if doc_id not in documents],
                "extra": [doc_id for doc_id in documents if doc_id not in expected],
            }
        )
    count = len(rows)
    return {
        "cases": count,
        "first_correct_rate": round(sum(row["first_correct"] for row in rows) / count, 4) if count else None,
        "occurrence_recall": round(sum(row["recall"] for row in rows) / count, 4) if count else None,
        "occurrence_precision": round(sum(row["precision"] for row in rows) / count, 4) if count else None,
        "per_case": rows,
    }
