"""End to end with the real model over a handful of real documents from the reference corpus.

Paraphrased queries (no long phrase shared with the target) must find the paragraph they
describe at rank 1. Full-corpus integration tests live beside this file.
"""

from __future__ import annotations

import pytest

from aseancyberdocs import build_index, open_index

pytestmark = [pytest.mark.model, pytest.mark.corpus]

SOURCES = [
    "un/text/A_RES_73_27.txt",
    "un/text/A_RES_73_266.txt",
    # the whole Counter Ransomware Initiative series, as in the corpus: their shared words weigh
    # in BM25 as they do there
    "statements/2022-11-01-international-counter-ransomware-initiative-2022-joint-statement.md",
    "statements/2023-11-01-international-counter-ransomware-initiative-2023-joint-statement.md",
    "statements/2024-10-02-international-counter-ransomware-initiative-2024-joint-statement.md",
    "statements/2021-03-12-quad-leaders-joint-statement-the-spirit-of-the-quad.md",
]

PARAPHRASES = [
    (
        "a country must not knowingly back online operations that harm the facilities delivering "
        "essential public services",
        "A/RES/73/27",
        "para. 1.6",
    ),
    ("do not harm the emergency response teams of other countries", "A/RES/73/27", "para. 1.12"),
    (
        "a common blocklist of crypto wallets that extortion criminals use",
        "2023-11-01-international-counter-ransomware-initiative-2023-joint-statement",
        "para. 13",
    ),
]


@pytest.fixture(scope="module")
def real_index(corpus_dir, tmp_path_factory):
    index_dir = tmp_path_factory.mktemp("real") / "index"
    report = build_index([corpus_dir / source for source in SOURCES], index_dir)
    assert report.documents == len(SOURCES) and not report.skipped
    return index_dir


@pytest.mark.parametrize(("query", "doc_id", "label"), PARAPHRASES)
def test_paraphrase_finds_its_paragraph_first(real_index, query, doc_id, label):
    hit = open_index(real_index).search(query, k=5)[0]
    assert (hit.passage.doc_id, hit.passage.label) == (doc_id, label), [str(hit.citation)]
    assert hit.citation.formatted.startswith(hit.citation.symbol or hit.citation.title)


@pytest.mark.parametrize(
    ("written", "other"),
    [
        # British spelling against the UN's -ize.
        ("Did the Assembly recognise the need to criminalise the misuse of ICTs by terrorists?",
         "Did the Assembly recognize the need to criminalize the misuse of ICTs by terrorists?"),
        # The UN's "programme" against the statements' "program".
        ("the programme on ransomware", "the program on ransomware"),
    ],
)
def test_either_spelling_finds_the_same_paragraphs(real_index, written, other):
    # BM25 alone, where a spelling the passages do not use would match nothing.
    library = open_index(real_index)
    first, second = ([hit.passage.passage_id for hit in library.search(text, k=3, mode="bm25")] for text in (written, other))
    assert first == second


@pytest.mark.parametrize(
    ("query", "doc_id", "label"),
    [
        # Without reading the place cited, each of these ranks another paragraph first.
        ("OP 3 of A/RES/73/266", "A/RES/73/266", "para. 3"),
        ("PP 5 of 73/266", "A/RES/73/266", "preamble, para. 5"),
        ("73/27 preambular paragraph 3", "A/RES/73/27", "preamble, para. 3"),
        ("A/RES/73/27 preambular paragraph 10", "A/RES/73/27", "preamble, para. 10"),
    ],
)
def test_a_cited_paragraph_comes_first(real_index, query, doc_id, label):
    hit = open_index(real_index).search(query, k=3)[0]
    assert (hit.passage.doc_id, hit.passage.label) == (doc_id, label), str(hit.citation)


@pytest.mark.parametrize(
    ("query", "date"),
    [
        # Without reading the order asked for, the 2024 statement comes first for the first and
        # the 2022 one for the most recent.
        ("the first Counter Ransomware Initiative joint statement", "2022-11-01"),
        ("What did the most recent Counter Ransomware Initiative statement say about ransomware payments?",
         "2024-10-02"),
    ],
)
def test_the_first_or_the_latest_text_asked_for_comes_first(real_index, query, date):
    hit = open_index(real_index).search(query, k=3)[0]
    assert hit.citation.date == date, str(hit.citation)


@pytest.mark.parametrize(("slip", "word"), [("terrtiory", "territor"), ("ransomeware", "ransomware")])
def test_a_slip_finds_the_word_it_stands_for(real_index, slip, word):
    # BM25 alone: without the correction no passage holds the word typed, and nothing is found.
    hits = open_index(real_index).search(slip, k=3, mode="bm25")
    assert len(hits) == 3 and all(word in hit.passage.text.lower() for hit in hits)


def test_every_hit_quotes_its_document(real_index):
    from aseancyberdocs.rerank import WEIGHTS

    # A hybrid score is the second stage's weighted sum of features in [0, 1].
    lowest = sum(min(weight, 0.0) for weight in WEIGHTS.values())
    highest = sum(max(weight, 0.0) for weight in WEIGHTS.values())
    library = open_index(real_index)
    for hit in library.search("information and communications technologies", k=20):
        document = library.documents[hit.passage.doc_id]
        assert document.text[hit.passage.start : hit.passage.end] == hit.text
        assert lowest - 1e-6 <= hit.score <= highest + 1e-6


def test_rebuilding_the_same_sources_embeds_nothing(real_index, corpus_dir):
    from aseancyberdocs.embedding import SentenceTransformerEmbedder

    embedder = SentenceTransformerEmbedder()
    report = build_index([corpus_dir / source for source in SOURCES], real_index, embedder=embedder)
    assert report.embedded == 0 and report.reused > 0
    assert report.documents_reused == len(SOURCES)
    assert not embedder.loaded  # nothing to embed: the network was never loaded


HEAVY = ("torch", "transformers", "sentence_transformers", "bm25s")


@pytest.mark.parametrize(
    "command",
    [
        ["search", "ransomware payments"],
        ["search", "critical infrastructure", "--mode", "dense", "--json"],
        ["ask", "Which norm protects critical infrastructure?"],
        ["precedents", "considerable progress has been achieved in developing"],
    ],
    ids=["search", "search-dense", "ask", "precedents"],
)
def test_queries_from_the_shell_import_neither_torch_nor_sentence_transformers(real_index, command):
    import os
    import subprocess
    import sys

    from conftest import REPO

    code = (
        "import sys\n"
        "from aseancyberdocs.cli import main\n"
        "code = main(sys.argv[1:])\n"
        "print('HEAVY', *[name for name in %r if name in sys.modules], file=sys.stderr)\n"
        "sys.exit(code)\n" % (HEAVY,)
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *command, "--index", str(real_index)], capture_output=True, text=True,
        timeout=300, env={**os.environ, "PYTHONPATH": str(REPO / "src")},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip()
    heavy = [line for line in result.stderr.splitlines() if line.startswith("HEAVY")]
    assert heavy == ["HEAVY"], result.stderr


def test_an_index_opened_with_the_model_preloading_answers_the_same(real_index):
    from aseancyberdocs.embedding import load_embedder

    embedder = load_embedder()
    library = open_index(real_index, preload_model=True)
    assert library.embedder is embedder  # the one the background thread loads
    preloaded = [hit.passage.passage_id for hit in library.search("ransomware payments", k=5, mode="dense")]
    plain = [hit.passage.passage_id for hit in open_index(real_index).search("ransomware payments", k=5, mode="dense")]
    assert preloaded == plain and embedder.loaded
