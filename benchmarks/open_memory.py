"""Open time and resident memory of ``open_index`` on one index, in this process.

    PYTHONPATH=src python3 benchmarks/open_memory.py INDEX

Opens the index five times (median time) and prints the resident memory the last open holds
(VmRSS after it, minus before the first; numpy and faiss imported before, as any search does).
Run it with another checkout's ``src`` on PYTHONPATH to compare versions on their own indexes.
"""

from __future__ import annotations

import statistics
import sys
import time


def rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def main() -> int:
    import faiss  # noqa: F401 - loaded by any search: kept out of the figure
    import numpy  # noqa: F401

    from aseancyberdocs.index import open_index

    before = rss_mb()
    times = []
    library = None
    for _ in range(5):
        library = None
        started = time.perf_counter()
        library = open_index(sys.argv[1])
        times.append(time.perf_counter() - started)
    print(f"open median {statistics.median(times) * 1000:.0f} ms; RSS held by the opened index "
          f"{rss_mb() - before:.1f} MB; {len(library.passages)} passages, format {library.manifest['format_version']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
