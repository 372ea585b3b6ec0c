"""Exact search (IndexFlatIP) against IVF-PQ with the short list re-scored exactly (vectors.py).

    python3 benchmarks/vectors_compare.py --index /path/to/index [--sizes 100000 1000000]

Replicates the index's passage vectors with small noise (near-duplicates, like agreed language)
to each size, builds both indexes and measures, each in a fresh process: the resident memory the
loaded index adds (VmRSS after loading it and answering the queries, minus before), single-query
latency (median and p95 of 200 queries) and, for IVF-PQ, recall@10 against exact search. The
re-scoring vectors are read from a .npy file, as from the vector cache of an index folder.
Writes its section of benchmarks/RESULTS.md (between the vectors markers).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from sections import write_section

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
BEGIN, END = "<!-- vectors:begin -->", "<!-- vectors:end -->"
QUERIES = 200


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def replicate(base: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    copies = -(-size // len(base))
    parts = [base] + [base + rng.normal(0, 0.02, base.shape).astype(np.float32) for _ in range(copies - 1)]
    vectors = np.concatenate(parts)[:size]
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def child(kind: str, folder: str) -> dict[str, Any]:
    import faiss

    from aseancyberdocs.vectors import RescoredIndex, VectorRows

    queries = np.load(Path(folder) / "queries.npy")
    before = rss_mb()
    started = time.perf_counter()
    index = faiss.read_index(str(Path(folder) / f"{kind}.faiss"))
    if kind == "ivfpq":
        vectors = VectorRows(Path(folder) / "vectors.npy")
        index = RescoredIndex(index, vectors, np.arange(len(vectors)))
    loaded = time.perf_counter() - started
    times, ids = [], []
    for query in queries:
        started = time.perf_counter()
        _, found = index.search(query[None, :], 10)
        times.append(time.perf_counter() - started)
        ids.append(found[0].tolist())
    times.sort()
    return {"load_s": loaded, "p50_ms": statistics.median(times) * 1000, "p95_ms": times[int(0.95 * len(times))] * 1000,
            "rss_added_mb": rss_mb() - before, "ids": ids}


def measure(kind: str, folder: Path) -> dict[str, Any]:
    env = dict(os.environ, OMP_NUM_THREADS="1")  # single-query latency on one core, as a search process
    output = subprocess.run([sys.executable, __file__, "--child", kind, str(folder)], check=True,
                            capture_output=True, text=True, env=env).stdout
    return json.loads(output)


def compare(base: np.ndarray, size: int, work_dir: Path | None) -> dict[str, Any]:
    import faiss

    from aseancyberdocs.vectors import build_ivfpq, ivfpq_shape

    rng = np.random.default_rng(0)
    vectors = replicate(base, size, rng)
    queries = base[rng.choice(len(base), QUERIES, replace=False)] + rng.normal(0, 0.05, (QUERIES, base.shape[1]))
    queries = (queries / np.linalg.norm(queries, axis=1, keepdims=True)).astype(np.float32)
    folder = Path(tempfile.mkdtemp(prefix="vectors-compare-", dir=work_dir))
    try:
        np.save(folder / "queries.npy", queries)
        np.save(folder / "vectors.npy", vectors)
        started = time.perf_counter()
        flat = faiss.IndexFlatIP(vectors.shape[1])
        flat.add(vectors)
        flat_build = time.perf_counter() - started
        faiss.write_index(flat, str(folder / "flat.faiss"))
        del flat
        started = time.perf_counter()
        ivfpq = build_ivfpq(vectors)
        ivfpq_build = time.perf_counter() - started
        faiss.write_index(ivfpq, str(folder / "ivfpq.faiss"))
        result: dict[str, Any] = {"vectors": size, "shape": ivfpq_shape(*vectors.shape)}
        for kind, built in (("flat", flat_build), ("ivfpq", ivfpq_build)):
            row = measure(kind, folder)
            row.update(build_s=built, file_mb=(folder / f"{kind}.faiss").stat().st_size / 1e6)
            result[kind] = row
        truth = result["flat"].pop("ids")
        found = result["ivfpq"].pop("ids")
        result["ivfpq"]["recall@10"] = float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth)]))
        print(size, json.dumps({kind: {k: round(v, 3) for k, v in result[kind].items()} for kind in ("flat", "ivfpq")}),
              flush=True)
    finally:
        shutil.rmtree(folder)
    return result


def section(results: list[dict[str, Any]], command: str) -> str:
    from aseancyberdocs.vectors import NPROBE, RESCORE_FACTOR, RESCORE_MIN

    lines = [
        BEGIN, "## Vectors at size: exact search against IVF-PQ re-scored exactly", "",
        (f"Generated by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.machine()}, "
         f"{os.cpu_count()} CPUs, Python {platform.python_version()}, a machine shared with other work while it ran. "
         "Real passage vectors replicated with small noise, 384 dimensions; 200 queries, one at a time on one "
         "thread; each index loaded in a fresh process. IVF-PQ: sqrt(n) lists, "
         f"nprobe {NPROBE}, 48 sub-quantizers of 8 bits; its short list ({RESCORE_FACTOR} k, at least "
         f"{RESCORE_MIN} rows) re-scored with the float vectors "
         "(`index_type=\"ivfpq\"`, src/aseancyberdocs/vectors.py), read from the file row by row (`VectorRows`). "
         "RSS added: after loading and the queries, minus before."), "",
        ("| vectors | index | build (s) | file (MB) | RSS added (MB) | query p50 (ms) | query p95 (ms) | "
         "recall@10 |"),
        "|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for kind, name in (("flat", "IndexFlatIP (exact)"), ("ivfpq", "IVF-PQ + exact re-scoring")):
            row = result[kind]
            recall = f"{row['recall@10']:.3f}" if "recall@10" in row else "1 (exact)"
            lines.append(f"| {result['vectors']:,} | {name} | {row['build_s']:.1f} | {row['file_mb']:.1f} | "
                         f"{row['rss_added_mb']:.0f} | {row['p50_ms']:.2f} | {row['p95_ms']:.2f} | {recall} |")
    lines += ["", END]
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3])))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--work", type=Path, default=None, help="folder for the temporary files")
    parser.add_argument("--no-write", action="store_true", help=f"do not write the section of {RESULTS.name}")
    args = parser.parse_args()
    import faiss

    stored = faiss.read_index(str(args.index / "vectors.faiss"))
    base = stored.reconstruct_n(0, stored.ntotal)
    results = [compare(base, size, args.work) for size in args.sizes]
    text = section(results, "python3 benchmarks/vectors_compare.py --index INDEX --sizes "
                   + " ".join(map(str, args.sizes)))
    print(text)
    if not args.no_write:
        write_section(RESULTS, BEGIN, END, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
