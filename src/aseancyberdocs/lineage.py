"""precedents(): where a piece of agreed language first appeared, and everywhere it recurs.

Matching is by shared word sequences, not by meaning: resolutions re-use paragraphs word for
word, and a diplomat asking "where does this language come from?" wants the same words, with
what was added, dropped or changed. Each passage is cut into word shingles (``SHINGLE`` words,
lower-cased, punctuation dropped, so "non‑proliferation" with U+2011 equals "non-proliferation");
an inverted index from shingle (and from single word, for queries shorter than a shingle) to
passages is written into the index folder at build time, as plain numpy arrays listed in the
manifest with their sha256 like every index file::

    lineage-keys.npy    sorted 64-bit keys: blake2b of the words of a shingle or of one word
    lineage-indptr.npy  passages of key i are rows[indptr[i]:indptr[i + 1]]
    lineage-rows.npy    passage rows (int32)
    lineage-params.json shingle size, key function, number of passages

An index built before these files existed gets the same index built in memory at the first call
(about a second for the ~9,300 passages of the reference corpus); rebuilding stores them.

A passage is an occurrence when the query's words lying in shingles it shares make up at least
``min_shared`` of the query. A query shorter than a shingle is matched as a whole word sequence.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import logging
import re
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date as Date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import IndexIntegrityError
from .npy import array_from_bytes
from .types import DiffOp, Passage, Precedent

if TYPE_CHECKING:
    from .library import Library

logger = logging.getLogger(__name__)

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


def _key(norms: Sequence[str]) -> int:
    """A stable 64-bit key of a word sequence (Python's ``hash`` changes from process to process)."""
    digest = hashlib.blake2b(" ".join(norms).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


def _shingles(norms: tuple[str, ...], size: int) -> list[int]:
    return [_key(norms[i : i + size]) for i in range(len(norms) - size + 1)]


FILES = {
    "keys": "lineage-keys.npy",
    "indptr": "lineage-indptr.npy",
    "rows": "lineage-rows.npy",
    "params": "lineage-params.json",
}
KEY_FUNCTION = "blake2b-64 of the normalised words joined by spaces, little-endian"


class ShingleIndex:
    """An inverted index from word shingles and single words to the passages of a library.

    Example:
        >>> index = ShingleIndex.build(library.passages)  # doctest: +SKIP
        >>> index.coverage(words("considerable progress has been achieved in developing").norms)  # doctest: +SKIP
    """

    def __init__(
        self, passages: Sequence[Passage], keys: np.ndarray, indptr: np.ndarray, rows: np.ndarray, size: int = SHINGLE
    ) -> None:
        self.size = size
        self.passages = passages
        self.keys = keys
        self.indptr = indptr
        self.rows = rows
        self._words: dict[int, _Words] = {}

    @classmethod
    def build(cls, passages: Sequence[Passage], size: int = SHINGLE) -> ShingleIndex:
        """Index ``passages`` (row i is passage i)."""
        postings: dict[int, list[int]] = {}
        for row, passage in enumerate(passages):
            norms = words(passage.text).norms
            for key in {*_shingles(norms, size), *map(_key, zip(norms))}:
                postings.setdefault(key, []).append(row)
        keys = np.array(sorted(postings), dtype=np.uint64)
        lengths = np.array([len(postings[int(key)]) for key in keys], dtype=np.int64)
        indptr = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(lengths)])
        rows = np.fromiter((row for key in keys for row in postings[int(key)]), dtype=np.int32, count=int(indptr[-1]))
        return cls(passages, keys, indptr, rows, size)

    def __len__(self) -> int:
        return len(self.passages)

    def save(self, folder: Path) -> list[str]:
        """Write the index files into ``folder``; their names."""
        for name, array in (("keys", self.keys), ("indptr", self.indptr), ("rows", self.rows)):
            with open(folder / FILES[name], "wb") as handle:
                np.save(handle, array, allow_pickle=False)
        params = {"shingle": self.size, "key": KEY_FUNCTION, "passages": len(self.passages)}
        (folder / FILES["params"]).write_text(json.dumps(params, indent=2) + "\n", encoding="utf-8")
        return list(FILES.values())

    @classmethod
    def from_files(cls, passages: Sequence[Passage], files: dict[str, bytes]) -> ShingleIndex:
        """Read the index from its files' bytes (numpy refuses pickled arrays).

        Raises:
            ValueError: the files do not describe an index of ``passages`` made by this code.
        """
        params = json.loads(files["params"])
        if params.get("key") != KEY_FUNCTION or params.get("passages") != len(passages):
            raise ValueError(f"made for {params.get('passages')} passages with key {params.get('key')!r}")
        arrays = {name: array_from_bytes(files[name]) for name in ("keys", "indptr", "rows")}
        if len(arrays["indptr"]) != len(arrays["keys"]) + 1 or int(arrays["indptr"][-1]) != len(arrays["rows"]):
            raise ValueError("keys, indptr and rows disagree")
        if len(arrays["rows"]) and not 0 <= int(arrays["rows"].max()) < len(passages):
            raise ValueError("a row outside the passages")
        return cls(passages, arrays["keys"], arrays["indptr"], arrays["rows"], int(params["shingle"]))

    def words(self, row: int) -> _Words:
        """The words of passage ``row`` (computed once)."""
        found = self._words.get(row)
        if found is None:
            found = self._words[row] = words(self.passages[row].text)
        return found

    def _postings(self, keys: Sequence[int]) -> list[np.ndarray]:
        """For each key, the rows of the passages holding it (empty when none)."""
        wanted = np.array(keys, dtype=np.uint64)
        places = np.searchsorted(self.keys, wanted)
        found = []
        for key, place in zip(wanted, places):
            if place < len(self.keys) and self.keys[place] == key:
                found.append(self.rows[self.indptr[place] : self.indptr[place + 1]])
            else:
                found.append(np.zeros(0, dtype=np.int32))
        return found

    def coverage(self, query: tuple[str, ...]) -> dict[int, int]:
        """For each passage sharing a shingle with ``query``: a bit mask of the query words shared."""
        masks: dict[int, int] = {}
        window = (1 << self.size) - 1
        for position, rows in enumerate(self._postings(_shingles(query, self.size))):
            bits = window << position
            for row in rows.tolist():
                masks[row] = masks.get(row, 0) | bits
        return masks

    def containing(self, query: tuple[str, ...]) -> list[int]:
        """Passages holding ``query`` as a contiguous word sequence (for queries shorter than a shingle)."""
        if not query:
            return []
        candidates = None
        for rows in self._postings([_key((word,)) for word in dict.fromkeys(query)]):
            candidates = set(rows.tolist()) if candidates is None else candidates & set(rows.tolist())
        needle = " " + " ".join(query) + " "
        return [row for row in sorted(candidates or ()) if needle in " " + " ".join(self.words(row).norms) + " "]


def write_shingles(folder: Path, passages: Sequence[Passage]) -> list[str]:
    """Build the shingle index of ``passages`` and write its files into the index folder; their names."""
    return ShingleIndex.build(passages).save(folder)


_INDEXES: weakref.WeakKeyDictionary[Any, ShingleIndex] = weakref.WeakKeyDictionary()


def shingle_index(library: Library) -> ShingleIndex:
    """The library's shingle index: read from the index folder at first use, kept while the library lives.

    Raises:
        IndexIntegrityError: a file changed since the index was opened, or does not fit the passages.
    """
    index = _INDEXES.get(library)
    if index is None or len(index) != len(library.passages):
        from .bm25 import stored_files

        files = stored_files(library, FILES)
        if files is None:
            logger.info("%s holds no shingle index: building it from its passages", library.index_dir)
            index = ShingleIndex.build(library.passages)
        else:
            try:
                index = ShingleIndex.from_files(library.passages, files)
            except (ValueError, KeyError, TypeError) as exc:
                raise IndexIntegrityError(f"{library.index_dir}: unreadable shingle index: {exc}") from exc
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
                diff=word_diff(text, query, passage.text, index.words(row)),
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
    row = library.passage_row(text_or_passage_id.strip())
    return library.passages[row].text if row is not None else text_or_passage_id



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
