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

Above ``MINHASH_ABOVE`` passages the exact join's sets of shingles (tuples of strings, a few
hundred bytes a shingle) would not fit in memory, and a passage recurring in thousands of
documents makes its rare shingles common. There the pairs come from MinHash LSH (Broder 1997;
Indyk and Motwani 1998; Leskovec et al., *Mining of Massive Datasets*, ch. 3): each passage's
shingles hashed to 64 bits and reduced to ``PERMUTATIONS`` minima under as many hash functions,
cut into ``BANDS`` bands of ``BAND_ROWS``; passages with an equal band are candidates, joined
when their signatures agree on at least ``THRESHOLD`` of the minima (the estimate of their
Jaccard). No pair is compared unless a band matched, the work grows with the passages, and the
memory is one signature (``PERMUTATIONS`` 32-bit numbers) a passage. On the reference corpus it
gives the exact join's clusters but for a few passages near the threshold (``minhash_clusters``).

At query time ``collapse`` and ``others_in_cluster`` work on the cluster ids and the document
rows alone (search.py hands them over); ``cluster_ids`` reads them from an opened index.
"""

from __future__ import annotations

import json
import logging
import math
import re
import weakref
import zlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
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
    words = _WORD.findall(text)
    if _NUMBER_WORDS.isdisjoint(words):
        return words
    out: list[str] = []
    for word in words:
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


# --------------------------------------------------------------------------------------------
# MinHash LSH, for collections too large for the exact join

# Above this many passages the build's clusters come from MinHash LSH (``minhash_clusters``).
MINHASH_ABOVE = 200_000
# 16 bands of 8 minima: a pair at Jaccard 0.85 shares a band with probability 0.994, at 0.80
# 0.95, at 0.60 0.24 (1 - (1 - J^8)^16); candidates are then kept at the estimate >= THRESHOLD,
# whose standard error from 128 minima is 0.03 at 0.85.
PERMUTATIONS = 128
BANDS, BAND_ROWS = 16, 8
_SEED = 20_181_205
_EMPTY = np.uint32(0xFFFFFFFF)


def _combine(key: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``key`` extended by ``values`` in order, well spread (splitmix64's finaliser; uint64)."""
    with np.errstate(over="ignore"):
        key = key * np.uint64(0x9E3779B97F4A7C15) + values
        key = (key ^ (key >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        key = (key ^ (key >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return key ^ (key >> np.uint64(31))


class MinHasher:
    """MinHash signatures of texts' word shingles (as ``shingles`` makes them), in numpy.

    A word's hash is its CRC-32 (the same on every run and machine), a shingle's the mix of its
    words' in order; hash function ``j`` maps a shingle hash ``h`` to the high 32 bits of
    ``a_j * h + b_j`` (mod 2^64, ``a_j`` odd), and a signature holds each function's minimum
    over the text's shingles. A text without words gets a signature of 0xFFFFFFFF that matches
    no other (``minhash_clusters`` leaves it alone, as the exact join does).
    """

    def __init__(self, permutations: int = PERMUTATIONS, seed: int = _SEED) -> None:
        rng = np.random.default_rng(seed)
        self.permutations = permutations
        self.a = rng.integers(1, 1 << 63, permutations, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
        self.b = rng.integers(0, 1 << 63, permutations, dtype=np.uint64)
        self._words: dict[str, int] = {}

    def _word_hashes(self, words: list[str]) -> list[int]:
        cache = self._words
        out = []
        for word in words:
            value = cache.get(word)
            if value is None:
                if len(cache) > 1_000_000:
                    cache.clear()
                value = cache[word] = zlib.crc32(word.encode("utf-8")) + 1
            out.append(value)
        return out

    def shingle_hashes(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """The 64-bit hashes of each text's shingles, joined, and each text's first position.

        A text shorter than ``SHINGLE`` words has its whole word sequence as one shingle; a text
        without words has none (its start equals the next text's).
        """
        flat: list[int] = []
        starts = np.zeros(len(texts) + 1, dtype=np.int64)
        for i, text in enumerate(texts):
            flat.extend(self._word_hashes(normalised_words(text)))
            flat.append(0)  # a separator: no shingle spans two texts
            starts[i + 1] = len(flat)
        words = np.asarray(flat, dtype=np.uint64)
        lengths = np.diff(starts) - 1
        hashes = np.zeros(len(words), dtype=np.uint64)
        for offset in range(SHINGLE):
            shifted = np.zeros(len(words), dtype=np.uint64)
            shifted[: len(words) - offset] = words[offset:]
            hashes = _combine(hashes, shifted)
        # A shingle starting at word i of a text is whole when i + SHINGLE <= its length; a short
        # text keeps the one "shingle" at its first word, which mixes its words and the separator.
        position = np.arange(len(words), dtype=np.int64) - np.repeat(starts[:-1], lengths + 1)
        length = np.repeat(lengths, lengths + 1)
        keep = (position + SHINGLE <= length) | ((position == 0) & (length > 0) & (length < SHINGLE))
        counts = np.add.reduceat(keep, starts[:-1]) if len(texts) else np.zeros(0, dtype=np.int64)
        out_starts = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(counts, out=out_starts[1:])
        return hashes[keep], out_starts

    def signatures(self, texts: Sequence[str]) -> np.ndarray:
        """One row of ``permutations`` uint32 minima per text."""
        hashes, starts = self.shingle_hashes(texts)
        out = np.full((len(texts), self.permutations), _EMPTY, dtype=np.uint32)
        filled = np.flatnonzero(np.diff(starts) > 0)
        if not len(filled):
            return out
        for first in range(0, self.permutations, 32):  # 32 functions at a time bound the memory
            a, b = self.a[first : first + 32, None], self.b[first : first + 32, None]
            with np.errstate(over="ignore"):
                values = ((a * hashes[None, :] + b) >> np.uint64(32)).astype(np.uint32)
            out[filled, first : first + 32] = np.minimum.reduceat(values, starts[filled], axis=1).T
        return out


def band_key(band: np.ndarray) -> np.ndarray:
    """One 64-bit key per row of ``band`` (a signature's columns of one band): equal bands, equal keys."""
    key = np.zeros(len(band), dtype=np.uint64)
    for column in range(band.shape[1]):
        key = _combine(key, band[:, column].astype(np.uint64))
    return key


def minhash_clusters(
    texts: Iterable[str], threshold: float = THRESHOLD, *, batch: int = 4096, signatures: np.ndarray | None = None
) -> np.ndarray:
    """The cluster id of each text, as ``clusters`` gives it, from MinHash LSH (int64 array).

    Candidate pairs are texts with an equal band (``BANDS`` of ``BAND_ROWS`` minima); within a
    band's group of equal keys, in row order, each text is compared with the group's first and
    with the one before it, unless the two are already in one cluster, and a pair whose
    signatures agree on ``threshold`` or more of their minima is joined (union-find in numpy).
    Each cluster is named by its smallest row. ``signatures`` (``MinHasher.signatures``' rows,
    an array or a memory map) skips the hashing.

    Example:
        >>> minhash_clusters(["a b c d", "x y z", "A b c d"]).tolist()
        [0, 1, 0]
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    if signatures is None:
        hasher, parts, chunk = MinHasher(), [], []
        for text in texts:
            chunk.append(text)
            if len(chunk) == batch:
                parts.append(hasher.signatures(chunk))
                chunk = []
        if chunk:
            parts.append(hasher.signatures(chunk))
        signatures = np.concatenate(parts) if parts else np.zeros((0, PERMUTATIONS), dtype=np.uint32)
    count = len(signatures)
    needed = math.ceil(threshold * signatures.shape[1] - 1e-9)
    roots = np.arange(count, dtype=np.int64)
    for band in range(BANDS):
        keys = band_key(np.asarray(signatures[:, band * BAND_ROWS : (band + 1) * BAND_ROWS]))
        order = np.argsort(keys, kind="stable")  # rows ascending within a key
        ordered = keys[order]
        del keys
        same = ordered[1:] == ordered[:-1]
        del ordered
        follower = np.flatnonzero(np.r_[False, same])
        if not len(follower):
            continue
        group_start = np.maximum.accumulate(np.where(np.r_[True, ~same], np.arange(count), 0))[follower]
        left = np.concatenate([order[group_start], order[follower - 1]])
        right = np.concatenate([order[follower], order[follower]])
        del order, group_start, follower, same
        apart = roots[left] != roots[right]
        left, right = left[apart], right[apart]
        for start in range(0, len(left), 1 << 18):
            a, b = left[start : start + (1 << 18)], right[start : start + (1 << 18)]
            rows_a, rows_b = np.asarray(signatures[a]), np.asarray(signatures[b])
            kept = ((rows_a == rows_b).sum(axis=1) >= needed) & (rows_a[:, 0] != _EMPTY)
            _union(roots, a[kept], b[kept])
    return roots


def _union(roots: np.ndarray, a: np.ndarray, b: np.ndarray) -> None:
    """Join the clusters of rows ``a[i]`` and ``b[i]`` in ``roots`` (each row's smallest-row root)."""
    while len(a):
        root_a, root_b = roots[a], roots[b]
        apart = root_a != root_b
        if not apart.any():
            return
        a, b, root_a, root_b = a[apart], b[apart], root_a[apart], root_b[apart]
        np.minimum.at(roots, np.maximum(root_a, root_b), np.minimum(root_a, root_b))
        while True:  # every row straight to its root
            jumped = roots[roots]
            if np.array_equal(jumped, roots):
                break
            roots[:] = jumped


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
    """Write ``clusters.json`` (threshold, shingle size, cluster id per passage); its file name.

    Up to ``MINHASH_ABOVE`` passages the clusters are exact (``clusters``), above it MinHash LSH's
    (``minhash_clusters``); the file's ``measure`` says which.
    """
    texts = [passage.text for passage in passages]
    return write_cluster_ids(folder, cluster_texts(texts), minhash=len(texts) > MINHASH_ABOVE)


def cluster_texts(texts: Sequence[str]) -> list[int]:
    """The cluster id of each text: exact (``clusters``) up to ``MINHASH_ABOVE`` texts, MinHash LSH's
    (``minhash_clusters``) above."""
    return minhash_clusters(texts).tolist() if len(texts) > MINHASH_ABOVE else clusters(texts)


def write_cluster_ids(folder: Path, ids: Sequence[int], *, minhash: bool = False) -> str:
    """Write ``clusters.json`` holding ``ids``; its file name."""
    measure = "jaccard of word shingles"
    if minhash:
        measure += f", MinHash LSH estimate ({PERMUTATIONS} minima, {BANDS} bands of {BAND_ROWS})"
    data = {"measure": measure, "shingle": SHINGLE, "threshold": THRESHOLD, "clusters": list(ids)}
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
            ids = cluster_texts([passage.text for passage in library.passages])
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
