"""The index folder: its format, writing it atomically, checking it and opening it.

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
midway leaves the previous index whole. ``open_index`` checks the format and the file hashes and
returns a ``Library`` (library.py); the build (build.py) writes through ``write_index``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import shutil
import time
from collections.abc import Iterable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from . import __version__
from .bm25 import FILES as BM25_FILES
from .errors import (
    AseanCyberDocsError,
    IndexIntegrityError,
    IndexNotFoundError,
    IndexVersionError,
)
from .library import Library
from .lineage import FILES as SHINGLE_FILES
from .npy import memory_mapped
from .store import (
    PASSAGE_DOCS_FILE,
    STORE_FILE,
    DocumentRows,
    PassageRows,
    Store,
    write_store,
)
from .types import Document, Passage
from .vectors import (
    IVFPQ_TYPE,
    IVFSQ_TYPE,
    RESCORE_VECTORS_FILE,
    RESCORED_TYPES,
    VectorRows,
    build_ivfpq,
    build_ivfsq,
)

if TYPE_CHECKING:
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



def default_index_dir() -> Path:
    """``$ASEANCYBERDOCS_INDEX`` if set, else ``indexes/default``."""
    return Path(os.environ.get(INDEX_ENV) or DEFAULT_INDEX_DIR)



# Index types. Exact search (IndexFlatIP) is kept up to HNSW_ABOVE vectors: it needs no build
# and has full recall, and benchmarks/RESULTS.md ("FAISS index types at scale") shows a single query
# stays in milliseconds there; past it HNSW is faster per query, at a build that grows to minutes.
INDEX_TYPES = ("auto", "flat", "hnsw", "ivfpq", "ivfsq")
HNSW_ABOVE = 300_000
# Past IVFPQ_ABOVE vectors an HNSW graph with its float vectors (about 1.8 KB a passage) would
# take most of the memory of a search machine: IVF with 8-bit scalar codes (one byte a dimension,
# memory-mapped, so only the probed lists are read in) and the short list re-scored from the
# stored float vectors (vectors.py). IVF-PQ's codes are 8 times smaller but lose the true
# neighbours among near-copies (recall@10 0.933 against 0.977 at 10M); benchmarks/RESULTS.md.
IVFPQ_ABOVE = 2_000_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 128


def faiss_type_for(index_type: str, vectors: int) -> str:
    """The FAISS index class for ``index_type`` ("flat", "hnsw", "ivfpq", "ivfsq" or "auto": by
    corpus size).

    Raises:
        ValueError: an unknown ``index_type``.

    Example:
        >>> faiss_type_for("auto", 9_281)
        'IndexFlatIP'
    """
    if index_type not in INDEX_TYPES:
        raise ValueError(f"index_type must be one of {', '.join(INDEX_TYPES)}, got {index_type!r}")
    if index_type == "auto":
        index_type = "ivfsq" if vectors > IVFPQ_ABOVE else "hnsw" if vectors > HNSW_ABOVE else "flat"
    return {"hnsw": "IndexHNSWFlat", "ivfpq": IVFPQ_TYPE, "ivfsq": IVFSQ_TYPE}.get(index_type, "IndexFlatIP")


def _faiss_index(faiss_type: str, vectors: np.ndarray) -> Any:
    """A FAISS index of ``faiss_type`` over ``vectors`` (inner product on normalised rows = cosine)."""
    import faiss

    dimension = vectors.shape[1]
    if faiss_type == IVFPQ_TYPE:
        return build_ivfpq(vectors)
    if faiss_type == IVFSQ_TYPE:
        return build_ivfsq(vectors)
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


def check_target(index_path: Path) -> None:
    """Refuse to replace a folder that is not an index: a wrong --index must not delete files."""
    if index_path.exists() and not index_path.is_dir():
        raise AseanCyberDocsError(f"cannot write an index to {index_path}: it is a file")
    if index_path.is_dir() and not (index_path / MANIFEST_FILE).is_file() and any(index_path.iterdir()):
        raise AseanCyberDocsError(
            f"refusing to replace {index_path}: it is not empty and holds no aseancyberdocs index"
        )


def write_index(
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
    search_files: SearchFiles | None = None,
) -> None:
    """Write the index folder beside ``index_path`` and swap it in; ``search_files``, when given,
    are the BM25, cluster and shingle files already made for these passages (else made here)."""
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
        if search_files is not None:
            names = search_files.move_into(work)
        else:
            names = _write_search_files(work, passages, documents)
        if manifest["settings"]["faiss"] in RESCORED_TYPES:  # its short list re-scored with the exact vectors
            with open(work / RESCORE_VECTORS_FILE, "wb") as handle:
                np.save(handle, np.ascontiguousarray(vectors, dtype=np.float32), allow_pickle=False)
            names.append(RESCORE_VECTORS_FILE)
        manifest = dict(manifest)
        manifest["files"] = {name: sha256_file(work / name) for name in (*REQUIRED_FILES, *names)}
        manifest["sampled"] = {
            name: {"size": (work / name).stat().st_size, "sha256": sampled_sha256(work / name)}
            for name in manifest["files"]
            if (work / name).stat().st_size > HASH_WHOLE_UP_TO
        }
        manifest["built"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
        manifest["build_seconds"] = round(time.perf_counter() - started, 3)
        (work / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        for name in (*REQUIRED_FILES, *names, MANIFEST_FILE):
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


class SearchFiles:
    """The BM25, cluster and shingle files of some passages, made in a thread while the build goes on.

    They need the passages only, not their vectors: ``build_index`` starts them once every file is
    read and embeds the last texts meanwhile (ONNX Runtime leaves the interpreter to this thread
    while it computes). They are made in a hidden folder beside the index,
    ``.<name>.search-<pid>-<random>``, and ``write_index`` moves them into the new index folder;
    ``discard`` removes whatever was not moved (a failed build).
    """

    def __init__(self, index_path: Path, passages: Sequence[Passage], documents: Sequence[Document]) -> None:
        import threading

        parent = index_path.absolute().parent
        parent.mkdir(parents=True, exist_ok=True)
        self.folder = parent / f".{index_path.name}.search-{os.getpid()}-{secrets.token_hex(4)}"
        self.folder.mkdir()
        self._names: list[str] = []
        self._error: BaseException | None = None
        self._thread = threading.Thread(
            target=self._make, args=(list(passages), list(documents)), name="aseancyberdocs-search-files", daemon=True
        )
        self._thread.start()

    def _make(self, passages: list[Passage], documents: list[Document]) -> None:
        try:
            self._names = _write_search_files(self.folder, passages, documents)
        except BaseException as exc:  # noqa: BLE001 - raised again in the thread that waits for the files
            self._error = exc

    def move_into(self, work: Path) -> list[str]:
        """Wait for the files and move them into ``work``; their names."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        for name in self._names:
            os.replace(self.folder / name, work / name)
        shutil.rmtree(self.folder, ignore_errors=True)
        return list(self._names)

    def discard(self) -> None:
        """Wait for the thread and remove what it made and was not moved."""
        self._thread.join()
        shutil.rmtree(self.folder, ignore_errors=True)


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
    for kind in ("old", "tmp", "search"):
        for folder in sorted(parent.glob(f".{name}.{kind}-*")):
            pid = _pid_of(folder.name)
            if pid is not None and pid != os.getpid() and _alive(pid):
                continue  # another build is writing it right now
            if kind == "search" and pid == os.getpid():
                continue  # this build's own, moved in or discarded by it
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


def sha256_text(text: str) -> str:
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
    for attempt in range(OPEN_ATTEMPTS):
        before = _folder_id(index_path)
        try:
            library = _open_once(index_path, preload_model=preload_model and embedder is None and attempt == 0)
        except (IndexIntegrityError, IndexNotFoundError, OSError):
            # A build swapped a new index in while this one was read: read again, the new one whole.
            if attempt == OPEN_ATTEMPTS - 1 or before is None or _folder_id(index_path) == before:
                raise
            continue
        if embedder is not None:
            library.embedder = embedder
        return library
    raise AssertionError("unreachable")  # pragma: no cover


# Reads of an index folder that a build swapped out meanwhile (each seen to happen) before giving up.
OPEN_ATTEMPTS = 5


def _folder_id(path: Path) -> tuple[int, ...] | None:
    """What tells one build's folder at ``path`` from the next: its inode and change time, and its
    manifest's. An inode alone does not: the folder a swap removes frees its inode number, and the
    next build's folder may be given it."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    try:
        manifest = os.stat(path / MANIFEST_FILE)
    except OSError:
        return stat.st_dev, stat.st_ino, stat.st_ctime_ns
    return stat.st_dev, stat.st_ino, stat.st_ctime_ns, manifest.st_ino, manifest.st_mtime_ns, manifest.st_size


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
    mapped_ids = {name: _file_id(index_path / name) for name in _MAPPED_AT_OPEN}
    faiss_id = _file_id(index_path / FAISS_FILE)
    snapshot = _verify_files(index_path, manifest)
    mapped = _map_arrays(index_path, manifest, mapped_ids)
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
    if manifest.get("settings", {}).get("faiss") in RESCORED_TYPES:
        if RESCORE_VECTORS_FILE not in manifest.get("files", {}):
            store.close()
            raise IndexIntegrityError(f"{index_path}: an IVF index without {RESCORE_VECTORS_FILE} in its manifest")
        library._rescore = _rescore_vectors(index_path, snapshot, vectors_id, store.passage_count)
    if FAISS_FILE in snapshot:
        library._faiss_bytes = snapshot.pop(FAISS_FILE)
    else:  # memory-mapped on first use, from the file checked at open
        library._faiss_mapped = faiss_id
    # BM25 and clusters load on first use, from these checked bytes (bm25.index_file_bytes) and
    # these mapped arrays (bm25.index_array).
    library._file_bytes = snapshot
    library._mapped = mapped
    return library


def _map_arrays(
    index_path: Path, manifest: dict[str, Any], file_ids: dict[str, tuple[int, ...] | None]
) -> dict[str, np.ndarray]:
    """The listed ``_MAPPED_AT_OPEN`` arrays, memory-mapped: their pages are read when a query
    touches them (a BM25 query reads its tokens' columns only), and shared between processes."""
    mapped = {}
    for name in _MAPPED_AT_OPEN:
        if name not in manifest["files"]:
            continue
        try:
            array = memory_mapped(index_path / name)
        except (OSError, ValueError) as exc:
            raise IndexIntegrityError(f"{index_path}: cannot read {name}: {exc}") from exc
        if _file_id(index_path / name) != file_ids[name]:
            raise IndexIntegrityError(f"{index_path}: {name} was replaced while the index was opened")
        mapped[name] = array
    return mapped


def _rescore_vectors(
    index_path: Path, snapshot: dict[str, bytes], vectors_id: tuple[int, ...] | None, passages: int
) -> tuple[VectorRows, np.ndarray]:
    """The passage vectors of an IVF index (rows read on demand), row i being passage i."""
    snapshot.pop(RESCORE_VECTORS_FILE, None)  # read by row below, not kept whole
    try:
        vectors = VectorRows(index_path / RESCORE_VECTORS_FILE)
    except (OSError, ValueError) as exc:
        raise IndexIntegrityError(f"{index_path}: cannot read the vectors an IVF index re-scores with: {exc}") from exc
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
        if name not in _UNREAD_AT_OPEN and not (name == FAISS_FILE and _maps_faiss(manifest)):
            # the files a reader parses at open
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


# Read by row (the store, the re-scoring vectors), memory-mapped (BM25's score matrix, the shingle
# index of precedents) or only by builds (the vector cache): not read whole at open.
_MAPPED_AT_OPEN = (
    BM25_FILES["data"], BM25_FILES["indices"], BM25_FILES["indptr"],
    SHINGLE_FILES["keys"], SHINGLE_FILES["indptr"], SHINGLE_FILES["rows"],
)
_UNREAD_AT_OPEN = (STORE_FILE, CACHE_VECTORS_FILE, CACHE_KEYS_FILE, RESCORE_VECTORS_FILE, *_MAPPED_AT_OPEN)
_SAMPLES = 64
_SAMPLE_BYTES = 64 << 10


def _maps_faiss(manifest: dict[str, Any]) -> bool:
    """Whether the index's FAISS file is memory-mapped rather than read whole (IVF-SQ)."""
    settings = manifest.get("settings")
    return isinstance(settings, dict) and settings.get("faiss") == IVFSQ_TYPE


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

