"""The FAISS index type chosen at build time: exact, HNSW, or by corpus size."""

from __future__ import annotations

import pytest

from aseancyberdocs.index import HNSW_ABOVE, build_index_from_documents, faiss_type_for, open_index


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
