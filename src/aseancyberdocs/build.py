"""Build an index: read the source files, split them into passages, embed, and hand the folder to folder.py.

``build_index`` reads files (in worker processes, or as tasks of a cluster: cluster.py), reuses
the documents of unchanged files and the vectors of unchanged passage texts from the previous
index, embeds the rest while files are still being read, and writes the folder with
``folder.write_index``. ``build_index_from_documents`` does the same from documents already read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import __version__
from .errors import (
    AseanCyberDocsError,
    DocumentError,
    EmptyIndexError,
    IndexVersionError,
    SkippedFilesError,
)
from .folder import (
    CACHE_KEYS_FILE,
    CACHE_VECTORS_FILE,
    FORMAT_VERSION,
    SearchFiles,
    check_target,
    default_index_dir,
    faiss_type_for,
    open_index,
    sha256_file,
    sha256_text,
    write_index,
)
from .npy import load as load_npy
from .passages import document_context, embedding_text
from .types import Document, Passage

if TYPE_CHECKING:
    from concurrent.futures import Executor

    from .embedding import Embedder

logger = logging.getLogger(__name__)

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
        index_type: FAISS index, "flat" (exact), "hnsw" (approximate, for millions of passages),
            "ivfpq" or "ivfsq" (inverted lists of PQ or 8-bit codes, the short list re-scored exactly) or
            "auto" (flat up to HNSW_ABOVE passages, hnsw up to IVFPQ_ABOVE, then ivfsq).
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
    check_target(index_path)
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
    # BM25, clusters and shingles need the passages only: made in a thread while the last texts
    # are embedded, instead of on one core after the embedding.
    search_files = SearchFiles(index_path, passages, documents) if documents and passages else None
    try:
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
            _search_files=search_files,
            index_type=index_type,
        )
    finally:
        if search_files is not None:
            search_files.discard()
    return replace(report, workers=used[0] if used else 1)


def _build_on_cluster(cluster: str, paths: Iterable[str | Path], index_dir: str | Path | None, *,
                      model: str | None, embedder: Embedder | None, **options: Any) -> BuildReport:
    """``build_index`` with files read and texts embedded as tasks of the cluster at ``cluster``."""
    from .cluster import connect

    check_target(Path(index_dir) if index_dir is not None else default_index_dir())
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
            key = sha256_text(text)
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
    _search_files: SearchFiles | None = None,
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
        index_type: FAISS index, "flat" (exact), "hnsw" (approximate, for millions of passages),
            "ivfpq" or "ivfsq" (inverted lists of PQ or 8-bit codes, the short list re-scored exactly) or
            "auto" (flat up to HNSW_ABOVE passages, hnsw up to IVFPQ_ABOVE, then ivfsq).

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
    check_target(index_path)
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
        line_keys[document.doc_id] = sha256_text(line) if line else None
        if line:
            text_of[line_keys[document.doc_id]] = line
    own_keys: list[str] = []
    for passage in passages:
        text = embedding_text(passage)
        own_keys.append(sha256_text(text))
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
    write_index(
        index_path,
        manifest=manifest,
        vectors=vectors,
        passages=passages,
        documents=documents,
        cache_keys=distinct,
        cache_vectors=cache_matrix,
        model=_vector_model(embedder),
        started=started,
        search_files=_search_files,
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
        vectors = load_npy(vectors_path)
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
        "settings_fingerprint": sha256_text(json.dumps(settings, sort_keys=True)),
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

