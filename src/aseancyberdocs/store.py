"""The passage and document store of an index folder: one SQLite file read by row id.

An opened index does not hold its passages and documents as Python objects: ``PassageRows`` is a
sequence whose ``rows[i]`` reads passage ``i`` (the passage of vector ``i``) and ``DocumentRows``
a mapping whose ``documents[doc_id]`` reads one document's metadata; a document's text is read
only when ``document.text`` is first used. Only the hits of a query become objects.

Files (in the index folder)::

    store.sqlite       tables ``documents(row, doc_id, meta)``, ``texts(row, text)`` (a document's
                       clean text, apart so that reading ids and metadata never pages through
                       texts) and ``passages(row, doc_row, ...)``
    passage-docs.npy   the document row of each passage (int32), for what needs every row at once

SQLite (standard library) was chosen over Arrow IPC memory-mapped files by measuring both on the
bundled corpus and on a 1M-passage replica: see benchmarks/RESULTS.md ("Passage store").

Example:
    >>> write_store(folder, documents, passages)  # doctest: +SKIP
    ['store.sqlite', 'passage-docs.npy']
    >>> store = Store(folder / STORE_FILE)  # doctest: +SKIP
    >>> store.passages([0])[0].label  # doctest: +SKIP
    'preamble, para. 1'
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import MISSING
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .errors import IndexIntegrityError
from .types import Document, Page, Passage

STORE_FILE = "store.sqlite"
PASSAGE_DOCS_FILE = "passage-docs.npy"
STORE_VERSION = 1  # PRAGMA user_version of the SQLite file

_PASSAGE_COLUMNS = (
    "passage_id", "label", "kind", "text", "start", "end", "page_first", "page_last",
    "label_first", "label_last", "context", "part", "parts",
)  # fmt: skip
_SELECT_PASSAGE = f"SELECT row, doc_row, {', '.join(_PASSAGE_COLUMNS)} FROM passages"
_ITERATE_BATCH = 4096
_CACHED_DOCUMENTS = 64
_CACHED_PASSAGES = 1024
_TEXT_SLOT = Document.__dict__["text"]  # the slot behind Document.text


def write_store(folder: Path, documents: Sequence[Document], passages: Iterable[Passage]) -> list[str]:
    """Write ``documents`` and ``passages`` (row i = vector i) into ``folder``; the names of the files.

    Raises:
        ValueError: a passage names a document not in ``documents``.
    """
    row_of = {document.doc_id: row for row, document in enumerate(documents)}
    path = folder / STORE_FILE
    db = sqlite3.connect(path)
    doc_rows: list[int] = []
    try:
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute(f"PRAGMA user_version={STORE_VERSION}")
        db.execute("CREATE TABLE documents (row INTEGER PRIMARY KEY, doc_id TEXT NOT NULL, meta TEXT NOT NULL)")
        db.execute("CREATE TABLE texts (row INTEGER PRIMARY KEY, text TEXT NOT NULL)")
        db.execute(f"CREATE TABLE passages (row INTEGER PRIMARY KEY, doc_row INTEGER NOT NULL, "
                   f"{', '.join(_PASSAGE_COLUMNS)})")
        db.executemany(
            "INSERT INTO documents VALUES (?, ?, ?)",
            (
                (row, document.doc_id, json.dumps(document.to_dict(with_text=False), ensure_ascii=False, default=str))
                for row, document in enumerate(documents)
            ),
        )
        db.executemany("INSERT INTO texts VALUES (?, ?)", enumerate(document.text for document in documents))

        def passage_rows() -> Iterator[tuple[Any, ...]]:
            for row, passage in enumerate(passages):
                doc_row = row_of.get(passage.doc_id)
                if doc_row is None:
                    raise ValueError(f"passage {passage.passage_id!r} names unknown document {passage.doc_id!r}")
                doc_rows.append(doc_row)
                yield (row, doc_row, passage.passage_id, passage.label, passage.kind, passage.text, passage.start,
                       passage.end, passage.pages[0], passage.pages[1], passage.page_labels[0],
                       passage.page_labels[1], passage.context, passage.part, passage.parts)

        marks = ", ".join("?" * (len(_PASSAGE_COLUMNS) + 2))
        db.executemany(f"INSERT INTO passages VALUES ({marks})", passage_rows())
        db.commit()
    finally:
        db.close()
    with open(folder / PASSAGE_DOCS_FILE, "wb") as handle:
        np.save(handle, np.asarray(doc_rows, dtype=np.int32), allow_pickle=False)
    return [STORE_FILE, PASSAGE_DOCS_FILE]


class Store:
    """One opened ``store.sqlite``, read-only; safe to share between threads.

    Raises:
        IndexIntegrityError: the file is not a store this version reads.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            # immutable: an index folder is never changed in place (a build swaps in a new one).
            self._db = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False)
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            self.doc_ids: list[str] = [row[0] for row in self._db.execute("SELECT doc_id FROM documents ORDER BY row")]
            # Rows are 0 to n - 1 (written so): max() reads one b-tree path where count() reads all.
            last = self._db.execute("SELECT max(row) FROM passages").fetchone()[0]
            self.passage_count = 0 if last is None else int(last) + 1
        except sqlite3.Error as exc:
            raise IndexIntegrityError(f"{path}: not a readable passage store: {exc}") from exc
        if version != STORE_VERSION:
            raise IndexIntegrityError(f"{path}: store version {version}, expected {STORE_VERSION}")
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def _query(self, sql: str, parameters: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        try:
            with self._lock:
                return self._db.execute(sql, parameters).fetchall()
        except sqlite3.Error as exc:
            raise IndexIntegrityError(f"{self.path}: cannot read the store: {exc}") from exc

    def passages(self, rows: Sequence[int]) -> list[Passage]:
        """The passages of ``rows``, in that order."""
        found: dict[int, Passage] = {}
        wanted = sorted(set(rows))
        for start in range(0, len(wanted), 500):  # SQLite's bound on parameters
            part = wanted[start : start + 500]
            for record in self._query(f"{_SELECT_PASSAGE} WHERE row IN ({','.join('?' * len(part))})", part):
                found[record[0]] = self._passage(record)
        try:
            return [found[row] for row in rows]
        except KeyError as exc:
            raise IndexIntegrityError(f"{self.path}: no passage row {exc.args[0]}") from None

    def passage_range(self, start: int, stop: int) -> list[Passage]:
        """Passages ``start`` to ``stop - 1``, in row order."""
        records = self._query(f"{_SELECT_PASSAGE} WHERE row >= ? AND row < ? ORDER BY row", (start, stop))
        return [self._passage(record) for record in records]

    def _passage(self, record: tuple[Any, ...]) -> Passage:
        row, doc_row, passage_id, label, kind, text, start, end, first, last, label_first, label_last, *rest = record
        try:
            if not all(isinstance(value, int) for value in (doc_row, start, end, first, last)):
                raise TypeError("offsets, pages and document row must be integers")
            if not all(isinstance(value, str) for value in (passage_id, label, kind, text, label_first, label_last)):
                raise TypeError("ids, labels and text must be strings")
            context, part, parts = rest
            return Passage(passage_id, self.doc_ids[doc_row], label, kind, text, start, end, (first, last),
                           (label_first, label_last), context or "", part, parts)
        except (TypeError, ValueError, IndexError) as exc:
            raise IndexIntegrityError(f"{self.path}: passage row {row} is not a valid passage record: {exc}") from exc

    def document(self, row: int) -> Document:
        """Document ``row`` with its metadata; its text is read when first used."""
        records = self._query("SELECT meta FROM documents WHERE row = ?", (row,))
        if not records:
            raise IndexIntegrityError(f"{self.path}: no document row {row}")
        return self._document(row, records[0][0])

    def documents(self) -> Iterator[Document]:
        """Every document in row order, texts read when first used."""
        for row, meta in self._query("SELECT row, meta FROM documents ORDER BY row"):
            yield self._document(row, meta)

    def _document(self, row: int, meta: str) -> Document:
        try:
            data = json.loads(meta)
            return StoredDocument.lazy(self, row, data)
        except (ValueError, TypeError, KeyError) as exc:
            raise IndexIntegrityError(f"{self.path}: document row {row} is not a valid document record: {exc}") from exc

    def text(self, row: int) -> str:
        """The clean text of document ``row``."""
        records = self._query("SELECT text FROM texts WHERE row = ?", (row,))
        if not records or not isinstance(records[0][0], str):
            raise IndexIntegrityError(f"{self.path}: document row {row} has no text")
        return records[0][0]


class StoredDocument(Document):
    """A Document read from a store: the same fields, ``text`` read from the store on first use.

    Equal to the Document it was written from; ``dataclasses.replace`` and ``to_dict`` work as on
    any Document (they read the text).
    """

    __slots__ = ("_row", "_store")

    @classmethod
    def lazy(cls, store: Store, row: int, data: dict[str, Any]) -> StoredDocument:
        document = object.__new__(cls)
        for name, value in data.items():
            if name == "pages":
                value = tuple(Page(**page) for page in value)
            elif name == "text" or name not in Document.__dataclass_fields__:
                raise KeyError(f"unexpected field {name!r}")
            object.__setattr__(document, name, value)
        for name, spec in Document.__dataclass_fields__.items():  # fields absent from the record
            if name != "text" and name not in data:
                if spec.default_factory is not MISSING:
                    object.__setattr__(document, name, spec.default_factory())
                elif spec.default is not MISSING:
                    object.__setattr__(document, name, spec.default)
                else:
                    raise KeyError(f"missing field {name!r}")
        object.__setattr__(document, "_store", store)
        object.__setattr__(document, "_row", row)
        return document

    @property  # type: ignore[override]
    def text(self) -> str:
        try:
            return _TEXT_SLOT.__get__(self, Document)
        except AttributeError:
            text = self._store.text(self._row)
            _TEXT_SLOT.__set__(self, text)
            return text

    @text.setter
    def text(self, value: str) -> None:  # dataclasses.replace and the frozen __init__ set it this way
        _TEXT_SLOT.__set__(self, value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Document):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name, spec in Document.__dataclass_fields__.items()
                   if spec.compare)

    __hash__ = Document.__hash__

    def __repr__(self) -> str:
        return f"StoredDocument(doc_id={self.doc_id!r}, title={self.title!r})"


class PassageRows(Sequence[Passage]):
    """All passages of a store as a sequence: ``rows[i]`` reads passage i; ``doc_rows`` is a column.

    Iterating reads the rows in batches; recently read passages are kept (a bounded cache).
    """

    def __init__(self, store: Store, doc_rows: np.ndarray) -> None:
        self.store = store
        self.doc_rows = doc_rows  # the document row (position in DocumentRows) of each passage
        self._cache: OrderedDict[int, Passage] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return self.store.passage_count

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return self.store.passages(range(*index.indices(len(self))))
        row = int(index)
        if -len(self) <= row < 0:
            row += len(self)
        return self.many([row])[0]

    def many(self, rows: Sequence[int]) -> list[Passage]:
        """The passages of ``rows``, in that order: those not kept read in one query."""
        found: dict[int, Passage] = {}
        with self._lock:
            for row in rows:
                passage = self._cache.get(row)
                if passage is not None:
                    self._cache.move_to_end(row)
                    found[row] = passage
        missing = [row for row in dict.fromkeys(rows) if row not in found]
        if missing:
            for row in missing:
                if not 0 <= row < len(self):
                    raise IndexError(f"passage row {row} out of range (0 to {len(self) - 1})")
            read = self.store.passages(missing)
            found.update(zip(missing, read))
            with self._lock:
                for row, passage in zip(missing, read):
                    self._cache[row] = passage
                while len(self._cache) > _CACHED_PASSAGES:
                    self._cache.popitem(last=False)
        return [found[row] for row in rows]

    def __iter__(self) -> Iterator[Passage]:
        for start in range(0, len(self), _ITERATE_BATCH):
            yield from self.store.passage_range(start, min(start + _ITERATE_BATCH, len(self)))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Sequence) or isinstance(other, str):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"PassageRows({str(self.store.path)!r}, {len(self)} passages)"


def read_passages(passages: Sequence[Passage], rows: Sequence[int]) -> list[Passage]:
    """Passages ``rows`` of ``passages``: in one read from a store (``PassageRows``), else one by one.

    Example:
        >>> [passage.label for passage in read_passages(library.passages, [3, 1])]  # doctest: +SKIP
        ['para. 2', 'preamble, para. 2']
    """
    if isinstance(passages, PassageRows):
        return passages.many(rows)
    return [passages[row] for row in rows]


class DocumentRows(Mapping[str, Document]):
    """All documents of a store by ``doc_id``, in build order; each read when asked for.

    Recently read documents (with their text, once read) are kept in a bounded cache. A document
    may be replaced in memory (``documents[doc_id] = other``), never in the store, nor added.
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        self.row_of = {doc_id: row for row, doc_id in enumerate(store.doc_ids)}
        self._cache: OrderedDict[int, Document] = OrderedDict()
        self._replaced: dict[str, Document] = {}
        self._lock = threading.Lock()

    def __setitem__(self, doc_id: str, document: Document) -> None:
        if doc_id not in self.row_of:
            raise KeyError(f"cannot add document {doc_id!r} to {self.store.path}: only replace one it holds")
        self._replaced[doc_id] = document

    def __getitem__(self, doc_id: str) -> Document:
        if self._replaced and doc_id in self._replaced:
            return self._replaced[doc_id]
        row = self.row_of[doc_id]
        with self._lock:
            document = self._cache.get(row)
            if document is not None:
                self._cache.move_to_end(row)
                return document
        document = self.store.document(row)
        with self._lock:
            self._cache[row] = document
            if len(self._cache) > _CACHED_DOCUMENTS:
                self._cache.popitem(last=False)
        return document

    def __iter__(self) -> Iterator[str]:
        return iter(self.store.doc_ids)

    def __len__(self) -> int:
        return len(self.store.doc_ids)

    def __contains__(self, doc_id: object) -> bool:
        return doc_id in self.row_of

    def values(self) -> Any:  # one query for all, rather than one per document
        return _Values(self)

    def items(self) -> Any:
        return _Items(self)

    def __repr__(self) -> str:
        return f"DocumentRows({str(self.store.path)!r}, {len(self)} documents)"


class DocumentFields(NamedTuple):
    """What search reads of every document at once (the document match, drafts): no text, no pages."""

    doc_id: str
    title: str
    doc_type: str
    symbol: str | None
    date: str | None
    body: str | None


_FIELDS_SQL = (
    "SELECT doc_id, json_extract(meta, '$.title'), json_extract(meta, '$.doc_type'), "
    "json_extract(meta, '$.symbol'), json_extract(meta, '$.date'), json_extract(meta, '$.body') "
    "FROM documents ORDER BY row"
)


def document_fields(documents: Mapping[str, Document]) -> list[DocumentFields]:
    """``DocumentFields`` of every document, in the mapping's order.

    From a store in one query that reads only these fields of each record (decoding every
    document's whole record, pages included, took 3.7 s for 63,000 documents); else from the
    Document objects. A document replaced in memory gives its own fields.

    Raises:
        IndexIntegrityError: a stored record lacks a title or kind, or holds a field of another type.

    Example:
        >>> document_fields(library.documents)[0].doc_type  # doctest: +SKIP
        'resolution'
    """
    if not isinstance(documents, DocumentRows):
        return [_fields_of(document) for document in documents.values()]
    fields = []
    for record in documents.store._query(_FIELDS_SQL):
        if not (isinstance(record[1], str) and isinstance(record[2], str)) or \
                not all(value is None or isinstance(value, str) for value in record[3:]):
            raise IndexIntegrityError(f"{documents.store.path}: document {record[0]!r} has a malformed record")
        fields.append(DocumentFields(*record))
    replaced = documents._replaced
    return [_fields_of(replaced[item.doc_id]) if item.doc_id in replaced else item for item in fields] if replaced else fields


def _fields_of(document: Document) -> DocumentFields:
    return DocumentFields(document.doc_id, document.title, document.doc_type, document.symbol, document.date,
                          document.body)


class _Values(Sequence[Document]):
    def __init__(self, mapping: DocumentRows) -> None:
        self.mapping = mapping

    def __len__(self) -> int:
        return len(self.mapping)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):
            return [self.mapping[self.mapping.store.doc_ids[row]] for row in range(*index.indices(len(self)))]
        return self.mapping[self.mapping.store.doc_ids[index]]

    def __iter__(self) -> Iterator[Document]:
        replaced = self.mapping._replaced
        for document in self.mapping.store.documents():
            yield replaced.get(document.doc_id, document) if replaced else document


class _Items(_Values):
    def __getitem__(self, index: Any) -> Any:
        raise TypeError("document items are not indexable")

    def __iter__(self) -> Iterator[tuple[str, Document]]:  # type: ignore[override]
        for document in super().__iter__():
            yield document.doc_id, document


def document_rows(passages: Sequence[Passage], documents: Mapping[str, Document]) -> np.ndarray:
    """The position in ``documents`` of each passage's document: the stored column, else computed."""
    stored = getattr(passages, "doc_rows", None)
    if stored is not None:
        return stored
    position = {doc_id: i for i, doc_id in enumerate(documents)}
    return np.fromiter((position[passage.doc_id] for passage in passages), dtype=np.int64, count=len(passages))
