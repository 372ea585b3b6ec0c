"""The second stage of hybrid search: the fused candidates scored again with more features.

The first stage (``search._Ranker``) fuses the dense and BM25 lists (min-max normalised scores)
and the document match (``reading.py``). This stage scores the best fused candidates
(``search.RERANK_DEPTH``) by a weighted sum of features that the first stage cannot see:

- ``dense``, ``bm25``: the two retrievers' scores, min-max normalised over the candidates (the
  first stage's inputs);
- ``document``: how well the question names the passage's document (``reading.py``, best 1.0);
- ``coverage``: the share of the question's words (BM25 tokens, weighted by IDF) that the
  passage's own text holds;
- ``heading``: the same share for what stands above the passage (article heading, chapeau,
  section heading): "misuse of hacking tools" meets "Article 11 Misuse of devices";
- ``proximity``: the share of the question's adjacent word pairs found next to each other in the
  passage (stopwords aside): phrases rather than scattered words;
- ``sentence``: the cosine of the question with the passage's best sentence (max-sim), for the
  ``SENTENCE_DEPTH`` best candidates; a long paragraph whose one sentence answers is not diluted
  by the rest;
- ``preamble``: 1 for a preambular paragraph (recalling, noting): the operative paragraphs are
  where a text decides;
- ``recency``: for a question asking for the latest or the earliest text ("the most recent
  resolution on ...", "the first Quad leaders' summit"; ``reading.time_order``), where the date of
  each of the ``RECENCY_DEPTH`` best candidates' documents stands between the oldest (0) and the
  newest (1) of them, or the other way round; 0 for the other candidates and for other questions.

The weights (``WEIGHTS``) are fitted on the dev split of ``evaluation/queries.jsonl`` by
``evaluation/fit_rerank.py`` (coordinate ascent on MRR@10 + Recall@5 of grouped hybrid search);
the script prints them and their scores on dev and test. A feature whose weight is 0 costs
nothing beyond its arithmetic, except ``sentence``, which embeds sentences and is only computed
when the caller passes the question's vector.
"""

from __future__ import annotations

import functools
import itertools
import re
import weakref
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from .bm25 import BM25Index
    from .library import Library
    from .reading import PassageScores
    from .types import Passage

FEATURES = ("dense", "bm25", "document", "coverage", "heading", "proximity", "sentence", "preamble", "recency")
# Fitted by `python3 evaluation/fit_rerank.py --index INDEX` on the dev split of
# evaluation/queries.jsonl (124 queries, full reference corpus, passage vectors made as
# index.EMBED_TEXT_RULE says, dense feedback on: search.FEEDBACK_DEPTH): coordinate ascent on
# MRR@10 + Recall@5 of grouped hybrid search, the BM25 weight held at 0.6 for scale. Dev: first
# stage R@5 0.789 / MRR@10 0.673, these weights 0.862 / 0.763 (2-fold estimate over 6 splits,
# `--cv --repeats 6`: 0.835 / 0.730; without feedback 0.835 / 0.714, weights dense 0.1, document
# 0.2, coverage 0.15, heading -0.1). Feedback makes the dense list better worth its weight (0.1 ->
# 0.3). With the best-sentence feature the single-split estimate was 0.841 / 0.715 against 0.823 /
# 0.712 without (earlier vectors), but embedding the sentences of 20 passages per query took the
# median query from about 50 ms to 180 ms (p90 1.7 s, shared machine): its weight stays 0 until
# sentence vectors are stored at build time. Negative weights: preambular paragraphs and
# passages that match the question only in their heading or chapeau rank lower, all else equal.
WEIGHTS: dict[str, float] = {
    "dense": 0.3,
    "bm25": 0.6,
    "document": 0.3,
    "coverage": 0.6,
    "heading": -0.05,
    "proximity": 0.4,
    "sentence": 0.0,
    "preamble": -0.2,
    "recency": 0.8,
}
# ``recency`` is chosen apart, since few of the labelled questions ask for the latest or the
# earliest text: on the dev halves of evaluation/latest_earliest.jsonl and queries.jsonl together
# (R@5 / MRR@10; without it 0.875 / 0.588 and 0.870 / 0.772), over weights 0.2-1.5 and depths
# 10-100: depth 20 at 0.8 gave 0.875 / 0.826 and 0.878 / 0.777, depth 40 at 0.6 1.000 / 0.854
# and 0.878 / 0.774, depth 60 at 0.8 1.000 / 0.854 and 0.878 / 0.779 (kept), depth 10 lost.
SENTENCE_DEPTH = 20  # candidates (best first by the first stage) whose sentences are embedded
RECENCY_DEPTH = 60  # candidates (best first by the first stage) placed in time by ``recency``
_MIN_SENTENCE_WORDS = 4


def min_max(values: np.ndarray) -> np.ndarray:
    """``values`` rescaled to [0, 1] (all 1.0 when they are equal)."""
    if not len(values):
        return values
    low, high = float(values.min()), float(values.max())
    if high == low:
        return np.ones_like(values)
    return (values - low) / (high - low)


class _Vocabulary:
    """IDF of the BM25 tokens, from the stored BM25 matrix (one column per token)."""

    def __init__(self, index: BM25Index) -> None:
        indptr = np.asarray(index.retriever.scores["indptr"])
        frequency = np.diff(indptr).astype(np.float64)
        total = float(len(index))
        self.columns: Mapping[str, int] = index.vocab
        self.idf = np.log(1 + (total - frequency + 0.5) / (frequency + 0.5))

    def weight(self, token: str) -> float:
        column = self.columns.get(token)
        # A token no passage holds cannot be matched: it weighs nothing.
        return float(self.idf[column]) if column is not None else 0.0


@functools.lru_cache(maxsize=4096)
def _context_tokens(context: str) -> list[str]:
    from .bm25 import tokenize

    return tokenize(context)


_PREAMBLE = re.compile(r"^preamble\b")
# Passages whose tokens (and sentence vectors) are kept between queries: all of the reference
# corpus; among millions, those of the last few hundred queries.
_READ_ROWS = 100_000


class _Read(NamedTuple):
    text: list[str]  # BM25 tokens of the passage's text
    context: list[str]  # of what stands above it (heading, chapeau)
    preamble: bool  # a preambular paragraph


class PassageFeatures:
    """The second stage over one index: what it reads of the passages, kept as it is computed.

    Made once per index from the passages (text, context and label of the candidates are read by
    row), the BM25 index (its IDF) and the embedder's ``encode`` (the best-sentence feature); the
    tokens and sentence vectors of the passages already scored are kept for later queries.

    Example:
        >>> features = PassageFeatures(library.passages, bm25_index(library), library.embedder.encode)  # doctest: +SKIP
        >>> features.matrix("misuse of devices", [5244], {5244: 0.6}, {5244: 11.0}, None, None).shape  # doctest: +SKIP
        (1, 9)
    """

    def __init__(
        self, passages: Sequence[Passage], bm25: BM25Index, encode: Callable[[list[str]], np.ndarray]
    ) -> None:
        self.passages = passages
        self.vocabulary = _Vocabulary(bm25)
        self.encode = encode
        self._read: OrderedDict[int, _Read] = OrderedDict()  # the last _READ_ROWS passages read
        self._sentence_vectors: OrderedDict[int, np.ndarray] = OrderedDict()

    def _reading(self, rows: Sequence[int]) -> list[_Read]:
        """What the features read of ``rows``: the passages not kept are read in one batch."""
        from .bm25 import tokenize
        from .store import read_passages

        kept = self._read
        missing = [row for row in dict.fromkeys(rows) if row not in kept]
        found = {}
        for row in rows:
            if row in kept:
                kept.move_to_end(row)
                found[row] = kept[row]
        for row, passage in zip(missing, read_passages(self.passages, missing)):
            # The sub-paragraphs of one article share its heading and chapeau: tokenize them once.
            found[row] = kept[row] = _Read(
                tokenize(passage.text), _context_tokens(passage.context or ""),
                bool(_PREAMBLE.match(passage.label or "")),
            )
        while len(kept) > _READ_ROWS:
            kept.popitem(last=False)
        return [found[row] for row in rows]

    def matrix(
        self,
        query: str,
        rows: Sequence[int],
        dense: Mapping[int, float],
        bm25: Mapping[int, float],
        document: np.ndarray | PassageScores | None,
        query_vector: np.ndarray | None,
        order: Sequence[int] | None = None,
        when: Mapping[int, float] | None = None,
    ) -> np.ndarray:
        """The feature matrix of candidates ``rows`` (one row per candidate, columns ``FEATURES``).

        Args:
            query: the question as BM25 reads it (its words, short forms spelled out).
            rows: the candidate passages.
            dense: row -> cosine with the question (rows missing get the lowest).
            bm25: row -> BM25 score (rows missing get 0).
            document: per passage of the index, the document match (None: all 0).
            query_vector: the question's vector, for the best-sentence feature (None: passage cosine).
            order: the candidates by first-stage rank; the first ``SENTENCE_DEPTH`` get the
                best-sentence feature, the others their passage cosine.
            when: for a question asking for the latest (or earliest) text, row -> its document's
                day number (negated for the earliest); the first ``RECENCY_DEPTH`` of ``order``
                get the ``recency`` feature. None: 0 for every candidate.
        """
        from .bm25 import tokenize
        from .fusion import min_max as normalised

        rows = list(rows)
        n = len(rows)
        matrix = np.zeros((n, len(FEATURES)), dtype=np.float64)
        if not n:
            return matrix
        column = {name: i for i, name in enumerate(FEATURES)}
        # As the first stage fuses: each retriever's scores min-max normalised over its own list,
        # 0 for a candidate it did not return.
        for name, scores in (("dense", dense), ("bm25", bm25)):
            values = normalised(scores)
            matrix[:, column[name]] = [values.get(row, 0.0) for row in rows]
        cosines = np.array([dense.get(row, np.nan) for row in rows], dtype=np.float64)
        floor = np.nanmin(cosines) if np.isfinite(cosines).any() else 0.0
        cosines = np.where(np.isnan(cosines), floor, cosines)
        if document is not None:
            matrix[:, column["document"]] = document[rows]

        vocabulary = self.vocabulary
        query_tokens = [token for token in tokenize(query) if vocabulary.weight(token) > 0]
        distinct = list(dict.fromkeys(query_tokens))
        weights = {token: vocabulary.weight(token) for token in distinct}
        total = sum(weights.values())
        pairs = {(a, b) for a, b in itertools.pairwise(query_tokens) if a != b}
        for i, (row, read) in enumerate(zip(rows, self._reading(rows))):
            text_tokens, context_tokens = read.text, read.context
            if total > 0:
                present = set(text_tokens)
                matrix[i, column["coverage"]] = sum(w for t, w in weights.items() if t in present) / total
                above = set(context_tokens)
                matrix[i, column["heading"]] = sum(w for t, w in weights.items() if t in above) / total
            if pairs:
                adjacent = set(itertools.pairwise(text_tokens)) | set(itertools.pairwise(context_tokens))
                matrix[i, column["proximity"]] = len(pairs & adjacent) / len(pairs)
            matrix[i, column["preamble"]] = 1.0 if read.preamble else 0.0

        if when:
            ranked = list(order) if order is not None else rows
            placed = {row: when[row] for row in ranked[:RECENCY_DEPTH] if row in when and np.isfinite(when[row])}
            if placed:
                low, high = min(placed.values()), max(placed.values())
                position = {row: i for i, row in enumerate(rows)}
                for row, day in placed.items():
                    if row in position:
                        matrix[position[row], column["recency"]] = (day - low) / (high - low) if high > low else 0.0

        matrix[:, column["sentence"]] = cosines
        if query_vector is not None and SENTENCE_DEPTH > 0:
            ranked = list(order) if order is not None else rows
            best = self.best_sentences(ranked[:SENTENCE_DEPTH], query_vector)
            position = {row: i for i, row in enumerate(rows)}
            for row, score in best.items():
                if row in position:
                    matrix[position[row], column["sentence"]] = max(score, cosines[position[row]])
        matrix[:, column["sentence"]] = min_max(matrix[:, column["sentence"]])
        return matrix

    def best_sentences(self, rows: Sequence[int], query_vector: np.ndarray) -> dict[int, float]:
        """Row -> the best cosine of the question with one of the passage's sentences (passages of one sentence left out)."""
        from .answer import split_sentences
        from .store import read_passages

        cache = self._sentence_vectors
        missing: list[tuple[int, str]] = []
        uncached = [row for row in dict.fromkeys(rows) if row not in cache]
        for row, passage in zip(uncached, read_passages(self.passages, uncached)):
            sentences = [s.text for s in split_sentences(passage.text) if len(s.text.split()) >= _MIN_SENTENCE_WORDS]
            if len(sentences) < 2:
                cache[row] = np.zeros((0, len(query_vector)), dtype=np.float32)
                continue
            missing.extend((row, text) for text in sentences)
        if missing:
            vectors = np.asarray(self.encode([text for _, text in missing]), dtype=np.float32)
            grouped: dict[int, list[np.ndarray]] = {}
            for (row, _), vector in zip(missing, vectors):
                grouped.setdefault(row, []).append(vector)
            for row, items in grouped.items():
                cache[row] = np.vstack(items)
        best = {}
        for row in rows:
            vectors = cache[row]
            if len(vectors):
                best[row] = float((vectors @ query_vector).max())
        while len(cache) > _READ_ROWS:
            cache.popitem(last=False)
        return best


_per_library: weakref.WeakKeyDictionary[Any, PassageFeatures] = weakref.WeakKeyDictionary()


def passage_features(library: Library) -> PassageFeatures:
    """The library's ``PassageFeatures``, made on first use and kept while the library lives."""
    features = _per_library.get(library)
    if features is None:
        from .bm25 import bm25_index

        owner = weakref.ref(library)  # the embedder may be set after opening; the cache must not keep the library

        def encode(texts: list[str]) -> np.ndarray:
            opened = owner()
            assert opened is not None  # only called through the library
            return opened.embedder.encode(texts)

        features = _per_library[library] = PassageFeatures(library.passages, bm25_index(library), encode)
    return features


def features(
    library: Library,
    query: str,
    rows: Sequence[int],
    dense: Mapping[int, float],
    bm25: Mapping[int, float],
    document: np.ndarray | PassageScores | None,
    query_vector: np.ndarray | None,
    order: Sequence[int] | None = None,
    when: Mapping[int, float] | None = None,
) -> np.ndarray:
    """``PassageFeatures.matrix`` for an opened index (its features made on first use).

    Example:
        >>> features(library, "misuse of devices", [5244], {5244: 0.6}, {5244: 11.0}, None, None).shape  # doctest: +SKIP
        (1, 9)
    """
    return passage_features(library).matrix(query, rows, dense, bm25, document, query_vector, order=order, when=when)


def _vocabulary(library: Library) -> _Vocabulary:
    return passage_features(library).vocabulary


def _best_sentences(library: Library, rows: Sequence[int], query_vector: np.ndarray) -> dict[int, float]:
    return passage_features(library).best_sentences(rows, query_vector)


def score(matrix: np.ndarray, weights: Mapping[str, float] | None = None) -> np.ndarray:
    """The second-stage score of each candidate: the weighted sum of its features."""
    weights = WEIGHTS if weights is None else weights
    vector = np.array([weights.get(name, 0.0) for name in FEATURES], dtype=np.float64)
    return matrix @ vector
