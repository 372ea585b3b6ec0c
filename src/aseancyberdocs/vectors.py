"""Vectors at size: FAISS IVF for the short list, exact scores from the stored float vectors.

An IndexFlatIP holds every vector in memory (1.5 KB a passage at 384 dimensions: 15 GB for ten
million passages). ``index_type="ivfsq"`` writes an IVF index of 8-bit scalar codes instead (one
byte a dimension, memory-mapped), ``index_type="ivfpq"`` one of product-quantized codes
(``dimension / 8`` bytes a passage); either re-scores its short list exactly: the full-precision
passage vectors stay on disk in the index folder (``rescore-vectors.npy``, row i for passage i),
and only the rows of a short list are read (``VectorRows``).

``RescoredIndex`` answers what search.py asks of a FAISS index (``search``, ``reconstruct``,
``reconstruct_batch``, ``reconstruct_n``, ``ntotal``, ``d``), so the retrieval code is unchanged.

Example:
    >>> index = RescoredIndex(ivfpq, VectorRows(Path("rescore-vectors.npy")), rows)  # doctest: +SKIP
    >>> scores, ids = index.search(query[None, :], 10)  # doctest: +SKIP
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

RESCORE_VECTORS_FILE = "rescore-vectors.npy"
_RUN_ROWS = 65_536  # rows read by one pread at most (96 MB of 384-dimensional vectors)
IVFPQ_TYPE = "IndexIVFPQ"
# IVF with 8-bit scalar codes (one byte a dimension): eight times PQ's codes, and the short list
# holds the true neighbours where PQ's coarse codes lose them among near-copies (10M replicated
# passages: recall@10 0.977 against 0.933 for PQ, benchmarks/scale.py). Its file is memory-mapped
# when opened (FAISS's IO_FLAG_MMAP): only the inverted lists a query probes are read in.
IVFSQ_TYPE = "IndexIVFScalarQuantizer"
RESCORED_TYPES = (IVFPQ_TYPE, IVFSQ_TYPE)  # short lists re-scored from rescore-vectors.npy
# IVF-PQ's short list re-scored exactly: RESCORE_FACTOR times k, at least RESCORE_MIN rows. On 1M
# replicated passages (benchmarks/scale.py), nprobe 32 with 300 rows found 0.928 of the exact top
# 10; nprobe 64 with 1,000 rows 0.973, at 10-14 ms a query (README, "Speed and memory"). On 10M,
# where each passage has a thousand near-copies, 1,000 rows found 0.923 (30 queries), 2,000
# 0.963 and 3,000 0.987 at 18 ms a query; nprobe 128 instead of 64 changed nothing. A hybrid
# query's dense lists (k = 100) re-score 3,000 rows either way.
RESCORE_FACTOR = 30
RESCORE_MIN = 3000
# ... and at most RESCORE_MAX (from k = 400 up): grouped search ranks deeper when the best passages
# are copies of a few paragraphs (k = 1,600 once in 30 queries at 10M), and 48,000 rows read one
# by one took 0.3-0.7 s; the 12,000 best in PQ order hold the 1,600 best well enough.
RESCORE_MAX = 12_000
# IVF of 8-bit codes ranks its short list almost as the float vectors do: SQ_RESCORE_FACTOR times
# k rows (at least SQ_RESCORE_MIN) are re-scored. Replicated passages, 30 queries, nprobe 64: on
# 1M, recall@10 1.000 and recall@100 0.998 with 2k rows, as with 3,000, at 2.3 ms a search against
# 16 ms (k = 100); on 10M, 1.000 and 1.000 at 9.8 ms (nprobe 32: 0.973 and 0.979).
SQ_RESCORE_FACTOR = 2
SQ_RESCORE_MIN = 50
NPROBE = 64
# A query's probed lists are scanned by FAISS's threads together (its parallel_mode 1) rather than
# one thread a query (0): on 10M replicated passages (IVF of 8-bit codes, 3,162 lists, nprobe 64,
# 2 cores, 30 queries) a search's median went from 21.5 ms to 14.0 ms, the same rows found.
IVF_PARALLEL_MODE = 1
# Rows read from the file are kept (a bounded cache: about 25 MB at 384 dimensions, and 4 bytes a
# passage to find them): a query's second dense pass (feedback) and its named documents' passages
# re-read many of the first pass's rows, and one system call a row is most of what re-scoring
# costs (on 1M passages, 8,000 reads a hybrid query without it, 3,700 with it).
CACHED_ROWS = 16_384
_TRAIN_PER_CENTROID = 39  # FAISS wants about 39 training points per centroid
_SAMPLE_PER_CENTROID = 64  # k-means trained on at most this many points per centroid...
_TRAIN_ITERATIONS = 10  # ...for this many rounds: the short list is re-scored exactly anyway
_SQ_TRAIN = 300_000  # vectors the coarse quantizer of an IVF index of 8-bit codes is trained on, at least...
_SQ_SAMPLE_PER_LIST = 40  # ...and this many a list...
_SQ_ITERATIONS = 10  # ...for this many rounds of k-means


class VectorRows:
    """Rows of a float32 .npy matrix read from the file on demand (``os.pread``), not memory-mapped.

    A short list is a few hundred scattered rows: read one by one, they cost a system call each
    and no resident memory, where a memory map would keep every page it faulted in (and the
    kernel faults in the cached pages around each one) in the process's resident set. Rows that
    follow one another in the file come in one call.

    Raises:
        ValueError: the file is not a 2-D little-endian float32 .npy matrix in C order.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        from .npy import read_header

        with open(path, "rb") as handle:
            dtype, fortran, shape, self._offset = read_header(handle.read(65536))
        if len(shape) != 2 or fortran or dtype != np.dtype("<f4"):
            raise ValueError(f"{path}: not a 2-D float32 matrix in C order ({shape}, {dtype})")
        self.shape = (int(shape[0]), int(shape[1]))
        self.ndim = 2
        self._row_bytes = self.shape[1] * 4
        # Opened once, so that rows are read from the very file checked at open, whatever replaces it.
        self._fd = os.open(path, os.O_RDONLY)
        self._pread = os.pread

    def __len__(self) -> int:
        return self.shape[0]

    def __del__(self) -> None:
        fd = getattr(self, "_fd", None)
        if fd is not None:
            os.close(fd)

    def __getitem__(self, rows: Any) -> np.ndarray:
        if np.isscalar(rows):
            return self._read(np.array([int(rows)]))[0]
        return self._read(np.asarray(rows, dtype=np.int64))

    def _read(self, rows: np.ndarray) -> np.ndarray:
        if len(rows) and (int(rows.min()) < -len(self) or int(rows.max()) >= len(self)):
            raise IndexError(f"{self.path}: row out of range (0 to {len(self) - 1})")
        rows = np.where(rows < 0, rows + len(self), rows)
        # One pread per run of consecutive rows (at most _RUN_ROWS): scattered rows cost a system
        # call each, a filter's thousands of neighbouring rows a few. No memory map: faulting rows
        # in through one maps the cached pages around each of them too (read-around), and 12,000
        # scattered rows of a 15 GB file had raised the process's peak resident set by 5 GB.
        if not len(rows):
            return np.empty((0, self.shape[1]), dtype=np.float32)
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        starts = np.r_[0, np.flatnonzero(np.diff(ordered) != 1) + 1]
        ends = np.r_[starts[1:], len(rows)]
        found = np.empty((len(rows), self.shape[1]), dtype=np.float32)  # in ``ordered``'s order
        size, fd, offset, pread = self._row_bytes, self._fd, self._offset, self._pread
        for first, end, row in zip(starts.tolist(), ends.tolist(), ordered[starts].tolist()):
            if end - first == 1:  # most often: a row alone
                data = pread(fd, size, offset + row * size)
                if len(data) != size:
                    raise ValueError(f"{self.path}: row {row} is cut short")
                found[first] = np.frombuffer(data, dtype="<f4")
                continue
            for start in range(first, end, _RUN_ROWS):
                count = min(_RUN_ROWS, end - start)
                data = pread(fd, size * count, offset + (row + start - first) * size)
                if len(data) != size * count:
                    raise ValueError(f"{self.path}: row {row + start - first + len(data) // size} is cut short")
                found[start : start + count] = np.frombuffer(data, dtype="<f4").reshape(count, -1)
        out = np.empty_like(found)
        out[order] = found
        return out


def ivfpq_shape(vectors: int, dimension: int) -> tuple[int, int, int]:
    """(lists, sub-quantizers, bits per code) for ``vectors`` rows of ``dimension``.

    sqrt(n) inverted lists, one sub-quantizer per 8 dimensions, 8-bit codes; fewer lists and
    bits for an index too small to train them.

    Example:
        >>> ivfpq_shape(1_000_000, 384)
        (1000, 48, 8)
    """
    lists = max(1, min(int(math.sqrt(vectors)), vectors // _TRAIN_PER_CENTROID))
    subquantizers = max(m for m in range(1, max(1, dimension // 8) + 1) if dimension % m == 0)
    bits = 8 if vectors >= 256 * _TRAIN_PER_CENTROID else max(1, min(8, int(math.log2(max(2, vectors // 4)))))
    return lists, subquantizers, bits


def build_ivfpq(vectors: np.ndarray, *, seed: int = 1234) -> Any:
    """A trained IndexIVFPQ (inner product) holding ``vectors``, row i = id i."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    count, dimension = vectors.shape
    lists, subquantizers, bits = ivfpq_shape(count, dimension)
    quantizer = faiss.IndexFlatIP(dimension)
    index = faiss.IndexIVFPQ(quantizer, dimension, lists, subquantizers, bits, faiss.METRIC_INNER_PRODUCT)
    for clustering in (index.cp, index.pq.cp):
        clustering.seed = seed
        clustering.niter = _TRAIN_ITERATIONS
        clustering.max_points_per_centroid = _SAMPLE_PER_CENTROID
    return _train_and_fill(index, quantizer, vectors, max(lists, 1 << bits) * _SAMPLE_PER_CENTROID, seed)


def ivfsq_lists(vectors: int) -> int:
    """Inverted lists of an IVF index of 8-bit codes over ``vectors`` rows: sqrt(10 n), at most one
    per 39 rows (FAISS's training minimum).

    A query scans nprobe lists of n / lists codes each: on 10M replicated passages (30 questions,
    nprobe 64, 50 rows re-scored), 3,162 lists (sqrt(n)) took 14.9 ms a search, 10,000 took 3.6 ms,
    both finding the exact top 10 (recall@10 1.000; 3,162 lists at nprobe 32: 8.2 ms, 0.973).

    Example:
        >>> ivfsq_lists(10_000_000), ivfsq_lists(1_000_000), ivfsq_lists(6_000)
        (10000, 3162, 153)
    """
    return max(1, min(int(math.sqrt(10 * vectors)), vectors // _TRAIN_PER_CENTROID))


def build_ivfsq(vectors: np.ndarray, *, seed: int = 1234) -> Any:
    """A trained IndexIVFScalarQuantizer (8 bits a dimension, inner product) holding ``vectors``,
    row i = id i, with ``ivfsq_lists`` inverted lists."""
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    count, dimension = vectors.shape
    lists = ivfsq_lists(count)
    quantizer = faiss.IndexFlatIP(dimension)
    index = faiss.IndexIVFScalarQuantizer(
        quantizer, dimension, lists, faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT
    )
    # The coarse quantizer decides which lists a query probes. With 10,000 lists on 10M replicated
    # passages: k-means of 10 rounds on 40 vectors a list (400,000) found the exact top 10 of all 30
    # questions (trained in 112 s, filled in 268 s). With sqrt(n) lists, 10 rounds on 64 vectors a
    # list had found 0.940 and FAISS's defaults (25 rounds, 300,000 vectors) 0.977 (benchmarks/scale.py).
    index.cp.seed = seed
    index.cp.niter = _SQ_ITERATIONS
    return _train_and_fill(index, quantizer, vectors, max(_SQ_TRAIN, _SQ_SAMPLE_PER_LIST * lists), seed)


def _train_and_fill(index: Any, quantizer: Any, vectors: np.ndarray, limit: int, seed: int) -> Any:
    """``index`` (an IVF index over ``quantizer``) trained on up to ``limit`` of ``vectors`` (a seeded
    sample), holding them all, row i = id i, probing NPROBE lists."""
    count = len(vectors)
    sample = vectors if count <= limit else vectors[np.sort(np.random.default_rng(seed).choice(count, limit, replace=False))]
    index.train(sample)
    for start in range(0, count, 1 << 20):  # added in slices: no second copy of a memory map
        index.add(np.ascontiguousarray(vectors[start : start + (1 << 20)]))
    index.nprobe = min(NPROBE, index.nlist)  # stored in the file
    index.quantizer = quantizer  # keep it alive with the index (FAISS does not own it)
    return index


class RescoredIndex:
    """An approximate FAISS index whose short list is re-scored with the exact vectors.

    ``vectors`` holds the full-precision rows (a ``VectorRows`` or an array) and ``rows[i]`` is
    the row of passage i in it.
    """

    def __init__(self, index: Any, vectors: np.ndarray, rows: np.ndarray, *, cached: int = CACHED_ROWS) -> None:
        self.index = index
        if hasattr(index, "parallel_mode"):
            index.parallel_mode = IVF_PARALLEL_MODE
        self.vectors = vectors
        self.rows = rows
        self.ntotal = int(index.ntotal)
        self.d = int(index.d)
        self._cache = _RowCache(cached, self.d, len(vectors)) if cached > 0 and not isinstance(vectors, np.ndarray) else None

    def short_list(self, k: int) -> int:
        """How many of the IVF index's best rows are re-scored for the ``k`` best."""
        if type(self.index).__name__ == IVFSQ_TYPE:
            return max(k * SQ_RESCORE_FACTOR, SQ_RESCORE_MIN, k)
        return max(min(k * RESCORE_FACTOR, RESCORE_MAX), RESCORE_MIN, k)

    def reconstruct_batch(self, ids: Any) -> np.ndarray:
        ids = np.asarray(ids, dtype=np.int64)
        rows = self.rows[ids]
        if self._cache is not None:
            return self._cache.read(rows, self._read)
        return self._read(rows)

    def _read(self, rows: np.ndarray) -> np.ndarray:
        order = np.argsort(rows, kind="stable")  # read the file in its order
        out = np.empty((len(rows), self.d), dtype=np.float32)
        out[order] = self.vectors[rows[order]]
        return out

    def reconstruct(self, row: int) -> np.ndarray:
        return self.reconstruct_batch([int(row)])[0]

    def reconstruct_n(self, start: int, count: int) -> np.ndarray:
        return self.reconstruct_batch(np.arange(start, start + count))

    def search(self, queries: np.ndarray, k: int, params: Any = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best rows of each query by exact inner product among the IVF short list."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.d)
        depth = min(self.ntotal, self.short_list(k))
        _, candidates = self.index.search(queries, depth)
        scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        ids = np.full((len(queries), k), -1, dtype=np.int64)
        for number, (query, found) in enumerate(zip(queries, candidates)):
            found = found[found >= 0]
            if not len(found):
                continue
            exact = self.reconstruct_batch(found) @ query
            best = np.lexsort((found, -exact))[:k]  # ties: lower row first, as a flat index
            scores[number, : len(best)] = exact[best]
            ids[number, : len(best)] = found[best]
        return scores, ids


class _RowCache:
    """The last ``capacity`` rows read (first in, first out), as one array; safe across threads."""

    def __init__(self, capacity: int, dimension: int, row_count: int) -> None:
        import threading

        self.capacity = capacity
        self.dimension = dimension
        self.row_count = row_count  # rows in the file
        self.vectors: np.ndarray | None = None  # made on first use
        self.owner = np.full(capacity, -1, dtype=np.int64)  # slot -> row
        self.slot_of: np.ndarray | None = None  # row -> slot, or -1 (4 bytes a row)
        self.next = 0
        self._lock = threading.Lock()

    def read(self, rows: np.ndarray, load: Any) -> np.ndarray:
        """``rows``' vectors: cached ones copied, the others read with ``load(rows)`` and kept."""
        with self._lock:
            if self.slot_of is None or self.vectors is None:
                self.slot_of = np.full(self.row_count, -1, dtype=np.int32)
                self.vectors = np.empty((self.capacity, self.dimension), dtype=np.float32)
            slots = self.slot_of[rows]
            out = np.empty((len(rows), self.dimension), dtype=np.float32)
            known = slots >= 0
            out[known] = self.vectors[slots[known]]
            missing = np.flatnonzero(~known)
            if len(missing):
                wanted = np.unique(rows[missing])
                loaded = load(wanted)
                out[missing] = loaded[np.searchsorted(wanted, rows[missing])]
                self._keep(wanted, loaded)
            return out

    def _keep(self, rows: np.ndarray, vectors: np.ndarray) -> None:
        assert self.slot_of is not None and self.vectors is not None
        rows, vectors = rows[-self.capacity :], vectors[-self.capacity :]
        slots = (self.next + np.arange(len(rows))) % self.capacity
        old = self.owner[slots]
        self.slot_of[old[old >= 0]] = -1
        self.owner[slots] = rows
        self.vectors[slots] = vectors
        self.slot_of[rows] = slots
        self.next = int((self.next + len(rows)) % self.capacity)
