"""Building on a cluster: files read and passages embedded as tasks of a Dask.distributed cluster.

``aseancyberdocs build PATH --cluster ADDRESS`` (or ``build_index(..., cluster=ADDRESS)``) sends
the two costly jobs of a build to the workers of a cluster:

- **reading**: each source file is one task that parses it, finds its structure and splits it
  into passages (``build._read_one``, as the build's local worker processes do);
- **embedding**: the new passage texts go out in batches of ``TASK_TEXTS``, one task each; a
  worker loads the embedding model once and keeps it for the following batches.

This process keeps the rest: the order of the files, the vector cache, the checks and the writing
of the index folder, so the index equals a one-process build of the same files (the same passages;
vectors equal up to float rounding). ``ADDRESS`` is a running scheduler (``tcp://host:8786``) or
``local``, which starts a cluster of one single-threaded worker process per core of this machine
and stops it after the build.

On a real cluster every worker needs this package and the embedding model installed, and the
source files at the same path as here (a shared file system). Dask.distributed is an optional
dependency (``pip install "aseancyberdocs[cluster]"``), imported only when a cluster is asked for.

Example:
    >>> from aseancyberdocs.index import build_index
    >>> build_index(["corpus"], "indexes/default", cluster="local")  # doctest: +SKIP
    BuildReport(index_dir='indexes/default', ..., workers=2, cluster='local')
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

import numpy as np

from .embedding import Embedder
from .errors import AseanCyberDocsError

logger = logging.getLogger(__name__)

LOCAL = "local"
# Texts per embedding task: enough to keep a worker's forward passes full, few enough that a
# batch of the build (build._ENCODE_BATCH texts) is shared by several workers.
TASK_TEXTS = 64
# Seconds to wait for a scheduler that does not answer.
CONNECT_TIMEOUT = 30


class ClusterError(AseanCyberDocsError):
    """No cluster could be reached or started at the address given, or Dask.distributed is missing."""


@dataclass(frozen=True, slots=True)
class Cluster:
    """A connected cluster: an executor for tasks, and its number of workers."""

    address: str
    executor: Executor
    workers: int

    def embedder(self, embedder: Embedder) -> Embedder:
        """``embedder`` with its ``encode`` run on the cluster's workers."""
        return ClusterEmbedder(embedder, self.executor)


@contextlib.contextmanager
def connect(address: str, *, workers: int | None = None) -> Iterator[Cluster]:
    """Connect to the scheduler at ``address`` (or start a local cluster), closed on exit.

    Args:
        address: ``local``, or a Dask scheduler address such as ``tcp://10.0.0.5:8786``.
        workers: the number of worker processes of a ``local`` cluster (default: one per core).

    Raises:
        ClusterError: Dask.distributed is not installed, or the scheduler cannot be reached.
    """
    address = address.strip()
    if not address:
        raise ClusterError("the cluster address is empty: give a scheduler address such as tcp://host:8786, or local")
    try:
        from distributed import Client, LocalCluster
    except ImportError as exc:
        raise ClusterError(
            f'building on a cluster needs Dask.distributed: pip install "aseancyberdocs[cluster]" ({exc})'
        ) from exc
    local = None
    try:
        if address == LOCAL:
            count = workers or os.cpu_count() or 1
            # One task at a time per worker process: PDF parsing holds the GIL.
            local = LocalCluster(n_workers=count, threads_per_worker=1, processes=True, dashboard_address=None)
            client = Client(local, timeout=CONNECT_TIMEOUT)
        else:
            client = Client(address, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError) as exc:
        if local is not None:
            local.close()
        raise ClusterError(f"no Dask scheduler answers at {address}: {exc}") from exc
    try:
        client.run(_one_onnx_thread_per_task)
        count = len(client.scheduler_info().get("workers", {}))
        if count == 0:
            raise ClusterError(f"the cluster at {address} has no workers")
        logger.info("building on the cluster at %s: %d workers", address, count)
        yield Cluster(address, client.get_executor(), count)
    finally:
        client.close()
        if local is not None:
            local.close()


def _one_onnx_thread_per_task() -> None:
    """Run on each worker before any task: a worker runs one task per thread it has, so each
    forward pass gets one thread (more threads than cores wait on each other at every operator).
    A value set by the worker's own environment is kept."""
    from .embedding import ONNX_THREADS_ENV

    os.environ.setdefault(ONNX_THREADS_ENV, "1")


class ClusterEmbedder:
    """An embedder whose ``encode`` sends batches of texts to the workers of a cluster.

    ``count_tokens``, the name, the dimension and the window are the local embedder's; the
    vectors are computed by a copy of it on each worker (same model, same backend).
    """

    def __init__(self, embedder: Embedder, executor: Executor, task_texts: int = TASK_TEXTS) -> None:
        self.local = embedder
        self.executor = executor
        self.task_texts = task_texts
        self.name = embedder.name
        self.dimension = embedder.dimension
        self.max_tokens = embedder.max_tokens
        self.quantized = getattr(embedder, "quantized", False)
        # The local embedder's own method: reading tasks carry it to the workers, without the executor.
        self.count_tokens = embedder.count_tokens

    def __repr__(self) -> str:
        return f"ClusterEmbedder({self.local!r})"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        futures = [
            self.executor.submit(_encode_task, self.local, texts[start : start + self.task_texts])
            for start in range(0, len(texts), self.task_texts)
        ]
        return np.concatenate([future.result() for future in futures])


# On a worker: the embedders already loaded there, by model, backend and class.
_worker_embedders: dict[tuple[str, str, bool, str], Any] = {}


def _encode_task(embedder: Any, texts: list[str]) -> np.ndarray:
    """Run on a worker: encode ``texts`` with that worker's copy of ``embedder``, loaded once."""
    key = (type(embedder).__qualname__, getattr(embedder, "location", embedder.name),
           bool(getattr(embedder, "quantized", False)), embedder.name)
    loaded = _worker_embedders.setdefault(key, embedder)
    return np.asarray(loaded.encode(texts), dtype=np.float32)
