"""BM25 over the passages, with a tokenizer that keeps document symbols and numbers searchable.

Diplomats search by symbol and number as much as by words: "A/RES/73/27", "resolution 75/240",
"24/7 points of contact", "para. 1.3". A word tokenizer would cut these into "73", "27" and lose
them; ``tokenize`` keeps the whole token and also emits its parts, so "A/RES/73/27" matches a
query for "73/27" and for the full symbol.

The scores are bm25s's (Lucene variant, k1=1.5, b=0.75), written into the index folder as plain
files at build time, never pickled::

    bm25-data.npy  bm25-indices.npy  bm25-indptr.npy   the sparse score matrix (numpy, allow_pickle=False)
    bm25-vocab.json                                    token -> column
    bm25-params.json                                   k1, b, method, number of passages, tokenizer version

They are listed with their sha256 in the manifest like every index file, and read on the first
BM25 search. An index built before BM25 was stored has none of them: BM25 is then built in
memory from its passages on first use (about 2 s for the reference corpus), so old indexes keep
working; rebuilding the index stores the files.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import weakref
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import IndexIntegrityError
from .npy import array_from_bytes
from .passages import embedding_text
from .types import Document, Passage

if TYPE_CHECKING:
    from .library import Library

logger = logging.getLogger(__name__)

# 1: plural stripping; 2: Snowball English stems (questions say "intercepting", texts "interception").
TOKENIZER_VERSION = 2
K1 = 1.5
B = 0.75
METHOD = "lucene"
FILES = {
    "data": "bm25-data.npy",
    "indices": "bm25-indices.npy",
    "indptr": "bm25-indptr.npy",
    "vocab": "bm25-vocab.json",
    "params": "bm25-params.json",
}

# A plain word, or a symbol-like token: letters/digits joined by "/" or "." ("a/res/73/27",
# "a/c.1/80/l.20", "75/240", "24/7", "1.3"). Hyphens, dashes and soft hyphens are not word
# characters, so hyphenated words come apart.
_TOKEN = re.compile(r"[^\W_]+(?:[./][^\W_]+)*")
# Plain word -> its token ("" for a stopword), kept as words are met (the corpus has ~20,000).
_WORDS: dict[str, str] = {}
_WORDS_KEPT = 200_000
STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had
    has have having he her here hers herself him himself his how i if in into is it its itself just
    me more most my myself no nor not of off on once only or other our ours ourselves out over own
    same she should so some such than that the their theirs them themselves then there these they
    this those through to too under until up very was we were what when where which while who whom
    why will with would you your yours yourself yourselves""".split()
)


@functools.lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    """The Snowball (Porter 2) English stem of a lower-case word: "criminalization" and
    "criminalize" -> "crimin", "intercepting" -> "intercept"; numbers and short words unchanged."""
    if len(word) <= 3 or not word.isalpha():
        return word
    return _stemmer().stemWord(word)


@functools.lru_cache(maxsize=1)
def _stemmer() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


def tokenize(text: str) -> list[str]:
    """BM25 tokens of ``text``: lower case, stopwords out, symbols kept whole and in parts.

    "not" is a stopword here although it matters in norms: BM25 cannot use it (it is in most
    passages); phrase queries are the way to ask for it.

    Example:
        >>> tokenize("A/RES/73/27, para. 1.3: 24/7 points")
        ['a/res/73/27', 'res', '73', '27', 'res/73/27', '73/27', 'para', '1.3', '1', '3', '24/7', '24', '7', 'point']
        >>> tokenize("criminalizing the interception of communications")
        ['crimin', 'intercept', 'communic']
    """
    tokens: list[str] = []
    words = _WORDS
    for token in _TOKEN.findall(text.lower()):
        word = words.get(token)
        if word is None:
            if "/" in token or "." in token:
                _symbol_tokens(token, tokens)
                continue
            word = "" if token in STOPWORDS else _stem(token)
            if len(words) < _WORDS_KEPT:
                words[token] = word
        if word:
            tokens.append(word)
    return tokens


def _symbol_tokens(token: str, tokens: list[str]) -> None:
    """Append the tokens of a symbol-like ``token``: itself, its parts, its trailing runs."""
    tokens.append(token)
    parts = token.split("/")
    for part in parts:
        if "." in part:
            if len(parts) > 1:
                tokens.append(part)
            tokens.extend(piece for piece in part.split(".") if piece not in STOPWORDS)
        elif part not in STOPWORDS:
            tokens.append(part)
    # Trailing runs, so "73/27" and "res/73/27" find "a/res/73/27".
    tokens.extend("/".join(parts[i:]) for i in range(1, len(parts) - 1))


def passage_text(passage: Passage, document: Document | None = None) -> str:
    """The text of a passage that BM25 indexes: the same as is embedded (document, context, text)."""
    return embedding_text(passage, document)


class BM25Index:
    """BM25 scores of every passage for a query, over bm25s's sparse score matrix."""

    def __init__(self, retriever: Any) -> None:
        self.retriever = retriever
        self.vocab: dict[str, int] = retriever.vocab_dict

    @classmethod
    def build(cls, passages: Sequence[Passage], documents: Mapping[str, Document] | None = None) -> BM25Index:
        """Index the passages (row i of the scores is passage i), each with its document's line when given."""
        documents = documents or {}
        return cls.from_texts([passage_text(passage, documents.get(passage.doc_id)) for passage in passages])

    @classmethod
    def in_memory(cls, texts: Sequence[str]) -> BM25Index:
        """Index a few plain texts in numpy: bm25s's Lucene scores, without importing bm25s.

        For small collections made at query time (one line per document), where importing bm25s
        (scipy, numba) would cost more than the whole search.
        """
        token_lists = [tokenize(text) or ["\x00"] for text in texts]
        vocab: dict[str, int] = {}
        columns = np.fromiter((vocab.setdefault(token, len(vocab)) for tokens in token_lists for token in tokens),
                              dtype=np.int64)
        lengths = np.array([len(tokens) for tokens in token_lists], dtype=np.float64)
        average = float(lengths.mean()) if len(lengths) else 1.0
        count = max(len(texts), 1)
        rows = np.repeat(np.arange(len(texts), dtype=np.int64), lengths.astype(np.int64))
        # One posting per (column, row), in column then row order, with the token's count in the row.
        keys, counts = np.unique(columns * count + rows, return_counts=True)
        column_of, row_of = keys // count, keys % count
        frequency = np.bincount(column_of, minlength=len(vocab)).astype(np.float64)
        # Lucene's idf and term-frequency saturation, as bm25s computes them.
        idf = np.log(1 + (len(texts) - frequency + 0.5) / (frequency + 0.5))
        norm = K1 * ((1 - B) + B * lengths[row_of] / average)
        tf = counts.astype(np.float64)
        indptr = np.zeros(len(vocab) + 1, dtype=np.int64)
        np.cumsum(np.bincount(column_of, minlength=len(vocab)), out=indptr[1:])
        scores = {
            "data": (idf[column_of] * tf / (norm + tf)).astype(np.float32),
            "indices": row_of.astype(np.int32),
            "indptr": indptr,
        }
        return cls(_StoredScores(scores, len(texts), vocab))

    @classmethod
    def from_texts(cls, texts: Sequence[str]) -> BM25Index:
        """Index plain texts (row i of the scores is text i)."""
        import bm25s

        # bm25s logs every step at DEBUG on its own handler: keep builds quiet.
        logging.getLogger("bm25s").setLevel(logging.WARNING)
        retriever = bm25s.BM25(k1=K1, b=B, method=METHOD)
        # bm25s cannot index an empty token list: such a text gets a token no query has.
        retriever.index([tokenize(text) or ["\x00"] for text in texts], show_progress=False)
        return cls(retriever)

    def __len__(self) -> int:
        return int(self.retriever.scores["num_docs"])

    def scores(self, query: str) -> np.ndarray:
        """The BM25 score of every passage for ``query`` (float32, 0 where no token matches)."""
        ids = self._columns(query)
        if not ids:
            return np.zeros(len(self), dtype=np.float32)
        return np.asarray(self.retriever.get_scores_from_ids(ids), dtype=np.float32)

    def query(self, query: str) -> QueryScores:
        """BM25 of ``query``, computed only where asked: its best passages, or given passages' scores.

        Example:
            >>> scores = bm25_index(library).query("misuse of devices")  # doctest: +SKIP
            >>> rows, values = scores.top(10); scores.at(rows).tolist() == values.tolist()  # doctest: +SKIP
            True
        """
        return QueryScores(self, self._columns(query))

    def frequency(self, words: str) -> int:
        """How many passages hold every token of ``words`` at most: the least document frequency of
        its tokens (0 for a stopword or a word no passage holds).

        Example:
            >>> bm25_index(library).frequency("behaviour") > bm25_index(library).frequency("behavior")  # doctest: +SKIP
            True
        """
        return min((self.token_frequency(token) for token in tokenize(words)), default=0)

    def token_frequency(self, token: str) -> int:
        """How many passages hold the BM25 token ``token`` (a stem: "territori"); 0 when none does."""
        column = self.vocab.get(token)
        if column is None:
            return 0
        indptr = self.retriever.scores["indptr"]
        return int(indptr[column + 1] - indptr[column])

    def _columns(self, query: str) -> list[int]:
        return sorted({self.vocab[token] for token in tokenize(query) if token in self.vocab and token})

    @property
    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The score matrix by token: ``data``, ``indices`` (passage rows, ascending in each token's
        span) and ``indptr``, as bm25s stores it."""
        stored = self.retriever.scores
        return stored["data"], stored["indices"], stored["indptr"]

    def save(self, folder: Path) -> list[str]:
        """Write the BM25 files into ``folder``; their names."""
        self.retriever.save(
            folder,
            data_name=FILES["data"],
            indices_name=FILES["indices"],
            indptr_name=FILES["indptr"],
            vocab_name=FILES["vocab"],
            params_name=FILES["params"],
            allow_pickle=False,
            show_progress=False,
        )
        params_path = folder / FILES["params"]
        params = json.loads(params_path.read_text(encoding="utf-8"))
        params["tokenizer_version"] = TOKENIZER_VERSION
        params_path.write_text(json.dumps(params, indent=2) + "\n", encoding="utf-8")
        return list(FILES.values())

    @classmethod
    def from_files(cls, files: dict[str, bytes]) -> BM25Index:
        """Read the BM25 files from their bytes (no pickle; numpy refuses object arrays)."""
        scores = {name: array_from_bytes(files[name]) for name in ("data", "indices", "indptr")}
        return cls.from_arrays(json.loads(files["params"]), json.loads(files["vocab"]), scores)

    @classmethod
    def from_arrays(cls, params: dict[str, Any], vocab: dict[str, int], scores: Mapping[str, np.ndarray]) -> BM25Index:
        """BM25 over a stored score matrix (``data``, ``indices``, ``indptr``; memory-mapped or not).

        Raises:
            ValueError: another BM25 method, or arrays that do not form a score matrix of ``num_docs`` rows.
        """
        if params.get("method") != METHOD:
            raise ValueError(f"BM25 method {params.get('method')!r}, expected {METHOD!r}")
        data, indices, indptr = scores["data"], scores["indices"], scores["indptr"]
        if data.ndim != 1 or indices.shape != data.shape or indptr.ndim != 1 or not 0 < len(indptr) <= len(vocab) + 1 \
                or int(indptr[-1]) != len(data):
            raise ValueError("the BM25 arrays do not form one score matrix of the vocabulary's tokens")
        return cls(_StoredScores(dict(scores), int(params["num_docs"]), vocab))


class QueryScores:
    """The BM25 scores of one query, computed where they are asked for.

    ``at`` scores given passages by looking each token's postings up (binary search in the
    token's rows), so a few hundred candidates cost no array over every passage; ``top``
    scores every passage once (``all``) and keeps it. ``at`` adds a passage's token scores in
    the same order as ``BM25Index.scores`` (tokens by column, in float32): the scores are equal.

    Exact top-k pruning (MaxScore, or the threshold algorithm over postings ordered by score)
    was measured on 1M replicated passages and lost to scoring them all: a copy of a passage
    scores like the others, so the bounds only bite thousands of rows deep. Pruning by token (the
    tokens most passages hold left out of a first pass, the passages still in reach scored in
    full) lost too at 10M passages: the frequent tokens' postings are added in memory order and
    cost less than their share, and the passages the first pass left unscored were looked up one
    by one afterwards.
    """

    def __init__(self, index: BM25Index, columns: Sequence[int]) -> None:
        self.index = index
        self.columns = list(columns)
        self.count = len(index)
        _, _, indptr = index.arrays
        self._spans = [(int(indptr[column]), int(indptr[column + 1])) for column in self.columns]
        self._all: np.ndarray | None = None

    def all(self) -> np.ndarray:
        """The score of every passage (float32; 0 where no token matches)."""
        if self._all is None:
            if not self.columns:
                self._all = np.zeros(self.count, dtype=np.float32)
            else:
                self._all = np.asarray(self.index.retriever.get_scores_from_ids(self.columns), dtype=np.float32)
        return self._all

    def at(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """The scores of passages ``rows`` (float32, in their order)."""
        rows = np.asarray(rows, dtype=np.int64)
        if self._all is not None or not self.columns:
            return self.all()[rows] if len(rows) else np.zeros(0, dtype=np.float32)
        out = np.zeros(len(rows), dtype=np.float32)
        if not len(rows):
            return out
        data, indices, _ = self.index.arrays
        # Looked up in the postings' own integer type: searchsorted would otherwise convert a
        # token's whole postings (40 MB for a token most of 10M passages hold) at every call.
        keys = rows.astype(indices.dtype) if len(indices) and rows.max() <= np.iinfo(indices.dtype).max else rows
        for start, end in self._spans:
            if end == start:
                continue
            postings = indices[start:end]
            found = np.searchsorted(postings, keys)
            inside = found < (end - start)
            hit = np.zeros(len(rows), dtype=bool)
            hit[inside] = postings[found[inside]] == keys[inside]
            out[hit] += data[start:end][found[hit]]
        return out

    def top(self, depth: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``depth`` allowed passages (``mask``: None, all) with the highest positive scores,
        best first, ties by row: (rows, scores)."""
        if not self.columns or depth < 1:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = self.all() if mask is None else np.where(mask, self.all(), np.float32(0))
        rows = best_rows(scores, depth)
        return rows, scores[rows]


# Above this many passages, ``best_rows`` first finds a score threshold from every SAMPLE_STEP-th
# passage, so that it partitions a few hundred rows instead of every passage that scored.
SAMPLED_ABOVE = 200_000
SAMPLE_STEP = 64


def best_rows(scores: np.ndarray, depth: int) -> np.ndarray:
    """The ``depth`` rows with the highest positive ``scores``, best first, ties by row.

    The same as ``search.top_rows(scores, np.flatnonzero(scores > 0), depth)``. Over many rows,
    a threshold is taken from a sample (the score a few times ``depth`` rows should reach); the
    rows reaching it hold the whole answer as soon as there are ``depth`` of them, ties included,
    else every positive row is ranked.

    Example:
        >>> best_rows(np.array([0.0, 2.0, 1.0, 2.0], dtype=np.float32), 2).tolist()
        [1, 3]
    """
    from .search import top_rows

    if depth < 1:
        return np.zeros(0, dtype=np.int64)
    if len(scores) > SAMPLED_ABOVE:
        sample = scores[::SAMPLE_STEP]
        wanted = min(len(sample), 4 * (depth // SAMPLE_STEP + 1) + 4)
        threshold = np.partition(sample, len(sample) - wanted)[len(sample) - wanted]
        if threshold > 0:
            candidates = np.flatnonzero(scores >= threshold)
            if len(candidates) >= depth:
                return top_rows(scores, candidates, depth)
    return top_rows(scores, np.flatnonzero(scores > 0), depth)


class _StoredScores:
    """bm25s's query-time scoring over its stored score matrix, in numpy.

    Importing bm25s pulls in scipy and numba (half a second at every CLI start); a query needs
    only this sum. The Lucene variant has no non-occurrence term, so the sum is the whole score,
    added up in bm25s's order (``np.add.at`` over the query's columns, or scipy's compiled loop
    for a question of many postings: COMPILED_ABOVE), equal to its result.
    """

    def __init__(self, scores: dict[str, np.ndarray], num_docs: int, vocab: dict[str, int]) -> None:
        self.scores: dict[str, Any] = {**scores, "num_docs": num_docs}
        self.vocab_dict = vocab

    def get_scores_from_ids(self, ids: Sequence[int]) -> np.ndarray:
        data, indices, indptr = self.scores["data"], self.scores["indices"], self.scores["indptr"]
        columns = np.asarray(ids, dtype=np.int64)
        if columns.size and int(columns.max()) >= len(indptr) - 1:
            raise ValueError(f"token id {int(columns.max())} outside the BM25 vocabulary")
        count = self.scores["num_docs"]
        result = np.zeros(count, dtype=np.float32)
        # One column at a time: the same additions in the same order as over the columns joined
        # (each passage's scores added by column), without copying the postings, and each
        # column's rows ascending keep the writes in memory order (3x faster at 10M passages).
        spans = [(int(indptr[column]), int(indptr[column + 1])) for column in columns.tolist()]
        many = sum(end - start for start, end in spans) > COMPILED_ABOVE and data.dtype == np.float32
        add = _column_adder() if many else None
        if add is not None:
            add(result, indices, data, spans)
            return result
        for start, end in spans:
            np.add.at(result, indices[start:end], data[start:end])
        return result


# Above this many postings a question's scores are added up by scipy's compiled sparse
# matrix-vector loop: at 10M passages (17M postings for the median question) about 25 ms instead
# of 50, the same sums. (Split over two threads it was no faster in a hybrid query, whose dense
# pass already runs in a second thread.)
COMPILED_ABOVE = 2_000_000


@functools.lru_cache(maxsize=1)
def _column_adder() -> Callable[[np.ndarray, np.ndarray, np.ndarray, Sequence[tuple[int, int]]], None] | None:
    """A function adding spans of postings into an array of scores with scipy's compiled CSC
    matrix-vector product (``scipy.sparse._sparsetools.csc_matvec``, the loop behind
    ``csc_array @ vector``, called directly so that it adds into our array and copies nothing);
    None where that loop is missing or does not add exactly as ``np.add.at`` does (checked once).
    """
    try:
        from scipy.sparse._sparsetools import csc_matvec
    except ImportError:
        return None
    one = np.ones(1, dtype=np.float32)

    def add(result: np.ndarray, indices: np.ndarray, data: np.ndarray, spans: Sequence[tuple[int, int]]) -> None:
        for start, end in spans:
            if end > start:
                column = np.array([0, end - start], dtype=indices.dtype)
                csc_matvec(len(result), 1, column, indices[start:end], data[start:end], one, result)

    rows = np.array([0, 2, 3, 1, 2, 4], dtype=np.int32)
    values = np.array([0.1, 1e8, 3.3, 2.5, 1.0, 7e-9], dtype=np.float32)
    spans = [(0, 3), (3, 6)]
    expected = np.full(5, 0.7, dtype=np.float32)
    for start, end in spans:
        np.add.at(expected, rows[start:end], values[start:end])
    found = np.full(5, 0.7, dtype=np.float32)
    try:
        add(found, rows, values, spans)
    except (TypeError, ValueError):
        return None
    return add if np.array_equal(found, expected) else None


def write_bm25(folder: Path, passages: Sequence[Passage], documents: Mapping[str, Document] | None = None) -> list[str]:
    """Build BM25 over ``passages`` and write its files into the index folder ``folder``; their names."""
    return BM25Index.build(passages, documents).save(folder)


def index_file_bytes(library: Library, name: str) -> bytes | None:
    """The bytes of index file ``name``, checked against the manifest; None when it lists no such file.

    Raises:
        IndexIntegrityError: the file is missing or changed since the index was opened.
    """
    expected = library.manifest.get("files", {}).get(name)
    if expected is None:
        return None
    # open_index keeps the bytes it checked, so a build swapping a new index in meanwhile cannot
    # mix its files with the ones opened.
    data = getattr(library, "_file_bytes", {}).pop(name, None)
    if data is not None:
        return data
    try:
        data = (library.index_dir / name).read_bytes()
    except OSError as exc:
        raise IndexIntegrityError(f"{library.index_dir}: cannot read {name}: {exc}") from exc
    if hashlib.sha256(data).hexdigest() != expected:
        raise IndexIntegrityError(
            f"{library.index_dir}: {name} has changed since the index was opened (rebuilt meanwhile?): open it again"
        )
    return data


def index_array(library: Library, name: str) -> np.ndarray | None:
    """Index array file ``name``: memory-mapped at open (``folder._MAPPED_AT_OPEN``) or read from
    its checked bytes; None when the manifest lists no such file.

    Raises:
        IndexIntegrityError: the file is missing, changed since the index was opened, or not an array.
    """
    mapped = getattr(library, "_mapped", {}).get(name)
    if mapped is not None:
        return mapped
    data = index_file_bytes(library, name)
    if data is None:
        return None
    try:
        return array_from_bytes(data)
    except ValueError as exc:
        raise IndexIntegrityError(f"{library.index_dir}: {name} is not a numpy array: {exc}") from exc


def stored_files(library: Library, names: Mapping[str, str]) -> dict[str, bytes] | None:
    """The bytes of index files ``names`` (key -> file name), checked; None when the manifest lists none.

    Raises:
        IndexIntegrityError: the manifest lists some of the files but not all, or one changed.
    """
    listed = library.manifest.get("files", {})
    if all(listed.get(name) is None for name in names.values()):
        return None
    files = {}
    for key, name in names.items():
        data = index_file_bytes(library, name)
        if data is None:
            raise IndexIntegrityError(f"{library.index_dir}: the manifest does not list {name}")
        files[key] = data
    return files


_cache: weakref.WeakKeyDictionary[Any, BM25Index] = weakref.WeakKeyDictionary()


def bm25_index(library: Library) -> BM25Index:
    """The BM25 index of ``library``: read from its files on first use, or built from its passages.

    Raises:
        IndexIntegrityError: a BM25 file changed since the index was opened, or does not fit the passages.
    """
    index = _cache.get(library)
    if index is None:
        files = stored_files(library, {key: FILES[key] for key in ("params", "vocab")})
        if files is None:
            logger.info("%s holds no BM25 files: building BM25 from its passages", library.index_dir)
            index = BM25Index.build(library.passages, library.documents)
        else:
            try:
                params = json.loads(files["params"])
                stored_version = params.get("tokenizer_version", 1)
                index = None
                if stored_version == TOKENIZER_VERSION:
                    arrays = {key: index_array(library, FILES[key]) for key in ("data", "indices", "indptr")}
                    missing = [FILES[key] for key, array in arrays.items() if array is None]
                    if missing:
                        raise IndexIntegrityError(f"{library.index_dir}: the manifest does not list {missing[0]}")
                    index = BM25Index.from_arrays(params, json.loads(files["vocab"]), arrays)
            except (ValueError, KeyError, TypeError) as exc:
                raise IndexIntegrityError(f"{library.index_dir}: unreadable BM25 files: {exc}") from exc
            if index is None:
                # Tokens of another tokenizer would never meet this one's query tokens.
                logger.info("%s: BM25 files use tokenizer %s, this version %s: building BM25 from its passages",
                            library.index_dir, stored_version, TOKENIZER_VERSION)
                index = BM25Index.build(library.passages, library.documents)
            if len(index) != len(library.passages):
                raise IndexIntegrityError(
                    f"{library.index_dir}: BM25 holds {len(index)} passages, the index {len(library.passages)}"
                )
        _cache[library] = index
    return index
