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
import math
import re
import shutil
import weakref
from collections.abc import Iterable, Iterator, Sequence
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
    """A stable 64-bit key of a word sequence (Python's ``hash`` changes from process to process):
    the key of one word, and of a shingle in index files of the first key function (``BLAKE2B_KEYS``)."""
    digest = hashlib.blake2b(" ".join(norms).encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little")


# A shingle's key is a polynomial of its words' keys, so that the keys of every shingle of many
# passages are computed at once in numpy (uint64 arithmetic wraps, as the definition says).
_BASE = np.uint64(0x9E3779B97F4A7C15)
_WORD_KEYS: dict[str, int] = {}
_WORD_KEYS_KEPT = 1 << 20


def _word_keys(norms: Sequence[str]) -> np.ndarray:
    """The keys of ``norms``, one per word (``_key`` of the word alone)."""
    cache = _WORD_KEYS
    if len(cache) > _WORD_KEYS_KEPT:
        cache.clear()
    keys = list(map(cache.get, norms))
    if None in keys:
        for position, norm in enumerate(norms):
            if keys[position] is None:
                keys[position] = cache.setdefault(norm, _key((norm,)))
    return np.array(keys, dtype=np.uint64)


_NOT_WORD_OR_SPACE = re.compile(r"[^\w\s]+")


def _norms(text: str) -> list[str]:
    """``words(text).norms`` without the spans, for indexing many passages: punctuation dropped
    from the lower-cased text leaves the same words between the same spaces."""
    return _NOT_WORD_OR_SPACE.sub("", text.lower()).split()


def _polynomial_shingles(keys: np.ndarray, size: int) -> np.ndarray:
    """The key of every run of ``size`` consecutive words, from the words' keys."""
    count = len(keys) - size + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    found = keys[:count].copy()
    for offset in range(1, size):
        found *= _BASE
        found += keys[offset : offset + count]
    return found


def _blake2b_shingles(norms: tuple[str, ...], size: int) -> list[int]:
    return [_key(norms[i : i + size]) for i in range(len(norms) - size + 1)]


FILES = {
    "keys": "lineage-keys.npy",
    "indptr": "lineage-indptr.npy",
    "rows": "lineage-rows.npy",
    "params": "lineage-params.json",
}
# Index files name their key function; both are read. New files use the second: a word's key is
# the same in both, a shingle's is computed from its words' keys rather than hashed again.
BLAKE2B_KEYS = "blake2b-64 of the normalised words joined by spaces, little-endian"
POLYNOMIAL_KEYS = (
    "blake2b-64 of each normalised word, little-endian; a shingle: the sum of its words' keys times "
    "0x9E3779B97F4A7C15 to the power of the number of words after it, mod 2**64"
)
KEY_FUNCTION = POLYNOMIAL_KEYS


class ShingleIndex:
    """An inverted index from word shingles and single words to the passages of a library.

    ``keys`` (sorted uint64), ``indptr`` and ``rows`` (int32, ascending within a key) may be
    memory-mapped: a query reads the postings of its own shingles only.

    Example:
        >>> index = ShingleIndex.build(library.passages)  # doctest: +SKIP
        >>> index.coverage(words("considerable progress has been achieved in developing").norms)  # doctest: +SKIP
    """

    def __init__(
        self,
        passages: Sequence[Passage],
        keys: np.ndarray,
        indptr: np.ndarray,
        rows: np.ndarray,
        size: int = SHINGLE,
        key_function: str = KEY_FUNCTION,
    ) -> None:
        if key_function not in (BLAKE2B_KEYS, POLYNOMIAL_KEYS):
            raise ValueError(f"unknown shingle key function {key_function!r}")
        self.size = size
        self.passages = passages
        self.keys = keys
        self.indptr = indptr
        self.rows = rows
        self.key_function = key_function

    @classmethod
    def build(cls, passages: Sequence[Passage], size: int = SHINGLE) -> ShingleIndex:
        """Index ``passages`` (row i is passage i) in memory."""
        writer = ShingleWriter(size=size)
        writer.add(passage.text for passage in passages)
        keys, indptr, rows = writer.arrays()
        return cls(passages, keys, indptr, rows, size)

    def __len__(self) -> int:
        return len(self.passages)

    def save(self, folder: Path) -> list[str]:
        """Write the index files into ``folder``; their names."""
        for name, array in (("keys", self.keys), ("indptr", self.indptr), ("rows", self.rows)):
            with open(folder / FILES[name], "wb") as handle:
                np.save(handle, array, allow_pickle=False)
        _write_params(folder, self.size, self.key_function, len(self.passages))
        return list(FILES.values())

    @classmethod
    def from_files(cls, passages: Sequence[Passage], files: dict[str, bytes]) -> ShingleIndex:
        """Read the index from its files' bytes (numpy refuses pickled arrays).

        Raises:
            ValueError: the files do not describe an index of ``passages`` made by this code.
        """
        arrays = {name: array_from_bytes(files[name]) for name in ("keys", "indptr", "rows")}
        return cls.from_arrays(passages, json.loads(files["params"]), arrays)

    @classmethod
    def from_arrays(cls, passages: Sequence[Passage], params: dict[str, Any], arrays: dict[str, np.ndarray]) -> ShingleIndex:
        """The index over its arrays (read or memory-mapped) and its parameters.

        Raises:
            ValueError: the arrays and parameters do not describe an index of ``passages`` made by this code.
        """
        if params.get("key") not in (BLAKE2B_KEYS, POLYNOMIAL_KEYS) or params.get("passages") != len(passages):
            raise ValueError(f"made for {params.get('passages')} passages with key {params.get('key')!r}")
        keys, indptr, rows = arrays["keys"], arrays["indptr"], arrays["rows"]
        if keys.ndim != 1 or indptr.ndim != 1 or rows.ndim != 1:
            raise ValueError("keys, indptr and rows are not one-dimensional")
        if len(indptr) != len(keys) + 1 or int(indptr[-1]) != len(rows):
            raise ValueError("keys, indptr and rows disagree")
        if len(rows) <= _CHECKED_WHOLE and len(rows) and not 0 <= int(rows.min()) <= int(rows.max()) < len(passages):
            raise ValueError("a row outside the passages")
        return cls(passages, keys, indptr, rows, int(params["shingle"]), params["key"])

    def shingle_keys(self, norms: tuple[str, ...]) -> list[int]:
        """The keys of the shingles of ``norms``, in order, by the index's key function."""
        if self.key_function == BLAKE2B_KEYS:
            return _blake2b_shingles(norms, self.size)
        return _polynomial_shingles(_word_keys(norms), self.size).tolist()

    def _postings(self, keys: Sequence[int]) -> list[np.ndarray]:
        """For each key, the rows of the passages holding it (empty when none).

        Raises:
            ValueError: a row outside the passages (a damaged file too large to check whole).
        """
        wanted = np.array(keys, dtype=np.uint64)
        places = np.searchsorted(self.keys, wanted)
        found = []
        for key, place in zip(wanted, places):
            if place < len(self.keys) and self.keys[place] == key:
                rows = np.asarray(self.rows[int(self.indptr[place]) : int(self.indptr[place + 1])])
                if len(rows) and not 0 <= int(rows.min()) <= int(rows.max()) < len(self.passages):
                    raise ValueError("a row outside the passages")
                found.append(rows)
            else:
                found.append(np.zeros(0, dtype=np.int32))
        return found

    def coverage(self, query: tuple[str, ...], min_words: int = 0) -> dict[int, int]:
        """For each passage sharing a shingle with ``query``: a bit mask of the query words shared.

        With ``min_words``, only the passages whose shared shingles can cover that many of the
        query's words (a shingle covers at most ``size`` new words): a phrase that thousands of
        passages hold is counted for each in numpy, and masks are made for the others only.
        """
        size = self.size
        postings = self._postings(self.shingle_keys(query))
        if min_words > size and any(len(rows) for rows in postings):
            # How many of the query's shingles each passage holds (a row once in a key's postings).
            held = np.zeros(len(self.passages), dtype=np.int32)
            for rows in postings:
                held[rows] += 1
            reach = held * size >= min_words
            postings = [rows[reach[rows]] for rows in postings]
        masks: dict[int, int] = {}
        window = (1 << size) - 1
        for position, rows in enumerate(postings):
            bits = window << position
            for row in rows.tolist():
                masks[row] = masks.get(row, 0) | bits
        return masks

    def containing(self, query: tuple[str, ...]) -> list[int]:
        """Passages holding ``query`` as a contiguous word sequence (for queries shorter than a shingle)."""
        if not query:
            return []
        from .store import read_passages

        # The passages holding every word (postings ascending: intersected rarest first), then
        # those holding them in sequence, read a batch at a time.
        postings = sorted(self._postings([_key((word,)) for word in dict.fromkeys(query)]), key=len)
        candidates = postings[0]
        for rows in postings[1:]:
            candidates = np.intersect1d(candidates, rows, assume_unique=True)
        needle = " " + " ".join(query) + " "
        found = []
        for start in range(0, len(candidates), _READ_BATCH):
            batch = candidates[start : start + _READ_BATCH].tolist()
            found += [row for row, passage in zip(batch, read_passages(self.passages, batch))
                      if needle in " " + " ".join(_norms(passage.text)) + " "]
        return found


_READ_BATCH = 2_000  # passages read from the store in one query
# Row bounds of index files of up to this many postings are checked when read; beyond, those of
# each posting list a query reads.
_CHECKED_WHOLE = 50_000_000


def _write_params(folder: Path, size: int, key_function: str, passages: int) -> None:
    params = {"shingle": size, "key": key_function, "passages": passages}
    (folder / FILES["params"]).write_text(json.dumps(params, indent=2) + "\n", encoding="utf-8")


class ShingleWriter:
    """The shingle index of a stream of passage texts (row i is the i-th text), in numpy.

    Each passage's (key, row) pairs (its shingles and its words, each once) are gathered in
    memory; past ``spill_above`` pairs (given a ``work`` folder) they go to ``BUCKETS`` files by
    the top bits of their keys, so that ``save`` sorts one bucket at a time: the ten million
    passages of the scale benchmark hold about a billion pairs, more than memory can sort at once.

    Example:
        >>> writer = ShingleWriter()
        >>> writer.add(["Noting that considerable progress has been achieved"])
        >>> keys, indptr, rows = writer.arrays()
    """

    BUCKETS = 64

    def __init__(self, size: int = SHINGLE, work: Path | None = None, spill_above: int = 200_000_000) -> None:
        self.size = size
        self.work = work
        self.spill_above = spill_above
        self.count = 0  # passages added
        self._keys: list[np.ndarray] = []
        self._rows: list[np.ndarray] = []
        self._held = 0
        self._spilled = False

    def add(self, texts: Iterable[str], batch: int = 4096) -> None:
        """Index ``texts``, the next passages in row order."""
        pending: list[list[str]] = []
        for text in texts:
            pending.append(_norms(text))
            if len(pending) == batch:
                self._add_batch(pending)
                pending = []
        if pending:
            self._add_batch(pending)

    def _add_batch(self, batch: list[list[str]]) -> None:
        size = self.size
        lengths = np.array([len(norms) for norms in batch], dtype=np.int64)
        first = self.count
        self.count += len(batch)
        word_keys = _word_keys([norm for norms in batch for norm in norms])
        word_rows = np.repeat(np.arange(first, self.count, dtype=np.int32), lengths)
        # Shingles over the batch's words end to end, less those that run across two passages.
        shingles = _polynomial_shingles(word_keys, size)
        starts = np.arange(len(shingles))
        whole = word_rows[starts] == word_rows[starts + size - 1] if len(shingles) else np.zeros(0, dtype=bool)
        keys = np.concatenate([shingles[whole], word_keys])
        rows = np.concatenate([word_rows[: len(shingles)][whole], word_rows])
        keys, rows = _distinct(keys, rows)
        self._keys.append(keys)
        self._rows.append(rows)
        self._held += len(keys)
        if self.work is not None and self._held > self.spill_above:
            self._spill()

    def _bucket_path(self, bucket: int) -> Path:
        assert self.work is not None
        return self.work / f"lineage-bucket-{bucket:02d}.bin"

    def _spill(self) -> None:
        """The pairs held so far appended to the bucket files (key, then row, 12 bytes a pair)."""
        if not self._keys:
            return
        keys, rows = np.concatenate(self._keys), np.concatenate(self._rows)
        self._keys, self._rows, self._held = [], [], 0
        shift = np.uint64(64 - (self.BUCKETS.bit_length() - 1))
        buckets = (keys >> shift).astype(np.int64)
        order = np.argsort(buckets, kind="stable")
        keys, rows, buckets = keys[order], rows[order], buckets[order]
        bounds = np.searchsorted(buckets, np.arange(self.BUCKETS + 1))
        record = np.dtype([("key", "<u8"), ("row", "<i4")])
        for bucket in range(self.BUCKETS):
            low, high = bounds[bucket], bounds[bucket + 1]
            if high > low:
                chunk = np.empty(high - low, dtype=record)
                chunk["key"], chunk["row"] = keys[low:high], rows[low:high]
                with open(self._bucket_path(bucket), "ab") as handle:
                    handle.write(chunk.tobytes())
        self._spilled = True

    def _sorted_buckets(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(keys, rows) of every pair, sorted by key then row, each pair once, bucket by bucket."""
        if not self._spilled:
            keys = np.concatenate(self._keys) if self._keys else np.zeros(0, dtype=np.uint64)
            rows = np.concatenate(self._rows) if self._rows else np.zeros(0, dtype=np.int32)
            self._keys, self._rows, self._held = [], [], 0
            yield _distinct(keys, rows)
            return
        self._spill()
        record = np.dtype([("key", "<u8"), ("row", "<i4")])
        for bucket in range(self.BUCKETS):
            path = self._bucket_path(bucket)
            if not path.exists():
                continue
            pairs = np.fromfile(path, dtype=record)
            path.unlink()
            yield _distinct(pairs["key"].copy(), pairs["row"].copy())

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``keys``, ``indptr`` and ``rows`` in memory."""
        keys_parts, counts_parts, rows_parts = [], [], []
        for keys, rows in self._sorted_buckets():
            distinct, counts = _runs(keys)
            keys_parts.append(distinct)
            counts_parts.append(counts)
            rows_parts.append(rows)
        keys = np.concatenate(keys_parts) if keys_parts else np.zeros(0, dtype=np.uint64)
        counts = np.concatenate(counts_parts) if counts_parts else np.zeros(0, dtype=np.int64)
        rows = np.concatenate(rows_parts) if rows_parts else np.zeros(0, dtype=np.int32)
        indptr = np.concatenate([np.zeros(1, dtype=np.int64), np.cumsum(counts, dtype=np.int64)])
        return keys, indptr, rows

    def save(self, folder: Path) -> list[str]:
        """Write the index files into ``folder``, a bucket at a time; their names."""
        parts = {name: folder / f"{FILES[name]}.part" for name in ("keys", "indptr", "rows")}
        total_keys = total_rows = 0
        with open(parts["keys"], "wb") as keys_out, open(parts["indptr"], "wb") as indptr_out, \
                open(parts["rows"], "wb") as rows_out:
            indptr_out.write(np.zeros(1, dtype=np.int64).tobytes())
            for keys, rows in self._sorted_buckets():
                distinct, counts = _runs(keys)
                keys_out.write(distinct.tobytes())
                indptr_out.write((total_rows + np.cumsum(counts, dtype=np.int64)).tobytes())
                rows_out.write(rows.astype(np.int32).tobytes())
                total_keys += len(distinct)
                total_rows += len(rows)
        shapes = {"keys": ("<u8", total_keys), "indptr": ("<i8", total_keys + 1), "rows": ("<i4", total_rows)}
        for name, (dtype, count) in shapes.items():
            _npy_from_raw(parts[name], folder / FILES[name], dtype, count)
        _write_params(folder, self.size, KEY_FUNCTION, self.count)
        return list(FILES.values())


def _distinct(keys: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The (key, row) pairs sorted by key then row, each once."""
    order = np.lexsort((rows, keys))
    keys, rows = keys[order], rows[order]
    if len(keys) > 1:
        keep = np.ones(len(keys), dtype=bool)
        keep[1:] = (keys[1:] != keys[:-1]) | (rows[1:] != rows[:-1])
        keys, rows = keys[keep], rows[keep]
    return keys, rows


def _runs(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct values of sorted ``keys`` and how many times each occurs."""
    if not len(keys):
        return keys, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]]))
    counts = np.diff(np.append(starts, len(keys))).astype(np.int64)
    return keys[starts], counts


def _npy_from_raw(raw: Path, target: Path, dtype: str, count: int) -> None:
    """``target``: a .npy file of ``count`` values of ``dtype`` whose bytes are those of ``raw``."""
    with open(target, "wb") as out:
        np.lib.format.write_array_header_1_0(out, {"descr": dtype, "fortran_order": False, "shape": (count,)})
        with open(raw, "rb") as source:
            shutil.copyfileobj(source, out, 16 << 20)
    raw.unlink()


def write_shingles(folder: Path, passages: Sequence[Passage]) -> list[str]:
    """Build the shingle index of ``passages`` and write its files into the index folder; their names."""
    writer = ShingleWriter(work=folder)
    writer.add(passage.text for passage in passages)
    return writer.save(folder)


_INDEXES: weakref.WeakKeyDictionary[Any, ShingleIndex] = weakref.WeakKeyDictionary()


def shingle_index(library: Library) -> ShingleIndex:
    """The library's shingle index: read from the index folder at first use, kept while the library lives.

    Raises:
        IndexIntegrityError: a file changed since the index was opened, or does not fit the passages.
    """
    index = _INDEXES.get(library)
    if index is None or len(index) != len(library.passages):
        from .bm25 import index_array, stored_files

        files = stored_files(library, {"params": FILES["params"]})
        if files is None:
            logger.info("%s holds no shingle index: building it from its passages", library.index_dir)
            index = ShingleIndex.build(library.passages)
        else:
            # The arrays are memory-mapped at open (folder._MAPPED_AT_OPEN) or read from checked bytes.
            arrays = {name: index_array(library, FILES[name]) for name in ("keys", "indptr", "rows")}
            missing = [FILES[name] for name, array in arrays.items() if array is None]
            if missing:
                raise IndexIntegrityError(f"{library.index_dir}: the manifest does not list {', '.join(missing)}")
            try:
                index = ShingleIndex.from_arrays(library.passages, json.loads(files["params"]), arrays)
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
        try:
            masks = index.coverage(query.norms, min_words=math.ceil(min_shared * total))
        except ValueError as exc:
            raise IndexIntegrityError(f"{library.index_dir}: unreadable shingle index: {exc}") from exc
        shared = {row: mask.bit_count() / total for row, mask in masks.items()}

    from .citations import cite
    from .store import read_passages

    # The occurrences' passages in one read (thousands of copies in a large archive), in row order.
    rows = sorted(row for row, fraction in shared.items() if fraction >= min_shared)
    found = []
    for row, passage in zip(rows, read_passages(library.passages, rows)):
        document = library.documents[passage.doc_id]
        if cutoff is not None and (document.date is None or document.date > cutoff):
            continue
        found.append((row, shared[row], passage, document))
    found.sort(key=lambda item: (item[3].date or "9999-99-99", item[3].symbol or item[3].doc_id, item[2].start))

    result = []
    for position, (_, fraction, passage, document) in enumerate(found):
        result.append(
            Precedent(
                passage=passage,
                citation=cite(document, passage),
                source=document.source,
                shared=fraction,
                first=position == 0,
                diff=word_diff(text, query, passage.text, words(passage.text)),
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
