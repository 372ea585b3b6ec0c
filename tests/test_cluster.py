"""The build on a Dask.distributed cluster: a local cluster of two workers, the real model."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from aseancyberdocs.cluster import ClusterError, connect
from aseancyberdocs.index import build_index, open_index

SOURCES = [
    "un/pdf/A_C.1_80_L.63.pdf",
    "statements/2022-03-29-u-s-singapore-joint-leaders-statement.md",
    "un/text/A_RES_74_28.txt",
]


@pytest.mark.model
def test_a_build_on_a_local_cluster_equals_a_one_process_build(tmp_path, corpus_dir):
    from aseancyberdocs.embedding import load_embedder

    embedder = load_embedder()
    sources = [corpus_dir / source for source in SOURCES]
    one = build_index(sources, tmp_path / "one", embedder=embedder, workers=1)
    on_cluster = build_index(sources, tmp_path / "cluster", embedder=embedder, cluster="local")
    assert (on_cluster.cluster, on_cluster.workers) == ("local", os.cpu_count() or 1)
    assert (one.documents, one.passages, one.embedded) == (on_cluster.documents, on_cluster.passages,
                                                           on_cluster.embedded)
    assert one.passages > 40 and not on_cluster.skipped
    first, second = open_index(tmp_path / "one"), open_index(tmp_path / "cluster")
    assert list(first.passages) == list(second.passages)
    assert list(first.documents.items()) == list(second.documents.items())
    np.testing.assert_allclose(first.vectors(), second.vectors(), atol=1e-5, rtol=0)
    query = "Singapore and the United States on cyber cooperation"
    assert [hit.citation for hit in second.search(query, k=3)] == [hit.citation for hit in first.search(query, k=3)]


def test_a_scheduler_that_does_not_answer_is_a_clear_error(monkeypatch):
    from aseancyberdocs import cluster

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 2)
    with pytest.raises(ClusterError, match=r"no Dask scheduler answers at tcp://127\.0\.0\.1:9"):
        with connect("tcp://127.0.0.1:9"):
            pass


def test_an_empty_address_is_refused():
    with pytest.raises(ClusterError, match="address is empty"):
        with connect("  "):
            pass


def test_the_cli_names_a_cluster_it_cannot_reach(tmp_path, capsys, monkeypatch):
    from aseancyberdocs import cluster
    from aseancyberdocs.cli import main

    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 2)
    source = tmp_path / "a.txt"
    source.write_text("1. States should cooperate.\n", encoding="utf-8")
    assert main(["build", str(source), "--index", str(tmp_path / "index"), "--cluster", "tcp://127.0.0.1:9"]) == 1
    assert "no Dask scheduler answers at tcp://127.0.0.1:9" in capsys.readouterr().err
    assert not (tmp_path / "index").exists()


def test_a_build_without_a_cluster_imports_no_engine(tmp_path):
    """Dask (and Ray) stay out of a build that does not ask for a cluster."""
    source = tmp_path / "a.txt"
    source.write_text("1. States should cooperate on the security of ICTs.\n", encoding="utf-8")
    code = (
        "import sys\n"
        "from aseancyberdocs.cli import main\n"
        f"assert main(['build', {str(source)!r}, '--index', {str(tmp_path / 'index')!r}]) == 0\n"
        "engines = sorted(name for name in sys.modules if name.split('.')[0] in ('dask', 'distributed', 'ray'))\n"
        "print('engines:', engines)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "engines: []" in done.stdout
