"""Dense search: typed, cited, ranked Hits; argument checks; FAISS equals brute force."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FakeEmbedder

from aseancyberdocs import search as search_module
from aseancyberdocs.citations import cite
from aseancyberdocs.index import embed_passages, open_index
from aseancyberdocs.reading import PassageScores
from aseancyberdocs.search import (
    FUSION_DEPTH,
    Candidate,
    _Ranker,
    _sources,
    check_query,
    dense_candidates,
    feedback_vector,
    fuse,
    search,
    to_hits,
    top_rows,
)

HIT_FIELDS = {
    "rank", "score", "passage_id", "doc_id", "symbol", "title", "date", "doc_type", "label", "pages",
    "page_labels", "citation", "text", "start", "end", "source",
}


@pytest.fixture
def library(built_index, embedder):
    return open_index(built_index, embedder=embedder)


def test_hits_are_ranked_cited_and_typed(library):
    hits = library.search("critical infrastructure malicious ICT acts", k=4)

    assert [hit.rank for hit in hits] == [1, 2, 3, 4]
    assert [hit.score for hit in hits] == sorted((hit.score for hit in hits), reverse=True)
    for hit in hits:
        document = library.documents[hit.passage.doc_id]
        assert hit.citation == cite(document, hit.passage)
        assert hit.doc_type == document.doc_type
        assert hit.source == document.source
        assert document.text[hit.passage.start : hit.passage.end] == hit.text


def test_scores_are_cosine_similarities(library, embedder):
    query = "share information on ransom payments"
    query_vector = embedder.encode([query])[0]
    for hit in library.search(query, k=10, mode="dense", group=False):
        passage_vector = embed_passages(embedder, [hit.passage], library.documents)[0]
        assert hit.score == pytest.approx(float(passage_vector @ query_vector), abs=1e-5)


def test_the_passage_quoted_verbatim_comes_first(library):
    for passage in library.passages:
        assert library.search(passage.text, k=1, mode="dense")[0].passage == passage


def test_dense_candidates_equal_numpy_brute_force(library, embedder):
    vectors = library.vectors()
    for query in ["ransomware resilience", "capacity building", "vulnerabilities reporting States"]:
        query_vector = embedder.encode([query])[0]
        got = dense_candidates(library.faiss_index, query_vector, 5)
        scores = vectors @ query_vector
        # Stable sort on -score: ties keep passage order, as FAISS does.
        expected = np.argsort(-scores, kind="stable")[:5]
        np.testing.assert_allclose([c.score for c in got], scores[expected], rtol=1e-5, atol=1e-6)
        assert {c.index for c in got if c.score > scores[expected[-1]] + 1e-6} <= set(expected.tolist())


def test_k_larger_than_the_index_gives_every_passage(library):
    assert len(library.search("States", k=1000)) == len(library.passages)


@pytest.mark.parametrize("k", [0, -3])
def test_k_below_one_is_refused(library, k):
    with pytest.raises(ValueError, match=f"k must be >= 1, got {k}"):
        library.search("ransomware", k=k)


@pytest.mark.parametrize("k", [1.5, "3", True, None])
def test_k_must_be_an_integer(library, k):
    with pytest.raises(ValueError, match="k must be an integer"):
        search(library, "ransomware", k=k)


@pytest.mark.parametrize("query", ["", "   ", "\n\t"])
def test_empty_query_is_refused(library, query):
    with pytest.raises(ValueError, match="query is empty"):
        library.search(query)


def test_check_query_strips():
    assert check_query("  norms  ", 3) == "norms"


def test_to_hits_ranks_in_the_order_given(library):
    hits = to_hits(library, [Candidate(5, 0.5), Candidate(0, 0.9)])
    assert [(hit.rank, hit.passage) for hit in hits] == [(1, library.passages[5]), (2, library.passages[0])]
    assert hits[0].score == 0.5


def test_hit_to_dict_has_the_cli_fields(library):
    data = library.search("ransomware", k=1)[0].to_dict()
    assert HIT_FIELDS <= set(data)
    assert data["citation"] == str(library.search("ransomware", k=1)[0].citation)


def test_statement_citation_has_no_symbol(library):
    hit = library.search("counter ransomware initiative new members", k=1)[0]
    assert hit.doc_type == "joint statement"
    assert hit.citation.symbol is None
    assert "para. 3" in hit.citation.formatted


def test_document_lookup(library):
    assert library.document("A/RES/73/27").symbol == "A/RES/73/27"
    with pytest.raises(KeyError, match="A/RES/1/1"):
        library.document("A/RES/1/1")


def test_info_counts_per_doc_type(library):
    info = library.info()
    assert info["documents"] == 3 and info["passages"] == 10
    assert info["by_doc_type"]["resolution"] == {"documents": 2, "passages": 7}
    assert info["model"]["name"] == "fake-bow"
    assert info["settings"]["max_tokens"] == 256
    assert info["built"]


def test_search_after_reopen_gives_the_same_hits(built_index):
    first = open_index(built_index, embedder=FakeEmbedder()).search("critical infrastructure", k=5)
    second = open_index(built_index, embedder=FakeEmbedder()).search("critical infrastructure", k=5)
    assert [hit.to_dict() for hit in first] == [hit.to_dict() for hit in second]


# --------------------------------------------------------------------------------------------
# Modes, phrases and symbols


def test_hybrid_rrf_score_is_the_sum_of_reciprocal_ranks(library):
    query = "critical infrastructure ransomware"
    everything = len(library.passages)
    dense = [hit.passage.passage_id for hit in library.search(query, k=everything, mode="dense", group=False)]
    bm25 = [hit.passage.passage_id for hit in library.search(query, k=everything, mode="bm25", group=False)]
    for hit in library.search(query, k=5, mode="hybrid", group=False, fusion="rrf"):
        pid = hit.passage.passage_id
        expected = 1 / (60 + dense.index(pid) + 1) + (1 / (60 + bm25.index(pid) + 1) if pid in bm25 else 0)
        assert hit.score == pytest.approx(expected)
        assert hit.scores["fused"] == pytest.approx(expected)
        assert set(hit.scores) == {"dense", "bm25", "fused"}


def test_weighted_fusion_is_available(library):
    from aseancyberdocs.rerank import WEIGHTS

    hits = library.search("ransomware payments", k=3, fusion="weighted", group=False)
    # The second stage's features each lie in [0, 1]: the score is at most its positive weights' sum.
    ceiling = sum(weight for weight in WEIGHTS.values() if weight > 0)
    assert hits[0].score == pytest.approx(max(hit.score for hit in hits)) and hits[0].score <= ceiling


def test_component_scores_are_the_dense_cosine_and_bm25(library, embedder):
    from aseancyberdocs.bm25 import bm25_index

    query = "responsible reporting of ICT vulnerabilities"
    from aseancyberdocs.reading import expand

    bm25 = bm25_index(library).scores(expand(query))
    for hit in library.search(query, k=3, group=False):
        row = library.passages.index(hit.passage)
        cosine = float(embed_passages(embedder, [hit.passage], library.documents)[0] @ embedder.encode([query])[0])
        assert hit.scores["dense"] == pytest.approx(cosine, abs=1e-5)
        assert hit.scores["bm25"] == pytest.approx(float(bm25[row]))


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_quoted_phrase_keeps_only_passages_holding_it(library, mode):
    hits = library.search('"KNOWINGLY  allow their territory"', k=10, mode=mode)
    assert [hit.passage.passage_id for hit in hits] == ["A/RES/73/27#4"]


def test_phrase_matching_ignores_hyphenation_and_case(library):
    hits = library.search('"Capacity building for developing countries"', k=10)
    assert [hit.passage.passage_id for hit in hits] == ["A/RES/74/28#1"]
    assert library.search('"not in any passage at all"', k=10) == []


def test_symbol_query_lists_the_document_in_order(library):
    for query in ("A/RES/73/27", "a_res_73_27"):
        hits = library.search(query, k=10)
        assert [hit.passage.passage_id for hit in hits] == [f"A/RES/73/27#{n}" for n in range(1, 5)]
    assert len(library.search("A/RES/73/27", k=2)) == 2


@pytest.mark.parametrize(("options", "message"), [({"mode": "sparse"}, "mode must be one of"), ({"fusion": "max"}, "fusion must be")])
def test_unknown_mode_or_fusion_is_refused(library, options, message):
    with pytest.raises(ValueError, match=message):
        library.search("ransomware", **options)


@pytest.mark.parametrize("seed", range(5))
def test_top_rows_equal_a_stable_sort_cut_at_depth(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 6, size=400).astype(np.float64)  # many ties
    rows = np.flatnonzero(rng.random(400) < 0.7)
    for depth in (1, 5, 37, len(rows) - 1, len(rows), len(rows) + 10):
        expected = rows[np.argsort(-scores[rows], kind="stable")][:depth]
        assert top_rows(scores, rows, depth).tolist() == expected.tolist()
    assert top_rows(scores, rows, 0).tolist() == []
    assert top_rows(scores, rows[:0], 3).tolist() == []


def test_named_documents_add_at_most_the_limit_best_by_bm25(library, monkeypatch):
    ranker = _Ranker(_sources(library), "critical infrastructure", "hybrid", "weighted", None)
    rows = np.asarray(library.document_rows)
    boost = PassageScores(np.ones(int(rows.max()) + 1), rows, ordered=True)  # every document named
    dense, sparse = {0: 0.5}, {}
    monkeypatch.setattr(search_module, "REACH_LIMIT", 3)
    ranker._reach_named(boost, dense, sparse, ranker.vector)
    added = sorted(set(dense) - {0})
    candidates = np.flatnonzero(np.arange(len(library.passages)) != 0)
    bm25 = ranker.bm25.all()
    assert added == sorted(top_rows(bm25, candidates, 3).tolist())
    assert all(row in sparse for row in added if bm25[row] > 0)


def test_fuse_is_the_weighted_sum_plus_the_document_match():
    boost = np.array([0.0, 1.0, 0.5, 0.0])
    fused = fuse({0: 0.9, 1: 0.5}, {1: 12.0, 2: 4.0}, boost)
    assert fused == pytest.approx({0: 0.4 * 1, 1: 0.6 * 1 + 0.1 * 1.0, 2: 0.1 * 0.5})
    assert fuse({0: 0.9, 1: 0.5}, {}, None) == pytest.approx({0: 0.4, 1: 0.0})


def test_feedback_vector_is_rocchio_normalised():
    rng = np.random.default_rng(7)
    question = rng.normal(size=8).astype(np.float32)
    question /= np.linalg.norm(question)
    feedback = rng.normal(size=(3, 8)).astype(np.float32)
    expected = question + 0.5 * feedback.mean(axis=0)
    expected /= np.linalg.norm(expected)
    got = feedback_vector(question, feedback, 0.5)
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)
    assert np.linalg.norm(got) == pytest.approx(1.0)
    # No feedback passages or no weight: the question's own vector.
    assert feedback_vector(question, np.empty((0, 8), dtype=np.float32), 0.5) is question
    assert feedback_vector(question, feedback, 0.0) is question


def test_hybrid_dense_retrieval_runs_again_with_the_feedback_vector(library, monkeypatch):
    query = "ransomware critical infrastructure"
    monkeypatch.setattr(search_module, "FEEDBACK_DEPTH", 0)
    plain = _Ranker(_sources(library), query, "hybrid", "weighted", None)
    dense0, sparse0, boost0 = plain.first_stage(FUSION_DEPTH)
    assert plain.dense_vector is None
    # The first pass: the question's own cosines.
    assert dense0 == pytest.approx({c.index: c.score for c in dense_candidates(library.faiss_index, plain.vector, FUSION_DEPTH)})

    monkeypatch.setattr(search_module, "FEEDBACK_DEPTH", 2)
    ranker = _Ranker(_sources(library), query, "hybrid", "weighted", None)
    dense, sparse, _ = ranker.first_stage(FUSION_DEPTH)
    fused = fuse(dense0, sparse0, boost0)
    best = sorted(fused, key=lambda row: (-fused[row], row))[:2]
    vectors = library.vectors()
    expected = feedback_vector(plain.vector, vectors[best], search_module.FEEDBACK_WEIGHT)
    np.testing.assert_allclose(ranker.dense_vector, expected, rtol=1e-6, atol=1e-6)
    scores = vectors @ expected
    assert dense == pytest.approx({row: float(scores[row]) for row in dense})
    assert sparse == sparse0  # BM25 is not changed by feedback
    # Hits still report the passage's cosine with the question as written.
    hit = library.search(query, k=1, group=False)[0]
    row = library.passages.index(hit.passage)
    assert hit.scores["dense"] == pytest.approx(float(vectors[row] @ plain.vector), abs=1e-5)


@pytest.mark.parametrize("group", [True, False])
def test_a_large_index_runs_its_first_dense_pass_beside_bm25_with_the_same_hits(library, monkeypatch, group):
    import threading

    queries = ["ransomware critical infrastructure", "norms of responsible State behaviour", "73/27 capacity"]
    expected = [[(hit.passage.passage_id, hit.score, hit.scores) for hit in library.search(q, k=5, group=group)]
                for q in queries]
    threads = []
    real = search_module.dense_candidates

    def noted(*args, **options):
        threads.append(threading.current_thread().name)
        return real(*args, **options)

    encoded = []
    encode = library.encode_query

    def counted(text):
        encoded.append(text)
        return encode(text)

    matched = []
    boost = search_module._Ranker.document_boost

    def matching(self):
        matched.append(threading.current_thread().name)
        return boost(self)

    monkeypatch.setattr(search_module, "dense_candidates", noted)
    monkeypatch.setattr(search_module._Ranker, "document_boost", matching)
    monkeypatch.setattr(library, "encode_query", counted)
    monkeypatch.setattr(search_module, "AHEAD_ABOVE", 0)  # every index counts as large
    found = [[(hit.passage.passage_id, hit.score, hit.scores) for hit in library.search(q, k=5, group=group)]
             for q in queries]
    assert found == expected
    assert encoded == queries  # each question encoded once, in the thread that ran ahead
    assert "aseancyberdocs-dense" in threads  # the first pass ran in its own thread...
    assert threading.current_thread().name in threads  # ...the feedback pass in the caller's
    assert matched == ["aseancyberdocs-dense"] * len(queries)  # the document match beside BM25 too


def test_an_error_of_the_dense_pass_run_ahead_reaches_the_caller(library, monkeypatch):
    def broken(*args, **options):
        raise RuntimeError("the FAISS index could not be read")

    monkeypatch.setattr(search_module, "AHEAD_ABOVE", 0)
    monkeypatch.setattr(search_module, "dense_candidates", broken)
    with pytest.raises(RuntimeError, match="could not be read"):
        library.search("ransomware", k=3)
