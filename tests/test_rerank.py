"""The second stage of hybrid search: features of the fused candidates and their weighted sum."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from conftest import CAPACITY, NORMS, RANSOMWARE, FakeEmbedder, make_document

from aseancyberdocs import rerank
from aseancyberdocs import search as search_module
from aseancyberdocs.bm25 import bm25_index, tokenize
from aseancyberdocs.fusion import weighted
from aseancyberdocs.index import build_index_from_documents, open_index
from aseancyberdocs.search import FUSION_DEPTH, _Ranker, _sources


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    built = [make_document("A/RES/73/27", NORMS), make_document("cri-2023", RANSOMWARE, doc_type="joint statement"),
             make_document("A/RES/76/19", CAPACITY),
             make_document("A/RES/77/37", [("The Assembly met in New York in December. It asked States to share "
                                            "information on ransom payment wallets.")])]
    passages = [p for _, ps in built for p in ps]
    # The first CAPACITY paragraph is preambular; the second norm stands under a heading.
    passages = [
        dataclasses.replace(p, label="preamble, para. 1") if p.text.startswith("Recalling") else
        dataclasses.replace(p, context="Article 2 Assistance to a State under attack") if "requests for assistance" in p.text
        else p
        for p in passages
    ]
    index_dir = tmp_path_factory.mktemp("rerank") / "index"
    build_index_from_documents([d for d, _ in built], index_dir, embedder=FakeEmbedder(), passages=passages)
    return open_index(index_dir, embedder=FakeEmbedder())


def row_of(library, start: str) -> int:
    return next(i for i, p in enumerate(library.passages) if p.text.startswith(start))


def test_first_stage_weights_give_the_first_stage_score(library):
    query = "critical infrastructure assistance"
    ranker = _Ranker(_sources(library), query, "hybrid", "weighted", None)
    dense, sparse, boost = ranker.first_stage(FUSION_DEPTH)
    rows = sorted(set(dense) | set(sparse))
    matrix = rerank.features(library, ranker.bm25_query, rows, dense, sparse, boost, None)
    scores = rerank.score(matrix, {"dense": 0.4, "bm25": 0.6, "document": 0.1})
    fused = weighted({"dense": dense, "bm25": sparse}, {"dense": 0.4, "bm25": 0.6})
    expected = [fused[row] + (0.1 * boost[row] if boost is not None else 0.0) for row in rows]
    np.testing.assert_allclose(scores, expected)


def test_coverage_heading_proximity_and_preamble(library):
    query = "requests for assistance under attack"
    assistance = row_of(library, "States should respond")
    recalling = row_of(library, "Recalling")
    matrix = rerank.features(library, query, [assistance, recalling], {}, {}, None, None)
    column = {name: i for i, name in enumerate(rerank.FEATURES)}
    vocabulary = rerank._vocabulary(library)
    tokens = list(dict.fromkeys(tokenize(query)))  # request, assist, attack
    weights = {token: vocabulary.weight(token) for token in tokens}
    total = sum(weights.values())
    # The text holds "request" and "assist"; its heading "assist" and "attack".
    assert matrix[0, column["coverage"]] == pytest.approx((weights["request"] + weights["assist"]) / total)
    assert matrix[0, column["heading"]] == pytest.approx((weights["assist"] + weights["attack"]) / total)
    # Pairs (request, assist) and (assist, attack): the first stands in the text, the second nowhere.
    assert matrix[0, column["proximity"]] == pytest.approx(1 / 2)
    assert matrix[:, column["preamble"]].tolist() == [0.0, 1.0]
    assert matrix[1, column["coverage"]] == 0.0


def test_best_sentence_is_the_best_cosine_of_the_passages_sentences(library):
    query_vector = library.encode_query("ransom payment wallets")
    two = row_of(library, "The Assembly met")
    sentences = ["The Assembly met in New York in December.",
                 "It asked States to share information on ransom payment wallets."]
    expected = float((np.asarray(library.embedder.encode(sentences)) @ query_vector).max())
    one = row_of(library, "Members will not pay")  # one sentence: its passage cosine stands in
    best = rerank._best_sentences(library, [two, one], query_vector)
    assert best == {two: pytest.approx(expected)}
    column = rerank.FEATURES.index("sentence")
    dense = {two: 0.1, one: 0.2}
    matrix = rerank.features(library, "ransom", [two, one], dense, {}, None, query_vector, order=[two, one])
    raw = [max(expected, 0.1), 0.2]
    assert matrix[:, column].tolist() == pytest.approx([(v - min(raw)) / (max(raw) - min(raw)) for v in raw])
    # Without the question's vector no sentence is embedded: the passage cosines stand in.
    without = rerank.features(library, "ransom", [two, one], dense, {}, None, None)
    assert without[:, column].tolist() == pytest.approx([0.0, 1.0])


def test_search_ranks_with_the_second_stage_and_without(library, monkeypatch):
    query = "respond to requests for assistance from a State whose critical infrastructure is attacked"
    with_stage = library.search(query, k=3)
    monkeypatch.setattr(search_module, "RERANK", False)
    first_only = library.search(query, k=3)
    assert with_stage[0].passage.text.startswith("States should respond")
    assert first_only[0].passage.text.startswith("States should respond")
    assert [hit.rank for hit in with_stage] == [1, 2, 3]
    assert all(hit.scores["fused"] == hit.score for hit in with_stage)


def test_second_stage_scores_the_best_fused_candidates_as_it_would_all(library, monkeypatch):
    query = "respond to requests for assistance from a State whose critical infrastructure is attacked"
    monkeypatch.setattr(search_module, "RERANK_DEPTH", 10**9)
    everything = search_module._Ranker(search_module._sources(library), query, "hybrid", "weighted", None)
    scored_all = dict(everything.top(10**6))
    assert len(scored_all) > 4
    monkeypatch.setattr(search_module, "RERANK_DEPTH", 4)
    capped = search_module._Ranker(search_module._sources(library), query, "hybrid", "weighted", None)
    top = capped.top(3)
    assert len(capped.top(3)) == 3
    # The four best by the first stage are scored again, with the scores they had among all.
    assert len(capped._fused) == 4
    assert capped._fused == pytest.approx({row: scored_all[row] for row in capped._fused})
    assert [row for row, _ in top] == sorted(capped._fused, key=lambda row: (-capped._fused[row], row))[:3]
    # Asked for more than the depth, it scores as many as asked for.
    assert len(dict(capped.top(6))) == 6


def test_features_read_again_what_the_bounded_cache_let_go(library, monkeypatch):
    rows = list(range(len(library.passages)))
    query = "requests for assistance under attack"
    expected = rerank.features(library, query, rows, {}, {}, None, None)
    features = rerank.PassageFeatures(library.passages, bm25_index(library), library.embedder.encode)
    monkeypatch.setattr(rerank, "_READ_ROWS", 2)
    for _ in range(2):
        np.testing.assert_array_equal(features.matrix(query, rows, {}, {}, None, None), expected)
        assert len(features._read) == 2


def test_recency_places_the_best_candidates_in_time(library, monkeypatch):
    assistance = row_of(library, "States should respond")
    recalling = row_of(library, "Recalling")
    rows = [assistance, recalling]
    column = rerank.FEATURES.index("recency")
    # Without a date order asked for, nothing.
    assert rerank.features(library, "assistance", rows, {}, {}, None, None)[:, column].tolist() == [0.0, 0.0]
    # The newest of the candidates 1.0, the oldest 0.0 (days negated for "earliest" by the caller).
    when = {assistance: 738_000.0, recalling: 737_000.0}
    matrix = rerank.features(library, "assistance", rows, {}, {}, None, None, order=rows, when=when)
    assert matrix[:, column].tolist() == [1.0, 0.0]
    # Only the RECENCY_DEPTH best candidates by first-stage order are placed.
    monkeypatch.setattr(rerank, "RECENCY_DEPTH", 1)
    matrix = rerank.features(library, "assistance", rows, {}, {}, None, None, order=[recalling, assistance], when=when)
    assert matrix[:, column].tolist() == [0.0, 0.0]  # one candidate placed: nothing to compare it with
