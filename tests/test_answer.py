"""ask(): sentence splitting, scoring, quote verification, generators and output forms (fake embedder)."""

from __future__ import annotations

import dataclasses
import json

import pytest
from conftest import FakeEmbedder
from hypothesis import given
from hypothesis import strategies as st

from aseancyberdocs import Answer, QuoteVerificationError, open_index
from aseancyberdocs.answer import ask, evaluate, evidence_list, split_sentences, to_markdown
from aseancyberdocs.cli import main


def loose(library, question, **options):
    """ask() with no relevance floor: fake-embedder cosines are lower than the real model's."""
    return ask(library, question, threshold=0.0, **options)


@pytest.fixture
def library(built_index):
    return open_index(built_index, embedder=FakeEmbedder())


def test_split_sentences_keeps_offsets_and_drops_paragraph_numbers():
    text = "1.3. States should not knowingly allow it. States must not use proxies, e.g. hackers. Art. 5 applies."
    sentences = split_sentences(text, offset=100)
    assert [s.text for s in sentences] == [
        "States should not knowingly allow it.",
        "States must not use proxies, e.g. hackers.",
        "Art. 5 applies.",
    ]
    for sentence in sentences:
        assert text[sentence.start - 100 : sentence.end - 100] == sentence.text


def test_split_sentences_drops_list_bullets():
    assert [s.text for s in split_sentences("- Launching a project to counter ransomware;")] == [
        "Launching a project to counter ransomware;"
    ]


def test_split_sentences_cuts_long_sentences_at_semicolons():
    text = "; ".join(["States should cooperate on the matter of " + "x" * 250] * 4) + "."
    sentences = split_sentences(text)
    assert len(sentences) == 4
    assert all(text[s.start : s.end] == s.text for s in sentences)


@given(st.text(alphabet=st.sampled_from("ab .;,()1\n\u201cA"), max_size=300))
def test_split_sentences_quotes_are_always_found_at_their_offsets(text):
    previous_end = 0
    for sentence in split_sentences(text):
        assert sentence.text and sentence.text == sentence.text.strip()
        assert text[sentence.start : sentence.end] == sentence.text
        assert sentence.start >= previous_end
        previous_end = sentence.end


def test_answer_quotes_sources_with_markers(library):
    answer = loose(library, "States should not damage critical infrastructure with ICT activity", k=3)
    assert answer.answered and answer.citations
    assert answer.citations[0].doc_id == "A/RES/73/27"
    for citation in answer.citations:
        assert f"\u201c{citation.quote}\u201d [{citation.n}]" in answer.text
        assert library.documents[citation.doc_id].text[citation.start : citation.end] == citation.quote
    # Nothing in the text but quotes, markers and where each quote stands.
    first = answer.citations[0]
    year = library.documents[first.doc_id].date[:4]
    assert answer.text.startswith(f"Paragraph {first.label[len('para. '):]} of General Assembly resolution 73/27 ({year}) reads:")
    rest = answer.text
    for citation in answer.citations:
        rest = rest.replace(f"\u201c{citation.quote}\u201d [{citation.n}]", "")
    assert "\u201c" not in rest and len(rest) < 120 * len(answer.citations)


def test_limits_on_sentences_and_length(library):
    answer = ask(library, "States should ICT", k=10, max_sentences=2, threshold=0.0)
    assert 1 <= len(answer.citations) <= 2
    one = ask(library, "States should ICT", k=10, max_chars=1, threshold=0.0)
    assert len(one.citations) == 1  # the best sentence is always kept


def test_no_answer_below_threshold(library):
    answer = ask(library, "chocolate cake recipe", threshold=0.99)
    assert answer == Answer(answer.question, False, answer.text)
    assert not answer.citations and "No passage" in answer.text


def test_tampered_document_text_raises(library):
    answer = loose(library, "critical infrastructure", k=2)
    cited = answer.citations[0]
    document = library.documents[cited.doc_id]
    # Same length, different words: only comparing the text itself can catch it.
    forged = document.text[: cited.start] + cited.quote.replace("critical", "CRITICAL") + document.text[cited.end :]
    library.documents[cited.doc_id] = dataclasses.replace(document, text=forged)
    with pytest.raises(QuoteVerificationError, match=r"\[1\]"):
        loose(library, "critical infrastructure", k=2)


def test_generator_gets_numbered_evidence_and_keeps_citations(library):
    seen = {}

    def generator(question, evidence):
        seen["evidence"] = evidence
        return "Yes: States should not damage critical infrastructure [1]."

    plain = loose(library, "critical infrastructure", k=3)
    written = loose(library, "critical infrastructure", k=3, generator=generator)
    assert written.text == "Yes: States should not damage critical infrastructure [1]."
    assert written.citations == plain.citations
    assert seen["evidence"] == evidence_list(plain.citations)
    assert seen["evidence"][0].startswith("[1] ")


@pytest.mark.parametrize("reply", ["See [9].", "See [1, 9].", "See [0]."])
def test_generator_marker_without_evidence_is_rejected(library, reply):
    with pytest.raises(ValueError, match=r"\[(9|1, 9|0)\]"):
        loose(library, "critical infrastructure", k=3, generator=lambda question, evidence: reply)


def test_bad_arguments(library):
    with pytest.raises(ValueError, match="empty"):
        library.ask("  ")
    with pytest.raises(ValueError, match="k must be"):
        library.ask("ransomware", k=0)


def test_markdown_lists_sources_with_blockquotes(library):
    answer = loose(library, "ransomware payments", k=3)
    markdown = to_markdown(answer)
    assert answer.text in markdown
    first = answer.citations[0]
    assert f"1. {first.citation}. *{first.title}*" in markdown
    assert f"   > {first.quote}" in markdown


def test_to_dict_fields(library):
    data = loose(library, "ransomware payments", k=3).to_dict()
    assert list(data) == ["question", "answered", "answer", "citations"]
    assert list(data["citations"][0]) == [
        "n", "citation", "doc_id", "symbol", "title", "date", "label", "pages", "quote", "start", "end",
    ]
    json.dumps(data)


def test_evaluate_counts_rates(library):
    records = [
        {"qid": "a", "question": "critical infrastructure ICT", "expected": [{"doc_id": "A/RES/73/27", "label": "para. 1"}]},
        {"qid": "b", "question": "zebra", "expected": []},
    ]
    report = evaluate(library, records, threshold=0.3)
    assert report["answerable"] == 1 and report["unanswerable"] == 1
    assert report["cites_expected_rate"] == 1.0
    assert report["false_answer_rate"] == 0.0
    assert report["answered_correctly_rate"] == 1.0


def test_cli_ask_json_and_markdown(built_index, fake_models, capsys):
    assert main(["ask", "ransomware payments", "--index", str(built_index), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["question"] == "ransomware payments" and "citations" in data
    assert main(["ask", "ransomware payments", "--index", str(built_index), "--markdown"]) == 0
    assert capsys.readouterr().out.startswith("**Q:** ransomware payments")


def test_cli_ask_prints_each_place_quoted_as_its_own_paragraph(built_index, fake_models, capsys, monkeypatch):
    from aseancyberdocs.library import Library

    monkeypatch.setattr(Library, "ask", lambda self, question, k=8: loose(self, question, k=k))
    assert main(["ask", "critical infrastructure and ransomware", "--index", str(built_index)]) == 0
    out = capsys.readouterr().out
    answer = loose(open_index(built_index, embedder=FakeEmbedder()), "critical infrastructure and ransomware", k=8)
    places = answer.text.split("\n\n")
    assert len(places) > 1  # the test needs quotes from more than one place
    brief = out.split("\n\n[1] ")[0]
    assert [" ".join(part.split()) for part in brief.split("\n\n")] == [" ".join(part.split()) for part in places]
    assert all(len(line) <= 100 for line in brief.splitlines())


def test_cli_ask_needs_a_question(built_index, fake_models):
    with pytest.raises(SystemExit) as exit_info:
        main(["ask", "--index", str(built_index)])
    assert exit_info.value.code == 2


def test_a_repeated_sentence_is_cited_once_from_the_adopted_text(tmp_path):
    from conftest import make_document

    from aseancyberdocs import build_index_from_documents

    agreed = "Demands that human control is maintained over nuclear command and control systems."
    built = [
        make_document("A/C.1/80/L.56", [agreed], doc_type="draft resolution", date="2025-10-16"),
        make_document("A/RES/80/23", ["Recalling its earlier resolutions,", agreed], date="2025-12-01"),
        make_document("A/RES/79/99", [agreed], date="2024-12-02"),
    ]
    index_dir = tmp_path / "index"
    build_index_from_documents(
        [d for d, _ in built], index_dir, embedder=FakeEmbedder(), passages=[p for _, ps in built for p in ps]
    )
    answer = loose(open_index(index_dir, embedder=FakeEmbedder()), "human control over nuclear command and control systems", k=5)
    quoted = [c for c in answer.citations if c.quote == agreed]
    assert len(quoted) == 1
    assert quoted[0].doc_id == "A/RES/79/99"  # adopted, and earlier than A/RES/80/23


def test_a_subparagraph_is_quoted_after_its_chapeaus_and_named_by_its_article(tmp_path):
    from conftest import make_document

    from aseancyberdocs import build_index_from_documents

    document, passages = make_document(
        "A/RES/79/243",
        [
            "1. Each State Party shall adopt such measures as may be necessary to establish as offences:",
            "(a) The obtaining, production, sale or otherwise making available of:",
            "(i) A device, including a program, designed primarily for committing offences; or",
        ],
        doc_type="convention", title="United Nations Convention against Cybercrime; Strengthening cooperation",
        per_page=3,
    )
    heading = "Article 11 Misuse of devices"
    labels = ["annex, art. 11, para. 1", "annex, art. 11, para. 1 (a)", "annex, art. 11, para. 1 (a) (i)"]
    contexts = [heading, f"{heading}\n{passages[0].text}", f"{heading}\n{passages[1].text}"]
    passages = [dataclasses.replace(p, label=label, context=context) for p, label, context in zip(passages, labels, contexts)]
    build_index_from_documents([document], tmp_path / "index", embedder=FakeEmbedder(), passages=passages)
    library = open_index(tmp_path / "index", embedder=FakeEmbedder())

    answer = loose(library, "a device or program designed primarily for committing offences", k=1, max_sentences=1)
    assert [c.label for c in answer.citations] == labels  # outermost chapeau first
    assert answer.text.startswith(
        "Article 11 (Misuse of devices), paragraph 1 of the United Nations Convention against Cybercrime "
        "(A/RES/79/243, annex) reads: \u201cEach State Party shall adopt"
    )
    assert answer.text.count(" reads: ") == 1  # one introduction for the sub-paragraph and its chapeaus
    for citation in answer.citations:
        assert document.text[citation.start : citation.end] == citation.quote


def test_search_first_hit_is_always_quoted_in_place_of_the_weakest(library):
    from aseancyberdocs.answer import _choose

    first, second = library.search("States should ICT", k=2)
    first = dataclasses.replace(first, rank=1, score=1.0, also_in=())
    second = dataclasses.replace(second, rank=2, score=0.9, also_in=())
    # The question's vector is the second hit's text: its sentences have the best cosines.
    vector = library.embedder.encode([second.passage.text])[0]
    chosen = _choose(library, vector, [first, second], max_sentences=2, max_chars=10_000)
    assert chosen[0].hit.rank == 2
    assert any(item.hit.rank == 1 for item in chosen)
    # With room for one quote only, the best one stays.
    single = _choose(library, vector, [first, second], max_sentences=1, max_chars=10_000)
    assert [item.hit.rank for item in single] == [2]
    # With room for one quote's characters only, the first hit is still quoted beside the best.
    short = _choose(library, vector, [first, second], max_sentences=2, max_chars=1)
    assert [item.hit.rank for item in short] == [2, 1]


def test_quotes_are_told_place_by_place_each_place_in_the_order_of_the_text():
    from types import SimpleNamespace

    from aseancyberdocs.answer import Sentence, _place_by_place, _Scored

    def quote(doc_id, label, start, score):
        hit = SimpleNamespace(passage=SimpleNamespace(doc_id=doc_id, label=label))
        return _Scored(Sentence("...", start, start + 3), hit, score)

    best_first = [
        quote("A/RES/79/243", "annex, art. 11, para. 2", 900, 0.9),  # the exception, best scored
        quote("A/RES/79/243", "annex, art. 56, para. 4", 5000, 0.8),
        quote("A/RES/79/243", "annex, art. 11, para. 1", 700, 0.7),  # a chapeau, then its items
        quote("A/RES/79/243", "annex, art. 11, para. 1 (a)", 750, 0.7),
        quote("A/RES/73/27", "para. 1.8", 400, 0.6),
        quote("A/RES/73/27", "para. 1.6", 300, 0.5),
        quote("A/RES/73/27", "preamble, para. 8", 100, 0.4),
    ]
    told = [(item.hit.passage.doc_id, item.hit.passage.label) for item in _place_by_place(best_first)]
    assert told == [
        ("A/RES/79/243", "annex, art. 11, para. 1"),
        ("A/RES/79/243", "annex, art. 11, para. 1 (a)"),
        ("A/RES/79/243", "annex, art. 11, para. 2"),
        ("A/RES/79/243", "annex, art. 56, para. 4"),
        ("A/RES/73/27", "para. 1.6"),  # the norms of paragraph 1 in their own order
        ("A/RES/73/27", "para. 1.8"),
        ("A/RES/73/27", "preamble, para. 8"),
    ]
