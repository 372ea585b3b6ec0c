"""Agreed language: near-duplicate clusters, and search showing each cluster once with also_in."""

from __future__ import annotations

import pytest
from conftest import NORMS, FakeEmbedder, make_document

from aseancyberdocs.grouping import (
    PERMUTATIONS,
    THRESHOLD,
    ClusterMembers,
    MinHasher,
    cluster_ids,
    clusters,
    jaccard,
    minhash_clusters,
    normalised_words,
    shingles,
    similar_pairs,
)
from aseancyberdocs.index import build_index_from_documents, open_index

TERRITORY = NORMS[3]


def test_number_words_and_dashes_do_not_make_text_different():
    a = "Decides to include in the provisional agenda of its seventy-ninth session the non‑proliferation item"
    b = "Decides to include in the provisional agenda of its eightieth session the non-proliferation item"
    assert normalised_words(a) == normalised_words(b)
    assert jaccard(shingles(a), shingles(b)) == 1.0


def test_digits_stay_substance():
    assert jaccard(shingles("Recalling its resolution 73/27,"), shingles("Recalling its resolution 74/28,")) < THRESHOLD


def test_similar_pairs_equal_brute_force():
    texts = [TERRITORY, TERRITORY.replace("States", "A State"), NORMS[0], NORMS[0] + " and more words here",
             "unrelated words entirely", TERRITORY.upper()]
    brute = sorted(
        (i, j, jaccard(shingles(texts[i]), shingles(texts[j])))
        for i in range(len(texts)) for j in range(i + 1, len(texts))
        if jaccard(shingles(texts[i]), shingles(texts[j])) >= 0.5
    )
    assert similar_pairs(texts, 0.5) == brute


def test_clusters_are_connected_components():
    assert clusters(["a b c d e", "x y z w", "A b c d e", "x y z w"]) == [0, 1, 0, 1]


def test_minhash_signatures_follow_the_shingles():
    hasher = MinHasher()
    a = "Decides to include in the provisional agenda of its seventy-ninth session the item"
    b = "Decides to include in the provisional agenda of its eightieth session the item"
    c = "Welcomes the report of the Group of Governmental Experts on outer space"
    signatures = hasher.signatures([a, b, c, "", "two words"])
    assert signatures.shape == (5, PERMUTATIONS)
    assert (signatures[0] == signatures[1]).all()  # the same shingles once normalised
    assert (signatures[0] == signatures[2]).mean() < 0.1
    assert (signatures[3] == 0xFFFFFFFF).all()  # no words, no minima
    assert (signatures[4] != 0xFFFFFFFF).all()  # shorter than a shingle: one shingle of its words
    # The same on every run: word hashes are CRC-32, not Python's salted hash().
    assert (MinHasher().signatures([c]) == signatures[2]).all()


def test_minhash_agreement_estimates_jaccard():
    words = [f"w{i}" for i in range(400)]
    base = " ".join(words)
    for changed in (5, 20, 60):
        other = " ".join(words[:-changed] + [f"x{i}" for i in range(changed)])
        exact = jaccard(shingles(base), shingles(other))
        signatures = MinHasher().signatures([base, other])
        assert abs((signatures[0] == signatures[1]).mean() - exact) < 0.1, (changed, exact)


def test_minhash_clusters_are_the_exact_clusters_on_clear_cases():
    texts = ["a b c d e", "x y z w", "A b c d e", "x y z w", "", "", TERRITORY, TERRITORY.replace(",", ";")]
    assert minhash_clusters(texts).tolist() == clusters(texts) == [0, 1, 0, 1, 4, 5, 6, 6]
    assert minhash_clusters([]).tolist() == []
    with pytest.raises(ValueError, match="threshold"):
        minhash_clusters(texts, threshold=0)


@pytest.mark.corpus
def test_minhash_clusters_agree_with_the_exact_join_on_resolutions(corpus_dir):
    """The ten text-layer resolutions (2018-2023), whose paragraphs recur year to year."""
    from aseancyberdocs.sources import load_document
    from aseancyberdocs.structure import paragraphs

    texts = []
    for path in sorted((corpus_dir / "un" / "text").glob("*.txt")):
        document = load_document(path)
        texts += [document.text[p.start : p.end] for p in paragraphs(document)]
    exact, estimated = clusters(texts), minhash_clusters(texts).tolist()
    together = {(i, j) for i in range(len(texts)) for j in range(i) if exact[i] == exact[j]}
    assert len(together) > 50  # the set has agreed language to find
    found = {(i, j) for i in range(len(texts)) for j in range(i) if estimated[i] == estimated[j]}
    assert len(found & together) >= 0.95 * len(together)
    assert len(found & together) >= 0.95 * len(found)


@pytest.fixture
def library(tmp_path):
    built = [
        make_document("A/RES/70/237", ["Welcoming the report of the Group.", TERRITORY], date="2015-12-23"),
        make_document("A/C.1/80/L.20", [TERRITORY, "Decides to convene a new working group."],
                      doc_type="draft resolution", date="2025-10-10"),
        make_document("A/RES/80/16", [TERRITORY.replace("ICTs", "ICTs,"), "Decides to convene a new working group."],
                      date="2025-12-01"),
        make_document("A/RES/73/27", NORMS[:3], date="2018-12-05"),
    ]
    build_index_from_documents([d for d, _ in built], tmp_path / "index", embedder=FakeEmbedder(),
                               passages=[p for _, ps in built for p in ps])
    return open_index(tmp_path / "index", embedder=FakeEmbedder())


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_repeated_language_is_one_hit_listing_the_others(library, mode):
    hits = library.search("knowingly allow their territory wrongful acts", k=3, mode=mode)
    texts = [" ".join(hit.text.split()) for hit in hits]
    assert sum("knowingly allow their territory" in text for text in texts) == 1
    first = next(hit for hit in hits if "knowingly allow" in hit.text)
    places = {first.passage.doc_id} | {other.doc_id for other in first.also_in}
    assert places == {"A/RES/70/237", "A/C.1/80/L.20", "A/RES/80/16"}
    assert [other.date for other in first.also_in] == sorted(other.date for other in first.also_in)
    assert len({hit.passage.passage_id for hit in hits}) == len(hits) == 3
    data = first.to_dict()
    assert {item["doc_id"] for item in data["also_in"]} == places - {first.passage.doc_id}


def test_no_group_lists_each_occurrence(library):
    hits = library.search("knowingly allow their territory wrongful acts", k=3, group=False)
    assert sum("knowingly allow" in hit.text for hit in hits) == 3
    assert all(not hit.also_in for hit in hits)


def test_also_in_lists_every_occurrence_passing_the_filters(library):
    hit = library.search("knowingly allow their territory", k=1, since="2025-01-01")[0]
    assert {hit.passage.doc_id, *(o.doc_id for o in hit.also_in)} == {"A/C.1/80/L.20", "A/RES/80/16"}


@pytest.mark.parametrize("limit", [0, 1, 2])
def test_also_in_lists_the_oldest_occurrences_up_to_its_limit_and_counts_the_rest(library, monkeypatch, limit):
    from aseancyberdocs import search

    every = library.search("knowingly allow their territory", k=1, mode="bm25")[0]
    assert len(every.also_in) == 2 and every.also_in_more == 0 and "also_in_more" not in every.to_dict()
    monkeypatch.setattr(search, "ALSO_IN_LIMIT", limit)
    hit = library.search("knowingly allow their territory", k=1, mode="bm25")[0]
    assert hit.passage == every.passage
    assert hit.also_in == every.also_in[:limit]  # the same order: oldest first
    assert hit.also_in_more == 2 - limit
    assert hit.to_dict().get("also_in_more", 0) == 2 - limit


@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_identical_draft_and_adopted_text_cites_the_adopted_resolution(library, mode):
    hits = library.search("Decides to convene a new working group", k=2, mode=mode)
    convene = next(hit for hit in hits if "convene a new working group" in hit.text)
    assert convene.citation.doc_id == "A/RES/80/16"
    assert [other.doc_id for other in convene.also_in] == ["A/C.1/80/L.20"]


def test_cluster_members_are_the_rows_of_each_cluster_in_row_order():
    import random

    rng = random.Random(3)
    ids = [rng.randrange(40) for _ in range(500)]
    members = ClusterMembers(ids)
    expected: dict[int, list[int]] = {}
    for row, cluster in enumerate(ids):
        expected.setdefault(cluster, []).append(row)
    assert all(members[cluster] == rows for cluster, rows in expected.items())
    with pytest.raises(KeyError):
        members[40]


def test_cluster_ids_are_an_integer_array_and_a_malformed_file_is_refused(library, tmp_path):
    import hashlib
    import json
    import shutil

    import numpy as np

    from aseancyberdocs.errors import IndexIntegrityError
    from aseancyberdocs.grouping import CLUSTERS_FILE

    ids = cluster_ids(library)
    assert isinstance(ids, np.ndarray) and ids.dtype == np.int64 and len(ids) == len(library.passages)
    copy = tmp_path / "clusters-copy"
    shutil.copytree(library.index_dir, copy)
    path = copy / CLUSTERS_FILE
    data = json.loads(path.read_text())
    data["clusters"] = ["a"] * len(data["clusters"])
    path.write_text(json.dumps(data))
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["files"][CLUSTERS_FILE] = hashlib.sha256(path.read_bytes()).hexdigest()
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(IndexIntegrityError, match="not an integer"):
        cluster_ids(open_index(copy, embedder=FakeEmbedder()))
