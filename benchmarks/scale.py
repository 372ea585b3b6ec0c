"""Scale growth: index folders of 10k, 100k, 1M (and 10M) passages, built, opened and searched.

    python3 benchmarks/scale.py --base /path/to/format-2-index [--sizes 10000 100000 1000000] [--work DIR]

The passages and vectors are the base index's (the bundled corpus, built with the default
model), replicated with variation, as agreed language recurs across documents: copy ``c`` of a
document has about 5% of its words (4 letters or more) replaced by other words of the corpus of
the same length, so every passage's offsets still hold (``document.text[start:end] ==
passage.text``) and every text is new to BM25; copy ``c`` of a vector is the base vector plus
Gaussian noise (sigma 0.02 a dimension), normalised. Copy 0 is the base itself. The replicated
texts are not embedded again (that would take days here): the vectors stand for them.

Each folder is a real format-2 index folder that ``aseancyberdocs.open_index`` opens, written in
a stream (a copy at a time; no list of every Passage, no matrix of every vector in memory):
``store.sqlite`` through ``store.write_store`` fed by a generator, ``cache-vectors.npy`` appended
copy by copy, FAISS from a memory map of it (IndexFlatIP up to 100k, IVF-PQ with exact
re-scoring up to 2M, IVF with 8-bit codes and exact re-scoring above: the 10M design), BM25's
score matrix (bm25s's Lucene formula and file layout) from token ids gathered copy by copy,
the agreed-language clusters over all passages as the build makes them (grouping.py: the
exact join up to ``MINHASH_ABOVE`` passages, MinHash LSH above, its
signatures kept in a memory-mapped file beside the folder while the stream goes by), and the
shingle index of ``precedents`` (lineage.ShingleWriter: its (key, row) pairs spilled to bucket
files and sorted a bucket at a time).

For each size, in fresh processes: write time, size on disk by file kind, open time
(``open_index``), hybrid query latency (p50/p95 over the labelled queries of
evaluation/queries.jsonl, after one warm-up query and as many other labelled questions), the search
process's peak resident memory
(VmHWM), and dense recall@10 of the index's FAISS search against exact search over the stored
vectors. Writes benchmarks/scale.json, benchmarks/scale-growth.png and its section of
benchmarks/RESULTS.md (between the scale-growth markers).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from sections import write_section

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
JSON_OUT = Path(__file__).resolve().parent / "scale.json"
CHART = Path(__file__).resolve().parent / "scale-growth.png"
BEGIN, END = "<!-- scale-growth:begin -->", "<!-- scale-growth:end -->"
QUERIES = ROOT / "evaluation" / "queries.jsonl"
PRECEDENTS = ROOT / "evaluation" / "precedents.jsonl"
VARIED = 0.05  # share of words replaced in each copy
NOISE = 0.02  # sigma of the noise added to each copy's vectors, a dimension
FLAT_UP_TO = 100_000  # IndexFlatIP up to this size, IVF of 8-bit codes with exact re-scoring above
_WORD = re.compile(r"[A-Za-z]{4,}")
SHINGLE_SPILL = 50_000_000  # (key, row) pairs of the shingle index held in memory before a spill


def rss_peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


# --------------------------------------------------------------------------------------------
# Replication with variation


class Replicator:
    """Copies of the base index's documents, passages and vectors, copy ``c`` varied by seed ``c``."""

    def __init__(self, base: Path) -> None:
        import faiss

        from aseancyberdocs.store import PASSAGE_DOCS_FILE, STORE_FILE, Store
        from aseancyberdocs.types import Document

        store = Store(base / STORE_FILE)
        self.documents = [Document(**{f.name: getattr(d, f.name) for f in dataclasses.fields(Document)})
                          for d in store.documents()]
        self.passages = store.passage_range(0, store.passage_count)
        self.doc_rows = np.load(base / PASSAGE_DOCS_FILE)
        store.close()
        index = faiss.read_index(str(base / "vectors.faiss"))
        self.vectors = index.reconstruct_n(0, index.ntotal).astype(np.float32)
        self.manifest = json.loads((base / "manifest.json").read_text(encoding="utf-8"))
        self.spans = [np.array([m.span() for m in _WORD.finditer(d.text)], dtype=np.int64).reshape(-1, 2)
                      for d in self.documents]
        words: dict[int, set[str]] = {}
        for document in self.documents:
            for word in _WORD.findall(document.text):
                words.setdefault(len(word), set()).add(word.lower())
        self.by_length = {length: sorted(found) for length, found in words.items()}
        self.passages_of: list[list[int]] = [[] for _ in self.documents]
        for row, doc_row in enumerate(self.doc_rows.tolist()):
            self.passages_of[doc_row].append(row)

    def __len__(self) -> int:
        return len(self.passages)

    def document(self, copy: int, row: int) -> Any:
        """Copy ``copy`` of document ``row``: the same length, about VARIED of its words replaced."""
        document = self.documents[row]
        if copy == 0:
            return document
        rng = np.random.default_rng([copy, row])
        spans = self.spans[row]
        chosen = spans[np.sort(rng.choice(len(spans), int(len(spans) * VARIED), replace=False))] if len(spans) else spans
        text, pieces, last = document.text, [], 0
        picks = rng.random(len(chosen))
        for (start, end), pick in zip(chosen.tolist(), picks.tolist()):
            pool = self.by_length[end - start]
            word = pool[int(pick * len(pool))]
            if text[start].isupper():
                word = word[0].upper() + word[1:]
            pieces += [text[last:start], word]
            last = end
        pieces.append(text[last:])
        new_text = "".join(pieces)
        assert len(new_text) == len(text)
        return dataclasses.replace(document, doc_id=f"{document.doc_id}~{copy}", text=new_text,
                                   sha256=hashlib.sha256(new_text.encode("utf-8")).hexdigest())

    def passages_for(self, copy: int, document: Any, row: int) -> list[tuple[int, Any]]:
        """(base row, passage) of copy ``copy`` of document ``row``, whose copy is ``document``."""
        out = []
        for prow in self.passages_of[row]:
            passage = self.passages[prow]
            if copy:
                passage = dataclasses.replace(passage, passage_id=f"{passage.passage_id}~{copy}",
                                              doc_id=document.doc_id, text=document.text[passage.start:passage.end])
            out.append((prow, passage))
        return out

    def copy_vectors(self, copy: int, rows: np.ndarray) -> np.ndarray:
        base = self.vectors[rows]
        if copy == 0:
            return base
        noisy = base + np.random.default_rng([copy, 7]).normal(0, NOISE, base.shape).astype(np.float32)
        return noisy / np.linalg.norm(noisy, axis=1, keepdims=True)


class _LazyDocuments(Sequence[Any]):
    """The documents of copies 0 to ``copies - 1``, made when asked for (write_store reads them twice)."""

    def __init__(self, replicator: Replicator, copies: int) -> None:
        self.replicator, self.copies, self.per = replicator, copies, len(replicator.documents)

    def __len__(self) -> int:
        return self.copies * self.per

    def __getitem__(self, index: Any) -> Any:
        return self.replicator.document(*divmod(int(index), self.per))

    def __iter__(self) -> Iterator[Any]:
        for copy in range(self.copies):
            for row in range(self.per):
                yield self.replicator.document(copy, row)


# --------------------------------------------------------------------------------------------
# Streaming writers


class BM25Writer:
    """bm25s's Lucene score matrix (tokens as columns) from passages fed one by one, as bm25.py stores it."""

    def __init__(self) -> None:
        self.vocab: dict[str, int] = {}
        self.rows: list[np.ndarray] = []
        self.cols: list[np.ndarray] = []
        self.tfs: list[np.ndarray] = []
        self.lengths: list[int] = []
        self._r: list[int] = []
        self._c: list[int] = []
        self._t: list[int] = []

    def add(self, text: str) -> None:
        from aseancyberdocs.bm25 import tokenize

        tokens = tokenize(text) or ["\x00"]
        row = len(self.lengths)
        self.lengths.append(len(tokens))
        counts: dict[int, int] = {}
        vocab = self.vocab
        for token in tokens:
            column = vocab.setdefault(token, len(vocab))
            counts[column] = counts.get(column, 0) + 1
        self._r.extend([row] * len(counts))
        self._c.extend(counts.keys())
        self._t.extend(counts.values())
        if len(self._r) > 1 << 20:
            self._flush()

    def _flush(self) -> None:
        self.rows.append(np.asarray(self._r, dtype=np.int32))
        self.cols.append(np.asarray(self._c, dtype=np.int32))
        self.tfs.append(np.asarray(self._t, dtype=np.float32))
        self._r, self._c, self._t = [], [], []

    def save(self, folder: Path) -> list[str]:
        from aseancyberdocs.bm25 import FILES, K1, METHOD, TOKENIZER_VERSION, B

        self._flush()
        rows = np.concatenate(self.rows)
        self.rows = []
        cols = np.concatenate(self.cols)
        self.cols = []
        lengths = np.asarray(self.lengths, dtype=np.float32)
        count, average = len(lengths), float(lengths.mean())
        df_count = np.bincount(cols, minlength=len(self.vocab))
        df = df_count.astype(np.float32)
        idf = np.log(1 + (count - df + 0.5) / (df + 0.5)).astype(np.float32)
        data = np.empty(len(rows), dtype=np.float32)
        start = 0
        for chunk in self.tfs:  # a chunk at a time, not a float64 array of every posting
            stop = start + len(chunk)
            norm = np.float32(K1) * (np.float32(1 - B) + np.float32(B) * lengths[rows[start:stop]] / np.float32(average))
            data[start:stop] = idf[cols[start:stop]] * chunk / (norm + chunk)
            start = stop
        self.tfs = []
        order = np.argsort(cols, kind="stable")  # rows stay ascending within a column
        del cols
        for name, values in (("data", data), ("indices", rows)):
            out = np.lib.format.open_memmap(folder / FILES[name], mode="w+", dtype=values.dtype, shape=values.shape)
            for begin in range(0, len(order), 1 << 24):
                out[begin : begin + (1 << 24)] = values[order[begin : begin + (1 << 24)]]
            out.flush()
            del out
        del data, rows, order
        indptr = np.zeros(len(self.vocab) + 1, dtype=np.int64)
        np.cumsum(df_count, out=indptr[1:])
        np.save(folder / FILES["indptr"], indptr, allow_pickle=False)
        (folder / FILES["vocab"]).write_text(json.dumps(self.vocab, ensure_ascii=False), encoding="utf-8")
        params = {"k1": K1, "b": B, "delta": 0.5, "method": METHOD, "idf_method": METHOD, "dtype": "float32",
                  "int_dtype": "int32", "num_docs": count, "version": "0.3.16", "backend": "numpy",
                  "tokenizer_version": TOKENIZER_VERSION}
        (folder / FILES["params"]).write_text(json.dumps(params, indent=2) + "\n", encoding="utf-8")
        return list(FILES.values())


def write_faiss(folder: Path, size: int) -> str:
    """Write ``folder``'s FAISS file from its vector cache, as a build would; its FAISS type.

    IndexFlatIP up to FLAT_UP_TO passages, IVF with 8-bit codes above (where `build --index-type
    auto` puts HNSW between 300k and 2M: a graph of float vectors in memory).
    """
    import faiss

    from aseancyberdocs.folder import _faiss_index
    from aseancyberdocs.index import CACHE_VECTORS_FILE, FAISS_FILE
    from aseancyberdocs.vectors import IVFSQ_TYPE

    faiss_type = "IndexFlatIP" if size <= FLAT_UP_TO else IVFSQ_TYPE
    index = _faiss_index(faiss_type, np.load(folder / CACHE_VECTORS_FILE, mmap_mode="r"))
    faiss.write_index(index, str(folder / FAISS_FILE))
    return faiss_type


def sampled_entry(path: Path) -> dict[str, Any]:
    """The manifest's "sampled" entry of a file: its size and sampled sha256."""
    from aseancyberdocs.index import sampled_sha256

    return {"size": path.stat().st_size, "sha256": sampled_sha256(path)}


def write_scaled(replicator: Replicator, size: int, folder: Path) -> dict[str, Any]:
    """Write an index folder of ``size`` passages into ``folder``; timings of each part."""

    from aseancyberdocs.grouping import (
        MINHASH_ABOVE,
        PERMUTATIONS,
        MinHasher,
        clusters,
        minhash_clusters,
        write_cluster_ids,
    )
    from aseancyberdocs.index import (
        CACHE_KEYS_FILE,
        CACHE_VECTORS_FILE,
        HASH_WHOLE_UP_TO,
        MANIFEST_FILE,
        REQUIRED_FILES,
        sha256_file,
    )  # fmt: skip
    from aseancyberdocs.lineage import ShingleWriter
    from aseancyberdocs.passages import embedding_text
    from aseancyberdocs.store import write_store
    from aseancyberdocs.vectors import (
        RESCORE_VECTORS_FILE,
        RESCORED_TYPES,
    )

    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    per = len(replicator)
    copies = -(-size // per)
    dimension = replicator.vectors.shape[1]
    model = replicator.manifest["model"]["name"]
    timings: dict[str, float] = {}
    started = time.perf_counter()

    # Vectors and cache keys: appended as the store's passage stream goes by.
    vectors_handle = open(folder / CACHE_VECTORS_FILE, "wb")
    np.lib.format.write_array_header_1_0(vectors_handle, {"descr": "<f4", "fortran_order": False, "shape": (size, dimension)})
    keys_handle = open(folder / CACHE_KEYS_FILE, "w", encoding="utf-8")
    bm25 = BM25Writer()
    # Clusters: every passage's text kept for the exact join, or its MinHash signature written to a
    # memory-mapped file beside the folder (128 uint32 a passage, 5 GB at 10M) above MINHASH_ABOVE.
    minhash = size > MINHASH_ABOVE
    texts: list[str] = []
    signatures_path = folder.parent / f"{folder.name}.minhash.npy"
    signatures = (np.lib.format.open_memmap(signatures_path, mode="w+", dtype=np.uint32, shape=(size, PERMUTATIONS))
                  if minhash else None)
    hasher = MinHasher()
    hashed = 0
    minhash_s = 0.0
    # The shingle index of precedents: (key, row) pairs spilled to bucket files beside the folder's
    # files and sorted a bucket at a time (lineage.ShingleWriter), fed 4,096 texts at a time.
    shingles = ShingleWriter(work=folder, spill_above=SHINGLE_SPILL)
    shingle_texts: list[str] = []
    shingles_s = 0.0

    def add_shingles() -> None:
        nonlocal shingles_s
        mark = time.perf_counter()
        shingles.add(shingle_texts)
        shingle_texts.clear()
        shingles_s += time.perf_counter() - mark

    def hash_texts() -> None:
        nonlocal hashed, minhash_s
        mark = time.perf_counter()
        signatures[hashed : hashed + len(texts)] = hasher.signatures(texts)
        hashed += len(texts)
        texts.clear()
        minhash_s += time.perf_counter() - mark

    written = 0

    def passages() -> Iterator[Any]:
        nonlocal written
        for copy in range(copies):
            rows: list[int] = []
            for row in range(len(replicator.documents)):
                if written >= size:
                    break
                document = replicator.document(copy, row)
                for base_row, passage in replicator.passages_for(copy, document, row):
                    if written >= size:
                        break
                    text = embedding_text(passage, document)
                    bm25.add(text)
                    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
                    keys_handle.write(json.dumps({"model": model, "sha256": digest}) + "\n")
                    rows.append(base_row)
                    texts.append(passage.text)
                    if minhash and len(texts) == 4096:
                        hash_texts()
                    shingle_texts.append(passage.text)
                    if len(shingle_texts) == 4096:
                        add_shingles()
                    written += 1
                    yield passage
            vectors_handle.write(replicator.copy_vectors(copy, np.asarray(rows, dtype=np.int64)).tobytes())

    documents = _LazyDocuments(replicator, copies)
    write_store(folder, documents, passages())
    vectors_handle.close()
    keys_handle.close()
    assert written == size, (written, size)
    timings["store_vectors_s"] = time.perf_counter() - started

    mark = time.perf_counter()
    files = bm25.save(folder)
    timings["bm25_s"] = time.perf_counter() - mark

    mark = time.perf_counter()
    if minhash:
        if texts:
            hash_texts()
        signatures.flush()
        del signatures
        ids = minhash_clusters([], signatures=np.load(signatures_path, mmap_mode="r")).tolist()
        signatures_path.unlink()
    else:
        ids = clusters(texts)
    texts.clear()
    files.append(write_cluster_ids(folder, ids, minhash=minhash))
    timings["clusters_s"] = time.perf_counter() - mark + minhash_s
    timings["clusters_method"] = "MinHash LSH" if minhash else "exact"
    timings["clustered_passages"] = int(size - len(set(ids)))
    del ids

    mark = time.perf_counter()
    if shingle_texts:
        add_shingles()
    files.extend(shingles.save(folder))
    timings["shingles_s"] = time.perf_counter() - mark + shingles_s

    mark = time.perf_counter()
    faiss_type = write_faiss(folder, size)
    if faiss_type in RESCORED_TYPES:
        # Here the cache's rows are the passages' vectors in passage order, so the exact vectors the
        # short list is re-scored with are the same bytes: a hard link, not a second copy on disk.
        os.link(folder / CACHE_VECTORS_FILE, folder / RESCORE_VECTORS_FILE)
        files.append(RESCORE_VECTORS_FILE)
    timings["faiss_s"] = time.perf_counter() - mark

    mark = time.perf_counter()
    manifest = json.loads(json.dumps(replicator.manifest))
    manifest["settings"]["faiss"] = faiss_type
    counts = manifest["counts"]
    counts.update(documents=len(documents), passages=size, vectors=size, skipped=0)
    counts.pop("by_doc_type", None)
    manifest["sources"] = []
    manifest["skipped"] = []
    manifest["replicated"] = {"base_passages": per, "copies": copies, "varied_words": VARIED, "vector_noise": NOISE}
    names = [*REQUIRED_FILES, *files]
    manifest["files"] = {name: sha256_file(folder / name) for name in names}
    manifest["sampled"] = {name: sampled_entry(folder / name)
                           for name in names if (folder / name).stat().st_size > HASH_WHOLE_UP_TO}
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    timings["manifest_s"] = time.perf_counter() - mark
    timings["write_s"] = time.perf_counter() - started
    timings["faiss_type"] = faiss_type
    timings["documents"] = len(documents)
    timings["write_peak_rss_mb"] = rss_peak_mb()
    return timings


# --------------------------------------------------------------------------------------------
# Measuring, each in a fresh process


def child_write(base: str, size: int, folder: str) -> dict[str, Any]:
    started = time.perf_counter()
    replicator = Replicator(Path(base))
    loaded = time.perf_counter() - started
    result = write_scaled(replicator, size, Path(folder))
    result["base_load_s"] = loaded
    return result


def child_faiss(folder: str, size: int) -> dict[str, Any]:
    """Write the FAISS file of a kept folder again with this code, and its manifest entries."""
    from aseancyberdocs.index import (
        FAISS_FILE,
        HASH_WHOLE_UP_TO,
        MANIFEST_FILE,
        sha256_file,
    )

    path = Path(folder)
    started = time.perf_counter()
    faiss_type = write_faiss(path, size)
    seconds = time.perf_counter() - started
    manifest = json.loads((path / MANIFEST_FILE).read_text(encoding="utf-8"))
    manifest["settings"]["faiss"] = faiss_type
    manifest["files"][FAISS_FILE] = sha256_file(path / FAISS_FILE)
    manifest["sampled"].pop(FAISS_FILE, None)
    if (path / FAISS_FILE).stat().st_size > HASH_WHOLE_UP_TO:
        manifest["sampled"][FAISS_FILE] = sampled_entry(path / FAISS_FILE)
    (path / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return {"faiss_s": seconds, "faiss_type": faiss_type}


def child_open(folder: str) -> dict[str, Any]:
    import aseancyberdocs

    started = time.perf_counter()
    library = aseancyberdocs.open_index(folder)
    seconds = time.perf_counter() - started
    return {"open_s": seconds, "passages": len(library.passages), "open_peak_rss_mb": rss_peak_mb()}


def child_search(folder: str, queries: int, dense_only: bool = False) -> dict[str, Any]:
    import aseancyberdocs

    labelled = [json.loads(line)["query"] for line in QUERIES.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts, others = labelled[:queries], labelled[queries : 2 * queries]
    library = aseancyberdocs.open_index(folder)
    started = time.perf_counter()
    if not dense_only:
        library.search(texts[0], k=10)  # loads the model, FAISS, BM25 and the clusters
    first = time.perf_counter() - started
    # A search process in service has answered other questions: the postings of common words and
    # the inverted lists they probe are in memory, the measured questions' rarer ones are not.
    for text in [] if dense_only else others:
        library.search(text, k=10)
    latencies = []
    for text in [] if dense_only else texts:
        started = time.perf_counter()
        hits = library.search(text, k=10)
        latencies.append((time.perf_counter() - started) * 1000)
        assert hits and all(hit.passage.text for hit in hits)
    peak = rss_peak_mb()
    # precedents() of the labelled texts of evaluation/precedents.jsonl: every occurrence, with its diff
    # (before the recall below, which maps every vector: its pages would count in the peak).
    precedent_ms, occurrences = [], []
    if not dense_only and any(name.startswith("lineage-") for name in library.manifest["files"]):
        cases = [json.loads(line)["text"] for line in PRECEDENTS.read_text(encoding="utf-8").splitlines() if line.strip()]
        library.precedents(cases[0])  # maps the shingle index
        for text in cases:
            started = time.perf_counter()
            occurrences.append(len(library.precedents(text)))
            precedent_ms.append((time.perf_counter() - started) * 1000)
    precedents_peak = rss_peak_mb() if precedent_ms else None
    # Dense recall@10 of the index's FAISS search against exact search over the stored vectors.
    vectors = np.stack([library.encode_query(text) for text in texts]).astype(np.float32)
    dense_ms = []
    found = []
    for vector in vectors:
        started = time.perf_counter()
        found.append(library.faiss_index.search(vector[None, :], 10)[1][0])
        dense_ms.append((time.perf_counter() - started) * 1000)
    if dense_only:  # no hybrid query: the peak of opening, the model and dense search alone
        peak = rss_peak_mb()
    matrix = np.load(Path(folder) / "cache-vectors.npy", mmap_mode="r")
    best_scores = np.full((len(vectors), 10), -np.inf, dtype=np.float32)
    best_ids = np.zeros((len(vectors), 10), dtype=np.int64)
    for start in range(0, len(matrix), 200_000):
        scores = vectors @ np.asarray(matrix[start:start + 200_000]).T
        top = np.argpartition(-scores, 10, axis=1)[:, :10] if scores.shape[1] > 10 else np.argsort(-scores, axis=1)
        merged_scores = np.concatenate([best_scores, np.take_along_axis(scores, top, axis=1)], axis=1)
        merged_ids = np.concatenate([best_ids, top + start], axis=1)
        keep = np.argsort(-merged_scores, axis=1, kind="stable")[:, :10]
        best_scores, best_ids = np.take_along_axis(merged_scores, keep, 1), np.take_along_axis(merged_ids, keep, 1)
    # Ties (copies with equal scores) count as found: recall against the exact top-10 score.
    recall = statistics.mean(
        len(set(ids.tolist()) & set(exact.tolist())) / 10 for ids, exact in zip(found, best_ids)
    )
    return {
        "precedents_p50_ms": statistics.median(precedent_ms) if precedent_ms else None,
        "precedents_p95_ms": percentile(precedent_ms, 0.95) if precedent_ms else None,
        "precedents_occurrences": statistics.median(occurrences) if occurrences else None,
        "precedents_peak_rss_mb": precedents_peak,
        "first_query_s": None if dense_only else first, "queries": 0 if dense_only else len(texts),
        "hybrid_p50_ms": statistics.median(latencies) if latencies else None,
        "hybrid_p95_ms": percentile(latencies, 0.95) if latencies else None,
        "dense_p50_ms": statistics.median(dense_ms), "dense_p95_ms": percentile(dense_ms, 0.95),
        "search_peak_rss_mb": peak, "recall_at_10": recall,
    }


def run_child(*args: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True, env=env, check=False)
    if done.returncode:
        raise RuntimeError(f"child {args} failed:\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


_KINDS = {
    "store": ("store.sqlite", "passage-docs.npy"),
    "vectors": ("cache-vectors.npy",),  # rescore-vectors.npy is a hard link to it
    "cache keys": ("cache-keys.jsonl",),
    "faiss": ("vectors.faiss",),
    "bm25": ("bm25-data.npy", "bm25-indices.npy", "bm25-indptr.npy", "bm25-vocab.json", "bm25-params.json"),
    "clusters": ("clusters.json",),
    "shingles": ("lineage-keys.npy", "lineage-indptr.npy", "lineage-rows.npy", "lineage-params.json"),
    "manifest": ("manifest.json",),
}


def disk_by_kind(folder: Path) -> dict[str, int]:
    sizes = {kind: sum((folder / name).stat().st_size for name in names if (folder / name).is_file())
             for kind, names in _KINDS.items()}
    inodes = {path.stat().st_ino: path.stat().st_size for path in folder.iterdir() if path.is_file()}
    sizes["total"] = sum(inodes.values())  # a hard-linked file counted once
    return sizes


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# What a write child reports: kept from scale.json when --reuse-written measures a kept folder again.
WRITE_FIELDS = ("store_vectors_s", "bm25_s", "clusters_s", "clusters_method", "clustered_passages", "shingles_s",
                "faiss_s", "manifest_s", "write_s", "faiss_type", "documents", "write_peak_rss_mb", "base_load_s")


def measure(args: argparse.Namespace, size: int, earlier: dict[str, Any] | None = None) -> dict[str, Any]:
    folder = Path(args.work) / f"scale-{size}"
    row: dict[str, Any] = {"passages": size, "load_before": loadavg()}
    if args.reuse_written:
        if earlier is None or not (folder / "manifest.json").is_file() or "clusters_s" not in earlier:
            raise SystemExit(f"--reuse-written: no folder {folder} written by this version's scale.py in scale.json")
        row.update({name: earlier[name] for name in WRITE_FIELDS if name in earlier})
        row["written_by"] = earlier.get("written_by", earlier["command"])
        if args.rewrite_faiss:
            rewritten = run_child("faiss", "--folder", str(folder), "--size", str(size))
            row["write_s"] += rewritten["faiss_s"] - row["faiss_s"]
            row.update(rewritten, faiss_rewritten=True)
            print(f"[{time.strftime('%H:%M:%S')}] {size}: FAISS written again in {rewritten['faiss_s']:.0f} s", flush=True)
        print(f"[{time.strftime('%H:%M:%S')}] {size}: measuring {folder} again, as written by "
              f"`{row['written_by']}`", flush=True)
        # As after a write: the folder's files read through once, so the page cache holds what it
        # can of them (a folder written hours before is otherwise read from disk by the queries).
        # Largest first: at 10M the vector files (15 GB, of which a query reads a few hundred rows)
        # would otherwise push out of a 24 GB machine's cache the BM25 and FAISS files that every
        # query reads, as a search process in service keeps them.
        for path in sorted(folder.iterdir(), key=lambda p: -p.stat().st_size):
            with open(path, "rb") as handle:
                while handle.read(1 << 24):
                    pass
    else:
        print(f"[{time.strftime('%H:%M:%S')}] {size}: writing {folder}", flush=True)
        row.update(run_child("write", "--base", args.base, "--size", str(size), "--folder", str(folder)))
    row["disk"] = disk_by_kind(folder)
    print(f"[{time.strftime('%H:%M:%S')}] {size}: written in {row['write_s']:.1f} s, "
          f"{row['disk']['total'] / 1e6:.0f} MB; opening", flush=True)
    opens = [run_child("open", "--folder", str(folder)) for _ in range(3)]
    row["open_s"] = statistics.median(o["open_s"] for o in opens)
    row["open_peak_rss_mb"] = statistics.median(o["open_peak_rss_mb"] for o in opens)
    print(f"[{time.strftime('%H:%M:%S')}] {size}: open {row['open_s']:.2f} s; searching", flush=True)
    row.update(run_child("search", "--folder", str(folder), "--queries", str(args.queries),
                         *(["--dense-only"] if args.dense_only else [])))
    row["dense_only"] = bool(args.dense_only)
    row["load_after"] = loadavg()
    print(f"[{time.strftime('%H:%M:%S')}] {size}: {json.dumps(row)}", flush=True)
    if not args.keep:
        shutil.rmtree(folder)
    return row


# --------------------------------------------------------------------------------------------
# Report


# The issue's goals at 10M passages, marked on the chart.
GOALS = {"open time (s)": (2.0,), "hybrid query (ms)": (50.0, 150.0), "peak RSS of search (MB)": (6000.0,)}


def chart(rows: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [row["passages"] for row in rows]
    panels = [
        ("write time (s)", [("write", [r["write_s"] for r in rows])]),
        ("size on disk (MB)", [("total", [r["disk"]["total"] / 1e6 for r in rows])]),
        ("open time (s)", [("open_index", [r["open_s"] for r in rows])]),
        ("hybrid query (ms)", [("p50", [r["hybrid_p50_ms"] for r in rows]), ("p95", [r["hybrid_p95_ms"] for r in rows])]),
        ("peak RSS of search (MB)", [
            ("hybrid queries", [None if r.get("dense_only") else r["search_peak_rss_mb"] for r in rows]),
            ("dense only", [r["search_peak_rss_mb"] if r.get("dense_only") else None for r in rows]),
        ]),
    ]
    figure, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 3.6))
    for axis, (title, series) in zip(axes, panels):
        for label, values in series:
            points = [(size, value) for size, value in zip(sizes, values) if value is not None]
            axis.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
        first = next(value for value in series[0][1] if value is not None)
        axis.plot(sizes, [first * size / sizes[0] for size in sizes], ls=":", color="grey", label="linear")
        for goal in GOALS.get(title, ()):
            axis.plot([10_000_000], [goal], marker="x", color="red", ls="none")
        if title in GOALS:
            axis.plot([], [], marker="x", color="red", ls="none", label="10M goal")
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("passages")
        axis.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(CHART, dpi=110)


def section(rows: list[dict[str, Any]]) -> str:
    def number(value: float | None, spec: str) -> str:
        return "not run" if value is None else format(value, spec)

    def mb(value: float) -> str:
        return f"{value / 1e6:,.0f}" if value >= 1e6 else f"{value / 1e6:.1f}"

    def clusters(r: dict[str, Any]) -> str:
        if "clusters_s" not in r:
            return "base copied"
        return f"{r['clusters_s']:,.0f} {r['clusters_method']} ({r['clustered_passages']:,})"

    lines = [
        BEGIN,
        "## Scale: growth from 10k passages up",
        "",
        "Generated by " + "; ".join(sorted({f"`{c}`" for r in rows for c in (r.get("written_by"), r["command"]) if c})) +
        f" (last on {time.strftime('%Y-%m-%d %H:%M')}); {platform.machine()}, "
        f"{os.cpu_count()} CPUs (shared with other work), Python {platform.python_version()}. Load average "
        f"(1/5/15 min) before each size: " + "; ".join(f"{r['passages']:,}: {r['load_before']}" for r in rows) + ".",
        "",
        "The bundled corpus's passages and vectors replicated with variation (about 5% of the words of each copy "
        "replaced by corpus words of the same length, Gaussian noise of sigma 0.02 a dimension on each copy's "
        "vectors), written as format-2 index folders in a stream and opened with `open_index`. FAISS: "
        "IndexFlatIP up to 100k passages, IVF with 8-bit codes (memory-mapped) with exact re-scoring above "
        "(IVF-PQ in rows marked so). Open time: median of 3 fresh "
        "processes (files in the page cache). Hybrid latency: `Library.search(query, k=10)` over the first "
        "queries of evaluation/queries.jsonl (how many: the queries column) after one warm-up query and as many "
        "other labelled questions (the next ones in the file), as in a search process in service. Peak RSS: VmHWM of "
        "the search process after them. Recall@10: the index's dense search against exact search over the "
        "stored vectors. Clusters: the agreed-language clusters over all passages, as the build makes them "
        "(exact join up to 200,000 passages, MinHash LSH above: 128 minima, 16 bands of 8); their seconds are "
        "part of the write (signatures made as the passages stream by, then the bands); \"joined\": passages "
        "in a cluster with an earlier one. The replicated texts are not embedded again: each copy's vectors are "
        "the base vectors with noise.",
        "",
        "| passages | FAISS | write s | clusters s (joined) | disk MB (store / vectors+keys / FAISS / BM25 / "
        "clusters) | open s | first query s | queries | hybrid p50 ms | hybrid p95 ms | dense p50 ms | "
        "search peak RSS MB | recall@10 |",
        "|---:|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        d = r["disk"]
        lines.append(
            f"| {r['passages']:,} | {r['faiss_type']} | {r['write_s']:.1f} | {clusters(r)} | {mb(d['total'])} "
            f"({mb(d['store'])} / {mb(d['vectors'] + d['cache keys'])} / {mb(d['faiss'])} / {mb(d['bm25'])} / "
            f"{mb(d['clusters'])}) | {r['open_s']:.2f} | {number(r['first_query_s'], '.1f')} | {r['queries']} | "
            f"{number(r['hybrid_p50_ms'], '.0f')} | {number(r['hybrid_p95_ms'], '.0f')} | {r['dense_p50_ms']:.1f} | "
            f"{r['search_peak_rss_mb']:,.0f}{' (dense only)' if r.get('dense_only') else ''} | "
            f"{r['recall_at_10']:.3f} |"
        )
    traced = [r for r in rows if r.get("precedents_p50_ms") is not None]
    if traced:
        lines += [
            "",
            ("The shingle index of `precedents` (lineage.py: every 6-word shingle and every word of each passage, "
             "its (key, row) pairs spilled to bucket files and sorted a bucket at a time; part of the write, "
             "memory-mapped at open). Latency: `Library.precedents(text)` for each of the 12 texts of "
             "evaluation/precedents.jsonl, every occurrence returned with its word diff, in the search process "
             "after the queries above; peak RSS after them."),
            "",
            ("| passages | shingles s (of the write) | shingle files MB | precedents p50 ms | precedents p95 ms | "
             "occurrences (median) | peak RSS MB |"),
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in traced:
            lines.append(
                f"| {r['passages']:,} | {number(r.get('shingles_s'), ',.0f')} | {mb(r['disk'].get('shingles', 0))} | "
                f"{r['precedents_p50_ms']:,.0f} | {r['precedents_p95_ms']:,.0f} | {r['precedents_occurrences']:,.0f} | "
                f"{r['precedents_peak_rss_mb']:,.0f} |"
            )
    for r in rows:
        if r.get("faiss_rewritten"):
            lines += ["", f"At {r['passages']:,} passages the FAISS file was written again with the current code "
                      f"before opening and searching (`--reuse-written --rewrite-faiss`, {r['faiss_s']:.0f} s; the write "
                      "time counts it in place of the first one)."]
    lines += ["", f"![growth of cost with passages]({CHART.name})", "", END]
    return "\n".join(lines)


def write_results(text: str) -> None:
    write_section(RESULTS, BEGIN, END, text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="indexes/full", help="a format-2 index of the bundled corpus")
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--work", default="/tmp/aseancyberdocs-scale", help="where the index folders are written")
    parser.add_argument("--queries", type=int, default=100)
    parser.add_argument("--keep", action="store_true", help="keep the index folders")
    parser.add_argument("--dense-only", action="store_true",
                        help="no hybrid query (it reads every vector at this size): dense search and recall only")
    parser.add_argument("--no-report", action="store_true", help="print the figures; write no files")
    parser.add_argument("--report-only", action="store_true", help="write the chart and section from scale.json")
    parser.add_argument("--reuse-written", action="store_true",
                        help="open and search the folders a run with --keep wrote (its write figures kept)")
    parser.add_argument("--rewrite-faiss", action="store_true",
                        help="with --reuse-written: write each folder's FAISS file again with this code first")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "write":
        print(json.dumps(child_write(args.base, args.size, args.folder)))
        return
    if args.child == "faiss":
        print(json.dumps(child_faiss(args.folder, args.size)))
        return
    if args.child == "open":
        print(json.dumps(child_open(args.folder)))
        return
    if args.child == "search":
        print(json.dumps(child_search(args.folder, args.queries, args.dense_only)))
        return
    command = "python3 benchmarks/scale.py " + " ".join(sys.argv[1:])
    # Rows of sizes not measured in this run are kept from the previous run (each row names its command).
    stored = json.loads(JSON_OUT.read_text(encoding="utf-8")) if JSON_OUT.is_file() and not args.no_report else {}
    previous, old_command = stored.get("rows", []), stored.get("command", "")
    rows = [row for row in previous if args.report_only or row["passages"] not in args.sizes]
    for row in rows:
        row.setdefault("command", old_command)
    for size in [] if args.report_only else args.sizes:
        work = Path(args.work)
        work.mkdir(parents=True, exist_ok=True)
        free = shutil.disk_usage(work).free
        print(f"[{time.strftime('%H:%M:%S')}] {free / 1e9:.0f} GB free", flush=True)
        row = measure(args, size, next((r for r in previous if r["passages"] == size), None))
        row["command"] = command
        rows = sorted([*(r for r in rows if r["passages"] != size), row], key=lambda r: r["passages"])
        if not args.no_report:
            JSON_OUT.write_text(json.dumps({"rows": rows}, indent=2) + "\n", encoding="utf-8")
    if not args.no_report:
        JSON_OUT.write_text(json.dumps({"rows": rows}, indent=2) + "\n", encoding="utf-8")
        chart(rows)
        write_results(section(rows))
    print(section(rows))


if __name__ == "__main__":
    main()
