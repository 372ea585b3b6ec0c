"""The FAISS index type chosen at build time: exact, HNSW, IVF-PQ re-scored, or by corpus size."""

from __future__ import annotations

import os

import pytest

from aseancyberdocs.index import (
    HNSW_ABOVE,
    build_index_from_documents,
    faiss_type_for,
    open_index,
)


def test_auto_is_exact_for_small_corpora_and_hnsw_for_large():
    assert faiss_type_for("auto", 9_281) == "IndexFlatIP"
    assert faiss_type_for("auto", HNSW_ABOVE) == "IndexFlatIP"
    assert faiss_type_for("auto", HNSW_ABOVE + 1) == "IndexHNSWFlat"
    assert faiss_type_for("flat", 10**7) == "IndexFlatIP"
    assert faiss_type_for("hnsw", 10) == "IndexHNSWFlat"
    with pytest.raises(ValueError, match="'ivf'"):
        faiss_type_for("ivf", 10)


def test_an_hnsw_index_finds_what_the_exact_one_finds(tmp_path, documents, embedder):
    import faiss

    docs, passages = documents
    build_index_from_documents(docs, tmp_path / "flat", embedder=embedder, passages=passages, index_type="flat")
    build_index_from_documents(docs, tmp_path / "hnsw", embedder=embedder, passages=passages, index_type="hnsw")
    flat = open_index(tmp_path / "flat", embedder=embedder)
    hnsw = open_index(tmp_path / "hnsw", embedder=embedder)

    assert hnsw.manifest["settings"]["faiss"] == "IndexHNSWFlat"
    assert isinstance(hnsw.faiss_index, faiss.IndexHNSWFlat)
    assert (hnsw.vectors() == flat.vectors()).all()
    query = "requests for assistance critical infrastructure"
    # ten passages: the HNSW graph is exhaustive at this size
    assert [hit.passage.passage_id for hit in hnsw.search(query, k=5)] == [
        hit.passage.passage_id for hit in flat.search(query, k=5)
    ]


def test_auto_is_ivf_with_8_bit_codes_past_the_memory_of_an_hnsw_graph():
    from aseancyberdocs.index import IVFPQ_ABOVE

    assert faiss_type_for("auto", IVFPQ_ABOVE) == "IndexHNSWFlat"
    assert faiss_type_for("auto", IVFPQ_ABOVE + 1) == "IndexIVFScalarQuantizer"
    assert faiss_type_for("ivfpq", 10) == "IndexIVFPQ"
    assert faiss_type_for("ivfsq", 10) == "IndexIVFScalarQuantizer"


@pytest.mark.parametrize(("index_type", "faiss_type"), [("ivfpq", "IndexIVFPQ"), ("ivfsq", "IndexIVFScalarQuantizer")])
def test_an_ivf_index_is_rescored_exactly_from_the_stored_vectors(tmp_path, documents, embedder, index_type, faiss_type):
    import faiss

    from aseancyberdocs.vectors import RescoredIndex

    docs, passages = documents
    build_index_from_documents(docs, tmp_path / "flat", embedder=embedder, passages=passages, index_type="flat")
    build_index_from_documents(docs, tmp_path / "ivf", embedder=embedder, passages=passages, index_type=index_type)
    flat = open_index(tmp_path / "flat", embedder=embedder)
    ivfpq = open_index(tmp_path / "ivf", embedder=embedder)

    assert ivfpq.manifest["settings"]["faiss"] == faiss_type and "rescore-vectors.npy" in ivfpq.manifest["files"]
    assert isinstance(ivfpq.faiss_index, RescoredIndex) and type(ivfpq.faiss_index.index).__name__ == faiss_type
    assert (ivfpq.vectors() == flat.vectors()).all()
    for query, options in [("requests for assistance critical infrastructure", {}),
                           ("ransomware payments", {"doc_type": "joint statement"})]:
        expected = flat.search(query, k=5, mode="dense", **options)
        found = ivfpq.search(query, k=5, mode="dense", **options)
        assert [hit.passage.passage_id for hit in found] == [hit.passage.passage_id for hit in expected]
        assert [hit.score for hit in found] == pytest.approx([hit.score for hit in expected], abs=1e-6)
        assert [hit.passage.passage_id for hit in ivfpq.search(query, k=5, **options)] == [
            hit.passage.passage_id for hit in flat.search(query, k=5, **options)
        ]


def test_an_ivf_index_with_8_bit_codes_is_memory_mapped_and_checked(tmp_path, documents, embedder):
    from aseancyberdocs.errors import IndexIntegrityError

    docs, passages = documents
    build_index_from_documents(docs, tmp_path / "ivf", embedder=embedder, passages=passages, index_type="ivfsq")
    library = open_index(tmp_path / "ivf", embedder=embedder)
    assert library._faiss_bytes is None and library._faiss_mapped is not None  # not read whole at open
    assert library.faiss_index.ntotal == len(library.passages)

    again = open_index(tmp_path / "ivf", embedder=embedder)
    path = tmp_path / "ivf" / "vectors.faiss"
    path.write_bytes(path.read_bytes())  # replaced after the open: another file
    with pytest.raises(IndexIntegrityError, match="vectors.faiss has changed since the index was opened"):
        again.faiss_index
    with open(path, "r+b") as handle:  # damaged: the open's check fails
        handle.seek(100)
        handle.write(b"\xff" * 8)
    with pytest.raises(IndexIntegrityError, match="vectors.faiss has changed since the build"):
        open_index(tmp_path / "ivf", embedder=embedder)


@pytest.mark.parametrize("kind", ["ivfpq", "ivfsq"])
def test_the_ivf_short_list_rescored_finds_the_exact_neighbours(kind):
    import faiss
    import numpy as np

    from aseancyberdocs import vectors as module
    from aseancyberdocs.vectors import RescoredIndex

    rng = np.random.default_rng(3)
    centres = rng.normal(size=(50, 64)).astype(np.float32)
    vectors = centres[rng.integers(0, 50, 6000)] + 0.3 * rng.normal(size=(6000, 64)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    order = rng.permutation(6000)  # stored rows in another order than the passages, as in the vector cache
    stored = np.empty_like(vectors)
    stored[order] = vectors
    index = RescoredIndex(getattr(module, f"build_{kind}")(vectors), stored, order)
    # 8-bit codes rank the short list almost exactly: a short list twice k is enough.
    assert index.short_list(10) == (50 if kind == "ivfsq" else 3000) and index.short_list(100) == (200 if kind == "ivfsq" else 3000)
    exact = faiss.IndexFlatIP(64)
    exact.add(vectors)
    queries = vectors[:50] + 0.05 * rng.normal(size=(50, 64)).astype(np.float32)
    scores, ids = index.search(queries, 10)
    _, true_ids = exact.search(queries, 10)
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(ids, true_ids)])
    assert recall >= 0.95
    np.testing.assert_allclose(scores, np.einsum("qd,qkd->qk", queries, vectors[ids]), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(index.reconstruct_n(0, 6000), vectors)
    # One query's probed lists are scanned by FAISS's threads together: the same rows, in the same order.
    assert index.index.parallel_mode == module.IVF_PARALLEL_MODE == 1
    index.index.parallel_mode = 0
    assert index.search(queries, 10)[1].tolist() == ids.tolist()


def test_vector_rows_read_the_rows_asked_for(tmp_path):
    import numpy as np

    from aseancyberdocs.vectors import VectorRows

    matrix = np.random.default_rng(5).normal(size=(5000, 16)).astype(np.float32)
    np.save(tmp_path / "v.npy", matrix)
    rows = VectorRows(tmp_path / "v.npy")
    assert rows.shape == (5000, 16) and len(rows) == 5000
    np.testing.assert_array_equal(rows[[7, 3, 4999, 3]], matrix[[7, 3, 4999, 3]])
    np.testing.assert_array_equal(rows[-1], matrix[-1])
    np.testing.assert_array_equal(rows[np.arange(5000)], matrix)  # one run of consecutive rows
    mixed = np.random.default_rng(6).integers(-5000, 5000, 3000)  # unordered, repeated, negative
    np.testing.assert_array_equal(rows[mixed], matrix[mixed])
    assert rows[[]].shape == (0, 16)
    with pytest.raises(IndexError, match="row out of range"):
        rows[[5000]]
    np.save(tmp_path / "w.npy", matrix.astype(np.float64))
    with pytest.raises(ValueError, match="not a 2-D float32 matrix"):
        VectorRows(tmp_path / "w.npy")


def test_long_runs_of_rows_are_read_in_pieces_and_a_cut_file_is_named(tmp_path, monkeypatch):
    import numpy as np

    from aseancyberdocs import vectors
    from aseancyberdocs.vectors import VectorRows

    monkeypatch.setattr(vectors, "_RUN_ROWS", 7)
    matrix = np.random.default_rng(8).normal(size=(100, 4)).astype(np.float32)
    np.save(tmp_path / "v.npy", matrix)
    rows = VectorRows(tmp_path / "v.npy")
    wanted = np.r_[np.arange(3, 40), [90, 91, 2], np.arange(50, 53)]
    np.testing.assert_array_equal(rows[wanted], matrix[wanted])
    with open(tmp_path / "v.npy", "r+b") as handle:
        handle.truncate((tmp_path / "v.npy").stat().st_size - 16 * 10)  # the last 10 rows gone
    rows = VectorRows(tmp_path / "v.npy")
    with pytest.raises(ValueError, match=r"v\.npy: row 90 is cut short"):
        rows[np.arange(80, 100)]


def test_rows_read_again_come_from_the_bounded_cache_and_equal_the_file(tmp_path, monkeypatch):
    import numpy as np

    from aseancyberdocs.vectors import RescoredIndex, VectorRows, build_ivfpq

    rng = np.random.default_rng(11)
    vectors = rng.normal(size=(3000, 16)).astype(np.float32)
    order = rng.permutation(3000)
    stored = np.empty_like(vectors)
    stored[order] = vectors
    np.save(tmp_path / "v.npy", stored)
    file_rows = VectorRows(tmp_path / "v.npy")
    reads = []
    # Rows read, counted in bytes: consecutive rows come in one call.
    monkeypatch.setattr(file_rows, "_pread", lambda *args: reads.extend([1] * (args[1] // 64)) or os.pread(*args))
    index = RescoredIndex(build_ivfpq(vectors), file_rows, order, cached=500)
    for size in (40, 300, 700, 40):  # the last request repeats the first after evictions
        ids = rng.choice(3000, size)  # with repeats
        np.testing.assert_array_equal(index.reconstruct_batch(ids), vectors[ids])
    index = RescoredIndex(index.index, file_rows, order, cached=500)  # an empty cache
    before = len(reads)
    ids = rng.choice(3000, 200, replace=False)
    index.reconstruct_batch(ids)
    after_first = len(reads)
    np.testing.assert_array_equal(index.reconstruct_batch(ids[::-1]), vectors[ids[::-1]])
    assert after_first - before == 200 and len(reads) == after_first  # the second time, no read
    np.testing.assert_array_equal(index.reconstruct(int(ids[0])), vectors[ids[0]])
