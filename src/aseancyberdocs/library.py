"""The ``Library``: an opened index, the one object a caller searches, asks and cites through.

``open_index`` (folder.py) checks the folder and makes one. A query flows one way:
``Library.search`` hands the Library to ``search.search``, which takes from it what each step
reads (documents and the document row of each passage for the filters, the FAISS index and BM25
for the retrievers, cluster ids for the grouping) and hands those on; the retrievers (search.py,
bm25.py), fusion (fusion.py) and grouping (grouping.py) never call back into the Library, and
citations (citations.py) and Hits are made last, for the passages picked.

Example:
    >>> from aseancyberdocs import open_index
    >>> library = open_index("indexes/default")  # doctest: +SKIP
    >>> library.passages[library.passage_row("A/RES/73/27#para. 1 (f)")].label  # doctest: +SKIP
    'para. 1 (f)'
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import IndexIntegrityError, ModelMismatchError
from .store import document_rows
from .types import Answer, Citation, Document, Hit, Passage, Precedent
from .vectors import RescoredIndex, VectorRows

if TYPE_CHECKING:
    from .embedding import Embedder

# Citations made are kept for reuse, up to this many (then the cache starts again).
_KEPT_CITATIONS = 100_000


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
        # set by open_index for a memory-mapped FAISS file (IVF-SQ): its identity when it was checked
        self._faiss_mapped: tuple[int, ...] | None = None
        self._rescore: tuple[VectorRows, np.ndarray] | None = None  # an IVF index's exact vectors
        self._citations: dict[int, Citation] = {}
        self._position: Mapping[str, int] | None = None  # doc_id -> document row, made on first use

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

            from .folder import (
                FAISS_FILE,  # folder.py opens a Library: imported here, not at the top
            )

            if self._faiss_mapped is not None:
                flat = self._map_faiss(FAISS_FILE)
            else:
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

    def _map_faiss(self, name: str) -> Any:
        """The FAISS file ``name`` memory-mapped, if it is still the file checked at open."""
        import faiss

        from .folder import _file_id

        path = self.index_dir / name
        if _file_id(path) != self._faiss_mapped:
            raise IndexIntegrityError(
                f"{self.index_dir}: {name} has changed since the index was opened (rebuilt meanwhile?): open it again"
            )
        try:
            return faiss.read_index(str(path), faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY)
        except RuntimeError as exc:
            raise IndexIntegrityError(f"{self.index_dir}: {name} is not a FAISS index: {exc}") from exc

    @property
    def document_rows(self) -> np.ndarray:
        """The position of each passage's document in ``documents`` (row i for passage i)."""
        return document_rows(self.passages, self.documents)

    def passage_rows_of(self, doc_id: str) -> np.ndarray:
        """The rows of ``doc_id``'s passages, in row order (empty for an unknown document).

        Found in the document-row column: no passage is read.

        Example:
            >>> [library.passages[int(row)].label for row in library.passage_rows_of("A/RES/73/27")][:2]  # doctest: +SKIP
            ['preamble, para. 1', 'preamble, para. 2']
        """
        if self._position is None:
            stored = getattr(self.documents, "row_of", None)  # store.DocumentRows keeps it
            self._position = stored if stored is not None else {doc_id: row for row, doc_id in enumerate(self.documents)}
        position = self._position.get(doc_id)
        if position is None:
            return np.empty(0, dtype=np.int64)
        return np.flatnonzero(np.asarray(self.document_rows) == position)

    def passage_row(self, passage_id: str) -> int | None:
        """The row of the passage ``passage_id`` ("A/RES/73/27#para. 1.3"), or None.

        Only the passages of the document the id names are read.
        """
        cut = passage_id.find("#")
        while cut != -1:
            doc_id = passage_id[:cut]
            if doc_id in self.documents:
                for row in self.passage_rows_of(doc_id):
                    if self.passages[int(row)].passage_id == passage_id:
                        return int(row)
            cut = passage_id.find("#", cut + 1)
        return None

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
            if len(self._citations) >= _KEPT_CITATIONS:  # a server over millions of passages
                self._citations.clear()
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
