"""Fit the second stage's weights (src/aseancyberdocs/rerank.py) on the dev split and print them.

For every labelled query of the dev and test splits, the first stage of hybrid search gives its
fused candidates (each retriever's best FUSION_DEPTH passages and the best-named documents'
passages), the best RERANK_DEPTH of them are kept as search() keeps them, and rerank.features
gives their feature matrix, once. A weight vector is then scored
exactly as search() ranks: candidates sorted by the weighted sum, agreed language grouped, the
first 10 judged against the labels (evaluation.judge_query). Coordinate ascent on dev
(objective: MRR@10 + Recall@5), starting from the first stage's weights, each weight tried on a
fixed grid in turn until no change helps; the BM25 weight stays at 0.6 to fix the scale.
The test split is only scored, never used to choose.

    PYTHONPATH=src HF_HUB_OFFLINE=1 python3 evaluation/fit_rerank.py --index indexes/full

prints the fitted weights (to copy into rerank.WEIGHTS) and the dev and test scores, per query
kind, of the first stage and the fitted second stage. ``--cv`` also reports a 2-fold
cross-validation on dev (fit on one half, score the other), the estimate used to choose between
feature sets without looking at test; ``--repeats N`` averages it over N splits (the first as
above, the others random halves of each kind), since one split of 124 queries moves by a few
points from one split to the next. ``--without sentence`` is the default: see rerank.py.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
from collections import defaultdict

import numpy as np

from aseancyberdocs import open_index, rerank
from aseancyberdocs.evaluation import Retrieved, judge_query, load_queries
from aseancyberdocs.grouping import cluster_ids, collapse
from aseancyberdocs.reading import document_matcher
from aseancyberdocs.search import (
    FUSION_DEPTH,
    GROUP_FETCH,
    RERANK_DEPTH,
    _also_in,
    _document_facts,
    _normalised_texts,
    _Ranker,
    _sources,
    phrase_mask,
    split_phrases,
)

FIRST_STAGE = {"dense": 0.4, "bm25": 0.6, "document": 0.1}
GRID = (-0.3, -0.2, -0.1, -0.05, 0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)
FIXED = "bm25"
K = 10


def prepare(library, queries, sentences=True):
    """Per query: the candidate rows and their feature matrix (best-sentence cosines only if ``sentences``)."""
    prepared = []
    sources = _sources(library)
    for query in queries:
        phrases, text = split_phrases(query.query)
        mask = phrase_mask(_normalised_texts(library), phrases) if phrases else None
        ranker = _Ranker(sources, text or " ".join(phrases), "hybrid", "weighted", mask)
        dense, sparse, boost = ranker.first_stage(FUSION_DEPTH)
        rows = sorted(set(dense) | set(sparse))
        base = rerank.score(
            rerank.features(library, ranker.bm25_query, rows, dense, sparse, boost, None), FIRST_STAGE
        )
        order = [rows[i] for i in np.lexsort((rows, -base))]
        # As search() does: only the best fused candidates are scored again.
        rows = order = order[: max(K * GROUP_FETCH, RERANK_DEPTH)]
        vector = ranker.vector if sentences else None
        when = document_matcher(library).days_in_order(query.query, rows)
        matrix = rerank.features(library, ranker.bm25_query, rows, dense, sparse, boost, vector, order=order, when=when)
        prepared.append((query, rows, matrix))
    return prepared


def judge(library, prepared, weights, pages, also):
    results = []
    ids, drafts = cluster_ids(library), _document_facts(library).drafts
    for query, rows, matrix in prepared:
        scores = rerank.score(matrix, weights)
        ranked = sorted(zip(rows, scores.tolist()), key=lambda item: (-item[1], item[0]))[: K * GROUP_FETCH]
        picked = collapse(ranked, ids, drafts, library.document_rows, K)
        items = []
        for row, _ in picked:
            if row not in also:
                also[row] = tuple((c.doc_id, c.label) for c in _also_in(library, ids, row, None)[0])
            passage = library.passages[row]
            items.append(Retrieved(passage.doc_id, passage.text, None, None, also[row]))
        results.append(judge_query(query, items, k=K))
    return results


def summary(results):
    by_kind = defaultdict(list)
    for result in results:
        by_kind[result.kind].append(result)
    rows = {"all": results, **dict(sorted(by_kind.items()))}
    return {
        name: (len(items), statistics.fmean(r.recall[5] for r in items), statistics.fmean(r.mrr for r in items))
        for name, items in rows.items()
    }


def objective(results):
    return statistics.fmean(r.mrr for r in results) + statistics.fmean(r.recall[5] for r in results)


def fit(library, prepared, pages, also, without=(), verbose=True):
    weights = {name: FIRST_STAGE.get(name, 0.0) for name in rerank.FEATURES}
    best = objective(judge(library, prepared, weights, pages, also))
    changed = True
    while changed:
        changed = False
        for name in rerank.FEATURES:
            if name == FIXED or name in without:
                continue
            for value in GRID:
                trial = {**weights, name: value}
                score = objective(judge(library, prepared, trial, pages, also))
                if score > best + 1e-9:
                    best, weights, changed = score, trial, True
        if verbose:
            print(f"  round: objective {best:.4f} {weights}", file=sys.stderr)
    return weights, best


def _halves(prepared, repeat):
    """The two halves of a 2-fold split: repeat 0 alternates the queries in file order; later
    repeats shuffle each kind (seeded by ``repeat``) and alternate it, so each half holds half of every kind."""
    if repeat == 0:
        halves = (prepared[0::2], prepared[1::2])
    else:
        rng = random.Random(repeat)
        by_kind = defaultdict(list)
        for item in prepared:
            by_kind[item[0].kind].append(item)
        halves, turn = ([], []), 0
        for kind in sorted(by_kind):
            items = by_kind[kind][:]
            rng.shuffle(items)
            for item in items:
                halves[turn].append(item)
                turn = 1 - turn
    return (halves, halves[::-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True)
    parser.add_argument("--queries", default=None)
    parser.add_argument(
        "--without", nargs="*", default=["sentence"],
        help="features held at 0 (default: sentence, which embeds sentences at query time; see rerank.py)",
    )
    parser.add_argument("--cv", action="store_true", help="also fit on each half of dev and score the other half")
    parser.add_argument(
        "--repeats", type=int, default=1,
        help="with --cv, also this many random 2-fold splits of dev (each kind halved), scores averaged",
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.without) - set(rerank.FEATURES))
    if unknown:
        parser.error(f"unknown features {unknown}; known: {', '.join(rerank.FEATURES)}")
    library = open_index(args.index)
    sentences = "sentence" not in args.without
    dev = prepare(library, load_queries(args.queries, split="dev"), sentences)
    test = prepare(library, load_queries(args.queries, split="test"), sentences)
    pages, also = {}, {}
    if args.cv:
        first = summary(judge(library, dev, FIRST_STAGE, pages, also))["all"]
        estimates = []
        for repeat in range(max(1, args.repeats)):
            held_out = []
            for fit_on, score_on in _halves(dev, repeat):
                weights, _ = fit(library, fit_on, pages, also, args.without, verbose=False)
                held_out += judge(library, score_on, weights, pages, also)
            estimates.append(summary(held_out)["all"])
            if repeat == 0:
                (n, r5, mrr) = estimates[0]
                print(f"2-fold cross-validation on dev ({n} queries): first stage R@5 {first[1]:.3f} "
                      f"MRR {first[2]:.3f}; fitted on the other half R@5 {r5:.3f} MRR {mrr:.3f}")
        if len(estimates) > 1:
            r5s, mrrs = [e[1] for e in estimates], [e[2] for e in estimates]
            print(f"2-fold cross-validation, {len(estimates)} splits: R@5 {statistics.fmean(r5s):.3f} "
                  f"(sd {statistics.stdev(r5s):.3f}) MRR {statistics.fmean(mrrs):.3f} (sd {statistics.stdev(mrrs):.3f})")
    weights, _ = fit(library, dev, pages, also, args.without)
    print("WEIGHTS = {" + ", ".join(f'"{name}": {value}' for name, value in weights.items()) + "}")
    stages = (("first stage", FIRST_STAGE), ("second stage (rerank.WEIGHTS)", rerank.WEIGHTS), ("second stage (fitted)", weights))
    for label, chosen in stages:
        for split, prepared in (("dev", dev), ("test", test)):
            table = summary(judge(library, prepared, chosen, pages, also))
            print(f"\n{label}, {split}:  " + "  ".join(
                f"{name} ({n}) R@5 {r5:.3f} MRR {mrr:.3f}" for name, (n, r5, mrr) in table.items()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
