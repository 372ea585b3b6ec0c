"""Agreed language: clusters of passages whose words are the same or nearly the same.

UN texts repeat themselves: a draft (A/C.1/80/L.20) and the resolution adopted from it
(A/RES/80/16) hold the same paragraphs, and a preambular paragraph comes back every year with
only the session ordinal changed. Search shows such a cluster once, citing its most relevant
occurrence and listing the others in ``Hit.also_in``.

Similarity is the Jaccard index of word 3-shingles after normalisation (lower case; every dash
and hyphen a space, so "non‑discriminatory" with U+2011 equals "non-discriminatory"; soft
hyphens dropped; number words such as "seventy-ninth" or "eightieth" replaced by one token, so a
paragraph repeated with the next session's ordinal stays the same text). Digits are kept: a
resolution number is substance ("Recalling its resolution 73/27" is not "... 74/28").

Clusters are the connected components of the pairs at or above ``THRESHOLD``, found with exact
prefix filtering (Chaudhuri et al. 2006; Bayardo et al. 2007): two sets with Jaccard >= t share
at least one of the first ``|s| - ceil(t |s|) + 1`` shingles of each, shingles ordered rarest
first, so only pairs sharing a rare shingle are compared. They are computed at build time and
stored as ``clusters.json`` (the cluster id of each passage, in passage order).

At query time ``collapse`` and ``others_in_cluster`` work on the cluster ids and the document
rows alone (search.py hands them over); ``cluster_ids`` reads them from an opened index.
"""

from __future__ import annotations

import json
import logging
import math
import re
import weakref
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import IndexIntegrityError
from .types import Passage

if TYPE_CHECKING:
    from .library import Library

logger = logging.getLogger(__name__)

SHINGLE = 3
# Measured on the reference corpus (9,281 passages; README.md, "Searching"): among the ~1 million
# passage pairs sharing two shingles the Jaccard histogram has no clean valley, so pairs were read
# by eye. At 0.60-0.80 most are different texts in a stock frame
# ("Decides to include in the provisional agenda ... the sub-item entitled 'Regional
# disarmament'" against "... 'Treaty on the Prohibition of Nuclear Weapons'", 0.71; two lists of
# recalled resolutions, 0.70-0.77); from 0.80 up they are the same paragraph with a word, clause
# or footnote number changed ("in particular those whose" / "the nine whose", 0.84). Clusters are
# connected components, so a low threshold chains: at 0.80, 5 of the 1,984 clusters join
# different agenda items ("Regional disarmament" with "Nuclear disarmament"), at 0.85 one does
# ("Report of the Disarmament Commission" / "... Conference on Disarmament"), at 0.90 none, but
# 138 more passages stay alone. 0.85 it is.
THRESHOLD = 0.85

_WORD = re.compile(r"[^\W\d_]+|\d+")
_DASHES = re.compile(r"[\-\u2010-\u2015\u2212]")
_NUMBER_WORDS = frozenset(
    """one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
    sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred
    first second third fourth fifth sixth seventh eighth ninth tenth eleventh twelfth thirteenth
    fourteenth fifteenth sixteenth seventeenth eighteenth nineteenth twentieth thirtieth fortieth
    fiftieth sixtieth seventieth eightieth ninetieth hundredth""".split()
)


def normalised_words(text: str) -> list[str]:
    """The words compared for agreed language: lower case, dashes split, number words as "#"."""
    text = _DASHES.sub(" ", text.lower().replace("\u00ad", ""))
    out: list[str] = []
    for word in _WORD.findall(text):
        if word in _NUMBER_WORDS:
            if out and out[-1] == "#":  # "seventy ninth" is one ordinal
                continue
            word = "#"
        out.append(word)
    return out


def shingles(text: str, size: int = SHINGLE) -> frozenset[tuple[str, ...]]:
    """The set of ``size``-word shingles of ``text`` (the whole word sequence when shorter)."""
    words = normalised_words(text)
    if len(words) < size:
        return frozenset([tuple(words)]) if words else frozenset()
    return frozenset(tuple(words[i : i + size]) for i in range(len(words) - size + 1))


def jaccard(first: frozenset, second: frozenset) -> float:
    """|A & B| / |A | B|; 0 for two empty sets."""
    union = len(first | second)
    return len(first & second) / union if union else 0.0


def similar_pairs(texts: Sequence[str], threshold: float = THRESHOLD) -> list[tuple[int, int, float]]:
    """Every pair (i, j, jaccard) with i < j and shingle Jaccard >= ``threshold`` (exact).

    Example:
        >>> similar_pairs(["States should not knowingly allow their territory to be used",
        ...                "States should not knowingly allow their territory to be used", "Other words"])
        [(0, 1, 1.0)]
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    sets = [shingles(text) for text in texts]
    frequency = Counter(gram for grams in sets for gram in grams)
    # Rarest first, ties broken by the shingle itself so the order is the same on every run.
    ordered = [sorted(grams, key=lambda gram: (frequency[gram], gram)) for grams in sets]
    postings: dict[tuple[str, ...], list[int]] = defaultdict(list)
    pairs = []
    for i in sorted(range(len(sets)), key=lambda i: (len(sets[i]), i)):
        size = len(sets[i])
        if not size:
            continue
        prefix = size - math.ceil(threshold * size - 1e-9) + 1
        candidates: set[int] = set()
        for gram in ordered[i][:prefix]:
            candidates.update(postings[gram])
            postings[gram].append(i)
        for j in candidates:
            # Sets are visited by size: |other| <= size, and Jaccard <= |other| / size.
            if len(sets[j]) < threshold * size - 1e-9:
                continue
            similarity = jaccard(sets[i], sets[j])
            if similarity >= threshold:
                pairs.append((min(i, j), max(i, j), similarity))
    return sorted(pairs)


def clusters(texts: Sequence[str], threshold: float = THRESHOLD) -> list[int]:
    """The cluster id of each text: the smallest index of its connected component of similar pairs.

    Example:
        >>> clusters(["a b c d", "x y z", "A b c d"])
        [0, 1, 0]
    """
    parent = list(range(len(texts)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j, _ in similar_pairs(texts, threshold):
        a, b = root(i), root(j)
        if a != b:
            parent[max(a, b)] = min(a, b)
    return [root(i) for i in range(len(texts))]


def collapse(
    ranked: Sequence[tuple[int, float]], ids: Sequence[int], drafts: Any, document_rows: Any, k: int
) -> list[tuple[int, float]]:
    """The first passage of each agreed-language cluster, in rank order, at most ``k``.

    ``ranked`` holds (passage row, score) pairs, best first; ``ids`` the cluster id of each
    passage (``cluster_ids``); ``drafts`` whether each document row is a draft and
    ``document_rows`` the document row of each passage. Equal scores put an adopted text before
    its draft.

    Example:
        >>> collapse([(0, 0.9), (1, 0.9), (2, 0.5)], [0, 0, 2], [True, False], [0, 1, 1], 2)
        [(1, 0.9), (2, 0.5)]
    """
    seen: set[int] = set()
    picked = []
    # The same text in a draft and in the adopted resolution scores the same: cite the adopted one.
    order = {row: position for position, (row, _) in enumerate(ranked)}
    ranked = sorted(ranked, key=lambda item: (-round(item[1], 9), bool(drafts[document_rows[item[0]]]), order[item[0]]))
    for row, score in ranked:
        if ids[row] in seen:
            continue
        seen.add(ids[row])
        picked.append((row, score))
        if len(picked) == k:
            break
    return picked


class ClusterMembers:
    """The passage rows of each cluster id, in row order: ``members[cluster]``.

    Two arrays (the rows sorted by cluster id, stably, and the ids in that order) rather than a
    dict of lists: a few bytes a passage instead of a Python int each, and made by one sort.

    Example:
        >>> ClusterMembers([4, 7, 4, 1])[4]
        [0, 2]
    """

    def __init__(self, ids: Sequence[int]) -> None:
        ids = np.asarray(ids, dtype=np.int64)
        self.rows = np.argsort(ids, kind="stable")
        self.ids = ids[self.rows]

    def __getitem__(self, cluster: int) -> list[int]:
        start = int(np.searchsorted(self.ids, cluster, side="left"))
        stop = int(np.searchsorted(self.ids, cluster, side="right"))
        if start == stop:
            raise KeyError(cluster)
        return self.rows[start:stop].tolist()


def others_in_cluster(members: ClusterMembers, ids: Sequence[int], row: int, mask: Any = None) -> list[int]:
    """The other passages of ``row``'s cluster, in row order, that ``mask`` (if any) allows."""
    return [other for other in members[ids[row]] if other != row and (mask is None or mask[other])]


# --------------------------------------------------------------------------------------------
# The index file and the per-library cache

CLUSTERS_FILE = "clusters.json"
_cache: weakref.WeakKeyDictionary[Any, np.ndarray] = weakref.WeakKeyDictionary()


def write_clusters(folder: Path, passages: Sequence[Passage]) -> str:
    """Write ``clusters.json`` (threshold, shingle size, cluster id per passage); its file name."""
    ids = clusters([passage.text for passage in passages])
    data = {"measure": "jaccard of word shingles", "shingle": SHINGLE, "threshold": THRESHOLD, "clusters": ids}
    (folder / CLUSTERS_FILE).write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")
    return CLUSTERS_FILE


def cluster_ids(library: Library) -> np.ndarray:
    """The cluster id of each passage of ``library``, read from the index on first use.

    An index built before clusters were stored has no ``clusters.json``: the clusters are then
    computed from its passages (about 2 s for the reference corpus) and kept for the library's life.

    Raises:
        IndexIntegrityError: ``clusters.json`` changed since the index was opened, or is malformed.
    """
    ids = _cache.get(library)
    if ids is None:
        from .bm25 import index_file_bytes

        data = index_file_bytes(library, CLUSTERS_FILE)
        if data is None:
            logger.info("%s has no %s: computing agreed-language clusters", library.index_dir, CLUSTERS_FILE)
            ids = clusters([passage.text for passage in library.passages])
        else:
            try:
                ids = json.loads(data)["clusters"]
            except (ValueError, KeyError, TypeError) as exc:
                raise IndexIntegrityError(f"{library.index_dir}: {CLUSTERS_FILE} is malformed: {exc}") from exc
            if not isinstance(ids, list) or len(ids) != len(library.passages):
                raise IndexIntegrityError(
                    f"{library.index_dir}: {CLUSTERS_FILE} does not hold one cluster id per passage"
                )
        # An array, not a list: 8 bytes a passage instead of a Python int each (tens of MB at 10M).
        try:
            array = np.asarray(ids) if len(ids) else np.zeros(0, dtype=np.int64)
        except (ValueError, TypeError, OverflowError) as exc:
            raise IndexIntegrityError(f"{library.index_dir}: {CLUSTERS_FILE} holds a cluster id that is not an integer") from exc
        if array.dtype.kind not in "iu" or array.ndim != 1:
            raise IndexIntegrityError(f"{library.index_dir}: {CLUSTERS_FILE} holds a cluster id that is not an integer")
        ids = _cache[library] = array.astype(np.int64, copy=False)
    return ids
