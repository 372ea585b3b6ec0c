"""The build on a cluster: Dask.distributed and Ray against the local worker processes, same corpus.

    python3 benchmarks/cluster.py                       # the bundled corpus, all three
    python3 benchmarks/cluster.py --corpus corpus/un/text corpus/statements --repeat 3

Each engine builds the corpus cold (a fresh index folder, so no vector is reused) in a process of
its own, one after the other:

- ``processes``: ``build_index`` as the CLI runs it, files read in local worker processes, embedded
  in the main process;
- ``dask``: ``build_index(..., cluster="local")``: a Dask LocalCluster of one single-threaded worker
  process per core, files read and texts embedded as its tasks (src/aseancyberdocs/cluster.py);
- ``ray``: the same tasks through a ``concurrent.futures`` executor over Ray tasks (``ray.init`` on
  this machine, one CPU per task), written here for the comparison only.

Prints and records the wall time of each (cluster start, build, shutdown), and checks that each
index has the same passages as the ``processes`` one and vectors within 1e-5. Writes its section
of benchmarks/RESULTS.md (between the cluster markers) and benchmarks/cluster.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import Executor, Future
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sections import write_section

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BEGIN, END = "<!-- cluster:begin -->", "<!-- cluster:end -->"
ENGINES = ("processes", "dask", "ray")


class RayExecutor(Executor):
    """``submit`` runs the function as a Ray task (one CPU); its ObjectRef's future is returned."""

    def __init__(self) -> None:
        self._remote: dict[Any, Any] = {}

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future:
        import ray

        remote = self._remote.get(fn)
        if remote is None:
            remote = self._remote[fn] = ray.remote(num_cpus=1)(fn)
        return remote.remote(*args, **kwargs).future()


def build_one(engine: str, corpus: list[str], index_dir: str) -> dict[str, Any]:
    """Run in a child process: one cold build of ``corpus`` with ``engine``; the timings."""
    from aseancyberdocs.cluster import ClusterEmbedder, connect
    from aseancyberdocs.embedding import load_embedder
    from aseancyberdocs.index import build_index

    started = time.perf_counter()
    embedder = load_embedder()
    if engine == "processes":
        report = build_index(corpus, index_dir, embedder=embedder)
        built = time.perf_counter()
        return {"engine": engine, "start_s": 0.0, "build_s": round(built - started, 1), "stop_s": 0.0,
                "total_s": round(built - started, 1), "workers": report.workers, "passages": report.passages}
    if engine == "dask":
        with connect("local") as cluster:
            up = time.perf_counter()
            report = build_index(corpus, index_dir, embedder=cluster.embedder(embedder),
                                 _executor=cluster.executor)
            built = time.perf_counter()
            workers = cluster.workers
    elif engine == "ray":
        import ray

        # As on a Dask worker (cluster.py): one ONNX Runtime thread per task, one task per core.
        ray.init(num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False, configure_logging=False,
                 runtime_env={"env_vars": {"ASEANCYBERDOCS_ONNX_THREADS": "1"}})
        try:
            up = time.perf_counter()
            executor = RayExecutor()
            report = build_index(corpus, index_dir, embedder=ClusterEmbedder(embedder, executor),
                                 _executor=executor)
            built = time.perf_counter()
            workers = int(ray.cluster_resources().get("CPU", 0))
        finally:
            ray.shutdown()
    else:
        raise ValueError(f"unknown engine {engine!r}")
    stopped = time.perf_counter()
    return {"engine": engine, "start_s": round(up - started, 1), "build_s": round(built - up, 1),
            "stop_s": round(stopped - built, 1), "total_s": round(stopped - started, 1), "workers": workers,
            "passages": report.passages}


def compare(reference: Path, other: Path) -> dict[str, Any]:
    import numpy as np

    from aseancyberdocs.index import open_index

    first, second = open_index(reference), open_index(other)
    same = list(first.passages) == list(second.passages) and list(first.documents.items()) == list(
        second.documents.items())
    difference = float(np.abs(first.vectors() - second.vectors()).max())
    return {"same_passages": same, "max_vector_difference": difference}


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="aseancyberdocs-cluster-"))
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=os.pathsep.join([str(REPO / "src"),
                                                                            os.environ.get("PYTHONPATH", "")]))
    rows = []
    try:
        runs = [(round_, engine) for round_ in range(args.repeat) for engine in args.engines]
        for round_, engine in runs:
            index_dir = work / f"{engine}-{round_}"  # a fresh folder: cold, no vector reused
            load = os.getloadavg()[0]
            done = subprocess.run(
                [sys.executable, __file__, "--child", engine, "--corpus", *args.corpus, "--out", str(index_dir)],
                env=env, capture_output=True, text=True, check=False,
            )
            if done.returncode != 0:
                raise SystemExit(f"the {engine} build failed:\n{done.stderr[-3000:]}")
            row = json.loads(done.stdout.strip().splitlines()[-1])
            row["load_before"] = round(load, 2)
            if engine != args.engines[0]:
                row.update(compare(work / f"{args.engines[0]}-{round_}", index_dir))
            print(json.dumps(row), flush=True)
            rows.append(row)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    import distributed
    import ray

    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "corpus": " ".join(args.corpus),
        "versions": {"distributed": distributed.__version__, "ray": ray.__version__},
        "repeat": args.repeat,
        "rows": rows,
        "medians": medians(rows, args.engines),
    }


def medians(rows: list[dict[str, Any]], engines: list[str]) -> list[dict[str, Any]]:
    """Per engine: the median of each timing over the runs, and the worst agreement with the reference."""
    import statistics

    summary = []
    for engine in engines:
        runs = [row for row in rows if row["engine"] == engine]
        entry = {"engine": engine, "runs": len(runs), "workers": runs[0]["workers"]}
        for key in ("start_s", "build_s", "stop_s", "total_s"):
            entry[key] = round(statistics.median(row[key] for row in runs), 1)
        if "same_passages" in runs[0]:
            entry["same_passages"] = all(row["same_passages"] for row in runs)
            entry["max_vector_difference"] = max(row["max_vector_difference"] for row in runs)
        entry["load_before"] = round(statistics.median(row["load_before"] for row in runs), 2)
        summary.append(entry)
    return summary


def section(result: dict[str, Any], command: str) -> str:
    rows = result["medians"]
    reference = rows[0]
    runs = result["repeat"]
    order = "one after the other" if runs == 1 else f"{runs} rounds of the engines in turn, medians"
    detail = "".join(
        f"\n- {row['engine']}: total {row['total_s']} s, load average {row['load_before']} before it" for row in result["rows"]
    ) if runs > 1 else ""
    lines = [
        BEGIN,
        "## The build on a cluster (`build --cluster`)",
        "",
        f"Generated by `{command}` on {result['date']}; {result['machine']}; corpus `{result['corpus']}`, "
        f"cold builds, {order}, each in a process of its own (Dask.distributed "
        f"{result['versions']['distributed']}, Ray {result['versions']['ray']}; both engines run the same tasks: "
        "one per file read, one per 64 texts embedded).",
        "",
        f"| engine | workers | start (s) | build (s) | stop (s) | total (s) | / {reference['engine']} | same passages "
        "| max vector difference | load before |",
        "|---|---:|---:|---:|---:|---:|---:|---|---:|---:|",
    ]
    for row in rows:
        same = "-" if "same_passages" not in row else ("yes" if row["same_passages"] else "NO")
        difference = "-" if "max_vector_difference" not in row else f"{row['max_vector_difference']:.1e}"
        lines.append(
            f"| {row['engine']} | {row['workers']} | {row['start_s']} | {row['build_s']} | {row['stop_s']} | "
            f"{row['total_s']} | {row['total_s'] / reference['total_s']:.2f} | {same} | {difference} | "
            f"{row['load_before']} |"
        )
    if detail:
        lines += ["", "Each run:" + detail]
    lines += ["", END, ""]
    return "\n".join(lines)


def write_results(result: dict[str, Any], command: str, path: Path) -> None:
    write_section(path, BEGIN, END, section(result, command))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", nargs="+", default=["corpus"], help="the folders to build (default: corpus)")
    parser.add_argument("--engines", nargs="+", choices=ENGINES, default=list(ENGINES),
                        help="the first is the reference the others are compared with")
    parser.add_argument("--repeat", type=int, default=1, help="rounds of the engines in turn (medians reported)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md and cluster.json alone")
    parser.add_argument("--child", choices=ENGINES, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(build_one(args.child, args.corpus, args.out)))
        return 0
    result = run(args)
    if not args.no_write:
        command = "python3 benchmarks/cluster.py"
        if args.corpus != ["corpus"]:
            command += " --corpus " + " ".join(args.corpus)
        if list(args.engines) != list(ENGINES):
            command += " --engines " + " ".join(args.engines)
        if args.repeat != 1:
            command += f" --repeat {args.repeat}"
        write_results(result, command, HERE / "RESULTS.md")
        (HERE / "cluster.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
