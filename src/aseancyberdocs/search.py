"""Search an opened index and return cited Hits: dense, BM25 or hybrid, filtered and grouped.

A search runs in steps:

1. filters (document type, body, dates, documents, metadata) give the passages that may be
   returned, before anything is ranked or cut;
2. a query that is a document symbol ("A/RES/73/27") returns that document's passages in order;
   quoted phrases (``"knowingly allow their territory"``) keep only the passages holding them;
3. a retriever ranks the allowed passages: dense (cosine, FAISS), BM25 (``bm25.py``) or hybrid
   (both fused, ``fusion.py``; dense run again with the question's vector moved towards the
   best fused passages' vectors, ``FEEDBACK_DEPTH``; then the best fused candidates scored again by
   ``rerank.py`` with weights fitted on the dev queries);
4. agreed language is grouped: passages of one near-duplicate cluster (``grouping.py``) become
   one Hit citing the best-ranked occurrence, the others listed in ``Hit.also_in``.

The query flows one way: ``search`` takes from the Library what each step reads (the documents
and the document row of each passage for the filters; the FAISS index, BM25 and the document
matcher for the retrievers, loaded on first use; the cluster ids for the grouping) and hands
them on; the retrievers, fusion and grouping never call back into the Library. Citations and
Hits are made last, for the passages picked.

Example:
    >>> from aseancyberdocs import open_index
    >>> search(open_index(), "capacity-building", k=3)  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import logging
import re
import weakref
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date as Date
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from .filters import Filters, NoMatchError, allowed, make_filters
from .types import Citation, Document, Hit, Passage

if TYPE_CHECKING:
    from .bm25 import QueryScores
    from .grouping import ClusterMembers
    from .library import Library
    from .reading import PassageScores

logger = logging.getLogger(__name__)

MODES = ("hybrid", "dense", "bm25")
FUSIONS = ("rrf", "weighted")
# Chosen on the dev split of evaluation/queries.jsonl (124 queries, full reference corpus, k=10,
# grouped; evaluation/README.md): with passages indexed with their document line, Snowball stems
# and the field's terms spelled out, dense weight 0.3 / 0.4 / 0.5 gave R@5 0.751 / 0.763 / 0.733 and
# MRR@10 0.646 / 0.639 / 0.623 with the document boost at 0.1; the boost at 0 / 0.1 / 0.2 gave R@5
# 0.745 / 0.763 / 0.759 at dense weight 0.4. BM25 ranks better than the small dense model on these
# texts, so it gets the larger share. The weighted sum beat reciprocal rank fusion before (R@5 0.706
# vs 0.656 on all 145 original queries): RRF gives dense's weaker ranks as much say as BM25's.
DEFAULT_FUSION = "weighted"
DENSE_WEIGHT = 0.4  # the weighted fusion's weight on dense; BM25 gets the rest
FUSION_DEPTH = 100  # passages taken from each retriever before fusing
# Reading the question (reading.py). BM25 reads the query with the field's short forms spelled
# out; hybrid adds DOCUMENT_WEIGHT x (how well the question names the passage's document, best
# document 1.0) to the fused score, and also ranks the passages of the documents matching at
# least DOCUMENT_REACH that neither retriever reached.
EXPAND_QUERY = True
DOCUMENT_WEIGHT = 0.1
DOCUMENT_REACH = 1.0
# Dense pseudo-relevance feedback (Rocchio) in weighted hybrid search: the question's vector is
# moved towards the stored vectors of the first pass's FEEDBACK_DEPTH best fused passages,
# normalise(q + FEEDBACK_WEIGHT * their mean), and dense retrieval runs again with it. The small
# model places a question written in other words ("a launch pad for others' attacks") far from
# the text; the best passages that BM25 and the document match find carry the text's own words.
# Chosen on dev (evaluation/fit_rerank.py --cv --repeats 6, second stage refitted each time):
# 2-fold R@5 / MRR@10 0.835 / 0.714 without; depth 3 / 5 at weight 0.3 0.828 / 0.726, 0.836 /
# 0.728; at 0.5 0.835 / 0.730, 0.829 / 0.724; depth 4 at 0.4 0.826 / 0.722.
FEEDBACK_DEPTH = 3
FEEDBACK_WEIGHT = 0.5
# The second stage (rerank.py) scores the best fused candidates again with weights fitted on dev.
RERANK = True
GROUP_FETCH = 5  # with grouping, rank k * GROUP_FETCH passages first, then more if too few clusters
# A hit lists at most this many other occurrences of its agreed language (the oldest first) in
# ``Hit.also_in``, and counts the rest in ``Hit.also_in_more``. The bundled corpus's largest
# cluster has 21 passages (20 others, all listed); among millions of passages a stock paragraph
# recurs in thousands of documents (13,792 copies in the 10M benchmark), each a citation to make.
ALSO_IN_LIMIT = 20
# The most passages of the best-named documents added to the candidates (by BM25 score). In the
# reference corpus a question reaches at most 551 this way; among millions of passages the named
# documents can hold tens of thousands, each read and scored again.
REACH_LIMIT = 1000
# A question citing a place ("article 11 of the cybercrime convention", "A/RES/73/27, para. 1.3",
# "OP 4"; reading.cited_place) puts the passages at that place of the best-named documents first:
# CITED_WEIGHT x their document match x CITED_STEP ** (levels below the place cited) is added to
# their fused and second-stage scores (the second stage's scores stay below about 2.5), so that
# "article 11" shows its paragraphs before their sub-paragraphs. At most CITED_LIMIT of the named
# documents' passages have their labels read. Chosen on the dev half of evaluation/citations.jsonl
# (R@5 / MRR@10 0.333 / 0.250 without; weight 0.5, 1.0, 2.5: 0.806 / 0.693, 0.889 / 0.868,
# 0.972 / 0.896; 5.0 as 2.5; step 0.8, 0.6, 0.4: 1.000 / 0.958 each).
CITED_WEIGHT = 2.5
CITED_STEP = 0.8
CITED_LIMIT = 20_000
# The best fused candidates scored again (at least as many as the passages asked for); the others
# are left out. Each one scored is read from the store and tokenized: a question that names a
# document reaches up to REACH_LIMIT more candidates. The scaled features (dense and BM25, min-max
# normalised) span all the candidates, so those scored keep the scores they had when all were.
# On dev (evaluation/queries.jsonl, 124 queries) all / 200 / 100 / 60 gave the same R@5 0.870 and
# MRR@10 0.772 (test: 0.850 / 0.751 each) while the 124 queries took 2.6 / 1.6 / 1.6 / 1.5 s.
RERANK_DEPTH = 100
# From this many passages up, hybrid search encodes the question and runs its first dense pass in a
# second thread while BM25 adds up the question's postings (tens of milliseconds at millions).
AHEAD_ABOVE = 1_000_000


class Candidate(NamedTuple):
    """A retrieved passage: its row in ``Library.passages`` and its score (higher is better)."""

    index: int
    score: float


def check_query(query: str, k: int) -> str:
    """The query stripped; ValueError for an empty query or a ``k`` below 1."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
        raise ValueError(f"k must be an integer >= 1, got {k!r}")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if not isinstance(query, str) or not query.strip():
        raise ValueError(f"the query is empty: {query!r}")
    # Undecodable bytes of a command line arrive as lone surrogates, which tokenizers refuse.
    return query.strip().encode("utf-8", "replace").decode("utf-8")


def dense_candidates(
    index: Any, query_vector: np.ndarray, k: int, allowed: np.ndarray | None = None
) -> list[Candidate]:
    """The ``k`` passages whose vectors in ``index`` (a FAISS index, ``Library.faiss_index``) have
    the highest inner product (cosine) with ``query_vector``.

    ``allowed`` (a boolean mask over the passages) restricts the search exactly: FAISS searches
    only those ids (``IDSelectorBatch``) on a flat index, numpy scores their vectors on others.
    Score ties keep passage order.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    ids = None if allowed is None else np.flatnonzero(allowed).astype(np.int64)
    k = min(k, int(index.ntotal) if ids is None else len(ids))
    if k == 0:
        return []
    query = np.ascontiguousarray(query_vector, dtype=np.float32).reshape(1, -1)
    if ids is None:
        scores, indices = index.search(query, k)
        return [Candidate(int(i), float(s)) for i, s in zip(indices[0], scores[0]) if i >= 0]
    import faiss

    if isinstance(index, faiss.IndexFlat):
        params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(ids))
        scores, indices = index.search(query, k, params=params)
        return [Candidate(int(i), float(s)) for i, s in zip(indices[0], scores[0]) if i >= 0]
    # HNSW with a selector may miss allowed passages the graph does not reach: score them all.
    scores = index.reconstruct_batch(ids) @ query[0]
    order = top_rows(scores, np.arange(len(scores)), k)
    return [Candidate(int(ids[row]), float(scores[row])) for row in order]


def top_rows(scores: np.ndarray, rows: np.ndarray, depth: int) -> np.ndarray:
    """The ``depth`` of ``rows`` (ascending) with the highest ``scores``, best first, ties by row.

    The same as a stable sort of all of them cut at ``depth``, without sorting them all: among
    millions of rows a query pays for a partition, not a sort.

    Example:
        >>> top_rows(np.array([0.5, 2.0, 2.0, 1.0]), np.arange(4), 2).tolist()
        [1, 2]
    """
    values = scores[rows]
    if len(rows) > depth > 0:
        kth = np.partition(values, len(values) - depth)[len(values) - depth]  # the depth-th highest
        keep = values > kth
        ties = np.flatnonzero(values == kth)[: depth - int(keep.sum())]
        keep[ties] = True
        rows, values = rows[keep], values[keep]
    return rows[np.argsort(-values, kind="stable")][: max(depth, 0)]


def to_hits(library: Library, candidates: Sequence[Candidate]) -> list[Hit]:
    """Cited Hits for ``candidates``, ranked 1, 2, ... in the given order."""
    hits = []
    for rank, candidate in enumerate(candidates, start=1):
        passage = library.passages[candidate.index]
        document = library.documents[passage.doc_id]
        hits.append(
            Hit(
                rank=rank,
                score=candidate.score,
                passage=passage,
                citation=library.citation(candidate.index),
                doc_type=document.doc_type,
                source=document.source,
            )
        )
    return hits



def search(
    library: Library,
    query: str,
    *,
    k: int = 10,
    mode: str = "hybrid",
    group: bool = True,
    fusion: str | None = None,
    doc_type: str | Iterable[str] | None = None,
    body: str | None = None,
    since: str | Date | None = None,
    until: str | Date | None = None,
    doc: str | Iterable[str] | None = None,
    where: Mapping[str, Any] | None = None,
) -> list[Hit]:
    """The ``k`` passages of ``library`` that best answer ``query``.

    Args:
        library: an opened index.
        query: free text; ``"quoted phrases"`` must occur in the passage (case, white space and
            hyphens aside); a query that is a document symbol or id lists that document's passages.
        k: how many hits.
        mode: "hybrid" (dense and BM25 fused), "dense" (cosine of the embeddings) or "bm25".
        group: show agreed language (the same or nearly the same paragraph in several documents)
            as one hit, the other occurrences in ``Hit.also_in``.
        fusion: how hybrid fuses, "rrf" (reciprocal rank, k=60) or "weighted" (min-max
            normalised scores, ``DENSE_WEIGHT`` on dense); default ``DEFAULT_FUSION``.
        doc_type: keep these document types ("resolution", "draft resolution", ...).
        body: keep documents whose body contains this (case-insensitive), e.g. "First Committee".
        since: keep documents dated on or after this ISO date; undated documents are dropped.
        until: keep documents dated on or before this ISO date; undated documents are dropped.
        doc: keep these documents (doc ids or symbols).
        where: keep documents whose field or metadata ``key`` equals ``value`` (case-insensitive).

    Returns:
        Hits, best first, with 1-based ranks; ``score`` is the second stage's score (hybrid), the cosine
        (dense) or the BM25 score; ``scores`` holds each component.

    Raises:
        ValueError: empty query, ``k < 1``, an unknown mode, fusion or doc type, a malformed date.
        NoMatchError: the filters leave no passage (a ValueError too).
        ModelMismatchError: the library's query encoder is not the index's model.

    Example:
        >>> hits = search(open_index(), "protect critical infrastructure", k=3, since="2020-01-01")  # doctest: +SKIP
        >>> str(hits[0].citation), hits[0].scores  # doctest: +SKIP
        ('A/RES/76/19, para. 2 (p. 2)', {'dense': 0.61, 'bm25': 14.2, 'fused': 0.032})
    """
    query = check_query(query, k)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
    fusion = DEFAULT_FUSION if fusion is None else fusion
    if fusion not in FUSIONS:
        raise ValueError(f"fusion must be one of {', '.join(FUSIONS)}, got {fusion!r}")
    documents = library.documents
    filters = make_filters(documents, doc_type=doc_type, body=body, since=since, until=until, doc=doc, where=where)
    mask = filter_mask = allowed(documents, library.document_rows, filters)

    symbol = symbol_rows(documents, library.document_rows, library.passages, query)
    if symbol is not None:
        return _document_hits(library, symbol, mask, filters, k)

    phrases, text = split_phrases(query)
    if phrases:
        holding = phrase_mask(_normalised_texts(library), phrases)
        mask = holding if mask is None else mask & holding
        if not mask.any():
            return []
        text = text or " ".join(phrases)

    ranker = _Ranker(_sources(library), text, mode, fusion, mask)
    depth = k * GROUP_FETCH if group else k
    if group and mode == "hybrid" and fusion == "weighted" and RERANK:
        # The second stage scores RERANK_DEPTH candidates whatever the depth: collapse them all
        # before ranking deeper (a new first stage) for want of clusters.
        depth = max(depth, RERANK_DEPTH)
    if group:
        from .grouping import cluster_ids, collapse

        ids = cluster_ids(library)
        drafts = _document_facts(library).drafts
    while True:
        ranked = ranker.top(depth)
        picked = collapse(ranked, ids, drafts, library.document_rows, k) if group else ranked[:k]
        if not group or len(picked) >= k or ranker.complete(depth):
            break
        depth *= 4
    hits = []
    for rank, (row, score) in enumerate(picked, start=1):
        passage = library.passages[row]
        document = library.documents[passage.doc_id]
        also_in, more = _also_in(library, ids, row, filter_mask) if group else ((), 0)
        hits.append(
            Hit(
                rank=rank,
                score=score,
                passage=passage,
                citation=library.citation(row),
                doc_type=document.doc_type,
                source=document.source,
                scores=ranker.components(row),
                also_in=also_in,
                also_in_more=more,
            )
        )
    return hits


@dataclass(frozen=True, slots=True)
class _Sources:
    """What the retrievers of one query read, each loaded on its first use.

    ``search`` makes it from a Library, so the ranking below never calls back into the Library.
    """

    count: int  # passages in the index
    encode: Callable[[str], np.ndarray]  # the query encoder
    dense_index: Callable[[], Any]  # the FAISS index
    bm25: Callable[[], Any]  # the BM25Index
    matcher: Callable[[], Any]  # the reading.DocumentMatcher
    features: Callable[..., np.ndarray]  # rerank.PassageFeatures.matrix over this index's passages
    labels: Callable[[Sequence[int]], list[str]]  # the labels of passages by row


def _sources(library: Library) -> _Sources:
    from . import rerank
    from .bm25 import bm25_index
    from .reading import document_matcher
    from .store import read_passages

    return _Sources(
        count=len(library.passages),
        encode=library.encode_query,
        dense_index=lambda: library.faiss_index,
        bm25=lambda: bm25_index(library),
        matcher=lambda: document_matcher(library),
        features=lambda *args, **options: rerank.passage_features(library).matrix(*args, **options),
        labels=lambda rows: [passage.label for passage in read_passages(library.passages, rows)],
    )


class _Ranker:
    """Ranks the allowed passages for one query in one mode; keeps what it computed."""

    def __init__(self, sources: _Sources, text: str, mode: str, fusion: str, mask: np.ndarray | None) -> None:
        self.sources = sources
        self.text = text
        self.mode = mode
        self.fusion = fusion
        self.mask = mask
        self.allowed_count = sources.count if mask is None else int(mask.sum())
        self._vector: np.ndarray | None = None
        self.dense_vector: np.ndarray | None = None  # the question's vector after feedback, when used
        self._bm25: QueryScores | None = None
        self._named: np.ndarray | None = None  # the allowed passages of the best-named documents
        self._named_bm25: np.ndarray | None = None  # their BM25 scores
        self._fused: dict[int, float] = {}

    @property
    def vector(self) -> np.ndarray:
        if self._vector is None:
            self._vector = self.sources.encode(self.text)
        return self._vector

    @property
    def bm25(self) -> QueryScores:
        """The question's BM25 scores, computed for the passages asked about (bm25.QueryScores)."""
        if self._bm25 is None:
            self._bm25 = self.sources.bm25().query(self.bm25_query)
        return self._bm25

    def bm25_top(self, depth: int) -> list[Candidate]:
        rows, scores = self.bm25.top(depth, self.mask)
        return [Candidate(int(row), float(score)) for row, score in zip(rows, scores)]

    def top(self, depth: int) -> list[tuple[int, float]]:
        """The ``depth`` best passages as (row, score), best first."""
        if self.mode == "dense":
            return [tuple(c) for c in dense_candidates(self.sources.dense_index(), self.vector, depth, self.mask)]
        if self.mode == "bm25":
            return [tuple(c) for c in self.bm25_top(depth)]
        from .fusion import rrf

        reach = max(depth, FUSION_DEPTH)
        if self.fusion == "rrf":
            dense = dense_candidates(self.sources.dense_index(), self.vector, reach, self.mask)
            sparse = self.bm25_top(reach)
            fused = rrf({"dense": [c.index for c in dense], "bm25": [c.index for c in sparse]})
        else:
            dense_scores, sparse_scores, boost = self.first_stage(reach)
            cited = self.cited(boost, dense_scores, sparse_scores)
            fused = _lifted(fuse(dense_scores, sparse_scores, boost), cited)
            if RERANK:
                fused = self.second_stage(fused, dense_scores, sparse_scores, boost, max(depth, RERANK_DEPTH))
                fused = _lifted(fused, cited)
        self._fused = fused
        ranked = sorted(fused.items(), key=lambda item: (-item[1], item[0]))
        return ranked[:depth]

    def first_stage(self, reach: int) -> tuple[dict[int, float], dict[int, float], PassageScores | None]:
        """Each retriever's ``reach`` best (row -> score), with the best-named documents' passages
        added, and the document match per passage (None when unused).

        Dense retrieval runs twice when feedback is on (``FEEDBACK_DEPTH``): with the question's
        vector, then with ``feedback_vector`` made from that pass's best fused passages.
        """
        ahead = self._dense_ahead(reach)
        sparse_base = {c.index: c.score for c in self.bm25_top(reach)}
        if ahead is not None:  # the question's vector, the document match and the named passages are known after it
            found, boost = ahead.result()
        else:
            found, boost = None, self.document_boost()
        dense_scores, sparse_scores = self._candidates(self.vector, reach, sparse_base, boost, found)
        if FEEDBACK_DEPTH > 0 and FEEDBACK_WEIGHT > 0:
            fused = fuse(dense_scores, sparse_scores, boost)
            best = sorted(fused, key=lambda row: (-fused[row], row))[:FEEDBACK_DEPTH]
            self.dense_vector = feedback_vector(self.vector, self._vectors(best), FEEDBACK_WEIGHT)
            dense_scores, sparse_scores = self._candidates(self.dense_vector, reach, sparse_base, boost)
        return dense_scores, sparse_scores, boost

    def _dense_ahead(self, reach: int) -> _Ahead | None:
        """On a large index, what does not wait for BM25's sum started in a thread, to run while BM25
        adds up its postings in this one (None on a smaller index): the question's encoding, its
        first dense pass, the document match and the best-named documents' passages (their BM25
        scores looked up in the postings and the vectors of the best of them read). Its result:
        (the dense pass's candidates, the document match)."""
        if self.sources.count < AHEAD_ABOVE:
            return None
        _ = self.bm25  # made here: both threads read it

        def ahead() -> tuple[list[Candidate], PassageScores | None]:
            found = dense_candidates(self.sources.dense_index(), self.vector, reach, self.mask)
            boost = self.document_boost()
            if boost is not None:
                self._named_passages(boost)
                assert self._named is not None and self._named_bm25 is not None
                if len(self._named):  # their rows read ahead (kept by the row cache for _add_candidates)
                    depth = min(len(self._named), REACH_LIMIT + 2 * reach)
                    self._vectors(self._named[np.sort(top_rows(self._named_bm25, np.arange(len(self._named)), depth))])
            return found, boost

        return _Ahead(ahead)

    def _candidates(
        self,
        vector: np.ndarray,
        reach: int,
        sparse_base: dict[int, float],
        boost: PassageScores | None,
        found: list[Candidate] | None = None,
    ) -> tuple[dict[int, float], dict[int, float]]:
        """Dense's ``reach`` best for ``vector`` (``found``, when already searched) and BM25's (a copy of
        ``sparse_base``), the best-named documents' unreached passages added to both."""
        if found is None:
            found = dense_candidates(self.sources.dense_index(), vector, reach, self.mask)
        dense = {c.index: c.score for c in found}
        sparse = dict(sparse_base)
        if boost is not None:
            self._reach_named(boost, dense, sparse, vector)
        return dense, sparse

    def _vectors(self, rows: Sequence[int]) -> np.ndarray:
        """The stored vectors of passages ``rows`` (only those rows are read)."""
        return np.asarray(self.sources.dense_index().reconstruct_batch(np.asarray(rows, dtype=np.int64)))

    def second_stage(
        self,
        fused: dict[int, float],
        dense: dict[int, float],
        sparse: dict[int, float],
        boost: PassageScores | None,
        depth: int,
    ) -> dict[int, float]:
        """The ``depth`` best fused candidates scored again by ``rerank.py`` (its fitted weights);
        the others are left out."""
        from . import rerank

        rows = sorted(fused, key=lambda row: (-fused[row], row))[:depth]
        # Sentences are embedded only when their feature weighs something.
        vector = self.vector if rerank.WEIGHTS.get("sentence") else None
        matrix = self.sources.features(self.bm25_query, rows, dense, sparse, boost, vector, order=rows, when=self.when(rows))
        return {row: float(score) for row, score in zip(rows, rerank.score(matrix))}

    def when(self, rows: Sequence[int]) -> dict[int, float] | None:
        """For a question asking for the latest or the earliest text (reading.time_order), row ->
        its document's day number, negated for the earliest; None for other questions."""
        from . import rerank

        return self.sources.matcher().days_in_order(self.text, rows) if rerank.WEIGHTS.get("recency") else None

    @functools.cached_property
    def bm25_query(self) -> str:
        """The query as BM25 reads it (read once: BM25 and the second stage both use it)."""
        from .reading import bm25_query

        return bm25_query(self.text, self.sources.bm25()) if EXPAND_QUERY else self.text

    def document_boost(self) -> PassageScores | None:
        """Per passage, how well the question names its document (reading.py); None when unused."""
        if DOCUMENT_WEIGHT <= 0:
            return None
        boost = self.sources.matcher().passage_scores(self.text)
        return boost if boost.any() else None

    def cited(
        self, boost: PassageScores | None, dense: dict[int, float], sparse: dict[int, float]
    ) -> dict[int, float]:
        """Row -> the lift of the best-named documents' passages at the place the question cites
        (reading.cited_place): CITED_WEIGHT x document match x CITED_STEP ** levels below the place.
        They are added to the candidates; empty when the question cites no place."""
        from .reading import cited_place

        place = cited_place(self.text) if CITED_WEIGHT > 0 else None
        if place is None or boost is None or self._named is None or not len(self._named):
            return {}
        named = self._named[:CITED_LIMIT].tolist()
        depths = {row: depth for row, label in zip(named, self.sources.labels(named))
                  if (depth := place.depth(label)) is not None}
        if not depths:
            return {}
        rows = np.fromiter(depths, dtype=np.int64, count=len(depths))
        self._add_candidates(rows, dense, sparse, self.dense_vector if self.dense_vector is not None else self.vector)
        return {
            row: CITED_WEIGHT * float(value) * CITED_STEP ** depths[row]
            for row, value in zip(rows.tolist(), boost[rows].tolist())
        }

    def _reach_named(
        self, boost: PassageScores, dense: dict[int, float], sparse: dict[int, float], vector: np.ndarray
    ) -> None:
        """Add to the candidates the passages of the best-named documents that neither retriever
        reached (scored with ``vector``): at most ``REACH_LIMIT``, those BM25 scores best."""
        self._named_passages(boost)
        assert self._named is not None and self._named_bm25 is not None
        self._add_candidates(self._named, dense, sparse, vector, REACH_LIMIT, self._named_bm25)

    def _named_passages(self, boost: PassageScores) -> None:
        """The allowed passages of the best-named documents and their BM25 scores, found once (the
        same for both dense passes)."""
        if self._named is None or self._named_bm25 is None:
            named = boost.rows_at_least(DOCUMENT_REACH)
            named = named[self.mask[named]] if self.mask is not None else named
            self._named_bm25 = self.bm25.at(named)
            self._named = named

    def _add_candidates(
        self,
        rows: np.ndarray,
        dense: dict[int, float],
        sparse: dict[int, float],
        vector: np.ndarray,
        limit: int | None = None,
        lexical: np.ndarray | None = None,
    ) -> None:
        """Score ``rows`` that neither retriever reached with ``vector`` and BM25 and add them to
        the candidates: at most ``limit`` of them, those BM25 scores best (``lexical``: the BM25
        scores of ``rows``, when known)."""
        reached = np.fromiter([*dense, *sparse], dtype=np.int64, count=len(dense) + len(sparse))
        unreached = ~np.isin(rows, reached)
        rows = rows[unreached]
        if not len(rows):
            return
        lexical = self.bm25.at(rows) if lexical is None else lexical[unreached]
        if limit is not None and len(rows) > limit:
            best = np.sort(top_rows(lexical, np.arange(len(rows)), limit))
            rows, lexical = rows[best], lexical[best]
        # Only these rows' vectors: a corpus of millions of passages is never read whole per query.
        for row, score, value in zip(rows.tolist(), self._vectors(rows) @ vector, lexical.tolist()):
            dense[row] = float(score)
            if value > 0:
                sparse[row] = float(value)

    def complete(self, depth: int) -> bool:
        """Whether ``top(depth)`` already ranked every passage that can be ranked."""
        reach = depth if self.mode != "hybrid" else max(depth, FUSION_DEPTH)
        return reach >= self.allowed_count

    def components(self, row: int) -> dict[str, float]:
        """The dense, BM25 and fused scores of passage ``row``, as far as this mode computed them.

        ``dense`` is the passage's cosine with the question as written, also when feedback moved
        the vector that dense retrieval ranked with.
        """
        scores: dict[str, float] = {}
        if self._vector is not None:
            vector = self.sources.dense_index().reconstruct(int(row))
            scores["dense"] = float(np.dot(vector, self._vector))
        scores["bm25"] = float(self.bm25.at([row])[0])
        if self.mode == "hybrid":
            scores["fused"] = float(self._fused.get(row, 0.0))
        return scores


class _Ahead:
    """A call run in a thread of its own; ``result`` waits for it and returns or raises what it did."""

    def __init__(self, call: Callable[[], Any]) -> None:
        import threading

        self._call = call
        self._value: Any = None
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="aseancyberdocs-dense", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self._value = self._call()
        except BaseException as exc:  # noqa: BLE001 - raised again by result(), in the asking thread
            self._error = exc

    def result(self) -> Any:
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._value


def _lifted(scores: dict[int, float], lift: Mapping[int, float]) -> dict[int, float]:
    """``scores`` with ``lift`` added to the rows it names (those ``scores`` holds)."""
    for row, value in lift.items():
        if row in scores:
            scores[row] += value
    return scores


def fuse(dense: Mapping[int, float], sparse: Mapping[int, float], boost: PassageScores | None) -> dict[int, float]:
    """The first stage's fused score: ``DENSE_WEIGHT`` x dense + the rest x BM25 (each min-max
    normalised over its list), plus ``DOCUMENT_WEIGHT`` x the document match.

    Example:
        >>> fuse({1: 0.9, 2: 0.5}, {2: 12.0, 3: 4.0}, None) == {1: 0.4, 2: 0.6, 3: 0.0}
        True
    """
    from .fusion import weighted

    fused = weighted({"dense": dense, "bm25": sparse}, {"dense": DENSE_WEIGHT, "bm25": 1.0 - DENSE_WEIGHT})
    if boost is not None and fused:
        rows = np.fromiter(fused, dtype=np.int64, count=len(fused))
        fused = {row: score + DOCUMENT_WEIGHT * float(value)
                 for (row, score), value in zip(fused.items(), boost[rows].tolist())}
    return fused


def feedback_vector(question: np.ndarray, feedback: np.ndarray, weight: float) -> np.ndarray:
    """Rocchio feedback: ``question`` moved towards the mean of the ``feedback`` rows, L2-normalised.

    Args:
        question: the question's vector, shape (dimension,).
        feedback: the vectors of the passages taken as relevant, shape (n, dimension); none: unchanged.
        weight: how far towards their mean (0: not at all).

    Example:
        >>> np.allclose(feedback_vector(np.array([1.0, 0.0]), np.array([[0.0, 1.0], [0.0, 1.0]]), 1.0), [0.5**0.5, 0.5**0.5])
        True
    """
    if not len(feedback) or weight == 0:
        return question
    moved = np.asarray(question, dtype=np.float32) + np.float32(weight) * np.asarray(feedback, dtype=np.float32).mean(axis=0)
    norm = float(np.linalg.norm(moved))
    return moved / norm if norm > 0 else np.asarray(question, dtype=np.float32)


class _DocumentFacts(NamedTuple):
    drafts: np.ndarray  # per document row: whether the document is a draft
    history: list[tuple[str, str]]  # per document row: (date, doc_id) as ``also_in`` orders them


_facts: weakref.WeakKeyDictionary[Any, _DocumentFacts] = weakref.WeakKeyDictionary()


def _document_facts(library: Library) -> _DocumentFacts:
    """What grouping reads of every document of ``library``, from one read of their fields."""
    facts = _facts.get(library)
    if facts is None:
        from .store import document_fields

        fields = document_fields(library.documents)
        facts = _facts[library] = _DocumentFacts(
            np.fromiter((item.doc_type.startswith("draft") for item in fields), dtype=bool, count=len(fields)),
            [(item.date or "9999", item.doc_id) for item in fields],
        )
    return facts


_members: weakref.WeakKeyDictionary[Any, ClusterMembers] = weakref.WeakKeyDictionary()


def _also_in(
    library: Library, ids: Sequence[int], row: int, mask: np.ndarray | None
) -> tuple[tuple[Citation, ...], int]:
    """Citations of the other passages of ``row``'s cluster that pass the filters, oldest first,
    at most ``ALSO_IN_LIMIT`` of them, and how many more there are."""
    from .grouping import ClusterMembers, others_in_cluster

    members = _members.get(library)
    if members is None:
        members = _members[library] = ClusterMembers(ids)
    others = others_in_cluster(members, ids, row, mask)
    # Undated documents last; then by symbol and place, so the list reads as a history.
    if len(others) > ALSO_IN_LIMIT:
        # Only the listed ones become citations: ordered by their documents' fields.
        keys, documents = _document_facts(library).history, library.document_rows
        others = sorted(others, key=lambda other: (*keys[int(documents[other])], other))
        more = len(others) - ALSO_IN_LIMIT
        if hasattr(library.passages, "many"):  # a stored index: the listed passages read in one query
            library.passages.many(others[:ALSO_IN_LIMIT])
        return tuple(library.citation(other) for other in others[:ALSO_IN_LIMIT]), more
    citations = [library.citation(index) for index in others]
    order = sorted(range(len(others)), key=lambda i: (citations[i].date or "9999", citations[i].doc_id, others[i]))
    return tuple(citations[i] for i in order), 0


# --------------------------------------------------------------------------------------------
# Symbol lookups and phrases

_PHRASE = re.compile(r'"([^"]*)"|\u201c([^\u201d]*)\u201d')
_DASHES = re.compile(r"[\-\u2010-\u2015\u2212]")


def symbol_rows(
    documents: Mapping[str, Document], document_rows: np.ndarray, passages: Sequence[Passage], query: str
) -> list[int] | None:
    """The passage rows, in document order, of the document whose symbol or id the query is; else None.

    ``documents`` are an index's documents in row order, ``document_rows`` the document row of each
    passage: only the passages of the document found are read. File-name spelling ("A_RES_73_27")
    and case are accepted.
    """
    wanted = query.strip().replace("_", "/").casefold()
    if " " in wanted:
        return None
    for position, document in enumerate(documents.values()):
        names = {document.doc_id.casefold(), (document.symbol or "").casefold()}
        if wanted in names:
            rows = [int(row) for row in np.flatnonzero(np.asarray(document_rows) == position)]
            return sorted(rows, key=lambda row: passages[row].start)
    return None


def _document_hits(
    library: Library, rows: list[int], mask: np.ndarray | None, filters: Filters, k: int
) -> list[Hit]:
    kept = [row for row in rows if mask is None or mask[row]]
    if not kept:
        raise NoMatchError(f"no passage matches the filters: {filters.describe()}")
    return to_hits(library, [Candidate(row, 1.0) for row in kept[:k]])


def normalise_phrase(text: str) -> str:
    """Lower case, dashes and soft hyphens as spaces, white space collapsed: how phrases are matched."""
    text = _DASHES.sub(" ", text.replace("\u00ad", "").lower())
    return " ".join(text.split())


def split_phrases(query: str) -> tuple[list[str], str]:
    """The quoted phrases of ``query`` and the query without its quote marks.

    Example:
        >>> split_phrases('"knowingly allow their territory" ICTs')
        (['knowingly allow their territory'], 'knowingly allow their territory ICTs')
    """
    phrases = [normalise_phrase(a or b) for a, b in _PHRASE.findall(query)]
    phrases = [phrase for phrase in phrases if phrase]
    text = " ".join(_PHRASE.sub(lambda m: m.group(1) or m.group(2) or "", query).split())
    return phrases, text


_normalised: weakref.WeakKeyDictionary[Any, list[str]] = weakref.WeakKeyDictionary()


def _normalised_texts(library: Library) -> list[str]:
    """Every passage text of ``library``, normalised as phrases are matched (kept once computed)."""
    texts = _normalised.get(library)
    if texts is None:
        texts = _normalised[library] = [normalise_phrase(passage.text) for passage in library.passages]
    return texts


def phrase_mask(texts: Sequence[str], phrases: Sequence[str]) -> np.ndarray:
    """A mask of the passages whose normalised text (``normalise_phrase``) holds every one of ``phrases``."""
    return np.fromiter((all(phrase in text for phrase in phrases) for text in texts), dtype=bool, count=len(texts))
