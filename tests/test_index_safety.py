"""An index folder is untrusted input, and a build may die at any instant: neither may hurt.

Loading never unpickles or evaluates anything; a tampered manifest is a specific error; a build
killed with SIGKILL leaves the previous index whole; a reader never sees two builds mixed.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import random
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from aseancyberdocs.errors import IndexIntegrityError, IndexVersionError, ModelMismatchError
from aseancyberdocs.index import build_index_from_documents, open_index

from conftest import NORMS, RANSOMWARE, FakeEmbedder, make_document

REPO = Path(__file__).resolve().parents[1]


class _Planted:
    """Unpickling this creates ``marker``: proof that a pickle was loaded."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "code ran"))


def _rewrite_manifest(index_dir: Path, change) -> None:
    path = index_dir / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    change(manifest)
    path.write_text(json.dumps(manifest), encoding="utf-8")


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_planted_pickles_are_never_loaded(built_index, tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Planted(marker))
    for name in ("index.pkl", "passages.pkl", "vectors.pickle", "docstore.pkl"):
        (built_index / name).write_bytes(payload)
    library = open_index(built_index, embedder=FakeEmbedder())
    library.search("critical infrastructure", k=2)
    library.info()
    assert not marker.exists()


def test_a_pickle_posing_as_the_vector_cache_is_not_unpickled(built_index, tmp_path):
    import numpy as np

    marker = tmp_path / "pwned"
    np.save(built_index / "cache-vectors.npy", np.array([_Planted(marker)], dtype=object), allow_pickle=True)
    _rewrite_manifest(built_index, lambda m: m["files"].update({"cache-vectors.npy": _sha256(built_index / "cache-vectors.npy")}))
    docs, passages = [make_document("A/RES/73/27", NORMS, symbol="A/RES/73/27")[0]], None
    build_index_from_documents(docs, built_index, embedder=FakeEmbedder())  # reads the cache
    assert not marker.exists()


def test_a_pickle_posing_as_the_faiss_file_is_an_integrity_error(built_index, tmp_path):
    marker = tmp_path / "pwned"
    (built_index / "vectors.faiss").write_bytes(pickle.dumps(_Planted(marker)))
    _rewrite_manifest(built_index, lambda m: m["files"].update({"vectors.faiss": _sha256(built_index / "vectors.faiss")}))
    library = open_index(built_index, embedder=FakeEmbedder())
    with pytest.raises(IndexIntegrityError, match="vectors.faiss is not a FAISS index"):
        library.search("critical infrastructure", k=2)
    assert not marker.exists()


@pytest.mark.parametrize("name", ["../../etc/passwd", "/etc/passwd", "sub/../../x.jsonl", "..", "passages.pkl"])
def test_manifest_naming_other_paths_is_refused(built_index, name):
    _rewrite_manifest(built_index, lambda m: m["files"].update({name: "0" * 64}))
    with pytest.raises(IndexIntegrityError) as caught:
        open_index(built_index)
    message = str(caught.value)
    assert str(built_index) in message
    assert "outside the index" in message or "is missing" in message


@pytest.mark.parametrize(
    ("change", "error", "words"),
    [
        (lambda m: m.update(format_version=99), IndexVersionError, "format version 99"),
        (lambda m: m.update(format_version="1"), IndexVersionError, "format version '1'"),
        (lambda m: m.update(model="fake-bow"), IndexIntegrityError, "names no embedding model"),
        (lambda m: m["model"].update(dimension="64"), IndexIntegrityError, "no valid vector dimension"),
        (lambda m: m.update(counts=[]), IndexIntegrityError, "gives no counts"),
        (lambda m: m["counts"].update(vectors=999), IndexIntegrityError, "999 vectors"),
        (lambda m: m["counts"].update(documents=1), IndexIntegrityError, "the manifest counts 1"),
        (lambda m: m.update(files=None), IndexIntegrityError, "lists no files"),
        (lambda m: m["files"].update({"store.sqlite": "0" * 64}), IndexIntegrityError, "store.sqlite has changed"),
    ],
)
def test_manifest_checks_are_specific_errors(built_index, change, error, words):
    _rewrite_manifest(built_index, change)
    with pytest.raises(error, match=words.replace("(", r"\(")):
        open_index(built_index)


def test_model_other_than_the_query_encoder(built_index):
    with pytest.raises(ModelMismatchError, match="built with 'fake-bow' \\(64 dimensions\\).*'other' \\(32"):
        open_index(built_index, embedder=FakeEmbedder("other", dimension=32))


def test_a_record_of_the_wrong_shape_is_an_integrity_error(built_index):
    import sqlite3

    path = built_index / "store.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("UPDATE passages SET start = '__import__(\"os\")', text = NULL WHERE row = 1")
    db.close()
    _rewrite_manifest(built_index, lambda m: m["files"].update({"store.sqlite": _sha256(path)}))
    library = open_index(built_index)  # rows are read when used, and checked then
    assert library.passages[0].passage_id
    with pytest.raises(IndexIntegrityError, match=r"store.sqlite: passage row 1 is not a valid passage record"):
        library.passages[1]
    with pytest.raises(IndexIntegrityError, match=r"passage row 1 is not a valid passage record"):
        list(library.passages)


def test_a_store_that_is_not_sqlite_is_an_integrity_error(built_index):
    path = built_index / "store.sqlite"
    path.write_bytes(json.dumps({"__class__": "os.system"}).encode() * 100)
    _rewrite_manifest(built_index, lambda m: m["files"].update({"store.sqlite": _sha256(path)}))
    with pytest.raises(IndexIntegrityError, match=r"store.sqlite: not a readable passage store"):
        open_index(built_index)


def test_a_format_1_index_names_the_folder_and_the_build_command(built_index):
    _rewrite_manifest(built_index, lambda m: m.update(format_version=1))
    with pytest.raises(IndexVersionError, match=r"format version 1 .*run `aseancyberdocs build PATH --index "):
        open_index(built_index)


# --------------------------------------------------------------------------------------------
# Builds killed at random points


_BUILDER = textwrap.dedent(
    """
    import sys
    from aseancyberdocs.index import build_index_from_documents
    from conftest import FakeEmbedder, make_document, NORMS, RANSOMWARE, CAPACITY

    index_dir, rounds = sys.argv[1], int(sys.argv[2])
    variants = []
    for extra in range(2):
        built = [make_document("A/RES/73/27", NORMS), make_document("2023-ransomware", RANSOMWARE, doc_type="joint statement")]
        if extra:
            built.append(make_document("A/RES/74/28", CAPACITY))
        variants.append(([d for d, _ in built], [p for _, ps in built for p in ps]))
    print("ready", flush=True)
    for round in range(rounds):
        documents, passages = variants[round % 2]
        build_index_from_documents(documents, index_dir, embedder=FakeEmbedder(), passages=passages)
    """
)


def _builder(index_dir: Path, rounds: int) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO / "src"), str(REPO / "tests")]))
    return subprocess.Popen(
        [sys.executable, "-c", _BUILDER, str(index_dir), str(rounds)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        cwd=REPO,
    )


def _answer(index_dir: Path) -> list[tuple[str, str]]:
    library = open_index(index_dir, embedder=FakeEmbedder())
    assert library.manifest["counts"]["passages"] == len(library.passages) == library.faiss_index.ntotal
    return [(hit.passage.passage_id, str(hit.citation)) for hit in library.search("critical infrastructure ransomware", k=4)]


def _leftovers(index_dir: Path) -> list[str]:
    return sorted(path.name for path in index_dir.parent.iterdir() if path.name.startswith(f".{index_dir.name}."))


def test_builds_killed_at_random_points_leave_a_whole_index(tmp_path):
    index_dir = tmp_path / "index"
    documents = [make_document("A/RES/73/27", NORMS)[0], make_document("2023-ransomware", RANSOMWARE, doc_type="joint statement")[0]]
    passages = [p for d in (make_document("A/RES/73/27", NORMS), make_document("2023-ransomware", RANSOMWARE, doc_type="joint statement")) for p in d[1]]
    build_index_from_documents(documents, index_dir, embedder=FakeEmbedder(), passages=passages)
    answers = {tuple(_answer(index_dir))}
    rng = random.Random(6)
    deadline = time.monotonic() + 25
    kills = 0
    while kills < 6 and time.monotonic() < deadline:
        process = _builder(index_dir, rounds=10_000)
        assert process.stdout.readline().strip() == b"ready", process.stderr.read().decode()
        time.sleep(rng.uniform(0.0, 0.4))
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        kills += 1
        # The index there is the last one swapped in: one of the two variants, whole.
        answer = tuple(_answer(index_dir))
        answers.add(answer)
        assert len(answers) <= 2, answers
        # No half-written folder is ever taken for the index.
        for name in _leftovers(index_dir):
            assert name.startswith((f".{index_dir.name}.tmp-", f".{index_dir.name}.old-")), name
    assert kills >= 3
    # The next build clears what the killed ones left.
    build_index_from_documents(documents, index_dir, embedder=FakeEmbedder(), passages=passages)
    assert _leftovers(index_dir) == []
    assert tuple(_answer(index_dir)) in answers


def test_a_reader_sees_the_old_or_the_new_index_never_a_mix(tmp_path):
    index_dir = tmp_path / "index"
    small = [make_document("A/RES/73/27", NORMS), make_document("2023-ransomware", RANSOMWARE, doc_type="joint statement")]
    build_index_from_documents([d for d, _ in small], index_dir, embedder=FakeEmbedder(), passages=[p for _, ps in small for p in ps])
    process = _builder(index_dir, rounds=400)
    assert process.stdout.readline().strip() == b"ready"
    seen_counts: set[int] = set()
    opened = 0
    try:
        deadline = time.monotonic() + 3
        while process.poll() is None and time.monotonic() < deadline:
            library = open_index(index_dir, embedder=FakeEmbedder())
            opened += 1
            count = library.manifest["counts"]["passages"]
            assert count == len(library.passages) == library.faiss_index.ntotal
            assert library.manifest["counts"]["documents"] == len(library.documents)
            for passage in library.passages:
                assert library.documents[passage.doc_id].text[passage.start : passage.end] == passage.text
            # Not searched here: BM25 files load on first use and refuse (IndexIntegrityError, "changed
            # since the index was opened") a folder replaced after the open, which is no mix either.
            seen_counts.add(count)
    finally:
        process.kill()
        process.wait(timeout=10)
    assert opened > 5
    assert seen_counts == {len(NORMS) + len(RANSOMWARE), len(NORMS) + len(RANSOMWARE) + 3}  # both builds seen


def test_concurrent_reads_in_threads_during_rebuilds(built_index, documents):
    docs, passages = documents
    errors: list[BaseException] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            try:
                library = open_index(built_index, embedder=FakeEmbedder())
                assert library.manifest["counts"]["passages"] == len(library.passages) == library.faiss_index.ntotal
            except BaseException as exc:  # noqa: BLE001 - collected and re-raised below
                errors.append(exc)
                return

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for round in range(20):
            chosen = docs[: 2 + round % 2]
            ids = {d.doc_id for d in chosen}
            build_index_from_documents(chosen, built_index, embedder=FakeEmbedder(), passages=[p for p in passages if p.doc_id in ids])
    finally:
        stop.set()
        reader.join(timeout=10)
    assert not errors, errors[0]


def test_a_folder_built_again_in_the_place_of_a_removed_one_is_told_apart(tmp_path):
    # The folder a swap removes frees its inode number, and the next build's folder is often given
    # it: open_index must still see that the index it was reading has been replaced.
    import shutil

    from aseancyberdocs.folder import MANIFEST_FILE, _folder_id

    folder = tmp_path / "index"
    seen = set()
    for round in range(5):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        (folder / MANIFEST_FILE).write_text(json.dumps({"built": "x" * round}))  # each build's own
        seen.add(_folder_id(folder))
    assert len(seen) == 5
