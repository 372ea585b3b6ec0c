"""The passage and document store: rows read by id, texts read when used, equal to what was written."""

from __future__ import annotations

import pickle
import threading
from dataclasses import replace

import numpy as np
import pytest
from conftest import FakeEmbedder

from aseancyberdocs import store as store_module
from aseancyberdocs.passages import make_passages
from aseancyberdocs.sources import load_document
from aseancyberdocs.store import (
    PASSAGE_DOCS_FILE,
    STORE_FILE,
    DocumentRows,
    PassageRows,
    Store,
    StoredDocument,
    document_fields,
    document_rows,
    read_passages,
    write_store,
)
from aseancyberdocs.types import Document

SOURCES = (
    "un/text/A_RES_73_27.txt",
    "un/pdf/A_RES_80_16.pdf",
    "statements/2023-11-01-international-counter-ransomware-initiative-2023-joint-statement.md",
)


@pytest.fixture(scope="module")
def written(corpus_dir, tmp_path_factory):
    """Three real documents of the corpus and their passages, written to a store."""
    documents = [load_document(corpus_dir / source) for source in SOURCES]
    passages = [
        passage
        for document in documents
        for passage in make_passages(document, max_tokens=256, count_tokens=FakeEmbedder().count_tokens)
    ]
    folder = tmp_path_factory.mktemp("store")
    assert write_store(folder, documents, passages) == [STORE_FILE, PASSAGE_DOCS_FILE]
    return folder, documents, passages


def _opened(folder):
    store = Store(folder / STORE_FILE)
    doc_rows = np.load(folder / PASSAGE_DOCS_FILE)
    return store, PassageRows(store, doc_rows), DocumentRows(store)


def test_rows_read_back_equal_what_was_written(written):
    folder, documents, passages = written
    _, rows, docs = _opened(folder)
    assert len(rows) == len(passages) > 30
    assert rows == passages and list(rows) == passages
    assert [rows[i] for i in (0, 5, -1)] == [passages[0], passages[5], passages[-1]]
    assert rows[3:9] == passages[3:9] and rows[::7] == passages[::7]
    assert docs == {document.doc_id: document for document in documents}
    assert list(docs) == [document.doc_id for document in documents]
    assert [document.doc_id for document in docs.values()] == list(docs)
    with pytest.raises(IndexError, match=f"passage row {len(passages)} out of range"):
        rows[len(passages)]
    with pytest.raises(KeyError):
        docs["A/RES/00/0"]


def test_quotes_are_the_source_text(written):
    folder, _, passages = written
    _, rows, docs = _opened(folder)
    assert len(rows) == len(passages)
    for passage in rows:
        assert docs[passage.doc_id].text[passage.start : passage.end] == passage.text


def test_a_document_text_is_read_only_when_used(written):
    folder, documents, _ = written
    _, _, docs = _opened(folder)
    document = docs[documents[1].doc_id]
    assert isinstance(document, StoredDocument) and isinstance(document, Document)
    slot = Document.__dict__["text"]
    with pytest.raises(AttributeError):
        slot.__get__(document, Document)  # metadata only so far
    assert document.title == documents[1].title and document.pages == documents[1].pages
    assert document.text == documents[1].text
    assert slot.__get__(document, Document) == documents[1].text  # read once, then kept
    assert document == documents[1] and documents[1] == document and document != documents[0]


def test_stored_documents_behave_as_documents(written):
    folder, documents, _ = written
    _, _, docs = _opened(folder)
    stored = docs[documents[0].doc_id]
    moved = replace(stored, source="elsewhere.txt")
    assert moved.source == "elsewhere.txt" and moved.text == documents[0].text
    assert stored.to_dict() == documents[0].to_dict()
    assert pickle.loads(pickle.dumps(stored)) == documents[0]
    with pytest.raises(AttributeError):
        stored.title = "changed"  # frozen, like any Document


def test_document_rows_column(written):
    folder, documents, passages = written
    _, rows, docs = _opened(folder)
    position = {document.doc_id: i for i, document in enumerate(documents)}
    expected = [position[passage.doc_id] for passage in passages]
    assert document_rows(rows, docs).tolist() == expected
    assert document_rows(passages, {d.doc_id: d for d in documents}).tolist() == expected  # computed from lists


def test_iteration_crosses_batches_and_the_caches_stay_bounded(written, monkeypatch):
    folder, _, passages = written
    monkeypatch.setattr(store_module, "_ITERATE_BATCH", 7)
    monkeypatch.setattr(store_module, "_CACHED_PASSAGES", 5)
    _, rows, _ = _opened(folder)
    assert list(rows) == passages
    for row in range(len(passages)):
        rows[row]
    assert len(rows._cache) == 5


def test_many_rows_are_read_in_one_query_in_the_order_asked(written, monkeypatch):
    folder, _, passages = written
    monkeypatch.setattr(store_module, "_CACHED_PASSAGES", 4)
    store, rows, _ = _opened(folder)
    rows[2]  # kept: not read again
    queries = []
    real = store._query
    monkeypatch.setattr(store, "_query", lambda sql, parameters=(): queries.append(sql) or real(sql, parameters))
    wanted = [9, 2, 30, 9, 0]
    assert rows.many(wanted) == [passages[row] for row in wanted]
    assert len(queries) == 1
    assert len(rows._cache) == 4
    assert read_passages(rows, [1, 3]) == read_passages(passages, [1, 3]) == [passages[1], passages[3]]
    with pytest.raises(IndexError, match=f"passage row {len(passages)} out of range"):
        rows.many([0, len(passages)])


def test_threads_share_one_store(written):
    folder, _, passages = written
    _, rows, docs = _opened(folder)
    errors = []

    def read(offset: int) -> None:
        try:
            for row in range(offset, len(passages), 3):
                passage = rows[row]
                assert passage == passages[row]
                assert docs[passage.doc_id].text[passage.start : passage.end] == passage.text
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=read, args=(offset,)) for offset in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors


def test_a_passage_naming_an_unknown_document_is_refused(written, tmp_path):
    _, documents, passages = written
    with pytest.raises(ValueError, match="names unknown document"):
        write_store(tmp_path, documents[:1], passages)


def test_a_document_may_be_replaced_in_memory_only(written):
    folder, documents, _ = written
    _, _, docs = _opened(folder)
    other = replace(documents[0], title="Replaced")
    docs[documents[0].doc_id] = other
    assert docs[documents[0].doc_id] is other and next(iter(docs.values())) is other
    assert dict(docs.items())[documents[0].doc_id] is other
    assert _opened(folder)[2][documents[0].doc_id] == documents[0]
    with pytest.raises(KeyError, match="cannot add document"):
        docs["new"] = other


def test_document_fields_are_read_in_one_query_and_follow_replacements(written):
    folder, documents, _ = written
    _, _, docs = _opened(folder)
    fields = document_fields(docs)
    assert [(f.doc_id, f.title, f.doc_type, f.symbol, f.date, f.body) for f in fields] == [
        (d.doc_id, d.title, d.doc_type, d.symbol, d.date, d.body) for d in documents
    ]
    docs[documents[0].doc_id] = replace(documents[0], title="Another title")
    assert document_fields(docs)[0].title == "Another title"
