"""Search an opened index and return cited Hits.

Search runs in two steps so that other retrievers (BM25, hybrid fusion) and filters can slot in:
a retriever turns a query into ranked ``Candidate``s (passage index and score), then
``to_hits`` turns candidates into typed, cited ``Hit``s.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from .types import Hit

if TYPE_CHECKING:
    from .index import Library

logger = logging.getLogger(__name__)


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
    return query.strip()


def dense_candidates(library: Library, query_vector: np.ndarray, k: int) -> list[Candidate]:
    """The ``k`` passages whose vectors have the highest inner product (cosine) with ``query_vector``.

    FAISS breaks score ties by passage order, so equal scores keep index order.
    """
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    k = min(k, len(library.passages))
    if k == 0:
        return []
    query = np.ascontiguousarray(query_vector, dtype=np.float32).reshape(1, -1)
    scores, indices = library.faiss_index.search(query, k)
    return [Candidate(int(index), float(score)) for index, score in zip(indices[0], scores[0]) if index >= 0]


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


def search(library: Library, query: str, *, k: int = 10) -> list[Hit]:
    """The ``k`` passages of ``library`` closest in meaning to ``query`` (dense retrieval).

    Args:
        library: an opened index.
        query: free text.
        k: how many hits (at most the number of passages).

    Returns:
        Hits, best first, with 1-based ranks and cosine scores.

    Raises:
        ValueError: empty query or ``k < 1``.
        ModelMismatchError: the library's query encoder is not the index's model.

    Example:
        >>> hits = search(open_index(), "protect critical infrastructure from ICT attacks", k=3)  # doctest: +SKIP
        >>> str(hits[0].citation)  # doctest: +SKIP
        'A/RES/73/27, para. 1.6 (p. 4)'
    """
    query = check_query(query, k)
    return to_hits(library, dense_candidates(library, library.encode_query(query), k))
