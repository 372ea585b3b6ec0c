"""Build, write and open one index folder: FAISS vectors, passages, documents and a manifest.

An index is a self-describing folder of plain files (never a pickle)::

    manifest.json        format version, model, settings, sources, counts, sha256 of every file below
    vectors.faiss        IndexFlatIP over L2-normalised vectors (cosine similarity)
    store.sqlite         the passages (row i is the passage of vector i) and the documents, with their
                         clean text and pages, read by row id (store.py)
    passage-docs.npy     the document row of each passage
    cache-vectors.npy    the vector cache: one row per distinct embedded text...
    cache-keys.jsonl     ...keyed by {"model", "sha256"} of that text, so a rebuild embeds only new text
    bm25-*.npy, bm25-*.json  BM25 over the passages (bm25.py); built from the passages when absent
    clusters.json        agreed-language cluster id of each passage (grouping.py); likewise
    lineage-*.npy, lineage-params.json  word-shingle index for precedents (lineage.py); likewise

It is built in a hidden sibling folder and swapped in with ``os.replace``, so a crash or an error
midway leaves the previous index whole.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import __version__
from .errors import (
    AseanCyberDocsError,
    DocumentError,
    EmptyIndexError,
    IndexIntegrityError,
    IndexNotFoundError,
    IndexVersionError,
    ModelMismatchError,
    SkippedFilesError,
)
from .passages import document_context, embedding_text
from .store import (
    PASSAGE_DOCS_FILE,
    STORE_FILE,
    DocumentRows,
    PassageRows,
    Store,
    document_rows,
    write_store,
)
from .types import Answer, Citation, Document, Hit, Passage, Precedent
from .vectors import IVFPQ_TYPE, RESCORE_VECTORS_FILE, RescoredIndex, VectorRows, build_ivfpq

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from .embedding import Embedder

logger = logging.getLogger(__name__)

# Format 2: passages and documents in a store read by row id (store.py) instead of format 1's
# passages.jsonl and documents.jsonl, read whole at open.
FORMAT_VERSION = 2
DEFAULT_INDEX_DIR = "indexes/default"
INDEX_ENV = "ASEANCYBERDOCS_INDEX"

MANIFEST_FILE = "manifest.json"
FAISS_FILE = "vectors.faiss"
CACHE_VECTORS_FILE = "cache-vectors.npy"
CACHE_KEYS_FILE = "cache-keys.jsonl"
REQUIRED_FILES = (FAISS_FILE, STORE_FILE, PASSAGE_DOCS_FILE, CACHE_VECTORS_FILE, CACHE_KEYS_FILE)
# Files up to this size are hashed whole at every open; larger ones are checked by size and a
# sampled sha256 (see sampled_sha256), their full sha256 staying in the manifest.
HASH_WHOLE_UP_TO = 64 << 20

# How a passage's vector is made; recorded in the manifest. The passage (its context, then its
# text: passages.embedding_text) and the line naming its document (passages.document_context) are
# embedded apart, each distinct text once, and their unit vectors added, the document line's
# weighted by DOCUMENT_WEIGHT. Against embedding each passage with its document line in front, this
# embeds less than half the word pieces (the corpus repeats its paragraphs from draft to
# resolution, and a document's line is embedded once, not once per passage), and retrieval is no
# worse (README.md, "What is indexed"; DOCUMENT_WEIGHT chosen on the dev split).
DOCUMENT_WEIGHT = 0.4
EMBED_TEXT_RULE = (
    f"normalise(v(context + '\\n' + text) + {DOCUMENT_WEIGHT} * v(document line)); "
    "each text embedded alone, empty parts left out"
)
_ENCODE_BATCH = 256

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``; stage is "model" (loading it), "read" (sources) or "embed"."""


@dataclass(frozen=True, slots=True)
class SkippedFile:
    """A source file left out of the index, and why."""

    path: str
    reason: str


@dataclass(frozen=True, slots=True)
class BuildReport:
    """What a build did: counts, time, and the files it skipped."""

    index_dir: str
    model: str
    documents: int
    passages: int
    embedded: int
    reused: int
    seconds: float
    skipped: tuple[SkippedFile, ...] = ()
    doc_types: dict[str, int] = field(default_factory=dict)
    documents_reused: int = 0
    workers: int = 1
    cluster: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def default_index_dir() -> Path:
    """``$ASEANCYBERDOCS_INDEX`` if set, else ``indexes/default``."""
    return Path(os.environ.get(INDEX_ENV) or DEFAULT_INDEX_DIR)


# --------------------------------------------------------------------------------------------
# Building


def build_index(
    paths: Iterable[str | Path],
    index_dir: str | Path | None = None,
    *,
    model: str | None = None,
    embedder: Embedder | None = None,
    max_tokens: int | None = None,
    catalog: Any = None,
    progress: Progress | None = None,
    index_type: str = "auto",
    strict: bool = False,
    workers: int | None = None,
    cluster: str | None = None,
    _executor: Executor | None = None,
) -> BuildReport:
    """Read the source files under ``paths`` and write an index to ``index_dir``.

    A file that cannot be read is skipped and listed in the report (with ``strict``, it is an
    error and the index is left as it was); the build goes on. Vectors of passages whose text is unchanged are taken from the previous
    index's cache instead of being embedded again.

    Args:
        paths: files or folders (searched recursively for .pdf, .txt and .md).
        index_dir: the index folder; default ``$ASEANCYBERDOCS_INDEX`` or ``indexes/default``.
        model: a sentence-transformers model name or folder (default all-MiniLM-L6-v2).
        embedder: an embedder to use instead of loading ``model``.
        max_tokens: passage size limit in model tokens (default: the model's window).
        catalog: metadata catalog handed to ``load_document``.
        progress: called as ``progress(stage, done, total)``.
        index_type: FAISS index, "flat" (exact), "hnsw" (approximate, for millions of passages) or
            "auto" (flat up to HNSW_ABOVE passages, then hnsw).
        strict: raise SkippedFilesError, before writing anything, if any file was skipped.
        workers: processes reading and splitting files (default ``$ASEANCYBERDOCS_WORKERS`` or one
            per CPU); 1 reads in this process. The index is the same whatever the number.
        cluster: read and embed on a Dask.distributed cluster instead: a scheduler address
            (``tcp://host:8786``) or ``local`` to start one on this machine's cores (see cluster.py).
            The index is the same as a one-process build's; ``workers`` is then the cluster's.

    Returns:
        A BuildReport.

    Raises:
        EmptyIndexError: no source file, or none that could be read.
        SkippedFilesError: ``strict`` and a file was skipped.
        ModelLoadError: the model cannot be loaded.
        ClusterError: ``cluster`` cannot be reached or started.

    Example:
        >>> report = build_index(["corpus/un/text"], "indexes/default")  # doctest: +SKIP
        >>> report.documents  # doctest: +SKIP
        10
    """
    from .sources import find_sources

    if cluster is not None:
        return _build_on_cluster(
            cluster, paths, index_dir, model=model, embedder=embedder, max_tokens=max_tokens, catalog=catalog,
            progress=progress, index_type=index_type, strict=strict,
        )
    started = time.perf_counter()
    index_path = Path(index_dir) if index_dir is not None else default_index_dir()
    _check_target(index_path)
    files = find_sources(paths)
    if not files:
        raise EmptyIndexError(f"no .pdf, .txt or .md file found in {', '.join(map(str, paths))}")
    if embedder is None:
        from .embedding import load_embedder

        if progress is not None:
            progress("model", 0, 1)
        embedder = load_embedder(model)

    max_tokens = int(max_tokens or embedder.max_tokens)
    fingerprint = _parser_fingerprint(embedder.name, max_tokens)
    # A custom catalog may change any document's metadata: read every file again then.
    reusable = _reusable_documents(index_path, fingerprint) if catalog is None else {}
    cache = _read_cache(index_path, embedder)
    embedding = _Pipeline(embedder, cache, progress)
    documents: list[Document] = []
    passages: list[Passage] = []
    skipped: list[SkippedFile] = []
    seen: dict[str, str] = {}
    documents_reused = 0
    used: list[int] = []  # the number of reading processes, set by _read_sources
    for done, (path, outcome) in enumerate(
        _read_sources(
            files, reusable, catalog=catalog, max_tokens=max_tokens, embedder=embedder, workers=workers, used=used,
            executor=_executor,
        ),
        start=1,
    ):
        if isinstance(outcome, SkippedFile):
            logger.warning("skipped %s: %s", outcome.path, outcome.reason)
            skipped.append(outcome)
        else:
            document, document_passages, was_reused = outcome
            if document.doc_id in seen:
                reason = f"duplicate doc_id {document.doc_id!r}, already read from {seen[document.doc_id]}"
                logger.warning("skipped %s: %s", path, reason)
                skipped.append(SkippedFile(str(path), reason))
            else:
                seen[document.doc_id] = str(path)
                documents.append(document)
                passages.extend(document_passages)
                documents_reused += was_reused
                # Embedding goes on in this process while the workers read the next files.
                embedding.add(document, document_passages)
        if progress is not None:
            progress("read", done, len(files))
    if strict and skipped:
        listed = "; ".join(f"{item.path}: {item.reason}" for item in skipped[:5])
        more = f"; and {len(skipped) - 5} more" if len(skipped) > 5 else ""
        raise SkippedFilesError(
            f"strict build: {len(skipped)} of {len(files)} files skipped, index not written ({listed}{more})", skipped
        )
    embedding.finish()
    report = build_index_from_documents(
        documents,
        index_path,
        embedder=embedder,
        passages=passages,
        max_tokens=max_tokens,
        skipped=skipped,
        progress=progress,
        _started=started,
        _parser_fingerprint=fingerprint,
        _documents_reused=documents_reused,
        _cache=cache,
        _embedded=embedding.embedded,
        index_type=index_type,
    )
    return replace(report, workers=used[0] if used else 1)


def _build_on_cluster(cluster: str, paths: Iterable[str | Path], index_dir: str | Path | None, *,
                      model: str | None, embedder: Embedder | None, **options: Any) -> BuildReport:
    """``build_index`` with files read and texts embedded as tasks of the cluster at ``cluster``."""
    from .cluster import connect

    _check_target(Path(index_dir) if index_dir is not None else default_index_dir())
    if embedder is None:
        from .embedding import load_embedder

        embedder = load_embedder(model)  # here for token counts only: the workers embed
    with connect(cluster) as connected:
        report = build_index(paths, index_dir, embedder=connected.embedder(embedder), _executor=connected.executor,
                             **options)
    return replace(report, workers=connected.workers, cluster=cluster)


WORKERS_ENV = "ASEANCYBERDOCS_WORKERS"
# New passage texts gathered before they are sorted by length and embedded: long enough for
# batches of similar length (little padding), short enough to keep embedding while files are read.
_EMBED_CHUNK = 1024

# Starting a worker process costs about a second: by default a few files are read in this one.
_PARALLEL_FROM = 8

_Read = tuple[Document, list[Passage], bool]  # a document, its passages, whether reused unchanged


def _worker_count(workers: int | None, files: int) -> int:
    if workers is None:
        configured = os.environ.get(WORKERS_ENV, "").strip()
        try:
            workers = int(configured) if configured else (os.cpu_count() or 1) if files >= _PARALLEL_FROM else 1
        except ValueError:
            raise ValueError(f"{WORKERS_ENV} must be a whole number, got {configured!r}") from None
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers!r}")
    return max(1, min(workers, files))


def _read_one(path: Path, catalog: Any, max_tokens: int, count_tokens: Callable[[str], int]) -> _Read | SkippedFile:
    """Read one source file and split it into passages (run in a worker process)."""
    from .passages import make_passages
    from .sources import load_document

    try:
        document = load_document(path, catalog=catalog)
    except DocumentError as exc:
        return SkippedFile(exc.path, exc.reason)
    except Exception as exc:  # a reader bug on odd input must not stop the whole build
        logger.exception("skipped %s: unexpected error", path)
        return SkippedFile(str(path), f"unexpected error ({type(exc).__name__}: {' '.join(str(exc).split())})")
    return document, make_passages(document, max_tokens=max_tokens, count_tokens=count_tokens), False


def _read_sources(
    files: Sequence[Path],
    reusable: dict[str, tuple[Document, list[Passage]]],
    *,
    catalog: Any,
    max_tokens: int,
    embedder: Embedder,
    workers: int | None,
    used: list[int],
    executor: Executor | None = None,
) -> Iterable[tuple[Path, _Read | SkippedFile]]:
    """Each file's document and passages, or why it was skipped, in the order of ``files``.

    Files unchanged since the previous build are taken from it; the others are read and split in
    ``workers`` processes (PDF parsing is pure Python and holds one core per file), or as tasks
    of ``executor`` (a cluster's) when one is given.
    """
    reused: dict[Path, _Read] = {}
    for path in files:
        previous = reusable.get(_source_key(path))
        try:
            if previous is not None and previous[0].sha256 == sha256_file(Path(path)):
                reused[path] = (replace(previous[0], source=str(path)), previous[1], True)
        except OSError:
            pass  # read it: load_document names the problem
    to_read = [path for path in files if path not in reused]
    if executor is not None:
        used.append(1)
        futures = {path: executor.submit(_read_one, path, catalog, max_tokens, embedder.count_tokens)
                   for path in to_read}
        for path in files:
            yield path, reused[path] if path in reused else futures[path].result()
        return
    count = _worker_count(workers, len(to_read))
    count_tokens = embedder.count_tokens
    if count > 1:
        import pickle

        try:
            pickle.dumps(count_tokens)
        except Exception as exc:  # an embedder that cannot be sent to another process
            logger.info("reading in one process: the embedder's token counter cannot be pickled (%s)", exc)
            count = 1
    used.append(count)
    if count == 1:
        for path in files:
            yield path, reused[path] if path in reused else _read_one(path, catalog, max_tokens, count_tokens)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # spawn: a fresh interpreter per worker, safe whatever threads this process runs (ONNX Runtime).
    pool = ProcessPoolExecutor(count, mp_context=multiprocessing.get_context("spawn"))
    try:
        futures = {path: pool.submit(_read_one, path, catalog, max_tokens, count_tokens) for path in to_read}
        for path in files:
            yield path, reused[path] if path in reused else futures[path].result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _Pipeline:
    """Embeds the texts missing from the vector cache while the files are still being read.

    A document's line and its passages' texts (``_embedded_texts``) are gathered in file order and
    embedded ``_EMBED_CHUNK`` at a time, sorted by length: the chunks depend only on the files, so
    any number of workers gives the same vectors.
    """

    def __init__(self, embedder: Embedder, cache: dict[str, np.ndarray], progress: Progress | None) -> None:
        self.embedder = embedder
        self.cache = cache
        self.progress = progress
        self.pending: dict[str, str] = {}
        self.embedded = 0

    def add(self, document: Document, passages: Sequence[Passage]) -> None:
        for text in _embedded_texts(document, passages):
            key = _sha256_text(text)
            if key not in self.cache and key not in self.pending:
                self.pending[key] = text
        if len(self.pending) >= _EMBED_CHUNK:
            self._flush()

    def finish(self) -> None:
        if self.pending:
            self._flush()

    def _flush(self) -> None:
        keys = sorted(self.pending, key=lambda key: len(self.pending[key]))
        vectors = _encode(self.embedder, [self.pending[key] for key in keys], None)
        self.cache.update(zip(keys, vectors))
        self.embedded += len(keys)
        self.pending.clear()
        if self.progress is not None:
            self.progress("embed", self.embedded, self.embedded)


def build_index_from_documents(
    documents: Sequence[Document],
    index_dir: str | Path | None = None,
    *,
    embedder: Embedder,
    passages: Iterable[Passage] | None = None,
    max_tokens: int | None = None,
    skipped: Iterable[SkippedFile] = (),
    progress: Progress | None = None,
    index_type: str = "auto",
    _started: float | None = None,
    _parser_fingerprint: str | None = None,
    _documents_reused: int = 0,
    _cache: dict[str, np.ndarray] | None = None,
    _embedded: int = 0,
) -> BuildReport:
    """Write an index of ``documents`` to ``index_dir``, splitting them into passages unless given.

    Args:
        documents: the documents (unique ``doc_id``).
        index_dir: the index folder; default ``$ASEANCYBERDOCS_INDEX`` or ``indexes/default``.
        embedder: the embedding model.
        passages: the passages of ``documents``; None to make them with ``make_passages``.
        max_tokens: passage size limit in tokens (default ``embedder.max_tokens``).
        skipped: files already left out, carried into the report and manifest.
        progress: called as ``progress(stage, done, total)``.
        index_type: FAISS index, "flat" (exact), "hnsw" (approximate, for millions of passages) or
            "auto" (flat up to HNSW_ABOVE passages, then hnsw).

    Returns:
        A BuildReport.

    Raises:
        EmptyIndexError: no document, or no passage.
        ValueError: duplicate ids, or a passage that does not match its document's text.

    Example:
        >>> build_index_from_documents([document], "/tmp/idx", embedder=FakeEmbedder())  # doctest: +SKIP
    """
    started = time.perf_counter() if _started is None else _started
    index_path = Path(index_dir) if index_dir is not None else default_index_dir()
    skipped = tuple(skipped)
    if not documents:
        reasons = "; ".join(f"{item.path}: {item.reason}" for item in skipped[:3])
        raise EmptyIndexError("no document to index" + (f" ({reasons})" if reasons else ""))
    _check_target(index_path)
    by_id = _unique_documents(documents)
    max_tokens = int(max_tokens or embedder.max_tokens)
    if passages is None:
        from .passages import make_passages

        passages = [
            passage
            for document in documents
            for passage in make_passages(document, max_tokens=max_tokens, count_tokens=embedder.count_tokens)
        ]
    passages = list(passages)
    if not passages:
        raise EmptyIndexError("the documents hold no passage to index")
    _check_passages(passages, by_id)

    # Each passage's own text and its document's line are embedded apart (EMBED_TEXT_RULE).
    line_keys: dict[str, str | None] = {}
    text_of: dict[str, str] = {}
    for document in documents:
        line = document_context(document)
        line_keys[document.doc_id] = _sha256_text(line) if line else None
        if line:
            text_of[line_keys[document.doc_id]] = line
    own_keys: list[str] = []
    for passage in passages:
        text = embedding_text(passage)
        own_keys.append(_sha256_text(text))
        text_of.setdefault(own_keys[-1], text)
    cache = _read_cache(index_path, embedder) if _cache is None else _cache
    # The cache files keep every text in first-use order: a document's line, then its passages.
    distinct = list(dict.fromkeys(
        key for passage, own in zip(passages, own_keys) for key in (line_keys[passage.doc_id], own) if key
    ))
    missing = [key for key in distinct if key not in cache]
    if missing:
        new_vectors = _encode(embedder, [text_of[key] for key in missing], progress)
        cache.update(zip(missing, new_vectors))
    cache_matrix = np.stack([cache[key] for key in distinct]).astype(np.float32, copy=False)
    row_of = {key: row for row, key in enumerate(distinct)}
    no_line = np.zeros((1, cache_matrix.shape[1]), dtype=np.float32)
    line_rows = [row_of.get(line_keys[passage.doc_id], len(distinct)) for passage in passages]
    vectors = combine_vectors(
        cache_matrix[[row_of[key] for key in own_keys]], np.concatenate([cache_matrix, no_line])[line_rows]
    )

    manifest = _manifest(
        embedder=embedder,
        max_tokens=max_tokens,
        documents=documents,
        passages=passages,
        skipped=skipped,
        parser_fingerprint=_parser_fingerprint,
        faiss_type=faiss_type_for(index_type, len(passages)),
    )
    _write_index(
        index_path,
        manifest=manifest,
        vectors=vectors,
        passages=passages,
        documents=documents,
        cache_keys=distinct,
        cache_vectors=cache_matrix,
        model=_vector_model(embedder),
        started=started,
    )
    seconds = round(time.perf_counter() - started, 3)
    logger.info("indexed %d documents, %d passages in %.1f s", len(documents), len(passages), seconds)
    return BuildReport(
        index_dir=str(index_path),
        model=embedder.name,
        documents=len(documents),
        passages=len(passages),
        embedded=len(missing) + _embedded,
        reused=len(distinct) - len(missing) - _embedded,
        seconds=seconds,
        skipped=skipped,
        doc_types=dict(sorted(Counter(document.doc_type for document in documents).items())),
        documents_reused=_documents_reused,
    )


def _unique_documents(documents: Sequence[Document]) -> dict[str, Document]:
    by_id: dict[str, Document] = {}
    for document in documents:
        if document.doc_id in by_id:
            raise ValueError(f"duplicate doc_id {document.doc_id!r}")
        by_id[document.doc_id] = document
    return by_id


def _check_passages(passages: Sequence[Passage], by_id: dict[str, Document]) -> None:
    """Refuse passages that would cite the wrong words: the offsets are the citation."""
    seen: set[str] = set()
    for passage in passages:
        if passage.passage_id in seen:
            raise ValueError(f"duplicate passage_id {passage.passage_id!r}")
        seen.add(passage.passage_id)
        document = by_id.get(passage.doc_id)
        if document is None:
            raise ValueError(f"passage {passage.passage_id!r} names unknown document {passage.doc_id!r}")
        if document.text[passage.start : passage.end] != passage.text:
            raise ValueError(
                f"passage {passage.passage_id!r} text differs from {passage.doc_id} "
                f"[{passage.start}:{passage.end}]"
            )


def _embedded_texts(document: Document, passages: Sequence[Passage]) -> list[str]:
    """The texts a document's passage vectors are made of: its line, then each passage's own text."""
    line = document_context(document)
    return [*([line] if line else []), *(embedding_text(passage) for passage in passages)]


def combine_vectors(own: np.ndarray, lines: np.ndarray, weight: float = DOCUMENT_WEIGHT) -> np.ndarray:
    """Passage vectors from the vectors of their own texts and of their documents' lines, row by row.

    ``normalise(own + weight * line)``: the passage's words lead, the document (symbol, kind, year,
    body, title) pulls it towards queries that name it. A zero row in ``lines`` adds nothing.

    Example:
        >>> combine_vectors(np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]]), 0.5).round(3)
        array([[0.894, 0.447]], dtype=float32)
    """
    combined = np.asarray(own, dtype=np.float32) + np.float32(weight) * np.asarray(lines, dtype=np.float32)
    norms = np.linalg.norm(combined, axis=1, keepdims=True)
    return np.divide(combined, norms, out=np.zeros_like(combined), where=norms > 0)


def embed_passages(embedder: Embedder, passages: Sequence[Passage], documents: dict[str, Document]) -> np.ndarray:
    """The vectors a build gives ``passages`` (``EMBED_TEXT_RULE``), each distinct text embedded once.

    Args:
        embedder: the embedding model.
        passages: the passages, in any order.
        documents: their documents by ``doc_id`` (``Library.documents``).

    Example:
        >>> vectors = embed_passages(library.embedder, library.passages[:2], library.documents)  # doctest: +SKIP
        >>> vectors.shape  # doctest: +SKIP
        (2, 384)
    """
    own = [embedding_text(passage) for passage in passages]
    lines = [document_context(documents[passage.doc_id]) for passage in passages]
    distinct = list(dict.fromkeys(text for text in [*lines, *own] if text))
    if not distinct:
        return np.zeros((0, embedder.dimension), dtype=np.float32)
    vector_of = dict(zip(distinct, _encode(embedder, distinct, None)))
    no_line = np.zeros(embedder.dimension, dtype=np.float32)
    return combine_vectors(
        np.stack([vector_of[text] for text in own]), np.stack([vector_of[text] if text else no_line for text in lines])
    )


def _encode(embedder: Embedder, texts: list[str], progress: Progress | None) -> np.ndarray:
    parts = []
    for start in range(0, len(texts), _ENCODE_BATCH):
        batch = texts[start : start + _ENCODE_BATCH]
        vectors = np.asarray(embedder.encode(batch), dtype=np.float32)
        if vectors.shape != (len(batch), embedder.dimension):
            raise AseanCyberDocsError(
                f"embedder {embedder.name!r} returned shape {vectors.shape}, "
                f"expected ({len(batch)}, {embedder.dimension})"
            )
        parts.append(vectors)
        if progress is not None:
            progress("embed", start + len(batch), len(texts))
    vectors = np.concatenate(parts)
    # Inner product equals cosine only on unit vectors. Rows already of unit length are kept
    # bit for bit, so stored vectors equal what the embedder returns.
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    off = (np.abs(norms - 1.0) > 1e-4) & (norms > 0)
    if off.any():
        vectors = np.where(off, vectors / np.where(norms > 0, norms, 1.0), vectors).astype(np.float32)
    return vectors


def _read_cache(index_path: Path, embedder: Embedder) -> dict[str, np.ndarray]:
    """Vectors of the previous build for this model, by text sha256; empty if unusable."""
    keys_path = index_path / CACHE_KEYS_FILE
    vectors_path = index_path / CACHE_VECTORS_FILE
    if not keys_path.is_file() or not vectors_path.is_file():
        return {}
    try:
        keys = [json.loads(line) for line in keys_path.read_text(encoding="utf-8").splitlines() if line]
        vectors = np.load(vectors_path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        logger.warning("ignoring the vector cache of %s: %s", index_path, exc)
        return {}
    if vectors.ndim != 2 or len(vectors) != len(keys) or vectors.shape[1] != embedder.dimension:
        logger.warning("ignoring the vector cache of %s: its shape does not match", index_path)
        return {}
    return {
        key["sha256"]: vectors[row].astype(np.float32)
        for row, key in enumerate(keys)
        if key.get("model") == _vector_model(embedder)
    }


def _vector_model(embedder: Embedder) -> str:
    """The model name the vector cache files vectors under: int8 vectors are kept apart."""
    return f"{embedder.name}@int8" if getattr(embedder, "quantized", False) else embedder.name


def _parser_fingerprint(model: str, max_tokens: int) -> str:
    """sha256 of the code and data that turn a file into passages, and of the passage settings.

    Any change to a reader, the labelling, the passage splitting or the bundled catalog changes
    it, so a rebuild never reuses documents read by other code.
    """
    package = Path(__file__).resolve().parent
    digest = hashlib.sha256(json.dumps([__version__, model, max_tokens]).encode("utf-8"))
    files = [
        *package.glob("sources/*.py"),
        *(package / name for name in ("structure.py", "passages.py", "catalog.py", "types.py")),
        *package.glob("data/*"),
    ]
    for path in sorted(path for path in files if path.is_file()):
        digest.update(path.relative_to(package).as_posix().encode("utf-8"))
        digest.update(sha256_file(path).encode("ascii"))
    return digest.hexdigest()


def _source_key(path: str | Path) -> str:
    return str(Path(path).resolve())


def _reusable_documents(index_path: Path, fingerprint: str) -> dict[str, tuple[Document, list[Passage]]]:
    """The previous index's documents and passages by source path, if read by the same code."""
    try:
        library = open_index(index_path)
    except IndexVersionError:  # an older format: migrated by this build, its documents reused if it can
        from .legacy import format1_documents

        return format1_documents(index_path, fingerprint)
    except AseanCyberDocsError:
        return {}
    if library.manifest.get("parser_fingerprint") != fingerprint:
        return {}
    by_doc: dict[str, list[Passage]] = {}
    for passage in library.passages:
        by_doc.setdefault(passage.doc_id, []).append(passage)
    reusable = {}
    for source in library.manifest.get("sources", []):
        document = library.documents.get(source.get("doc_id"))
        if document is not None and source.get("path"):
            reusable[source["path"]] = (document, by_doc.get(document.doc_id, []))
    return reusable


def _manifest(
    *,
    embedder: Embedder,
    max_tokens: int,
    documents: Sequence[Document],
    passages: Sequence[Passage],
    skipped: Sequence[SkippedFile],
    parser_fingerprint: str | None = None,
    faiss_type: str = "IndexFlatIP",
) -> dict[str, Any]:
    settings = {
        "format_version": FORMAT_VERSION,
        "model": embedder.name,
        "dimension": int(embedder.dimension),
        "max_tokens": max_tokens,
        "model_max_tokens": int(embedder.max_tokens),
        "embed_text": EMBED_TEXT_RULE,
        "faiss": faiss_type,
    }
    passage_counts = Counter(passage.doc_id for passage in passages)
    by_type: dict[str, dict[str, int]] = {}
    for document in documents:
        counts = by_type.setdefault(document.doc_type, {"documents": 0, "passages": 0})
        counts["documents"] += 1
        counts["passages"] += passage_counts[document.doc_id]
    return {
        "format_version": FORMAT_VERSION,
        "library_version": __version__,
        "model": {
            "name": embedder.name,
            "dimension": int(embedder.dimension),
            "max_tokens": int(embedder.max_tokens),
            # How the passages were embedded ("onnx", "onnx-int8", "torch"): a query may use another.
            **({"backend": embedder.backend} if getattr(embedder, "backend", None) else {}),
        },
        "settings": settings,
        "settings_fingerprint": _sha256_text(json.dumps(settings, sort_keys=True)),
        "counts": {
            "documents": len(documents),
            "passages": len(passages),
            "vectors": len(passages),
            "skipped": len(skipped),
            "by_doc_type": dict(sorted(by_type.items())),
        },
        "sources": [
            {
                "doc_id": document.doc_id,
                "source": document.source,
                "path": _source_key(document.source),
                "sha256": document.sha256,
            }
            for document in documents
        ],
        # Set by build_index: documents of unchanged files are reused while it stays the same.
        "parser_fingerprint": parser_fingerprint,
        "skipped": [asdict(item) for item in skipped],
    }


# Index types. Exact search (IndexFlatIP) is kept up to HNSW_ABOVE vectors: it needs no build
# and has full recall, and benchmarks/RESULTS.md ("FAISS index types at scale") shows a single query
# stays in milliseconds there; past it HNSW is faster per query, at a build that grows to minutes.
INDEX_TYPES = ("auto", "flat", "hnsw", "ivfpq")
HNSW_ABOVE = 300_000
# Past IVFPQ_ABOVE vectors an HNSW graph with its float vectors (about 1.8 KB a passage) would
# take most of the memory of a search machine: IVF-PQ codes (dimension / 8 bytes a passage) with
# the short list re-scored from the stored float vectors (vectors.py); benchmarks/RESULTS.md.
IVFPQ_ABOVE = 2_000_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 128


def faiss_type_for(index_type: str, vectors: int) -> str:
    """The FAISS index class for ``index_type`` ("flat", "hnsw", "ivfpq" or "auto": by corpus size).

    Raises:
        ValueError: an unknown ``index_type``.

    Example:
        >>> faiss_type_for("auto", 9_281)
        'IndexFlatIP'
    """
    if index_type not in INDEX_TYPES:
        raise ValueError(f"index_type must be one of {', '.join(INDEX_TYPES)}, got {index_type!r}")
    if index_type == "auto":
        index_type = "ivfpq" if vectors > IVFPQ_ABOVE else "hnsw" if vectors > HNSW_ABOVE else "flat"
    return {"hnsw": "IndexHNSWFlat", "ivfpq": IVFPQ_TYPE}.get(index_type, "IndexFlatIP")


def _faiss_index(faiss_type: str, vectors: np.ndarray) -> Any:
    """A FAISS index of ``faiss_type`` over ``vectors`` (inner product on normalised rows = cosine)."""
    import faiss

    dimension = vectors.shape[1]
    if faiss_type == IVFPQ_TYPE:
        return build_ivfpq(vectors)
    if faiss_type == "IndexHNSWFlat":
        index = faiss.IndexHNSWFlat(dimension, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH  # stored in the file, so it holds after loading
    else:
        index = faiss.IndexFlatIP(dimension)
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index


# --------------------------------------------------------------------------------------------
# Writing: a hidden sibling folder, then os.replace


def _check_target(index_path: Path) -> None:
    """Refuse to replace a folder that is not an index: a wrong --index must not delete files."""
    if index_path.exists() and not index_path.is_dir():
        raise AseanCyberDocsError(f"cannot write an index to {index_path}: it is a file")
    if index_path.is_dir() and not (index_path / MANIFEST_FILE).is_file() and any(index_path.iterdir()):
        raise AseanCyberDocsError(
            f"refusing to replace {index_path}: it is not empty and holds no aseancyberdocs index"
        )


def _write_index(
    index_path: Path,
    *,
    manifest: dict[str, Any],
    vectors: np.ndarray,
    passages: Sequence[Passage],
    documents: Sequence[Document],
    cache_keys: Sequence[str],
    cache_vectors: np.ndarray,
    model: str,
    started: float,
) -> None:
    import faiss

    parent = index_path.absolute().parent
    parent.mkdir(parents=True, exist_ok=True)
    _remove_stale(index_path)
    work = parent / f".{index_path.name}.tmp-{os.getpid()}-{secrets.token_hex(4)}"
    work.mkdir()
    try:
        flat = _faiss_index(manifest["settings"]["faiss"], vectors)
        faiss.write_index(flat, str(work / FAISS_FILE))
        write_store(work, documents, passages)
        _write_lines(work / CACHE_KEYS_FILE, ({"model": model, "sha256": key} for key in cache_keys))
        with open(work / CACHE_VECTORS_FILE, "wb") as handle:
            np.save(handle, np.ascontiguousarray(cache_vectors, dtype=np.float32), allow_pickle=False)
        search_files = _write_search_files(work, passages, documents)
        if manifest["settings"]["faiss"] == IVFPQ_TYPE:  # its short list re-scored with the exact vectors
            with open(work / RESCORE_VECTORS_FILE, "wb") as handle:
                np.save(handle, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
            search_files.append(RESCORE_VECTORS_FILE)
        manifest = dict(manifest)
        manifest["files"] = {name: sha256_file(work / name) for name in (*REQUIRED_FILES, *search_files)}
        manifest["sampled"] = {
            name: {"size": (work / name).stat().st_size, "sha256": sampled_sha256(work / name)}
            for name in manifest["files"]
            if (work / name).stat().st_size > HASH_WHOLE_UP_TO
        }
        manifest["built"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        manifest["build_seconds"] = round(time.perf_counter() - started, 3)
        (work / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        for name in (*REQUIRED_FILES, *search_files, MANIFEST_FILE):
            _fsync_file(work / name)
        _fsync_dir(work)
        _swap_in(work, index_path)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _write_search_files(work: Path, passages: Sequence[Passage], documents: Sequence[Document]) -> list[str]:
    """BM25 (bm25.py) and the agreed-language clusters (grouping.py); the names of their files."""
    from .bm25 import write_bm25
    from .grouping import write_clusters
    from .lineage import write_shingles

    by_id = {document.doc_id: document for document in documents}
    return [*write_bm25(work, passages, by_id), write_clusters(work, passages), *write_shingles(work, passages)]


def _swap_in(work: Path, index_path: Path) -> None:
    parent = work.parent
    if index_path.exists() and _exchange(work, index_path):
        # One atomic step: a reader sees the old folder or the new one, never no index.
        _fsync_dir(parent)
        shutil.rmtree(work, ignore_errors=True)  # now the previous index
        return
    if index_path.exists():
        aside = parent / f".{index_path.name}.old-{os.getpid()}-{secrets.token_hex(4)}"
        os.replace(index_path, aside)
        os.replace(work, index_path)
        shutil.rmtree(aside, ignore_errors=True)
    else:
        os.replace(work, index_path)
    _fsync_dir(parent)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two folders atomically (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    if not hasattr(os, "uname") or os.uname().sysname != "Linux":
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):  # glibc older than 2.28, musl
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange)
    return result == 0


def _remove_stale(index_path: Path) -> None:
    """Remove the temporary folders of builds that died; bring back an index left aside."""
    parent = index_path.absolute().parent
    name = index_path.name
    for kind in ("old", "tmp"):
        for folder in sorted(parent.glob(f".{name}.{kind}-*")):
            pid = _pid_of(folder.name)
            if pid is not None and pid != os.getpid() and _alive(pid):
                continue  # another build is writing it right now
            if kind == "old" and not index_path.exists() and (folder / MANIFEST_FILE).is_file():
                # A build died between its two renames: the previous index is the one aside.
                logger.warning("restoring %s from %s", index_path, folder)
                os.replace(folder, index_path)
                continue
            logger.info("removing stale %s", folder)
            shutil.rmtree(folder, ignore_errors=True)


def _pid_of(folder_name: str) -> int | None:
    try:
        return int(folder_name.rsplit("-", 2)[-2])
    except (IndexError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write_lines(path: Path, records: Iterable[dict[str, Any]]) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as handle:
        for record in records:
            handle.write(json.dumps(record, ensure_ascii=False, default=str))
            handle.write("\n")


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def sha256_file(path: Path) -> str:
    """The sha256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Opening


def open_index(
    index_dir: str | Path | None = None, *, embedder: Embedder | None = None, preload_model: bool = False
) -> Library:
    """Open the index at ``index_dir`` after checking its format and file hashes.

    The embedding model and FAISS load on the first search, not here; with ``preload_model``,
    the manifest's model starts loading in a background thread while the files are read (for a
    search right after, as the CLI does).

    Args:
        index_dir: the index folder; default ``$ASEANCYBERDOCS_INDEX`` or ``indexes/default``.
        embedder: the query encoder; default: the model named in the manifest.
        preload_model: start loading the query encoder now, in the background.

    Returns:
        A Library.

    Raises:
        IndexNotFoundError: no index there.
        IndexVersionError: an index format this version cannot read.
        IndexIntegrityError: a file is missing or altered, or counts disagree.
        ModelMismatchError: ``embedder`` is not the model the index was built with.

    Example:
        >>> library = open_index("indexes/default")  # doctest: +SKIP
        >>> library.search("norms of responsible State behaviour", k=3)[0].citation  # doctest: +SKIP
    """
    index_path = Path(index_dir) if index_dir is not None else default_index_dir()
    for attempt in range(3):
        before = _folder_id(index_path)
        try:
            library = _open_once(index_path, preload_model=preload_model and embedder is None and attempt == 0)
        except (IndexIntegrityError, IndexNotFoundError, OSError):
            # A build swapped a new index in while this one was read: read again, the new one whole.
            if attempt == 2 or before is None or _folder_id(index_path) == before:
                raise
            continue
        if embedder is not None:
            library.embedder = embedder
        return library
    raise AssertionError("unreachable")  # pragma: no cover


def _folder_id(path: Path) -> tuple[int, int] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


def _preload(model: str) -> None:
    """Start loading ``model``'s query encoder in the background, where the embedder can."""
    from .embedding import load_embedder

    try:
        preload = getattr(load_embedder(model), "preload", None)
    except (AseanCyberDocsError, ValueError) as exc:  # reported again by the first search
        logger.debug("not preloading %s: %s", model, exc)
        return
    if preload is not None:
        preload()


def _open_once(index_path: Path, *, preload_model: bool = False) -> Library:
    manifest_path = index_path / MANIFEST_FILE
    if not manifest_path.is_file():
        raise IndexNotFoundError(
            f"no index at {index_path}: build one with `aseancyberdocs build PATH --index {index_path}`"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexIntegrityError(f"{manifest_path}: unreadable manifest: {exc}") from exc
    if not isinstance(manifest, dict):
        raise IndexIntegrityError(f"{manifest_path}: the manifest is not a JSON object")
    version = manifest.get("format_version")
    if version == 1:
        raise IndexVersionError(
            f"{index_path} is an index of format version 1 (passages and documents in JSON lines), which "
            f"aseancyberdocs {__version__} does not open: run `aseancyberdocs build PATH --index {index_path}` "
            f"to rebuild it in format {FORMAT_VERSION} (its documents and vectors are reused where the code "
            "that read and embedded them is unchanged)"
        )
    if version != FORMAT_VERSION:
        raise IndexVersionError(
            f"{index_path} is an index of format version {version!r}; aseancyberdocs {__version__} "
            f"reads version {FORMAT_VERSION}: rebuild it with `aseancyberdocs build`"
        )
    _check_manifest_fields(manifest_path, manifest)
    if preload_model:
        _preload(manifest["model"]["name"])
    # Files are parsed from the very bytes whose hash was checked, and the store is opened on the
    # very file whose hash was checked: a build replacing the index meanwhile makes the check fail
    # (and open_index read again), never a mix of two builds.
    store_path = index_path / STORE_FILE
    before, vectors_id = _file_id(store_path), _file_id(index_path / RESCORE_VECTORS_FILE)
    snapshot = _verify_files(index_path, manifest)
    store = Store(store_path)
    try:
        if _file_id(store_path) != before:
            raise IndexIntegrityError(f"{index_path}: {STORE_FILE} was replaced while the index was opened")
        doc_rows = _doc_rows(index_path, snapshot.pop(PASSAGE_DOCS_FILE), store)
        counts = manifest.get("counts", {})
        if store.passage_count != counts.get("passages") or store.passage_count != counts.get("vectors"):
            raise IndexIntegrityError(
                f"{index_path}: {store.passage_count} passages, but the manifest counts "
                f"{counts.get('passages')} passages and {counts.get('vectors')} vectors"
            )
        if len(store.doc_ids) != counts.get("documents") or len(set(store.doc_ids)) != len(store.doc_ids):
            raise IndexIntegrityError(
                f"{index_path}: {len(store.doc_ids)} documents, but the manifest counts {counts.get('documents')}"
            )
    except BaseException:
        store.close()
        raise
    library = Library(index_path, manifest, DocumentRows(store), PassageRows(store, doc_rows))
    if manifest.get("settings", {}).get("faiss") == IVFPQ_TYPE:
        if RESCORE_VECTORS_FILE not in manifest.get("files", {}):
            store.close()
            raise IndexIntegrityError(f"{index_path}: an IVF-PQ index without {RESCORE_VECTORS_FILE} in its manifest")
        library._rescore = _rescore_vectors(index_path, snapshot, vectors_id, store.passage_count)
    library._faiss_bytes = snapshot.pop(FAISS_FILE)
    # BM25 and clusters load on first use, from these checked bytes (bm25.index_file_bytes).
    library._file_bytes = snapshot
    return library


def _rescore_vectors(
    index_path: Path, snapshot: dict[str, bytes], vectors_id: tuple[int, ...] | None, passages: int
) -> tuple[VectorRows, np.ndarray]:
    """The passage vectors of an IVF-PQ index (rows read on demand), row i being passage i."""
    snapshot.pop(RESCORE_VECTORS_FILE, None)  # read by row below, not kept whole
    try:
        vectors = VectorRows(index_path / RESCORE_VECTORS_FILE)
    except (OSError, ValueError) as exc:
        raise IndexIntegrityError(f"{index_path}: cannot read the vectors an IVF-PQ index re-scores with: {exc}") from exc
    if _file_id(index_path / RESCORE_VECTORS_FILE) != vectors_id:
        raise IndexIntegrityError(f"{index_path}: {RESCORE_VECTORS_FILE} was replaced while the index was opened")
    if vectors.ndim != 2 or len(vectors) != passages:
        raise IndexIntegrityError(
            f"{index_path}: {RESCORE_VECTORS_FILE} holds {len(vectors)} vectors for {passages} passages"
        )
    return vectors, np.arange(passages, dtype=np.int64)


def _file_id(path: Path) -> tuple[int, ...] | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns


def _doc_rows(index_path: Path, data: bytes, store: Store) -> np.ndarray:
    """The document row of each passage, checked against the store's counts."""
    from .npy import array_from_bytes

    try:
        rows = array_from_bytes(data)
    except ValueError as exc:
        raise IndexIntegrityError(f"{index_path}: {PASSAGE_DOCS_FILE} is not a NumPy array: {exc}") from exc
    if (
        rows.ndim != 1
        or rows.dtype.kind not in "iu"
        or len(rows) != store.passage_count
        or (len(rows) and (int(rows.min()) < 0 or int(rows.max()) >= len(store.doc_ids)))
    ):
        raise IndexIntegrityError(
            f"{index_path}: {PASSAGE_DOCS_FILE} does not give a document row for each of {store.passage_count} passages"
        )
    return rows


def _check_manifest_fields(manifest_path: Path, manifest: dict[str, Any]) -> None:
    """The fields later code relies on, so a tampered manifest is an integrity error, not a crash."""
    model = manifest.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("name"), str):
        raise IndexIntegrityError(f"{manifest_path}: the manifest names no embedding model")
    if isinstance(model.get("dimension"), bool) or not isinstance(model.get("dimension"), int) or model["dimension"] < 1:
        raise IndexIntegrityError(f"{manifest_path}: the manifest gives no valid vector dimension")
    if not isinstance(manifest.get("counts"), dict):
        raise IndexIntegrityError(f"{manifest_path}: the manifest gives no counts")


def _verify_files(index_path: Path, manifest: dict[str, Any]) -> dict[str, bytes]:
    """Check every listed file against its sha256; the bytes of the files ``open_index`` parses.

    The files parsed at open are read whole and hashed whole. The store and the vector cache are
    read by row or only by builds: hashed whole up to HASH_WHOLE_UP_TO bytes; a larger one is
    checked by its size and ``sampled_sha256`` (recorded in the manifest under "sampled"), so that
    opening a ten-million-passage index does not read gigabytes.
    """
    files = manifest.get("files")
    if not isinstance(files, dict):
        raise IndexIntegrityError(f"{index_path}: the manifest lists no files")
    for name in REQUIRED_FILES:
        if name not in files:
            raise IndexIntegrityError(f"{index_path}: the manifest does not list {name}")
    snapshot: dict[str, bytes] = {}
    sampled = manifest.get("sampled") if isinstance(manifest.get("sampled"), dict) else {}
    for name, expected in files.items():
        path = index_path / name
        if Path(name).name != name:
            raise IndexIntegrityError(f"{index_path}: the manifest names a file outside the index: {name!r}")
        if not path.is_file():
            raise IndexIntegrityError(f"{index_path}: {name} is missing")
        if name not in _UNREAD_AT_OPEN:  # the files a reader parses at open
            snapshot[name] = path.read_bytes()
            digest = hashlib.sha256(snapshot[name]).hexdigest()
        elif path.stat().st_size > HASH_WHOLE_UP_TO and isinstance(sampled.get(name), dict):
            size, digest = path.stat().st_size, sampled_sha256(path)
            if size != sampled[name].get("size") or digest != sampled[name].get("sha256"):
                raise IndexIntegrityError(f"{index_path}: {name} has changed since the build (size or sampled sha256 differs)")
            continue
        else:
            digest = sha256_file(path)
        if digest != expected:
            raise IndexIntegrityError(f"{index_path}: {name} has changed since the build (sha256 differs)")
    return snapshot


# Read by row (the store) or only by builds (the vector cache): not read whole at open.
_UNREAD_AT_OPEN = (STORE_FILE, CACHE_VECTORS_FILE, CACHE_KEYS_FILE)
_SAMPLES = 64
_SAMPLE_BYTES = 64 << 10


def sampled_sha256(path: Path) -> str:
    """sha256 of a file's size, its first and last MiB and 64 blocks of 64 KiB spread evenly between.

    Reads about 6 MiB whatever the size: it catches a truncated, extended or swapped file and
    damage to its header, not every changed byte (the manifest keeps the full sha256 for that).
    """
    size = path.stat().st_size
    digest = hashlib.sha256(str(size).encode("ascii"))
    with open(path, "rb") as handle:
        offsets = [0, *(size * i // (_SAMPLES + 1) for i in range(1, _SAMPLES + 1)), max(0, size - (1 << 20))]
        for number, offset in enumerate(offsets):
            handle.seek(offset)
            digest.update(handle.read(1 << 20 if number in (0, len(offsets) - 1) else _SAMPLE_BYTES))
    return digest.hexdigest()


class Library:
    """An opened index: documents, passages and their vectors, searchable.

    Use ``open_index`` to get one. The embedding model and FAISS load on first use. ``passages``
    (row i = vector i) and ``documents`` (by ``doc_id``) read the index's store row by row
    (store.py): only what is asked for becomes Python objects, and a document's text is read when
    first used.

    Example:
        >>> library = open_index()  # doctest: +SKIP
        >>> for hit in library.search("capacity-building for developing countries", k=3):  # doctest: +SKIP
        ...     print(hit.rank, hit.citation)
    """

    def __init__(
        self,
        index_dir: Path,
        manifest: dict[str, Any],
        documents: Mapping[str, Document],
        passages: Sequence[Passage],
    ) -> None:
        self.index_dir = index_dir
        self.manifest = manifest
        self.documents = documents
        self.passages = passages
        self._embedder: Embedder | None = None
        self._faiss: Any = None
        self._faiss_bytes: bytes | None = None  # set by open_index: the bytes checked against the manifest
        self._rescore: tuple[VectorRows, np.ndarray] | None = None  # an IVF-PQ index's exact vectors
        self._citations: dict[int, Citation] = {}

    def __repr__(self) -> str:
        return f"Library({str(self.index_dir)!r}, documents={len(self.documents)}, passages={len(self.passages)})"

    def __len__(self) -> int:
        return len(self.passages)

    @property
    def model_name(self) -> str:
        """The embedding model the index was built with."""
        return str(self.manifest["model"]["name"])

    @property
    def embedder(self) -> Embedder:
        """The query encoder: the manifest's model, loaded on first use."""
        if self._embedder is None:
            from .embedding import load_embedder

            self.embedder = load_embedder(self.model_name)
        assert self._embedder is not None
        return self._embedder

    @embedder.setter
    def embedder(self, embedder: Embedder) -> None:
        model = self.manifest["model"]
        if embedder.name != model["name"] or int(embedder.dimension) != int(model["dimension"]):
            raise ModelMismatchError(
                f"{self.index_dir} was built with {model['name']!r} ({model['dimension']} dimensions); "
                f"the query encoder is {embedder.name!r} ({embedder.dimension} dimensions)"
            )
        self._embedder = embedder

    @property
    def faiss_index(self) -> Any:
        """The FAISS index, read on first use."""
        if self._faiss is None:
            import faiss

            # Read the bytes once and check them against the manifest read at open time: a build
            # may have swapped in a new index since, and its vectors must not meet these passages.
            data = self._faiss_bytes if self._faiss_bytes is not None else (self.index_dir / FAISS_FILE).read_bytes()
            if hashlib.sha256(data).hexdigest() != self.manifest["files"][FAISS_FILE]:
                raise IndexIntegrityError(
                    f"{self.index_dir}: {FAISS_FILE} has changed since the index was opened "
                    "(rebuilt meanwhile?): open it again"
                )
            try:
                flat = faiss.deserialize_index(np.frombuffer(data, dtype=np.uint8))
            except RuntimeError as exc:  # FAISS reports a malformed file this way
                raise IndexIntegrityError(f"{self.index_dir}: {FAISS_FILE} is not a FAISS index: {exc}") from exc
            self._faiss_bytes = None
            if self._rescore is not None:
                flat = RescoredIndex(flat, *self._rescore)
            if flat.ntotal != len(self.passages) or flat.d != int(self.manifest["model"]["dimension"]):
                raise IndexIntegrityError(
                    f"{self.index_dir}: {FAISS_FILE} holds {flat.ntotal} vectors of dimension {flat.d}, "
                    f"expected {len(self.passages)} of dimension {self.manifest['model']['dimension']}"
                )
            self._faiss = flat
        return self._faiss

    @property
    def document_rows(self) -> np.ndarray:
        """The position of each passage's document in ``documents`` (row i for passage i)."""
        return document_rows(self.passages, self.documents)

    def vectors(self) -> np.ndarray:
        """All passage vectors, row i for passage i (float32, L2-normalised)."""
        return self.faiss_index.reconstruct_n(0, self.faiss_index.ntotal)

    def encode_query(self, query: str) -> np.ndarray:
        """The query's vector, shape (dimension,)."""
        return np.asarray(self.embedder.encode([query]), dtype=np.float32)[0]

    def document(self, doc_id: str) -> Document:
        """The document ``doc_id``; KeyError names it when absent."""
        try:
            return self.documents[doc_id]
        except KeyError:
            raise KeyError(f"no document {doc_id!r} in {self.index_dir}") from None

    def citation(self, index: int) -> Citation:
        """The citation of passage ``index`` (cached)."""
        citation = self._citations.get(index)
        if citation is None:
            from .citations import cite

            passage = self.passages[index]
            citation = cite(self.documents[passage.doc_id], passage)
            self._citations[index] = citation
        return citation

    def search(
        self,
        query: str,
        k: int = 10,
        *,
        mode: str = "hybrid",
        group: bool = True,
        fusion: str | None = None,
        doc_type: Any = None,
        body: str | None = None,
        since: Any = None,
        until: Any = None,
        doc: Any = None,
        where: dict[str, Any] | None = None,
    ) -> list[Hit]:
        """The ``k`` passages that best answer ``query``, best first; see ``aseancyberdocs.search.search``.

        Raises:
            ValueError: empty query, ``k < 1``, a bad mode or filter value.
            NoMatchError: the filters leave no passage.

        Example:
            >>> open_index().search("ransomware payments", k=5, doc_type="joint statement")  # doctest: +SKIP
        """
        from .search import search

        return search(
            self, query, k=k, mode=mode, group=group, fusion=fusion,
            doc_type=doc_type, body=body, since=since, until=until, doc=doc, where=where,
        )

    def ask(self, question: str, k: int = 8, generator: Any = None) -> Answer:
        """An extractive answer to ``question``: quoted, verified sentences, each cited [n].

        See ``aseancyberdocs.answer.ask`` for the options and the no-answer threshold.

        Example:
            >>> open_index().ask("Which norm protects critical infrastructure?").citations[0].citation  # doctest: +SKIP
            'A/RES/73/27, para. 1.6 (p. 4)'
        """
        from .answer import ask

        return ask(self, question, k=k, generator=generator)

    def precedents(self, text_or_passage_id: str, as_of: Any = None, min_shared: float | None = None) -> list[Precedent]:
        """Every passage sharing the language of a phrase, paragraph or passage id, earliest first.

        See ``aseancyberdocs.lineage.precedents``.

        Example:
            >>> open_index().precedents("considerable progress has been achieved in developing")[0].first  # doctest: +SKIP
            True
        """
        from .lineage import DEFAULT_MIN_SHARED, precedents

        shared = DEFAULT_MIN_SHARED if min_shared is None else min_shared
        return precedents(self, text_or_passage_id, as_of=as_of, min_shared=shared)

    def info(self) -> dict[str, Any]:
        """What the index holds and how it was built, as a JSON-ready dict."""
        manifest = self.manifest
        counts = manifest.get("counts", {})
        return {
            "index_dir": str(self.index_dir),
            "format_version": manifest.get("format_version"),
            "library_version": manifest.get("library_version"),
            "built": manifest.get("built"),
            "build_seconds": manifest.get("build_seconds"),
            "model": manifest.get("model"),
            "settings": manifest.get("settings"),
            "settings_fingerprint": manifest.get("settings_fingerprint"),
            "documents": len(self.documents),
            "passages": len(self.passages),
            "by_doc_type": counts.get("by_doc_type", {}),
            "skipped": manifest.get("skipped", []),
        }
