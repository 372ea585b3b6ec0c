"""Evaluation: judging by quoted spans, and metrics equal to ranx on the same qrels and runs."""

from __future__ import annotations

import json
import math

import pytest

from aseancyberdocs.evaluation import (
    Query,
    Relevant,
    Retrieved,
    covered,
    evaluate,
    judge_query,
    judge_run,
    load_queries,
    ndcg_at,
    normalise,
    report_table,
)
from aseancyberdocs.index import open_index

Q1 = Query(
    "q1",
    "critical infrastructure",
    "natural",
    (
        Relevant("A/RES/73/27", "para. 1", "knowingly support ICT activity that damages critical infrastructure"),
        Relevant("A/RES/78/1", "para. 4", "requests for assistance by another State"),
    ),
)
Q2 = Query("q2", "ransomware", "statement", (Relevant("cri-2023", "para. 2", "will not pay ransoms"),))


def item(doc_id: str, text: str, **kwargs) -> Retrieved:
    return Retrieved(doc_id, text, **kwargs)


def test_an_item_covers_a_paragraph_by_doc_id_and_quote_whatever_its_white_space():
    text = "States should not conduct or knowingly\n support ICT   activity that damages critical infrastructure."

    assert covered(item("A/RES/73/27", text), Q1.relevant) == {0}
    assert covered(item("A/RES/74/28", text), Q1.relevant) == set()  # same words, other document
    assert covered(item("A/RES/73/27", "States should not conduct"), Q1.relevant) == set()
    # one chunk quoting two relevant paragraphs of the same document covers both
    both = Query("q", "", "", (Q1.relevant[0], Relevant("A/RES/73/27", "para. 2", "States should not")))
    assert covered(item("A/RES/73/27", text), both.relevant) == {0, 1}


def test_agreed_language_duplicates_cover_the_paragraphs_they_name():
    hit = item("A/RES/73/27", "unrelated words", also_in=(("A/RES/78/1", "para. 4"),))

    assert covered(hit, Q1.relevant) == {1}


def test_metrics_by_hand():
    items = [
        item("X", "nothing"),
        item("A/RES/78/1", "responds to requests for assistance by another State whose"),
        item("A/RES/78/1", "again requests for assistance by another State"),  # a duplicate: no gain
        item("A/RES/73/27", "knowingly support ICT activity that damages critical infrastructure"),
    ]

    result = judge_query(Q1, items)

    assert result.recall == {1: 0.0, 5: 1.0, 10: 1.0}
    assert result.first_rank == 2
    assert result.mrr == 1 / 2
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    ideal = 1 / math.log2(2) + 1 / math.log2(3)
    assert result.ndcg == pytest.approx(dcg / ideal)


def test_no_relevant_hit_scores_zero_and_a_missing_query_too():
    report = judge_run([Q1, Q2], {"q1": [item("X", "nothing")]})

    assert report.overall.recall == {1: 0.0, 5: 0.0, 10: 0.0}
    assert report.overall.mrr == 0.0
    assert report.overall.ndcg == 0.0
    assert set(report.by_kind) == {"natural", "statement"}


def test_mrr_and_ndcg_stop_at_rank_10_even_when_the_run_is_longer():
    items = [item("X", f"noise {i}") for i in range(10)] + [item("cri-2023", "we will not pay ransoms")]

    result = judge_query(Q2, items, k=20)

    assert result.first_rank == 11
    assert result.mrr == 0.0
    assert result.ndcg == 0.0


def test_citation_accuracy_counts_label_and_pages_of_relevant_hits():
    gold = {(rel.doc_id, rel.label, rel.quote): (3, 3) for rel in Q1.relevant}
    quote0 = "knowingly support ICT activity that damages critical infrastructure"
    quote1 = "requests for assistance by another State"
    items = [
        item("A/RES/73/27", quote0, label="para. 1", pages=(3, 3)),  # right
        item("A/RES/78/1", quote1, label="para. 5", pages=(3, 3)),  # wrong label
        item("X", "irrelevant", label="para. 9", pages=(1, 1)),  # not counted
    ]

    result = judge_query(Q1, items, gold_pages=gold)
    assert (result.cited, result.cited_correctly) == (2, 1)

    wrong_pages = [item("A/RES/73/27", quote0, label="para. 1", pages=(3, 4))]
    assert judge_query(Q1, wrong_pages, gold_pages=gold).cited_correctly == 0
    # systems without labels get no citation accuracy
    assert judge_run([Q1], {"q1": [item("A/RES/73/27", quote0)]}).overall.citation_accuracy is None


def _as_ranx(queries, run):
    """The run as ranx sees it: a relevant item is named by the first paragraph it newly covers."""
    qrels, ranked = {}, {}
    for query in queries:
        qrels[query.qid] = {f"rel{i}": 1 for i in range(len(query.relevant))}
        seen: set[int] = set()
        scores = {}
        items = run.get(query.qid, [])
        for rank, retrieved in enumerate(items, start=1):
            new = sorted(covered(retrieved, query.relevant) - seen)
            seen.update(new)
            name = f"rel{new[0]}" if new else f"miss{rank}"
            scores[name] = float(len(items) - rank + 1)
        ranked[query.qid] = scores or {"none": 0.0}
    return qrels, ranked


def _hand_made_cases():
    text0 = "knowingly support ICT activity that damages critical infrastructure"
    text1 = "requests for assistance by another State"
    noise = [item("X", f"noise {i}") for i in range(12)]
    q3 = Query("q3", "", "keyword", tuple(Relevant("D", f"para. {i}", f"quote number {i} ends") for i in range(12)))
    return [Q1, Q2, q3], {
        "q1": [noise[0], item("A/RES/73/27", text0), noise[1], noise[2], noise[3], item("A/RES/78/1", text1)],
        "q2": [item("cri-2023", "we will not pay ransoms"), *noise[:9]],
        "q3": [item("D", f"the quote number {i} ends here") for i in (11, 3, 0)] + noise[:4] + [item("D", "quote number 7 ends")],
    }


def test_metrics_equal_ranx_on_hand_made_and_computed_runs(built_index, embedder, tmp_path):
    ranx = pytest.importorskip("ranx")
    queries, run = _hand_made_cases()
    # plus a computed case: a real search over the test index, judged the same way
    library = open_index(built_index, embedder=embedder)
    hits = library.search("requests for assistance critical infrastructure", k=10)
    computed = Query(
        "q4",
        "",
        "natural",
        (
            Relevant("A/RES/73/27", "para. 2", "requests for assistance by another State"),
            Relevant("A/RES/74/28", "para. 1", "capacity-building for developing countries"),
        ),
    )
    from aseancyberdocs.evaluation import from_hits

    queries.append(computed)
    run["q4"] = from_hits(hits)

    report = judge_run(queries, run)
    qrels, ranked = _as_ranx(queries, run)
    metrics = ["recall@1", "recall@5", "recall@10", "mrr@10", "ndcg@10"]
    expected = ranx.evaluate(ranx.Qrels(qrels), ranx.Run(ranked), metrics, make_comparable=True)

    ours = report.overall.row()
    for metric in metrics:
        assert ours[metric] == pytest.approx(float(expected[metric]), abs=1e-4), metric
    assert 0 < ours["recall@10"] < 1  # the computed case found one of its two paragraphs


def test_ndcg_of_an_ideal_ranking_is_one():
    assert ndcg_at([1.0, 1.0, 0.0], 2, 10) == pytest.approx(1.0)
    assert ndcg_at([0.0] * 10, 0, 10) == 0.0


def test_evaluate_runs_the_library_and_scores_citations(built_index, embedder, tmp_path):
    queries = tmp_path / "queries.jsonl"
    records = [
        {"qid": "a", "query": "requests for assistance by another State", "kind": "natural",
         "relevant": [{"doc_id": "A/RES/73/27", "label": "para. 2", "quote": "requests for assistance by another State"}]},
        {"qid": "b", "query": "ransom payments", "kind": "statement",
         "relevant": [{"doc_id": "2023-ransomware-joint-statement", "label": "para. 2",
                       "quote": "Members will not pay ransoms to cybercriminals"}]},
    ]
    queries.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    library = open_index(built_index, embedder=embedder)

    report = evaluate(library, queries, k=5)

    assert report.overall.queries == 2
    assert report.overall.recall[5] == 1.0
    assert report.overall.citation_accuracy == 1.0
    assert set(report.by_kind) == {"natural", "statement"}
    assert "R@5" in report_table(report)
    assert report_table(report, markdown=True).startswith("| system |")
    with pytest.raises(ValueError, match="k must be >= 1"):
        evaluate(library, queries, k=0)


def test_an_option_search_does_not_take_is_an_error(built_index, embedder, tmp_path):
    from aseancyberdocs.evaluation import run_library, search_options

    library = open_index(built_index, embedder=embedder)
    if "nonsense" not in search_options(library):
        with pytest.raises(ValueError, match="nonsense"):
            run_library(library, [Q1], nonsense="x")


def test_load_queries_reads_the_labelled_set_and_names_bad_lines(tmp_path):
    queries = load_queries()
    assert len(queries) >= 100
    assert all(query.relevant for query in queries)
    assert all(rel.quote == normalise(rel.quote) for query in queries for rel in query.relevant)

    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"qid": "x", "query": "y"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad.jsonl:1"):
        load_queries(bad)


def test_the_labelled_set_has_a_fixed_dev_and_test_split_with_every_kind_in_both():
    queries = load_queries()
    dev, test = load_queries(split="dev"), load_queries(split="test")
    assert len(dev) + len(test) == len(queries)
    assert {query.split for query in dev} == {"dev"} and {query.split for query in test} == {"test"}
    assert abs(len(dev) - len(test)) <= len({query.kind for query in queries})
    assert {query.kind for query in dev} == {query.kind for query in test}
    assert not {query.qid for query in dev} & {query.qid for query in test}
    with pytest.raises(ValueError, match="'train'"):
        load_queries(split="train")


def test_cli_eval_prints_the_table_and_json(built_index, fake_models, tmp_path, capsys):
    from aseancyberdocs.cli import main

    queries = tmp_path / "queries.jsonl"
    record = {"qid": "a", "query": "requests for assistance", "kind": "natural",
              "relevant": [{"doc_id": "A/RES/73/27", "label": "para. 2", "quote": "requests for assistance"}]}
    queries.write_text(json.dumps(record) + "\n", encoding="utf-8")

    assert main(["eval", "--index", str(built_index), "--queries", str(queries)]) == 0
    table = capsys.readouterr().out
    assert "R@5" in table and "natural" in table

    assert main(["eval", "--index", str(built_index), "--queries", str(queries), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["overall"]["recall@10"] == 1.0
    assert set(data["by_kind"]) == {"natural"}


def test_cli_eval_scores_one_split(built_index, fake_models, tmp_path, capsys):
    from aseancyberdocs.cli import main

    queries = tmp_path / "queries.jsonl"
    records = [
        {"qid": "a", "query": "requests for assistance", "kind": "natural", "split": "dev",
         "relevant": [{"doc_id": "A/RES/73/27", "label": "para. 2", "quote": "requests for assistance"}]},
        {"qid": "b", "query": "ransomware", "kind": "statement", "split": "test",
         "relevant": [{"doc_id": "A/RES/73/27", "label": "para. 2", "quote": "requests for assistance"}]},
    ]
    queries.write_text("".join(json.dumps(record) + "\n" for record in records), encoding="utf-8")
    assert main(["eval", "--index", str(built_index), "--queries", str(queries), "--split", "dev", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["overall"]["queries"] == 1 and set(data["by_kind"]) == {"natural"}
    assert data["system"].endswith("(dev)")
    with pytest.raises(SystemExit):
        main(["eval", "--index", str(built_index), "--split", "train"])
