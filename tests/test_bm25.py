"""BM25: a tokenizer that keeps symbols and numbers, the index files, old indexes without them."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from conftest import FakeEmbedder

from aseancyberdocs.bm25 import FILES, BM25Index, bm25_index, passage_text, tokenize
from aseancyberdocs.errors import IndexIntegrityError
from aseancyberdocs.index import MANIFEST_FILE, open_index


@pytest.mark.parametrize(
    ("text", "kept"),
    [
        ("Recalling A/RES/73/27 of 5 December 2018", {"a/res/73/27", "73/27", "res/73/27", "73", "27"}),
        ("resolution 75/240", {"75/240", "75", "240"}),
        ("a 24/7 point of contact", {"24/7", "24", "7", "point", "contact"}),
        ("para. 1.3 of the report", {"1.3", "1", "3", "para", "report"}),
        ("draft A/C.1/80/L.20", {"a/c.1/80/l.20", "c.1", "80", "l.20", "80/l.20"}),
    ],
)
def test_tokenizer_keeps_symbols_and_their_parts(text, kept):
    assert kept <= set(tokenize(text))


def test_tokenizer_lowercases_drops_stopwords_and_splits_hyphens():
    assert tokenize("The States and the capacity-building of THEIR Activities") == [
        "state", "capac", "build", "activ",
    ]


def test_dashes_and_soft_hyphens_split_words_and_a_word_reads_the_same_every_time():
    text = "state\u2011sponsored co\u2013operation cyber\u00adattack, A/RES/73/27\u2014and STATE"
    expected = ["state", "sponsor", "co", "oper", "cyber", "attack", "a/res/73/27", "res", "73", "27",
                "res/73/27", "73/27", "state"]
    assert tokenize(text) == expected
    assert tokenize(text) == expected  # the second time from the words already met


def test_words_of_one_stem_meet():
    assert tokenize("criminalizing interception") == tokenize("criminalization intercepted")
    assert tokenize("laundering") == tokenize("launder")


def test_bm25_files_of_another_tokenizer_are_rebuilt_not_misread(built_index, embedder):
    params_path = built_index / FILES["params"]
    params = json.loads(params_path.read_text())
    params["tokenizer_version"] = 1
    params_path.write_text(json.dumps(params))
    manifest_path = built_index / MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text())
    manifest["files"][FILES["params"]] = hashlib.sha256(params_path.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest))
    library = open_index(built_index, embedder=embedder)
    fresh = BM25Index.build(library.passages, library.documents).scores("critical infrastructure")
    np.testing.assert_allclose(bm25_index(library).scores("critical infrastructure"), fresh, rtol=1e-6)


def test_symbol_query_finds_the_passage_that_cites_it(library_with_symbols):
    index = bm25_index(library_with_symbols)
    scores = index.scores("73/27")
    best = library_with_symbols.passages[int(np.argmax(scores))]
    assert "A/RES/73/27" in best.text
    assert scores[[i for i, p in enumerate(library_with_symbols.passages) if "73/27" not in p.text]].max() == 0


def test_scores_equal_a_fresh_index(built_index, embedder):
    library = open_index(built_index, embedder=embedder)
    stored = bm25_index(library).scores("critical infrastructure ransomware")
    fresh = BM25Index.build(library.passages, library.documents).scores("critical infrastructure ransomware")
    np.testing.assert_allclose(stored, fresh, rtol=1e-6)
    assert stored.max() > 0


def test_bm25_files_are_listed_with_hashes_and_hold_no_pickle(built_index):
    manifest = json.loads((built_index / MANIFEST_FILE).read_text())
    for name in FILES.values():
        assert name in manifest["files"]
        if name.endswith(".npy"):
            np.load(built_index / name, allow_pickle=False)  # raises on object (pickled) arrays
    assert "clusters.json" in manifest["files"]


def test_an_altered_bm25_file_is_an_integrity_error(built_index):
    vocab = built_index / FILES["vocab"]
    vocab.write_text(vocab.read_text().replace("{", '{"injected": 0, ', 1))
    with pytest.raises(IndexIntegrityError, match="bm25-vocab.json"):
        open_index(built_index)


def test_an_index_without_bm25_files_builds_bm25_from_its_passages(built_index, embedder):
    manifest_path = built_index / MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text())
    before = open_index(built_index, embedder=embedder).search("ransomware payments", k=3, mode="bm25")
    for name in FILES.values():
        del manifest["files"][name]
        (built_index / name).unlink()
    manifest_path.write_text(json.dumps(manifest))
    library = open_index(built_index, embedder=embedder)
    after = library.search("ransomware payments", k=3, mode="bm25")
    assert [hit.to_dict() for hit in after] == [hit.to_dict() for hit in before]


def test_bm25_indexes_the_context_with_the_text(built_index, embedder):
    library = open_index(built_index, embedder=embedder)
    assert all(passage_text(p, library.documents[p.doc_id]).endswith(p.text) for p in library.passages)
    assert all(library.documents[p.doc_id].title in passage_text(p, library.documents[p.doc_id])
               for p in library.passages)


@pytest.fixture
def library_with_symbols(tmp_path):
    from conftest import make_document

    from aseancyberdocs.index import build_index_from_documents

    document, passages = make_document(
        "A/RES/74/28",
        [
            "Recalling its resolution A/RES/73/27 of 5 December 2018,",
            "Welcoming the report of the Group of Governmental Experts,",
            "Decides to include the item in the provisional agenda of its seventy-fifth session.",
        ],
    )
    build_index_from_documents([document], tmp_path / "index", embedder=FakeEmbedder(), passages=passages)
    return open_index(tmp_path / "index", embedder=FakeEmbedder())


@pytest.mark.parametrize("query", ["critical infrastructure ransomware", "73/27", "States", "no such token here", ""])
def test_stored_scores_equal_bm25s_exactly(built_index, embedder, query):
    # Reading the files scores in numpy, without importing bm25s: the same sums, in bm25s's order.
    library = open_index(built_index, embedder=embedder)
    stored = bm25_index(library).scores(query)
    fresh = BM25Index.build(library.passages, library.documents).scores(query)
    assert stored.dtype == np.float32
    np.testing.assert_array_equal(stored, fresh)


def test_a_small_index_in_numpy_scores_as_bm25s_does():
    # The document lines a question is matched against are indexed at query time without bm25s.
    texts = [
        "A/RES/79/243 convention 2024 UN General Assembly, Third Committee United Nations Convention against Cybercrime",
        "A/RES/73/27 resolution 2018 Developments in the field of information and telecommunications",
        "Quad Leaders' Joint Statement 2023 Quad",
        "",
        "ransomware ransomware resilience statement 2022 International Counter Ransomware Initiative",
    ]
    small, reference = BM25Index.in_memory(texts), BM25Index.from_texts(texts)
    for query in ["cybercrime convention 2024", "73/27", "ransomware initiative statements", "nothing like it", ""]:
        np.testing.assert_allclose(small.scores(query), reference.scores(query), rtol=1e-6, atol=1e-7)


def test_the_score_matrix_is_memory_mapped_and_scores_as_built(built_index, embedder):
    library = open_index(built_index, embedder=embedder)
    assert not any(name in library._file_bytes for name in (FILES["data"], FILES["indices"], FILES["indptr"]))
    index = bm25_index(library)
    for key in ("data", "indices", "indptr"):
        assert isinstance(index.retriever.scores[key], np.memmap)
    fresh = BM25Index.build(library.passages, library.documents)
    for query in ("critical infrastructure", "ransomware payments", "73/27"):
        np.testing.assert_allclose(index.scores(query), fresh.scores(query), rtol=1e-6)


def test_a_score_matrix_that_does_not_fit_its_vocabulary_is_refused(built_index, embedder):
    indptr_path = built_index / FILES["indptr"]
    np.save(indptr_path, np.load(indptr_path)[:-1] * 0)  # its end no longer counts the scores
    manifest_path = built_index / MANIFEST_FILE
    manifest = json.loads(manifest_path.read_text())
    manifest["files"][FILES["indptr"]] = hashlib.sha256(indptr_path.read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest))
    library = open_index(built_index, embedder=embedder)
    with pytest.raises(IndexIntegrityError, match="unreadable BM25 files: the BM25 arrays do not form"):
        bm25_index(library)


@pytest.mark.parametrize("query", ["critical infrastructure", "73/27 confidence-building measures", "zzzz", "ransomware"])
def test_query_scores_equal_the_whole_array_for_rows_and_top(built_index, embedder, query):
    index = bm25_index(open_index(built_index, embedder=embedder))
    whole = index.scores(query)
    rng = np.random.default_rng(7)
    rows = rng.choice(len(whole), 200)
    np.testing.assert_array_equal(index.query(query).at(rows), whole[rows])  # looked up, not the array
    mask = rng.random(len(whole)) < 0.5
    for allowed in (None, mask):
        scores = whole if allowed is None else np.where(allowed, whole, 0)
        order = np.flatnonzero(scores > 0)
        expected = order[np.argsort(-scores[order], kind="stable")][:25]
        found, values = index.query(query).top(25, allowed)
        assert found.tolist() == expected.tolist()
        np.testing.assert_array_equal(values, scores[expected])


@pytest.mark.parametrize("seed", range(4))
def test_best_rows_from_a_sampled_threshold_equal_ranking_every_scored_row(seed, monkeypatch):
    from aseancyberdocs import bm25
    from aseancyberdocs.search import top_rows

    monkeypatch.setattr(bm25, "SAMPLED_ABOVE", 1_000)
    rng = np.random.default_rng(seed)
    scores = np.round(rng.random(20_000) * 4, 1).astype(np.float32)  # many ties
    scores[rng.random(20_000) < 0.6] = 0
    for depth in (1, 10, 100, 1_000, 8_000, 30_000):
        expected = top_rows(scores, np.flatnonzero(scores > 0), depth)
        assert bm25.best_rows(scores, depth).tolist() == expected.tolist()
    few = np.zeros(20_000, dtype=np.float32)
    few[[5, 700, 19_999]] = [1.0, 3.0, 1.0]  # fewer positive rows than asked: all of them
    assert bm25.best_rows(few, 10).tolist() == [700, 5, 19_999]


@pytest.mark.parametrize("query", ["critical infrastructure ransomware", "73/27", "States States cooperation", "zzzz"])
def test_many_postings_are_added_by_the_compiled_loop_to_the_same_scores(built_index, embedder, monkeypatch, query):
    from aseancyberdocs import bm25

    index = bm25_index(open_index(built_index, embedder=embedder))
    expected = index.scores(query)  # np.add.at, column by column
    assert bm25._column_adder() is not None  # scipy's loop is there and adds as np.add.at does
    monkeypatch.setattr(bm25, "COMPILED_ABOVE", 0)
    np.testing.assert_array_equal(index.scores(query), expected)  # bit for bit


def test_without_the_compiled_loop_the_scores_are_added_in_numpy(built_index, embedder, monkeypatch):
    from aseancyberdocs import bm25

    index = bm25_index(open_index(built_index, embedder=embedder))
    expected = index.scores("critical infrastructure")
    monkeypatch.setattr(bm25, "COMPILED_ABOVE", 0)
    monkeypatch.setattr(bm25, "_column_adder", lambda: None)  # scipy without that loop
    np.testing.assert_array_equal(index.scores("critical infrastructure"), expected)
