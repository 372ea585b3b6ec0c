"""Filters apply before the top k is cut: a matching passage beyond the unfiltered top k comes back."""

from __future__ import annotations

from dataclasses import replace

import pytest
from conftest import CAPACITY, NORMS, RANSOMWARE, FakeEmbedder, make_document

from aseancyberdocs.filters import NoMatchError
from aseancyberdocs.index import build_index_from_documents, open_index

QUERY = "States should share information on ICT critical infrastructure ransomware capacity"
MODES = ("hybrid", "dense", "bm25")


@pytest.fixture
def library(tmp_path):
    norms, norm_passages = make_document("A/RES/73/27", NORMS, date="2018-12-05")
    ransomware, ransom_passages = make_document(
        "2023-ransomware-joint-statement", RANSOMWARE, doc_type="joint statement", date="2023-11-01"
    )
    capacity, capacity_passages = make_document("A/RES/74/28", CAPACITY, date=None)
    documents = [
        replace(norms, body="UN General Assembly, First Committee", metadata={"tags": ["norms", "ict"]}),
        replace(ransomware, body="International Counter Ransomware Initiative", metadata={"tags": ["ransomware"]}),
        replace(capacity, body="UN General Assembly, Second Committee", metadata={"agenda": "93"}),
    ]
    passages = norm_passages + ransom_passages + capacity_passages
    build_index_from_documents(documents, tmp_path / "index", embedder=FakeEmbedder(), passages=passages)
    return open_index(tmp_path / "index", embedder=FakeEmbedder())


def _check(library, mode, matches, **filters):
    """Every hit matches; at least one was beyond the unfiltered top k; the unfiltered top k held a non-match."""
    k = 2
    unfiltered = library.search(QUERY, k=k, mode=mode, group=False)
    hits = library.search(QUERY, k=k, mode=mode, group=False, **filters)
    assert hits
    assert all(matches(library.documents[hit.passage.doc_id]) for hit in hits)
    assert any(not matches(library.documents[hit.passage.doc_id]) for hit in unfiltered)
    top = {hit.passage.passage_id for hit in unfiltered}
    assert any(hit.passage.passage_id not in top for hit in hits)


@pytest.mark.parametrize("mode", MODES)
def test_doc_type(library, mode):
    _check(library, mode, lambda d: d.doc_type == "joint statement", doc_type="joint statement")


@pytest.mark.parametrize("mode", MODES)
def test_body_is_a_case_insensitive_substring(library, mode):
    _check(library, mode, lambda d: d.body.endswith("Second Committee"), body="second committee")


@pytest.mark.parametrize("mode", MODES)
def test_since_drops_older_and_undated_documents(library, mode):
    _check(library, mode, lambda d: d.date is not None and d.date >= "2023-01-01", since="2023-01-01")


@pytest.mark.parametrize("mode", MODES)
def test_until_is_inclusive_and_drops_undated_documents(library, mode):
    # Only A/RES/73/27 (2018-12-05) is on or before that day; the undated A/RES/74/28 is out.
    matches = lambda d: d.date is not None and d.date <= "2018-12-05"  # noqa: E731
    hits = library.search(QUERY, k=20, mode=mode, group=False, until="2018-12-05")
    assert hits and all(matches(library.documents[hit.passage.doc_id]) for hit in hits)
    _check(library, mode, lambda d: d.doc_id == "2023-ransomware-joint-statement", since="2023-11-01", until="2023-11-01")


@pytest.mark.parametrize("mode", MODES)
def test_doc_by_id_or_symbol(library, mode):
    _check(library, mode, lambda d: d.doc_id == "A/RES/74/28", doc="A/RES/74/28")
    _check(library, mode, lambda d: d.doc_id in ("A/RES/74/28", "2023-ransomware-joint-statement"),
           doc=["a/res/74/28", "2023-ransomware-joint-statement"])


@pytest.mark.parametrize("mode", MODES)
def test_where_matches_document_fields_and_metadata(library, mode):
    _check(library, mode, lambda d: "ransomware" in d.metadata.get("tags", []), where={"tags": "ransomware"})
    _check(library, mode, lambda d: d.metadata.get("agenda") == "93", where={"agenda": 93})
    _check(library, mode, lambda d: d.doc_type == "joint statement", where={"doc_type": "Joint Statement"})


def test_filters_combine(library):
    hits = library.search(QUERY, k=10, group=False, doc_type="resolution", since="2000-01-01")
    assert {hit.passage.doc_id for hit in hits} == {"A/RES/73/27"}


def test_a_filter_matching_nothing_is_a_clear_error(library):
    with pytest.raises(NoMatchError, match="no passage matches the filters: type=draft resolution"):
        library.search(QUERY, doc_type="draft resolution")
    with pytest.raises(NoMatchError, match="doc=A/RES/1/1"):
        library.search(QUERY, doc="A/RES/1/1")


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"doc_type": "treaty"}, "unknown doc_type 'treaty'"),
        ({"since": "2020-13-01"}, "since must be an ISO date .* got '2020-13-01'"),
        ({"until": "last year"}, "until must be an ISO date .* got 'last year'"),
        ({"since": "2024-01-01", "until": "2020-01-01"}, "since .* is after until"),
        ({"where": {"colour": "red"}}, "unknown metadata key 'colour'"),
        ({"body": "  "}, "body must be a non-empty string"),
    ],
)
def test_bad_filter_values_are_value_errors_quoting_the_value(library, filters, message):
    with pytest.raises(ValueError, match=message):
        library.search(QUERY, **filters)
