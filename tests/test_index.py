"""The index folder: round trip, atomic replace, incremental rebuild, manifest checks, no pickle."""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import FailingEmbedder, FakeEmbedder, make_document

from aseancyberdocs import folder as folder_module
from aseancyberdocs.errors import (
    AseanCyberDocsError,
    EmptyIndexError,
    IndexIntegrityError,
    IndexNotFoundError,
    IndexVersionError,
    ModelMismatchError,
)
from aseancyberdocs.index import (
    DOCUMENT_WEIGHT,
    FORMAT_VERSION,
    MANIFEST_FILE,
    build_index_from_documents,
    combine_vectors,
    embed_passages,
    open_index,
)
from aseancyberdocs.passages import document_context, embedding_text
from aseancyberdocs.store import PASSAGE_DOCS_FILE, STORE_FILE, Store
from aseancyberdocs.types import Passage


def _files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir())}


def _edit_manifest(index_dir: Path, change) -> None:
    path = index_dir / MANIFEST_FILE
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


# -- round trip -------------------------------------------------------------------------------


def test_round_trip_keeps_documents_passages_and_vectors(built_index, documents, embedder):
    docs, passages = documents
    library = open_index(built_index, embedder=embedder)

    assert library.passages == passages
    assert library.documents == {document.doc_id: document for document in docs}
    np.testing.assert_array_equal(library.vectors(), embed_passages(FakeEmbedder(), passages, library.documents))
    assert library.vectors().dtype == np.float32


def test_a_passage_vector_is_its_own_text_plus_its_weighted_document_line(built_index, documents):
    _, passages = documents
    library = open_index(built_index, embedder=FakeEmbedder())
    fake = FakeEmbedder()
    for passage, vector in zip(passages, library.vectors()):
        own = fake.encode([embedding_text(passage)])[0]
        line = fake.encode([document_context(library.documents[passage.doc_id])])[0]
        expected = own + DOCUMENT_WEIGHT * line
        np.testing.assert_allclose(vector, expected / np.linalg.norm(expected), rtol=1e-6, atol=1e-7)
    manifest = json.loads((built_index / MANIFEST_FILE).read_text())
    assert str(DOCUMENT_WEIGHT) in manifest["settings"]["embed_text"]


def test_combine_vectors_weights_the_line_and_normalises():
    own = np.array([[1.0, 0.0], [0.0, 2.0], [0.0, 0.0]], dtype=np.float32)
    lines = np.array([[0.0, 1.0], [0.0, 0.0], [0.0, 0.0]], dtype=np.float32)
    combined = combine_vectors(own, lines, 0.5)
    np.testing.assert_allclose(combined, [[2 / 5**0.5, 1 / 5**0.5], [0.0, 1.0], [0.0, 0.0]], rtol=1e-6)
    assert combined.dtype == np.float32


def test_faiss_results_equal_numpy_brute_force(built_index, embedder):
    library = open_index(built_index, embedder=embedder)
    vectors = library.vectors()
    for query in ["critical infrastructure", "ransom payments", "capacity building developing countries"]:
        query_vector = embedder.encode([query])[0]
        scores, indices = library.faiss_index.search(query_vector[None, :], len(vectors))
        brute = vectors @ query_vector
        np.testing.assert_allclose(scores[0], brute[indices[0]], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(scores[0], np.sort(brute)[::-1], rtol=1e-5, atol=1e-6)


def test_manifest_describes_the_build(built_index, documents, embedder):
    docs, passages = documents
    manifest = json.loads((built_index / MANIFEST_FILE).read_text())

    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["model"] == {"name": "fake-bow", "dimension": 64, "max_tokens": 256}
    assert manifest["settings"]["max_tokens"] == 256
    assert len(manifest["settings_fingerprint"]) == 64
    assert manifest["counts"]["documents"] == len(docs)
    assert manifest["counts"]["passages"] == manifest["counts"]["vectors"] == len(passages)
    assert manifest["counts"]["by_doc_type"] == {
        "joint statement": {"documents": 1, "passages": 3},
        "resolution": {"documents": 2, "passages": 7},
    }
    assert [source["sha256"] for source in manifest["sources"]] == [document.sha256 for document in docs]
    for name, digest in manifest["files"].items():
        assert hashlib.sha256((built_index / name).read_bytes()).hexdigest() == digest
    assert manifest["built"] and manifest["build_seconds"] >= 0


def test_store_row_i_is_vector_i(built_index, embedder):
    store = Store(built_index / STORE_FILE)
    library = open_index(built_index, embedder=embedder)
    stored = store.passages(range(store.passage_count))
    assert len(stored) == len(library.passages) == len(library.vectors())
    for row, (passage, vector) in enumerate(zip(library.passages, library.vectors())):
        assert stored[row] == passage
        np.testing.assert_array_equal(vector, embed_passages(FakeEmbedder(), [passage], library.documents)[0])


def test_context_is_embedded_before_the_text():
    passage = Passage("p", "d", "para. 1 (a)", "sub-paragraph", "(a) To study norms;", 0, 19, (1, 1), ("1", "1"),
                      context="1. Decides:")
    assert embedding_text(passage) == "1. Decides:\n(a) To study norms;"
    assert embedding_text(Passage("p", "d", "para. 2", "operative", "2. Notes", 0, 8, (1, 1), ("1", "1"))) == "2. Notes"


def test_the_document_line_comes_first_and_is_never_part_of_the_quote():
    from conftest import make_document

    document, passages = make_document("A/RES/73/27", ["1. Decides:", "(a) To study norms;"],
                                       title="Developments in ICTs", date="2018-12-05")
    passage = replace(passages[1], context="1. Decides:")
    line, context, text = embedding_text(passage, document).split("\n")
    assert line == document_context(document)
    assert "A/RES/73/27" in line and "2018" in line and "Developments in ICTs" in line and document.doc_type in line
    assert (context, text) == ("1. Decides:", passage.text)
    assert document.text[passage.start : passage.end] == passage.text

def test_build_report_counts(tmp_path, documents, embedder):
    docs, passages = documents
    report = build_index_from_documents(docs, tmp_path / "index", embedder=embedder, passages=passages)
    # Ten distinct passage texts and three document lines.
    assert (report.documents, report.passages, report.embedded, report.reused) == (3, 10, 13, 0)
    assert report.doc_types == {"joint statement": 1, "resolution": 2}
    assert report.model == "fake-bow"


def test_default_index_dir_comes_from_the_environment(tmp_path, monkeypatch, documents, embedder):
    docs, passages = documents
    monkeypatch.setenv("ASEANCYBERDOCS_INDEX", str(tmp_path / "from-env"))
    build_index_from_documents(docs, embedder=embedder, passages=passages)
    assert len(open_index(embedder=embedder).passages) == len(passages)


def test_identical_texts_are_embedded_once(tmp_path, embedder):
    first, first_passages = make_document("A/RES/1", ["Shared agreed language.", "Only here.", "Shared agreed language."])
    report = build_index_from_documents([first], tmp_path / "index", embedder=embedder, passages=first_passages)
    assert report.embedded == 3
    assert sorted(embedder.encoded) == sorted(
        {document_context(first), *(embedding_text(passage) for passage in first_passages)}
    )
    library = open_index(tmp_path / "index", embedder=embedder)
    np.testing.assert_array_equal(library.vectors()[0], library.vectors()[2])


# -- bad input -------------------------------------------------------------------------------


def test_no_documents_is_an_empty_index_error(tmp_path, embedder):
    with pytest.raises(EmptyIndexError):
        build_index_from_documents([], tmp_path / "index", embedder=embedder, passages=[])


def test_passage_that_does_not_match_its_document_is_refused(tmp_path, documents, embedder):
    docs, passages = documents
    bad = Passage(**{**passages[0].to_dict(), "text": "not the document's words", "pages": (1, 1),
                     "page_labels": ("1", "1")})
    with pytest.raises(ValueError, match="differs"):
        build_index_from_documents(docs, tmp_path / "index", embedder=embedder, passages=[bad, *passages[1:]])


def test_duplicate_doc_ids_are_refused(tmp_path, documents, embedder):
    docs, passages = documents
    with pytest.raises(ValueError, match="duplicate doc_id"):
        build_index_from_documents([*docs, docs[0]], tmp_path / "index", embedder=embedder, passages=passages)


def test_a_folder_that_is_not_an_index_is_never_replaced(tmp_path, documents, embedder):
    docs, passages = documents
    precious = tmp_path / "notes"
    precious.mkdir()
    (precious / "thesis.txt").write_text("years of work")
    with pytest.raises(AseanCyberDocsError, match="refusing to replace"):
        build_index_from_documents(docs, precious, embedder=embedder, passages=passages)
    assert (precious / "thesis.txt").read_text() == "years of work"


# -- atomic replace --------------------------------------------------------------------------


def test_a_failing_build_leaves_the_previous_index_intact(built_index, documents):
    docs, passages = documents
    before = _files(built_index)
    extra, extra_passages = make_document("A/RES/99/1", ["A brand new paragraph about quantum computing."])

    with pytest.raises(RuntimeError, match="midway"):
        build_index_from_documents(
            [*docs, extra], built_index, embedder=FailingEmbedder(), passages=passages + extra_passages
        )

    assert _files(built_index) == before
    assert len(open_index(built_index, embedder=FakeEmbedder()).passages) == len(passages)
    assert [path.name for path in built_index.parent.iterdir()] == ["index"]


def test_a_crash_while_writing_leaves_the_previous_index_intact(built_index, documents, monkeypatch):
    docs, passages = documents
    before = _files(built_index)

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(folder_module, "_swap_in", crash)
    with pytest.raises(OSError, match="disk full"):
        build_index_from_documents(docs[:1], built_index, embedder=FakeEmbedder(), passages=passages[:4])

    assert _files(built_index) == before
    assert [path.name for path in built_index.parent.iterdir()] == ["index"]


def test_a_later_build_removes_stale_temporary_folders(built_index, documents, embedder):
    docs, passages = documents
    dead_pid = 2**22 + 12345  # above the default pid_max: no such process
    stale = built_index.parent / f".index.tmp-{dead_pid}-abcd1234"
    stale.mkdir()
    (stale / "vectors.faiss").write_bytes(b"half written")

    build_index_from_documents(docs, built_index, embedder=embedder, passages=passages)

    assert not stale.exists()
    assert [path.name for path in built_index.parent.iterdir()] == ["index"]


def test_an_index_left_aside_by_a_crash_is_restored(built_index, documents, embedder):
    docs, passages = documents
    aside = built_index.parent / f".index.old-{2**22 + 5}-abcd1234"
    os.replace(built_index, aside)

    folder_module._remove_stale(built_index)

    assert not aside.exists()
    assert len(open_index(built_index, embedder=embedder).passages) == len(passages)


def test_rebuild_replaces_the_index(built_index, documents, embedder):
    docs, passages = documents
    build_index_from_documents(docs[:1], built_index, embedder=embedder, passages=passages[:4])
    library = open_index(built_index, embedder=embedder)
    assert list(library.documents) == [docs[0].doc_id]
    assert len(library.passages) == 4


# -- incremental rebuild ---------------------------------------------------------------------


def test_rebuild_with_nothing_changed_embeds_nothing(built_index, documents):
    docs, passages = documents
    embedder = FakeEmbedder()
    report = build_index_from_documents(docs, built_index, embedder=embedder, passages=passages)
    assert embedder.calls == 0
    assert (report.embedded, report.reused) == (0, len(passages) + len(docs))  # passage texts and document lines


def test_rebuild_after_adding_a_document_embeds_only_its_texts(built_index, documents):
    docs, passages = documents
    extra, extra_passages = make_document("A/RES/99/1", ["Quantum computing and encryption.", NEW := "Decides to act."])
    embedder = FakeEmbedder()
    report = build_index_from_documents(
        [*docs, extra], built_index, embedder=embedder, passages=passages + extra_passages
    )
    assert sorted(embedder.encoded) == sorted(
        [document_context(extra), *(embedding_text(passage) for passage in extra_passages)]
    )
    assert (report.embedded, report.reused) == (3, len(passages) + len(docs))
    library = open_index(built_index, embedder=embedder)
    np.testing.assert_array_equal(
        library.vectors(), embed_passages(FakeEmbedder(), library.passages, library.documents)
    )


def test_changed_passage_text_is_embedded_again(built_index, documents):
    docs, passages = documents
    changed, changed_passages = make_document("A/RES/74/28", ["A new first paragraph.", *[p.text for p in passages[8:]]])
    embedder = FakeEmbedder()
    build_index_from_documents(
        [docs[0], docs[1], changed], built_index, embedder=embedder, passages=passages[:7] + changed_passages
    )
    assert embedder.encoded == [embedding_text(changed_passages[0])]  # its document line is unchanged


def test_cache_is_per_model(built_index, documents):
    docs, passages = documents
    other = FakeEmbedder(name="other-model")
    build_index_from_documents(docs, built_index, embedder=other, passages=passages)
    assert len(other.encoded) == len(passages) + len(docs)
    with pytest.raises(ModelMismatchError):
        open_index(built_index, embedder=FakeEmbedder())


def test_a_corrupt_cache_is_ignored_not_fatal(built_index, documents):
    docs, passages = documents
    (built_index / "cache-vectors.npy").write_bytes(b"garbage")
    embedder = FakeEmbedder()
    build_index_from_documents(docs, built_index, embedder=embedder, passages=passages)
    assert len(embedder.encoded) == len(passages) + len(docs)


# -- errors on load --------------------------------------------------------------------------


def test_missing_index_is_index_not_found(tmp_path):
    with pytest.raises(IndexNotFoundError, match="aseancyberdocs build"):
        open_index(tmp_path / "nowhere")


def test_unknown_format_version(built_index):
    _edit_manifest(built_index, lambda manifest: manifest.update(format_version=99))
    with pytest.raises(IndexVersionError, match="99"):
        open_index(built_index)


def test_altered_file_is_an_integrity_error(built_index):
    path = built_index / STORE_FILE
    assert b"critical" in path.read_bytes()
    path.write_bytes(path.read_bytes().replace(b"critical", b"CRITICAL"))
    with pytest.raises(IndexIntegrityError, match="store.sqlite"):
        open_index(built_index)


def test_missing_file_is_an_integrity_error(built_index):
    (built_index / "vectors.faiss").unlink()
    with pytest.raises(IndexIntegrityError, match="vectors.faiss is missing"):
        open_index(built_index)


def test_unreadable_manifest_is_an_integrity_error(built_index):
    (built_index / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(IndexIntegrityError):
        open_index(built_index)


def test_passage_count_mismatch_is_an_integrity_error(built_index):
    _edit_manifest(built_index, lambda manifest: manifest["counts"].update(vectors=3))
    with pytest.raises(IndexIntegrityError, match="3 vectors"):
        open_index(built_index)


def test_faiss_vector_count_mismatch_is_an_integrity_error(built_index, embedder):
    import faiss

    small = faiss.IndexFlatIP(64)
    small.add(np.eye(64, dtype=np.float32)[:3])
    faiss.write_index(small, str(built_index / "vectors.faiss"))
    digest = hashlib.sha256((built_index / "vectors.faiss").read_bytes()).hexdigest()
    _edit_manifest(built_index, lambda manifest: manifest["files"].update({"vectors.faiss": digest}))

    library = open_index(built_index, embedder=embedder)
    with pytest.raises(IndexIntegrityError, match="3 vectors"):
        library.search("critical infrastructure")


def test_manifest_naming_a_file_outside_the_index_is_refused(built_index):
    _edit_manifest(built_index, lambda manifest: manifest["files"].update({"../secret": "0" * 64}))
    with pytest.raises(IndexIntegrityError, match="outside"):
        open_index(built_index)


def test_query_encoder_of_another_model_is_a_mismatch(built_index):
    with pytest.raises(ModelMismatchError, match="fake-bow"):
        open_index(built_index, embedder=FakeEmbedder(name="all-MiniLM-L6-v2", dimension=64))
    with pytest.raises(ModelMismatchError, match="dimensions"):
        open_index(built_index, embedder=FakeEmbedder(dimension=32))


def test_manifest_model_is_loaded_lazily(built_index, fake_models):
    library = open_index(built_index)
    assert library._embedder is None and library._faiss is None
    library.search("ransomware")
    assert library.embedder is fake_models["fake-bow"]


# -- no pickle -------------------------------------------------------------------------------


def test_no_pickle_is_written_or_read(tmp_path, documents, monkeypatch):
    docs, passages = documents

    def forbidden(*args, **kwargs):
        raise AssertionError("pickle used")

    monkeypatch.setattr(pickle, "load", forbidden)
    monkeypatch.setattr(pickle, "loads", forbidden)
    monkeypatch.setattr(pickle, "dump", forbidden)
    monkeypatch.setattr(pickle, "dumps", forbidden)
    index_dir = tmp_path / "index"
    build_index_from_documents(docs, index_dir, embedder=FakeEmbedder(), passages=passages)
    build_index_from_documents(docs, index_dir, embedder=FakeEmbedder(), passages=passages)
    library = open_index(index_dir, embedder=FakeEmbedder())
    library.search("critical infrastructure")
    library.vectors()

    names = [path.name for path in tmp_path.rglob("*")]
    assert not [name for name in names if name.endswith((".pkl", ".pickle", ".joblib"))]
    cache = np.load(index_dir / "cache-vectors.npy", allow_pickle=False)
    assert cache.dtype == np.float32
    assert (index_dir / STORE_FILE).read_bytes().startswith(b"SQLite format 3\x00")
    for name in ("cache-keys.jsonl",):
        for line in (index_dir / name).read_text(encoding="utf-8").splitlines():
            json.loads(line)


# -- build_index from files ------------------------------------------------------------------

STATEMENT = """\
---
title: "Leaders' joint statement on cyber resilience"
date: 2024-01-01
---

1. We commit to strengthen the resilience of critical infrastructure against ransomware.

2. We will share threat information among national computer emergency response teams.
"""


def test_build_index_skips_unreadable_and_duplicate_files(tmp_path):
    from aseancyberdocs.index import build_index

    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "2024-01-01-cyber-resilience.md").write_text(STATEMENT)
    (tmp_path / "a" / "scan.pdf").write_bytes(b"%PDF-1.4 no text")
    stages: list[tuple[str, int, int]] = []

    report = build_index(
        [tmp_path / "a", tmp_path / "b"], tmp_path / "index", embedder=FakeEmbedder(),
        progress=lambda *event: stages.append(event),
    )

    assert (report.documents, report.passages) == (1, 2)
    reasons = {Path(item.path).parent.name + "/" + Path(item.path).name: item.reason for item in report.skipped}
    assert set(reasons) == {"a/scan.pdf", "b/2024-01-01-cyber-resilience.md"}
    assert "duplicate doc_id" in reasons["b/2024-01-01-cyber-resilience.md"]
    assert ("read", 3, 3) in stages and ("embed", 3, 3) in stages  # two passages and the document line
    manifest = json.loads((tmp_path / "index" / MANIFEST_FILE).read_text())
    assert len(manifest["skipped"]) == 2


def test_build_index_of_a_folder_with_no_sources(tmp_path):
    from aseancyberdocs.index import build_index

    (tmp_path / "notes.docx").write_bytes(b"")
    with pytest.raises(EmptyIndexError, match="no .pdf, .txt or .md file"):
        build_index([tmp_path], tmp_path / "index", embedder=FakeEmbedder())


def _counting_loader(monkeypatch) -> list[str]:
    from aseancyberdocs import sources

    real = sources.load_document
    calls: list[str] = []

    def load(path, catalog=None):
        calls.append(Path(path).name)
        return real(path, catalog=catalog)

    monkeypatch.setattr(sources, "load_document", load)
    return calls


def _two_statements(tmp_path: Path) -> Path:
    """A folder of two dated statements, the second on phishing instead of ransomware."""
    folder = tmp_path / "sources"
    folder.mkdir()
    (folder / "2024-01-01-first.md").write_text(STATEMENT)
    (folder / "2024-02-02-second.md").write_text(STATEMENT.replace("ransomware", "phishing"))
    return folder


def test_rebuild_reads_only_changed_files(tmp_path, monkeypatch):
    from aseancyberdocs.index import build_index

    folder = _two_statements(tmp_path)
    build_index([folder], tmp_path / "index", embedder=FakeEmbedder())
    before = open_index(tmp_path / "index", embedder=FakeEmbedder())
    calls = _counting_loader(monkeypatch)

    unchanged = build_index([folder], tmp_path / "index", embedder=FakeEmbedder())
    assert calls == [] and unchanged.documents_reused == 2 and unchanged.embedded == 0
    after = open_index(tmp_path / "index", embedder=FakeEmbedder())
    assert after.passages == before.passages and after.documents == before.documents

    (folder / "2024-02-02-second.md").write_text(STATEMENT.replace("ransomware", "deepfakes"))
    changed = build_index([folder], tmp_path / "index", embedder=FakeEmbedder())
    assert calls == ["2024-02-02-second.md"] and changed.documents_reused == 1
    assert "deepfakes" in open_index(tmp_path / "index", embedder=FakeEmbedder()).documents["2024-02-02-second"].text


def test_other_passage_settings_read_every_file_again(tmp_path, monkeypatch):
    from aseancyberdocs.index import build_index

    (tmp_path / "2024-01-01-first.md").write_text(STATEMENT)
    build_index([tmp_path / "2024-01-01-first.md"], tmp_path / "index", embedder=FakeEmbedder())
    calls = _counting_loader(monkeypatch)

    report = build_index([tmp_path / "2024-01-01-first.md"], tmp_path / "index", embedder=FakeEmbedder(), max_tokens=64)
    assert calls == ["2024-01-01-first.md"] and report.documents_reused == 0
    build_index([tmp_path / "2024-01-01-first.md"], tmp_path / "index", embedder=FakeEmbedder("other-model"))
    assert len(calls) == 2


def test_reused_documents_take_the_source_path_given_now(tmp_path, monkeypatch):
    from aseancyberdocs.index import build_index

    (tmp_path / "2024-01-01-first.md").write_text(STATEMENT)
    build_index([tmp_path / "2024-01-01-first.md"], tmp_path / "index", embedder=FakeEmbedder())
    monkeypatch.chdir(tmp_path)
    report = build_index(["2024-01-01-first.md"], tmp_path / "index", embedder=FakeEmbedder())
    assert report.documents_reused == 1
    library = open_index(tmp_path / "index", embedder=FakeEmbedder())
    assert library.documents["2024-01-01-first"].source == "2024-01-01-first.md"


# -- parallel build --------------------------------------------------------------------------

PARALLEL_SOURCES = [
    "un/pdf/A_C.1_80_L.35.pdf",
    "un/text/A_RES_73_27.txt",
    "statements/2023-02-02-quad-senior-cyber-group-joint-cybersecurity-statement.md",
    "un/pdf/A_C.1_80_L.63.pdf",
    "statements/2022-03-29-u-s-singapore-joint-leaders-statement.md",
    "un/text/A_RES_74_28.txt",
]


@pytest.mark.model
def test_a_parallel_build_equals_a_one_process_build(tmp_path, corpus_dir, monkeypatch):
    """Workers read and split the files while this process embeds: same passages, same vectors."""
    from aseancyberdocs import build as build_module
    from aseancyberdocs.embedding import load_embedder
    from aseancyberdocs.index import build_index

    monkeypatch.setattr(build_module, "_EMBED_CHUNK", 40)  # several embedding rounds while reading
    embedder = load_embedder()
    sources = [corpus_dir / source for source in PARALLEL_SOURCES]
    one = build_index(sources, tmp_path / "one", embedder=embedder, workers=1)
    two = build_index(sources, tmp_path / "two", embedder=embedder, workers=2)
    assert (one.documents, one.passages, one.embedded) == (two.documents, two.passages, two.embedded) == (
        len(sources), one.passages, one.embedded)
    assert one.passages > 40 and not one.skipped
    assert (one.workers, two.workers) == (1, 2)
    for name in (STORE_FILE, PASSAGE_DOCS_FILE):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    first, second = open_index(tmp_path / "one"), open_index(tmp_path / "two")
    np.testing.assert_array_equal(first.vectors(), second.vectors())
    assert [d.doc_id for d in first.documents.values()] == [d.doc_id for d in second.documents.values()]


def test_workers_must_be_a_positive_number(tmp_path, monkeypatch):
    from aseancyberdocs.index import build_index

    (tmp_path / "a.txt").write_text("1. A paragraph on ransomware.\n", encoding="utf-8")
    with pytest.raises(ValueError, match="workers must be >= 1, got 0"):
        build_index([tmp_path / "a.txt"], tmp_path / "index", embedder=FakeEmbedder(), workers=0)
    monkeypatch.setenv("ASEANCYBERDOCS_WORKERS", "many")
    with pytest.raises(ValueError, match="ASEANCYBERDOCS_WORKERS must be a whole number, got 'many'"):
        build_index([tmp_path / "a.txt"], tmp_path / "index", embedder=FakeEmbedder())


def _as_format_1(index_dir: Path) -> None:
    """Turn a built index into the folder an aseancyberdocs of format 1 wrote: JSON lines, no store."""
    library = open_index(index_dir)
    lines = {
        "passages.jsonl": [passage.to_dict() for passage in library.passages],
        "documents.jsonl": [document.to_dict() for document in library.documents.values()],
    }
    manifest = dict(library.manifest, format_version=1)
    manifest["settings"] = dict(manifest["settings"], format_version=1)
    manifest.pop("sampled", None)
    for name in (STORE_FILE, PASSAGE_DOCS_FILE):
        (index_dir / name).unlink()
        manifest["files"].pop(name)
    for name, records in lines.items():
        (index_dir / name).write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
        manifest["files"][name] = hashlib.sha256((index_dir / name).read_bytes()).hexdigest()
    (index_dir / MANIFEST_FILE).write_text(json.dumps(manifest), encoding="utf-8")


def test_a_format_1_index_is_refused_and_a_build_migrates_it_reusing_its_vectors(tmp_path):
    from aseancyberdocs.index import build_index

    (tmp_path / "2024-01-01-first.md").write_text(STATEMENT)
    index_dir = tmp_path / "index"
    build_index([tmp_path / "2024-01-01-first.md"], index_dir, embedder=FakeEmbedder())
    before = open_index(index_dir, embedder=FakeEmbedder())
    passages, vectors = list(before.passages), before.vectors()
    _as_format_1(index_dir)
    with pytest.raises(IndexVersionError, match=rf"{index_dir} is an index of format version 1.*aseancyberdocs build PATH --index {index_dir}"):
        open_index(index_dir)

    embedder = FakeEmbedder()
    report = build_index([tmp_path / "2024-01-01-first.md"], index_dir, embedder=embedder)
    # every text reused: the passages' own and the document's line
    assert embedder.calls == 0 and report.reused == len(passages) + 1 and report.embedded == 0
    assert report.documents_reused == 1  # read by the same code: not parsed again
    after = open_index(index_dir, embedder=FakeEmbedder())
    assert after.manifest["format_version"] == FORMAT_VERSION == 2
    assert after.passages == passages
    np.testing.assert_array_equal(after.vectors(), vectors)
    assert not (index_dir / "passages.jsonl").exists() and not (index_dir / "documents.jsonl").exists()


def test_a_large_store_is_checked_by_size_and_sampled_hash(built_index, monkeypatch):
    path = built_index / STORE_FILE
    monkeypatch.setattr(folder_module, "HASH_WHOLE_UP_TO", 1024)
    library = open_index(built_index)
    docs = [replace(document, text=document.text) for document in library.documents.values()]
    build_index_from_documents(docs, built_index, embedder=FakeEmbedder(), passages=list(library.passages))
    manifest = json.loads((built_index / MANIFEST_FILE).read_text())
    assert manifest["sampled"][STORE_FILE]["size"] == path.stat().st_size
    assert manifest["files"][STORE_FILE] == hashlib.sha256(path.read_bytes()).hexdigest()
    hashed = []
    whole = folder_module.sha256_file
    monkeypatch.setattr(folder_module, "sha256_file", lambda p: hashed.append(p.name) or whole(p))
    open_index(built_index)  # not read whole
    assert STORE_FILE not in hashed
    with open(path, "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(IndexIntegrityError, match="store.sqlite has changed since the build .size or sampled sha256"):
        open_index(built_index)


def test_search_files_made_while_embedding_equal_those_made_after(tmp_path):
    from aseancyberdocs.folder import _write_search_files
    from aseancyberdocs.index import build_index

    folder = _two_statements(tmp_path)
    build_index([folder], tmp_path / "index", embedder=FakeEmbedder())
    library = open_index(tmp_path / "index", embedder=FakeEmbedder())
    (tmp_path / "after").mkdir()
    names = _write_search_files(tmp_path / "after", library.passages, list(library.documents.values()))
    assert names and all(
        (tmp_path / "after" / name).read_bytes() == (tmp_path / "index" / name).read_bytes() for name in names
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["after", "index", "sources"]


def test_a_build_whose_search_files_fail_leaves_the_index_and_no_folder_behind(tmp_path, monkeypatch):
    from aseancyberdocs.index import build_index

    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "2024-01-01-first.md").write_text(STATEMENT)
    build_index([sources], tmp_path / "index", embedder=FakeEmbedder())
    manifest = (tmp_path / "index" / MANIFEST_FILE).read_bytes()
    (sources / "2024-02-02-second.md").write_text(STATEMENT.replace("ransomware", "phishing"))

    def fail(*args):
        raise OSError("disk full")

    monkeypatch.setattr(folder_module, "_write_search_files", fail)
    with pytest.raises(OSError, match="disk full"):
        build_index([sources], tmp_path / "index", embedder=FakeEmbedder())
    assert (tmp_path / "index" / MANIFEST_FILE).read_bytes() == manifest
    assert sorted(path.name for path in tmp_path.iterdir()) == ["index", "sources"]


def test_search_folders_of_dead_builds_are_removed_by_the_next(tmp_path):
    from aseancyberdocs.index import build_index

    sources = tmp_path / "sources"
    sources.mkdir()
    (sources / "2024-01-01-first.md").write_text(STATEMENT)
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".index.search-{int(dead.stdout)}-0a1b2c3d"
    stale.mkdir()
    (stale / "bm25-data.npy").write_bytes(b"half written")
    build_index([sources], tmp_path / "index", embedder=FakeEmbedder())
    assert sorted(path.name for path in tmp_path.iterdir()) == ["index", "sources"]
