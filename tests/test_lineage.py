"""precedents(): shingle matching, date order, as_of, diffs and the CLI, on hand-made documents."""

from __future__ import annotations

import json

import pytest
from conftest import FakeEmbedder, make_document

from aseancyberdocs import build_index_from_documents, open_index
from aseancyberdocs.cli import main
from aseancyberdocs.lineage import (
    DiffOp,
    evaluate,
    precedents,
    render_diff,
    word_diff,
    words,
)

AGREED = (
    "Noting that considerable progress has been achieved in developing and applying the latest "
    "information technologies and means of telecommunication,"
)
CHANGED = (
    "Noting that considerable progress has been achieved in developing and applying the newest "
    "information technologies and means of telecommunication,"
)
OTHER = "Decides to include in the provisional agenda of its next session the item on outer space."


@pytest.fixture
def lineage_index(tmp_path):
    """Four documents re-using one paragraph; the latest changes a word; one is undated."""
    built = [
        make_document("A/RES/75/240", [OTHER, AGREED], date="2020-12-31"),
        make_document("A/RES/73/27", ["Recalling its resolutions,", AGREED], date="2018-12-05"),
        make_document("A/RES/77/37", [CHANGED, OTHER], date="2022-12-07"),
        make_document("A/RES/73/266", [AGREED], date="2018-12-22"),
        make_document("undated-note", [AGREED], date=None, doc_type="news"),
    ]
    documents = [document for document, _ in built]
    passages = [passage for _, items in built for passage in items]
    index_dir = tmp_path / "index"
    build_index_from_documents(documents, index_dir, embedder=FakeEmbedder(), passages=passages)
    return index_dir


@pytest.fixture
def library(lineage_index):
    return open_index(lineage_index)


def test_occurrences_in_date_order_earliest_first(library):
    found = precedents(library, AGREED)
    assert [item.citation.doc_id for item in found] == [
        "A/RES/73/27", "A/RES/73/266", "A/RES/75/240", "A/RES/77/37", "undated-note",
    ]
    assert [item.first for item in found] == [True, False, False, False, False]
    assert found[0].citation.label == "para. 2" and found[0].diff == ()
    assert found[0].shared == 1.0


def test_near_copy_has_shared_fraction_and_diff(library):
    changed = next(item for item in precedents(library, AGREED) if item.citation.doc_id == "A/RES/77/37")
    total = len(words(AGREED).norms)
    # "latest" -> "newest": the words within SHINGLE-1 of the change are still in shared 6-grams,
    # only the changed word itself is not.
    assert changed.shared == pytest.approx((total - 1) / total)
    assert changed.diff == (DiffOp("replace", "latest", "newest"),)
    assert render_diff(changed.diff) == "[-latest-]{+newest+}"


def test_as_of_keeps_documents_dated_on_or_before(library):
    found = library.precedents(AGREED, as_of="2018-12-22")
    assert [item.citation.doc_id for item in found] == ["A/RES/73/27", "A/RES/73/266"]
    assert found[0].first
    assert library.precedents(AGREED, as_of="2018-01-01") == []


def test_passage_id_is_resolved_to_its_text(library):
    by_id = library.precedents("A/RES/75/240#2")
    assert [item.passage.passage_id for item in by_id] == [item.passage.passage_id for item in precedents(library, AGREED)]


def test_short_phrase_matches_as_a_word_sequence(library):
    found = precedents(library, "the NEWEST information")
    assert [item.citation.doc_id for item in found] == ["A/RES/77/37"]
    assert found[0].diff == ()  # the passage's words around the phrase are context, not inserts


def test_phrase_diff_ignores_surrounding_context():
    query = "States should cooperate in good faith on all matters"
    passage = "Recalling that States should cooperate in good faith on all such matters, and affirming more"
    diff = word_diff(query, words(query), passage, words(passage))
    assert diff == (DiffOp("insert", "", "such"),)


def test_min_shared_excludes_passages_sharing_a_stock_phrase(library):
    query = "Expressing concern that considerable progress has been achieved in developing weapons of a new kind"
    assert precedents(library, query, min_shared=0.9) == []
    assert {item.citation.doc_id for item in precedents(library, query, min_shared=0.3)} >= {"A/RES/73/27"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"min_shared": 0}, "min_shared"), ({"min_shared": 1.5}, "min_shared"), ({"as_of": "2020-13-45"}, "as_of")],
)
def test_bad_arguments(library, kwargs, message):
    with pytest.raises(ValueError, match=message):
        precedents(library, AGREED, **kwargs)
    with pytest.raises(ValueError, match="empty"):
        precedents(library, "   ")


def test_to_dict_fields(library):
    data = precedents(library, AGREED)[0].to_dict()
    for name in ("doc_id", "symbol", "title", "date", "label", "pages", "citation", "source", "text", "shared", "first", "diff"):
        assert name in data
    json.dumps(data)


def test_evaluate(library):
    records = [{"qid": "p1", "text": AGREED, "expected_first": "A/RES/73/27", "expected_occurrences": ["A/RES/73/27", "A/RES/80/16"]}]
    report = evaluate(library, records)
    assert report["first_correct_rate"] == 1.0
    assert report["occurrence_recall"] == 0.5
    assert report["per_case"][0]["missed"] == ["A/RES/80/16"]


def test_cli_precedents_json_and_text(lineage_index, capsys):
    assert main(["precedents", AGREED, "--index", str(lineage_index), "--as-of", "2021-01-01", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["doc_id"] for line in lines] == ["A/RES/73/27", "A/RES/73/266", "A/RES/75/240"]
    assert lines[0]["first"] is True
    assert main(["precedents", AGREED, "--index", str(lineage_index)]) == 0
    out = capsys.readouterr().out
    assert "(first)" in out and "[-latest-]{+newest+}" in out
    assert main(["precedents", AGREED, "--index", str(lineage_index), "--as-of", "yesterday"]) == 2


# The shingle index is written at build time and read back, never rebuilt per call.


def _brute_force_coverage(passages, query, size=6):
    """Oracle: for each passage, the query words lying in a shingle the passage also holds."""
    found = {}
    for row, passage in enumerate(passages):
        norms = words(passage.text).norms
        held = {norms[i : i + size] for i in range(len(norms) - size + 1)}
        mask = 0
        for position in range(len(query) - size + 1):
            if query[position : position + size] in held:
                mask |= ((1 << size) - 1) << position
        if mask:
            found[row] = mask
    return found


def test_the_shingle_index_is_stored_and_listed(lineage_index):
    from aseancyberdocs.lineage import FILES, ShingleIndex, shingle_index

    manifest = json.loads((lineage_index / "manifest.json").read_text())
    assert set(FILES.values()) <= set(manifest["files"])
    library = open_index(lineage_index, embedder=FakeEmbedder())
    stored = shingle_index(library)
    fresh = ShingleIndex.build(library.passages)
    assert stored.keys.tobytes() == fresh.keys.tobytes() and stored.rows.tobytes() == fresh.rows.tobytes()
    for text in (AGREED, CHANGED, OTHER, "the item on outer space"):
        query = words(text).norms
        assert stored.coverage(query) == _brute_force_coverage(library.passages, query)
    short = words("outer space").norms
    assert stored.containing(short) == [
        row for row, passage in enumerate(library.passages) if " outer space " in " " + " ".join(words(passage.text).norms) + " "
    ]


def test_an_index_without_shingle_files_still_answers(lineage_index):
    from aseancyberdocs.lineage import FILES

    expected = [item.citation.formatted for item in precedents(open_index(lineage_index, embedder=FakeEmbedder()), AGREED)]
    manifest_path = lineage_index / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for name in FILES.values():
        del manifest["files"][name]
        (lineage_index / name).unlink()
    manifest_path.write_text(json.dumps(manifest))
    found = precedents(open_index(lineage_index, embedder=FakeEmbedder()), AGREED)
    assert [item.citation.formatted for item in found] == expected


def test_an_altered_shingle_file_is_an_integrity_error(lineage_index):
    from aseancyberdocs.errors import IndexIntegrityError

    with open(lineage_index / "lineage-rows.npy", "ab") as handle:
        handle.write(b"\0")
    with pytest.raises(IndexIntegrityError, match="lineage-rows.npy"):
        precedents(open_index(lineage_index, embedder=FakeEmbedder()), AGREED)


def test_a_spilled_shingle_writer_writes_the_same_files(lineage_index, tmp_path):
    """The benchmark's ten million passages spill (key, row) pairs to bucket files: same index."""
    from aseancyberdocs.lineage import FILES, ShingleIndex, ShingleWriter

    library = open_index(lineage_index, embedder=FakeEmbedder())
    texts = [passage.text for passage in library.passages]
    in_memory, spilled = tmp_path / "memory", tmp_path / "spilled"
    in_memory.mkdir()
    spilled.mkdir()
    ShingleIndex.build(library.passages).save(in_memory)
    writer = ShingleWriter(work=spilled, spill_above=10)
    writer.add(texts[:3], batch=2)
    writer.add(texts[3:], batch=2)
    assert writer.save(spilled) == list(FILES.values())
    for name in FILES.values():
        assert (spilled / name).read_bytes() == (in_memory / name).read_bytes(), name
    assert sorted(path.name for path in spilled.iterdir()) == sorted(FILES.values())  # no bucket or part left


def test_shingle_files_of_the_first_key_function_are_still_read(lineage_index):
    """Index folders written before shingle keys were computed from word keys keep their answers."""
    import numpy as np

    from aseancyberdocs.lineage import BLAKE2B_KEYS, FILES, SHINGLE, _key

    library = open_index(lineage_index, embedder=FakeEmbedder())
    expected = [(item.citation.formatted, item.shared) for item in precedents(library, AGREED)]
    postings = {}
    for row, passage in enumerate(library.passages):
        norms = words(passage.text).norms
        shingles = {_key(norms[i : i + SHINGLE]) for i in range(len(norms) - SHINGLE + 1)}
        for key in shingles | {_key((norm,)) for norm in norms}:
            postings.setdefault(key, []).append(row)
    keys = np.array(sorted(postings), dtype=np.uint64)
    indptr = np.concatenate([[0], np.cumsum([len(postings[int(key)]) for key in keys])]).astype(np.int64)
    rows = np.array([row for key in keys for row in postings[int(key)]], dtype=np.int32)
    manifest_path = lineage_index / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for name, array in (("keys", keys), ("indptr", indptr), ("rows", rows)):
        np.save(lineage_index / FILES[name], array)
    params = {"shingle": SHINGLE, "key": BLAKE2B_KEYS, "passages": len(library.passages)}
    (lineage_index / FILES["params"]).write_text(json.dumps(params))
    import hashlib

    for name in FILES.values():
        manifest["files"][name] = hashlib.sha256((lineage_index / name).read_bytes()).hexdigest()
    manifest_path.write_text(json.dumps(manifest))
    found = precedents(open_index(lineage_index, embedder=FakeEmbedder()), AGREED)
    assert [(item.citation.formatted, item.shared) for item in found] == expected


def test_coverage_with_a_floor_keeps_the_passages_that_can_reach_it(library):
    from aseancyberdocs.lineage import shingle_index

    index = shingle_index(library)
    query = words(AGREED + " " + OTHER).norms
    every = index.coverage(query)
    for floor in (0, 6, 12, 16, 30):
        kept = index.coverage(query, min_words=floor)
        assert set(kept) <= set(every)
        assert all(kept[row] == every[row] for row in kept)
        # a passage sharing n shingles covers at most 6 n words: those that can reach the floor stay
        assert {row for row, mask in every.items() if mask.bit_count() >= floor} <= set(kept)


def test_the_shingle_arrays_are_memory_mapped_at_open(lineage_index):
    import numpy as np

    from aseancyberdocs.lineage import FILES, shingle_index

    library = open_index(lineage_index, embedder=FakeEmbedder())
    index = shingle_index(library)
    for name in ("keys", "indptr", "rows"):
        assert isinstance(library._mapped[FILES[name]], np.memmap)
    assert isinstance(index.rows, np.memmap)
