"""SQLite against Arrow IPC (memory-mapped) as the on-disk passage and document store.

    python3 benchmarks/store_compare.py --index /path/to/index [--replicate 1000000]

writes its figures into benchmarks/RESULTS.md (between the store markers; the rest is left alone).

Reads the passages and documents of an index (format 1 or 2), writes
them once as a SQLite file and once as Arrow IPC files, optionally replicated (each copy gets new
passage and document ids) up to ``--replicate`` passages, and measures for each: bytes on disk,
import and open time, the time to fetch 10 random passages with their documents' metadata as Python objects
(median of 200 draws), the time to read one document's text, and the resident memory the opened
store adds to a fresh process (VmRSS after open and 200 fetches, minus VmRSS before open). Each
measurement runs in a fresh subprocess. Needs pyarrow for the Arrow side.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sections import write_section

PASSAGE_COLUMNS = ("passage_id", "doc_row", "label", "kind", "text", "start", "end", "page_from", "page_to",
                   "label_from", "label_to", "context", "part", "parts")  # the Arrow schema


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def read_format1(index: Path, replicate: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    if (index / "documents.jsonl").is_file():  # format 1
        documents = [json.loads(line) for line in (index / "documents.jsonl").read_text().splitlines() if line]
        passages = [json.loads(line) for line in (index / "passages.jsonl").read_text().splitlines() if line]
    else:
        from aseancyberdocs.index import open_index

        library = open_index(index)
        documents = [document.to_dict() for document in library.documents.values()]
        passages = [passage.to_dict() for passage in library.passages]
    row_of = {document["doc_id"]: row for row, document in enumerate(documents)}
    base_docs = []
    for document in documents:
        text = document.pop("text")
        base_docs.append((document, text))
    base_passages = []
    for passage in passages:
        record = dict(passage)
        record["doc_row"] = row_of[record.pop("doc_id")]
        record["page_from"], record["page_to"] = record.pop("pages")
        record["label_from"], record["label_to"] = record.pop("page_labels")
        base_passages.append(record)
    out_docs, out_passages = [], []
    copies = max(1, -(-replicate // len(base_passages))) if replicate else 1
    for copy in range(copies):
        suffix = f"~{copy}" if copy else ""
        for document, text in base_docs:
            out_docs.append({**document, "doc_id": document["doc_id"] + suffix, "text": text})
        for passage in base_passages:
            if replicate and len(out_passages) >= replicate:
                break
            out_passages.append({**passage, "passage_id": passage["passage_id"] + suffix,
                                 "doc_row": passage["doc_row"] + copy * len(base_docs)})
    return out_passages, out_docs


def write_sqlite(path: Path, passages: list[dict[str, Any]], documents: list[dict[str, Any]]) -> None:
    """The library's own store (aseancyberdocs.store.write_store)."""
    from aseancyberdocs.store import write_store
    from aseancyberdocs.types import Document, Passage

    path.mkdir()
    names = [record["doc_id"] for record in documents]
    write_store(
        path,
        [Document.from_dict(record) for record in documents],
        (Passage.from_dict({**{k: v for k, v in record.items() if k not in ("doc_row", "page_from", "page_to",
                                                                           "label_from", "label_to")},
                            "doc_id": names[record["doc_row"]], "pages": (record["page_from"], record["page_to"]),
                            "page_labels": (record["label_from"], record["label_to"])})
         for record in passages),
    )


def write_arrow(folder: Path, passages: list[dict[str, Any]], documents: list[dict[str, Any]]) -> None:
    import pyarrow as pa

    folder.mkdir()
    table = pa.Table.from_pylist([{c: p.get(c) for c in PASSAGE_COLUMNS} for p in passages])
    with pa.OSFile(str(folder / "passages.arrow"), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=4096)
    docs = pa.table({
        "doc_id": [d["doc_id"] for d in documents],
        "meta": [json.dumps({k: v for k, v in d.items() if k != "text"}) for d in documents],
        "text": pa.array([d["text"] for d in documents], type=pa.large_string()),
    })
    with pa.OSFile(str(folder / "documents.arrow"), "wb") as sink, pa.ipc.new_file(sink, docs.schema) as writer:
        writer.write_table(docs, max_chunksize=256)


def child(kind: str, path: str, count: int, docs: int) -> dict[str, Any]:
    """Open the store, fetch 200 x 10 random passages with their documents' metadata, one text."""
    import numpy as np

    rng = random.Random(7)
    before = rss_mb()
    started = time.perf_counter()
    if kind == "sqlite":
        from aseancyberdocs.store import (
            PASSAGE_DOCS_FILE,
            STORE_FILE,
            DocumentRows,
            PassageRows,
            Store,
        )
    else:
        import pyarrow as pa
    imported = time.perf_counter() - started
    started = time.perf_counter()
    if kind == "sqlite":
        store = Store(Path(path) / STORE_FILE)
        passage_rows = PassageRows(store, np.load(Path(path) / PASSAGE_DOCS_FILE, mmap_mode="r"))
        document_rows = DocumentRows(store)

        def fetch(rows: list[int]) -> list[Any]:
            found = store.passages(rows)  # one query, as search's hits
            return [(passage, document_rows[passage.doc_id].title) for passage in found]

        def text(row: int) -> str:
            return document_rows[store.doc_ids[row]].text
        assert len(passage_rows) == count
    else:
        passages = pa.ipc.open_file(pa.memory_map(f"{path}/passages.arrow")).read_all()
        documents = pa.ipc.open_file(pa.memory_map(f"{path}/documents.arrow")).read_all()
        metas_column, texts_column = documents.column("meta"), documents.column("text")

        def fetch(rows: list[int]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
            # slice: zero-copy, reads only the record batch holding the row (take() would
            # concatenate the chunks of every column first)
            got = [passages.slice(row, 1).to_pylist()[0] for row in rows]
            return [(p, json.loads(metas_column[p["doc_row"]].as_py())) for p in got]

        def text(row: int) -> str:
            return texts_column[row].as_py()
    opened = time.perf_counter() - started
    times = []
    for _ in range(200):
        rows = [rng.randrange(count) for _ in range(10)]
        started = time.perf_counter()
        fetch(rows)
        times.append(time.perf_counter() - started)
    started = time.perf_counter()
    text(rng.randrange(docs))
    text_ms = (time.perf_counter() - started) * 1000
    return {"import_ms": imported * 1000, "open_ms": opened * 1000, "fetch10_ms": statistics.median(times) * 1000,
            "fetch10_p95_ms": sorted(times)[int(0.95 * len(times))] * 1000, "text_ms": text_ms,
            "rss_added_mb": rss_mb() - before}


def measure(kind: str, path: Path, count: int, docs: int) -> dict[str, Any]:
    output = subprocess.run([sys.executable, __file__, "--child", kind, str(path), str(count), str(docs)],
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output)


def size_of(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*")) if path.is_dir() else path.stat().st_size


sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
BEGIN, END = "<!-- store:begin -->", "<!-- store:end -->"


def compare(index: Path, replicate: int, work_dir: Path | None) -> dict[str, Any]:
    """Both stores of the index's passages (replicated to ``replicate`` if given), measured."""
    import shutil

    from aseancyberdocs.index import sampled_sha256, sha256_file

    passages, documents = read_format1(index, replicate)
    work = Path(tempfile.mkdtemp(prefix="store-compare-", dir=work_dir))
    result: dict[str, Any] = {"passages": len(passages), "documents": len(documents)}
    try:
        for kind, writer, path in (("sqlite", write_sqlite, work / "store"), ("arrow", write_arrow, work / "arrow")):
            started = time.perf_counter()
            writer(path, passages, documents)
            written = time.perf_counter() - started
            runs = [measure(kind, path, len(passages), len(documents)) for _ in range(3)]
            row = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            row.update(write_s=written, disk_mb=size_of(path) / 1e6)
            result[kind] = row
            print(len(passages), kind, json.dumps({k: round(v, 3) for k, v in row.items()}), flush=True)
        for name, digest in (("sha256_ms", sha256_file), ("sampled_sha256_ms", sampled_sha256)):
            started = time.perf_counter()
            digest(work / "store" / "store.sqlite")
            result[name] = (time.perf_counter() - started) * 1000
        print(f"{len(passages)} store.sqlite: full sha256 {result['sha256_ms']:.1f} ms, "
              f"sampled {result['sampled_sha256_ms']:.1f} ms", flush=True)
    finally:
        shutil.rmtree(work)
    return result


def section(results: list[dict[str, Any]], command: str) -> str:
    lines = [
        BEGIN, "## Passage store: SQLite against Arrow", "",
        (f"Generated by `{command}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; "
         f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, a machine shared with "
         "other work while it ran. Each figure is the median of 3 fresh processes; fetch: 10 random passages "
         "with their documents' metadata as Python objects (median of 200 draws); RSS added: after the open "
         "and the 200 fetches, minus before the import."), "",
        ("| passages (documents) | store | bytes on disk (MB) | import (ms) | open (ms) | fetch 10 (ms) | "
         "fetch 10 p95 (ms) | one text (ms) | RSS added (MB) |"),
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for kind, name in (("sqlite", "SQLite (store.py)"), ("arrow", "Arrow IPC, memory-mapped")):
            row = result[kind]
            lines.append(
                f"| {result['passages']:,} ({result['documents']:,}) | {name} | {row['disk_mb']:.1f} | "
                f"{row['import_ms']:.0f} | {row['open_ms']:.1f} | {row['fetch10_ms']:.2f} | {row['fetch10_p95_ms']:.2f} | "
                f"{row['text_ms']:.2f} | {row['rss_added_mb']:.1f} |"
            )
    lines += ["", ("Import: for SQLite, `aseancyberdocs.store` and the package (which a search process imports "
                   "anyway; sqlite3 is in the standard library); for Arrow, pyarrow. Open: the store's ids and row "
                   "count (SQLite), the two IPC files (Arrow).")]
    lines += ["", "Checking the store at open, whole sha256 against the sampled one (`index.sampled_sha256`):", "",
              "| passages | whole sha256 (ms) | sampled (ms) |", "|---:|---:|---:|"]
    lines += [f"| {r['passages']:,} | {r['sha256_ms']:.0f} | {r['sampled_sha256_ms']:.0f} |" for r in results]
    lines += ["", END]
    return "\n".join(lines)


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, required=True)
    parser.add_argument("--replicate", type=int, nargs="*", default=[],
                        help="also measure the passages replicated to these counts (e.g. 1000000)")
    parser.add_argument("--work", type=Path, default=None, help="folder for the temporary stores")
    parser.add_argument("--no-write", action="store_true", help=f"do not write the section of {RESULTS.name}")
    args = parser.parse_args()
    results = [compare(args.index, size, args.work) for size in (0, *args.replicate)]
    command = "python3 benchmarks/store_compare.py --index INDEX" + (
        f" --replicate {' '.join(map(str, args.replicate))}" if args.replicate else "")
    text = section(results, command)
    print(text)
    if not args.no_write:
        write_section(RESULTS, BEGIN, END, text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
