"""Reading the question: term expansion and matching the document a question names."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import FakeEmbedder, make_document

from aseancyberdocs.index import build_index_from_documents, open_index
from aseancyberdocs.reading import TERMS, document_line, document_matcher, expand


def test_expand_appends_long_forms_once_and_keeps_the_query():
    assert expand("OEWG and GGE reports") == "OEWG and GGE reports open-ended working group group of governmental experts"
    assert expand("the OEWG, the oewg") == "the OEWG, the oewg open-ended working group"
    assert expand("norms of responsible behaviour") == "norms of responsible behaviour"


def test_asking_for_language_is_not_a_word_to_find():
    from aseancyberdocs.reading import unframed

    assert unframed("Is there agreed language on points of contact?") == "Is there on points of contact?"
    assert unframed("Any UN language telling States not to attack CERTs?") == "Any UN telling States not to attack CERTs?"
    # The word itself stays when it is what the question is about.
    assert unframed("In which language must requests be made?") == "In which language must requests be made?"
    assert unframed("the language of the Convention") == "the language of the Convention"


@pytest.mark.parametrize(
    ("query", "added"),
    [
        # Short forms that are words too count only in capitals.
        ("national laws", ""),
        ("LAWS", TERMS["laws"]),
        ("said in the debate", ""),
        ("what the GA said", "General Assembly"),
        ("a ga", ""),
        ("the ATT and the EU", "Arms Trade Treaty European Union"),
        ("att, au revoir, Viet Nam", ""),
        # Bodies, offices and instruments the texts name in full.
        ("What did the UNSG report?", "Secretary-General"),
        ("UNIDIR's work on AI", "United Nations Institute for Disarmament Research artificial intelligence"),
        ("an OPCW mission", "Organisation for the Prohibition of Chemical Weapons"),
    ],
)
def test_short_forms_are_spelled_out(query, added):
    assert expand(query) == (f"{query} {added}" if added else query)


def test_plain_phrases_bring_the_texts_terms_matched_by_stems():
    assert expand("hackers for hire working for a government").endswith("proxies non-State actors")
    assert expand("Can a company be liable?") == "Can a company be liable? legal persons"
    assert expand("Can companies be liable?") == "Can companies be liable? legal persons"
    assert expand("software flaws") == "software flaws vulnerabilities"
    assert expand("a deepfake video").endswith("artificial intelligence-generated material disinformation")
    assert expand("a submarine cable") == "a submarine cable undersea cables"
    assert expand("protecting kids online") == "protecting kids online children"
    assert expand("human trafficking") == "human trafficking trafficking in persons"
    assert expand("spontaneously shared information").endswith("without prior request transmit information")
    assert expand("is double criminality required") == "is double criminality required dual criminality"
    assert expand("computer data").endswith("electronic data")
    assert expand("armed drones") == "armed drones unmanned aircraft systems"
    # "cyber" brings the UN's words in full: the texts of the General Assembly rarely say cyber.
    assert expand("cyber norms") == "cyber norms ICTs information and communications technologies"
    # A phrase counts only as a contiguous run of its words.
    assert expand("flaws in software") == "flaws in software"
    assert expand("the working group") == "the working group"


COUNTS = {
    "criminalize": 12, "organized": 30, "organization": 150, "organisation": 128, "behaviour": 40,
    "behavior": 8, "centres": 66, "programme": 513, "program": 13, "offence": 73, "analyze": 2,
    "cybercrime": 49, "cybersecurity": 35,
}


def frequency(words: str) -> int:
    return COUNTS.get(words, 0)


class Counts:
    """Word counts as the BM25 index gives them (``reading.WordCounts``)."""

    def frequency(self, words: str) -> int:
        return frequency(words)

    def token_frequency(self, token: str) -> int:
        return {"crimin": 12, "territori": 90, "terror": 40, "ransomwar": 60}.get(token, 0)


def test_a_word_gets_its_other_spelling_where_the_texts_use_that_more():
    from aseancyberdocs.reading import spelling_variants

    assert spelling_variants("Does the convention criminalise organised crime?", frequency) == ["criminalize", "organized"]
    assert spelling_variants("responsible State behavior in the program", frequency) == ["behaviour", "programme"]
    assert spelling_variants("an offense against a computer system", frequency) == ["offence"]
    assert spelling_variants("organisation", frequency) == ["organization"]
    assert spelling_variants("analyse the threats", frequency) == ["analyze"]
    # The common spelling gets nothing: a rare one would weigh more than it.
    assert spelling_variants("behaviour, centres, programme, organization, offence", frequency) == []
    # Words with no other spelling, and other spellings no passage holds.
    assert spelling_variants("exercise and advise; recognise", frequency) == []


def test_compounds_get_the_form_the_texts_write():
    from aseancyberdocs.reading import spelling_variants

    assert spelling_variants("cyber crime and cyber-security", frequency) == ["cybercrime", "cybersecurity"]
    # Written as two words in the texts too: nothing to add.
    assert spelling_variants("cyber attacks", frequency) == []
    assert spelling_variants("cybercrime", frequency) == []


def test_expand_adds_spellings_only_when_it_knows_the_passages():
    assert expand("criminalise misuse of devices") == "criminalise misuse of devices"
    assert expand("criminalise misuse of devices", Counts()) == "criminalise misuse of devices criminalize"
    assert expand("the OEWG on behavior", Counts()) == "the OEWG on behavior open-ended working group behaviour"


def test_a_word_no_passage_holds_gets_the_stem_one_slip_away():
    from aseancyberdocs.reading import corrections

    assert corrections("may a State let its terrtiory be used", Counts()) == ["territori"]
    assert corrections("ransomeware payments", Counts()) == ["ransomwar"]
    # Known words, acronyms and short words are left alone; so is a word with nothing one slip away.
    assert corrections("territory", Counts()) == []
    assert corrections("TERRTIORY and terr", Counts()) == []
    assert corrections("zzzzzzzzz", Counts()) == []
    assert expand("a launch pad on terrtiory", Counts()).endswith("territori")


def test_the_index_counts_passages_by_token(library):
    from aseancyberdocs.bm25 import bm25_index

    index = bm25_index(library)
    assert index.frequency("convene") == 1
    assert index.frequency("convening") == 1  # the same stem
    assert index.frequency("the") == 0  # a stopword
    assert index.frequency("zeppelin") == 0
    assert index.frequency("convene zeppelin") == 0  # the least of its tokens


@pytest.mark.parametrize(
    ("question", "article", "paragraph", "subs", "preamble"),
    [
        ("art 11 cybercrime convention", "11", None, (), False),
        ("What does Article 22(1)(b) of the Convention say?", "22", "1", ("b",), False),
        ("article 40, paragraph 21 (b)", "40", "21", ("b",), False),
        ("A/RES/73/27 para 1.3", None, "1.3", (), False),
        ("OP 4 of resolution 78/16", None, "4", (), False),
        ("78/16 PP12", None, "12", (), True),
        ("preambular paragraph 3 of 75/240", None, "3", (), True),
        ("operative paragraph 3 (a)", None, "3", ("a",), False),
    ],
)
def test_a_cited_place_is_read_from_the_question(question, article, paragraph, subs, preamble):
    from aseancyberdocs.reading import CitedPlace, cited_place

    assert cited_place(question) == CitedPlace(article, paragraph, subs, preamble)


@pytest.mark.parametrize(
    ("question", "annex"),
    [
        ("A/RES/79/1 annex I, para. 55", "I"),
        ("A/RES/79/1, annex 2, paragraph 3", "II"),
        ("Global Digital Compact paragraph 55 (b)", "I"),
        ("the Declaration on Future Generations, para. 10", "II"),
        ("annex, article 11", ""),
        ("Pact for the Future paragraph 45 (b)", None),
    ],
)
def test_the_annex_a_question_cites(question, annex):
    from aseancyberdocs.reading import cited_place

    assert cited_place(question).annex == annex


@pytest.mark.parametrize(
    "question",
    ["Which article covers misuse of devices?", "state of the art 5G networks", "see pp. 3-4", "the 24/7 network",
     "op-ed on cyber norms"],
)
def test_a_question_citing_no_place_has_none(question):
    from aseancyberdocs.reading import cited_place

    assert cited_place(question) is None


def test_a_cited_place_holds_what_is_inside_it_by_depth():
    from aseancyberdocs.reading import CitedPlace

    article = CitedPlace("11", None)
    assert article.depth("art. 11") == 0
    assert article.depth("art. 11, para. 2") == 1
    assert article.depth("art. 11, para. 1 (a) (i)") == 3
    assert article.depth("art. 1, para. 1") is None and article.depth("art. 111") is None
    paragraph = CitedPlace("22", "1", ("b",))
    assert paragraph.depth("art. 22, para. 1 (b)") == 0
    assert paragraph.depth("art. 22, para. 1 (a)") is None
    assert paragraph.depth("art. 22, para. 2 (b)") is None
    # An annex's place is a level below the resolution's own when the question names no annex.
    assert article.depth("annex, art. 11, para. 2") == 2
    assert CitedPlace(None, "45", ("b",)).depth("para. 45 (b)") == 0
    assert CitedPlace(None, "45", ("b",)).depth("annex I, para. 45 (b)") == 1
    # Named, only that annex.
    assert CitedPlace(None, "55", annex="I").depth("annex I, para. 55") == 0
    assert CitedPlace(None, "55", annex="I").depth("annex II, para. 55") is None
    assert CitedPlace(None, "55", annex="I").depth("para. 55") is None
    assert CitedPlace("11", None, annex="").depth("annex, art. 11, para. 1") == 1
    operative = CitedPlace(None, "3")
    assert operative.depth("para. 3") == 0 and operative.depth("para. 3 (a)") == 1
    assert operative.depth("preamble, para. 3") is None and operative.depth("para. 13") is None
    assert CitedPlace(None, "3", preamble=True).depth("preamble, para. 3") == 0
    assert CitedPlace(None, "1.3").depth("para. 1.3") == 0 and CitedPlace(None, "1").depth("para. 1.3") is None


@pytest.mark.parametrize(
    ("question", "order"),
    [
        ("What did the latest OEWG resolution decide?", "latest"),
        ("the most recent statement of the Quad", "latest"),
        ("the newest resolution on LAWS", "latest"),
        ("the first Counter Ransomware Initiative statement", "earliest"),
        ("What was the original proposal for a programme of action?", "earliest"),
        ("the earliest resolution on AI in the military domain", "earliest"),
        ("the First Committee's 2025 resolution", None),
        ("the CRI's first-ever event on AI", None),
        ("norms of responsible State behaviour", None),
        ("from the first to the latest resolution", None),  # both: no order
    ],
)
def test_a_question_asking_for_the_latest_or_the_earliest_text(question, order):
    from aseancyberdocs.reading import time_order

    assert time_order(question) == order


def test_passages_carry_their_documents_day(library):
    matcher = document_matcher(library)
    days = matcher.passage_days(np.arange(len(library.passages)))
    assert np.isfinite(days).all()
    # The 2020 resolution's passages are older than the 2024 one's.
    first = {p.doc_id: row for row, p in reversed(list(enumerate(library.passages)))}
    assert days[first["A/RES/75/240"]] < days[first["A/RES/79/1"]]


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    built = [
        make_document("A/RES/75/240", ["Decides to convene an open-ended working group."], date="2020-12-31",
                      title="Developments in the field of information and telecommunications"),
        make_document("A/RES/79/1", ["We will promote digital cooperation."], date="2024-09-22",
                      title="The Pact for the Future"),
        make_document("quad-2023", ["We reaffirm our commitment to a secure cyberspace."], date="2023-05-20",
                      doc_type="joint statement", title="Quad Leaders’ Joint Statement"),
    ]
    index_dir = tmp_path_factory.mktemp("reading") / "index"
    build_index_from_documents([d for d, _ in built], index_dir, embedder=FakeEmbedder(),
                               passages=[p for _, ps in built for p in ps])
    return open_index(index_dir, embedder=FakeEmbedder())


def test_document_line_holds_symbol_kind_year_title_and_other_names(library):
    line = document_line(library.documents["A/RES/79/1"])
    assert line.startswith("A/RES/79/1 resolution 2024")
    assert "The Pact for the Future" in line and "Global Digital Compact" in line


@pytest.mark.parametrize(
    ("question", "named"),
    [
        ("What did the Global Digital Compact say about cooperation?", "A/RES/79/1"),
        ("in the 2020 resolution on ICTs", "A/RES/75/240"),
        ("What did the Quad leaders say in their joint statement?", "quad-2023"),
    ],
)
def test_the_named_document_matches_best(library, question, named):
    matcher = document_matcher(library)
    scores = matcher.scores(question)
    assert matcher.doc_ids[int(np.argmax(scores))] == named
    assert scores.max() == 1.0


def test_a_question_naming_nothing_boosts_nothing(library):
    assert not document_matcher(library).scores("protection of critical infrastructure").any()


def test_search_lifts_the_document_a_question_names(library, monkeypatch):
    from aseancyberdocs import search

    question = "the 2023 joint statement on our commitment to cooperation"
    monkeypatch.setattr(search, "DOCUMENT_WEIGHT", 0.0)
    plain = [hit.passage.doc_id for hit in library.search(question, k=3, group=False)]
    monkeypatch.setattr(search, "DOCUMENT_WEIGHT", 1.0)
    named = [hit.passage.doc_id for hit in library.search(question, k=3, group=False)]
    assert named[0] == "quad-2023"
    assert sorted(plain) == sorted(named)  # a boost re-orders, it filters nothing out



def test_a_named_year_outweighs_the_rest_of_the_line_but_a_span_of_years_does_not(library):
    matcher = document_matcher(library)
    # "open-ended working group" is in A/RES/75/240's text, not in any line; 2024 is A/RES/79/1's year.
    scores = matcher.scores("the 2024 resolution on the open-ended working group on ICTs")
    assert matcher.doc_ids[int(np.argmax(scores))] == "A/RES/79/1"
    spans = matcher.scores("the 2024-2026 resolution on the Pact for the Future")
    plain = matcher.scores("the resolution on the Pact for the Future")
    np.testing.assert_allclose(spans, plain)


def test_the_matcher_reads_the_same_lines_from_the_store_as_from_the_documents(library):
    from aseancyberdocs.store import document_fields

    fields = document_fields(library.documents)
    documents = list(library.documents.values())
    assert [document_line(item) for item in fields] == [document_line(document) for document in documents]
    assert [item.doc_id for item in fields] == list(library.documents)
    assert document_fields({d.doc_id: d for d in documents}) == fields


@pytest.mark.parametrize("ordered", [True, False])
def test_passage_scores_read_only_the_rows_asked_for_and_agree_with_the_array(ordered):
    from aseancyberdocs.reading import PassageScores

    rng = np.random.default_rng(3)
    row_document = np.sort(rng.integers(0, 40, 500)) if ordered else rng.integers(0, 40, 500)
    document_scores = rng.choice([0.0, 0.2, 0.7, 1.0], 40)
    whole = document_scores[row_document]
    scores = PassageScores(document_scores, row_document, ordered)
    rows = rng.choice(500, 50)
    np.testing.assert_array_equal(scores[rows], whole[rows])
    assert scores[int(rows[0])] == whole[rows[0]]
    for threshold in (0.0, 0.5, 1.0, 2.0):
        assert scores.rows_at_least(threshold).tolist() == np.flatnonzero(whole >= threshold).tolist()
    assert scores.any() and not PassageScores(np.zeros(40), row_document, ordered).any()
    np.testing.assert_array_equal(np.asarray(scores), whole)
